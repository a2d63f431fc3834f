"""The function-calling loop: send the conversation, run the tools the model calls, repeat.

Each tool call goes through the one invocation path, `ws.tools.invoke` (several calls of one
answer at once, on threads: no asyncio here, so it works inside Jupyter's running loop). A bad
argument, an unknown tool, a tool that raises or times out becomes a tool message the model
can read and correct. A failed request
leaves the history as it was before that round, so `Conversation.retry()` just works.

Calls that need approval are decided one by one, in call order, on the turn's thread before any
runs (`approve=`, else `ws.approver`). An image a tool returns reaches the model in a user message
after the tool messages (those hold text only). `ws.limits` bounds a turn; every message is kept in
`ws.conversation_store` as it is added, so `ws.resume(id)` continues after a restart.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import uuid
from datetime import datetime, timezone
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..core import call_context
from ..core.approval import Approver
from ..core.brief import brief
from ..core.images import Image, as_image, for_model
from ..core.invocation import ToolOutcome
from ..core.surrogates import without_lone_surrogates
from ..errors import HalionError
from . import llm
from .call_decisions import decide_calls
from .context import context_block
from .conversations import IMAGE_NOTE, is_person
from .tool_limit import check_tool_count
from .usage import today_cost

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ..core.tool import Tool
    from ..workspace import Workspace

POOL_SIZE = 32
"""Most tool calls of one answer that run at once."""



@dataclass
class ToolCallRecord:
    """One tool call the model made in a turn, and how it went."""

    id: str
    name: str
    arguments: Any
    """The parsed JSON arguments, or the raw text when it was not valid JSON."""
    result: Any = None
    error: str | None = None
    duration_ms: float = 0.0
    to_person: bool = False
    """True when the tool's result went to the person directly (postprocess=False)."""
    redact: Callable[[str], str] | None = field(default=None, repr=False, compare=False)
    """Set by the ChatResult that holds the record: its repr hides secret values."""
    outcome: ToolOutcome | None = field(default=None, repr=False, compare=False)
    """What the invocation path returned: the text the model read, the log row, the raw value."""
    images: list[Image] = field(default_factory=list, repr=False, compare=False)
    """The images the tool returned (shown in its card; sent to the model after the tool messages)."""

    def __repr__(self) -> str:
        outcome = f"✗ {brief(self.error, self.redact)}" if self.error is not None else (
            ("⇒ you: " if self.to_person else "→ ") + brief(self.result, self.redact))
        return f"ToolCallRecord({self.name}({brief(self.arguments, self.redact)}) {outcome}, {self.duration_ms:.0f} ms)"

    @property
    def call_id(self) -> str:
        return self.id

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Usage:
    """Tokens summed over the rounds of a turn."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, completion: llm.Completion) -> None:
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens


@dataclass(frozen=True)
class Totals:
    """Tokens and estimated cost (US dollars, None when a model has no price) beyond one turn."""

    conversation_tokens: int = 0
    conversation_cost: float | None = None
    day_tokens: int = 0
    day_cost: float | None = None


@dataclass
class ChatResult:
    """What one turn produced; renders as the answer plus a card per tool call in a notebook."""

    text: str
    tool_calls: list[ToolCallRecord]
    messages: list[dict[str, Any]]
    """The messages this turn added to the history (the person's message first)."""
    usage: Usage
    rounds: int
    stopped_reason: str
    """"stop", "length", "content_filter", "max_rounds", "cancelled", "direct_result" or "limit"."""
    model: str = ""
    conversation_id: str = ""
    redact: Callable[[str], str] | None = field(default=None, repr=False, compare=False)
    cost: float | None = None
    """This turn's estimated cost in US dollars (`ws.prices`); None when the model has no price."""
    totals: Totals = field(default_factory=Totals)
    limit: str | None = None
    """Which `ws.limits` bound ended the turn, in words, when `stopped_reason == "limit"`."""
    images: list[Image] = field(default_factory=list, repr=False)
    """The images the tools returned in this turn (shown in the cards; sent to the model scaled)."""

    def __post_init__(self) -> None:
        for record in self.tool_calls:
            record.redact = record.redact or self.redact

    def __str__(self) -> str:
        return self.redact(self.text) if self.redact else self.text  # print(result) is shown too

    def __repr__(self) -> str:  # the notebook's views are in display/chat.py
        calls = ", ".join(f"{r.name} {'✓' if r.ok else '✗'}" for r in self.tool_calls) or "none"
        return (f"ChatResult({self.stopped_reason}, {self.rounds} round(s), tool calls: {calls}): "
                f"{brief(self.text, self.redact, 300)}")


class Conversation:
    """A conversation with the model in one workspace: `.messages` in OpenAI's format."""

    def __init__(self, ws: "Workspace", system: str | None = None) -> None:
        self.ws = ws
        self.id = uuid.uuid4().hex
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
        self.usage = Usage()
        """Tokens over every turn of this conversation (resumed ones included)."""
        self.cost: float | None = 0.0
        self.started = datetime.now(timezone.utc)
        self._failed = False
        self._busy = threading.Lock()
        self._saved = 0

    @classmethod
    def resumed(cls, ws: "Workspace", conversation_id: str) -> "Conversation":
        """The stored conversation `conversation_id`, ready to continue (`ws.resume`)."""
        stored = ws.conversation_store.load(conversation_id)
        conversation = cls(ws)
        conversation.id = conversation_id
        conversation.messages = stored.messages
        conversation._saved = len(stored.messages)
        conversation.usage = Usage(stored.prompt_tokens, stored.completion_tokens)
        conversation.cost = stored.info.cost
        conversation.started = stored.info.started
        return conversation

    def _persist(self) -> None:
        """Append the messages not yet stored (a shortened history rewrites from where it changed)."""
        try:
            if self._saved < len(self.messages):
                self.ws.conversation_store.messages(self.id, self._saved, self.messages[self._saved:])
            self._saved = len(self.messages)
        except (OSError, HalionError):  # a full disk must not break the chat
            log.warning("could not store conversation %s", self.id, exc_info=True)

    @contextmanager
    def _one_turn(self) -> Iterator[None]:
        """Refuse a second turn while one runs (a panel and a cell on the same conversation)."""
        if not self._busy.acquire(blocking=False):
            raise HalionError("a turn is already running in this conversation; wait for it, press Stop, "
                              "or start another with ws.new_chat().")
        try:
            yield
        finally:
            self._busy.release()

    def send(self, message: str, *, model: str | None = None, stream: bool | None = None,
             on_text: Callable[[str], None] | None = None, cancel: threading.Event | None = None,
             approve: Approver | None = None, context: dict[str, Any] | None = None,
             images: list[Any] | None = None) -> ChatResult:
        """Add the person's `message` and run the turn until the model answers in text.

        `context` adds a bounded, redacted preview of each variable; `images` (paths, bytes, PIL
        images, figures) go with the message; `approve` answers the tools that need approval.
        """
        with self._one_turn():
            self.messages.append(user_message(self.ws, message, context, images))
            self._failed = False
            self._persist()
            result = self._turn(len(self.messages) - 1, model, stream, on_text, cancel, approve)
            return self._with_today(result)

    def retry(self, *, model: str | None = None, stream: bool | None = None,
              on_text: Callable[[str], None] | None = None, cancel: threading.Event | None = None,
              approve: Approver | None = None) -> ChatResult:
        """Send the last user message again without repeating it.

        After a failed turn it carries on from where it stopped (tools that already ran are not
        run again); after a finished turn it drops that turn's answer and asks anew.
        """
        with self._one_turn():
            users = [i for i, m in enumerate(self.messages) if is_person(m)]
            if not users:
                raise HalionError("nothing to retry: this conversation has no message yet; use send() first.")
            if not self._failed:
                del self.messages[users[-1] + 1:]
                self._saved = min(self._saved, len(self.messages))  # the store rewrites from here
            self._failed = False
            result = self._turn(users[-1], model, stream, on_text, cancel, approve)
            return self._with_today(result)

    def _with_today(self, result: ChatResult) -> ChatResult:
        """The result with today's tokens and cost, read once the turn's log rows are on disk."""
        day_tokens, day_cost = today_cost(self.ws.log, self.ws.prices)
        result.totals = dataclasses.replace(result.totals, day_tokens=day_tokens, day_cost=day_cost)
        return result

    def _turn(self, start: int, model: str | None, stream: bool | None,
              on_text: Callable[[str], None] | None, cancel: threading.Event | None,
              approve: Approver | None = None) -> ChatResult:
        ws = self.ws
        name = model or ws.model
        streaming = on_text is not None if stream is None else stream
        usage, records, images = Usage(), [], []
        text, reason, rounds, limit = "", "max_rounds", 0, None
        max_rounds = max(1, int(ws.max_rounds))
        limits = ws.limits
        while True:
            if cancel is not None and cancel.is_set():
                reason = "cancelled"
                break
            # tokens and cost are checked before each further round; tool calls when the model asks for more
            limit = limits.reached(usage.total_tokens, 0,
                                   ws.prices.cost(name, usage.prompt_tokens, usage.completion_tokens)) if rounds else None
            if limit is not None:
                text, reason = _limit_text(limit), "limit"
                break
            if rounds >= max_rounds:
                text = (f"Stopped after {max_rounds} model round(s) without a final answer (ws.max_rounds). "
                        "Ask the model to continue, or raise ws.max_rounds.")
                reason = "max_rounds"
                break
            rounds += 1
            mark = len(self.messages)
            try:
                tools = {t.name: t for t in ws.offered_tools(approve=approve)}  # find_tools may add some mid-turn
                check_tool_count(list(tools.values()))  # too many for one request: say so, send nothing
                schemas = [t.schema for t in tools.values()]
                sendable = without_lone_surrogates(self.messages)  # half an emoji would break the request (24.16)
                answer = llm.complete(ws, sendable, model=name, tools=schemas or None, stream=streaming,
                                      on_text=on_text, cancel=cancel, conversation_id=self.id)
                usage.add(answer)
                if answer.cancelled:
                    if answer.content:
                        self.messages.append({"role": "assistant", "content": answer.content})
                    text, reason = answer.content or "", "cancelled"
                    break
                self.messages.append(answer.message())
                if not answer.tool_calls:
                    text, reason = answer.content or "", answer.finish_reason or "stop"
                    break
                calls, skipped = answer.tool_calls, []
                room = None if limits.max_tool_calls is None else max(0, limits.max_tool_calls - len(records))
                if room is not None and len(calls) > room:
                    calls, skipped = calls[:room], calls[room:]
                    limit = (f"the model asked for {len(records) + len(answer.tool_calls)} tool call(s) in this turn, "
                             f"beyond ws.limits.max_tool_calls = {limits.max_tool_calls}")
                done = run_tool_calls(ws, tools, calls, self.id, approve=approve, cancel=cancel)
                self.messages.extend(_tool_message(r) for r in done)
                self.messages.extend({"role": "tool", "tool_call_id": c["id"],
                                      "content": f"Error: not run: {limit}."} for c in skipped)
                for r in done:
                    r.images = _images_of(r)
                shown = [(r, image) for r in done for image in r.images]
                if shown:
                    self.messages.append(_image_message(ws, shown))
                    images.extend(image for _, image in shown)
            except BaseException:
                del self.messages[mark:]  # nothing half-appended: the failed round is undone
                self._failed = True
                raise
            finally:
                self._persist()
            records.extend(done)
            if skipped:
                text, reason = _limit_text(limit or "a limit"), "limit"
                break
            direct = [r for r in done if r.to_person]
            if direct:
                text, reason = "\n\n".join(_person_text(r.result) for r in direct), "direct_result"
                break
        cost = ws.prices.cost(name, usage.prompt_tokens, usage.completion_tokens)
        self.usage.prompt_tokens += usage.prompt_tokens
        self.usage.completion_tokens += usage.completion_tokens
        self.cost = None if cost is None or self.cost is None else self.cost + cost
        try:
            ws.conversation_store.usage(self.id, name, usage.prompt_tokens, usage.completion_tokens, cost)
        except (OSError, HalionError):
            log.warning("could not store the usage of conversation %s", self.id, exc_info=True)
        return ChatResult(text=text, tool_calls=records, messages=list(self.messages[start:]), usage=usage,
                          rounds=rounds, stopped_reason=reason, model=name, conversation_id=self.id,
                          redact=ws.env.redact, cost=cost, limit=limit if reason == "limit" else None,
                          totals=Totals(self.usage.total_tokens, self.cost), images=images)

    def __repr__(self) -> str:
        return f"<Conversation {self.id[:8]} · {len(self.messages)} messages>"


def run_tool_calls(ws: "Workspace", tools: dict[str, "Tool"], calls: list[dict[str, Any]],
                   conversation_id: str | None = None, *, approve: Approver | None = None,
                   cancel: threading.Event | None = None) -> list[ToolCallRecord]:
    """Run the model's tool calls through `ws.tools.invoke`, several at once; records in call order.

    The calls that need approval are asked first, one by one in call order, on this thread (a
    prompt that shows a card waits here); then every call runs with its decision. Each call is
    bounded by ws.tool_timeout inside the invocation path, so these pool threads never hang.
    """
    if not calls:
        return []
    asker = approve or ws.approver
    decided = decide_calls(ws, calls, conversation_id, asker, cancel)  # bound to each call's position

    def one(i: int, log: bool = True) -> ToolOutcome:
        c = calls[i]
        return ws.tools.invoke(c["name"], c["arguments"], caller="chat", conversation_id=conversation_id,
                               call_id=c["id"], tool=tools.get(c["name"]), only_active=True, log=log,
                               approve=decided[i] or asker)

    if len(calls) == 1:
        outcomes = [one(0)]
    else:  # run at once, logged in call order (the log reads like the answer)
        with ThreadPoolExecutor(max_workers=min(len(calls), POOL_SIZE), thread_name_prefix="halion-chat") as pool:
            outcomes = list(pool.map(call_context.bound(lambda i: one(i, log=False)), range(len(calls))))
        outcomes = [dataclasses.replace(o, log_id=ws.tools.log_outcome(o, conversation_id=conversation_id))
                    for o in outcomes]
    return [ToolCallRecord(id=c["id"], name=c["name"], arguments=o.arguments, result=o.result, error=o.error,
                           duration_ms=o.duration_ms, to_person=o.to_person, outcome=o) for c, o in zip(calls, outcomes)]


def _limit_text(limit: str) -> str:
    return (f"Stopped: {limit}. The conversation is kept; send another message to go on, "
            "or raise the limit (ws.limits).")


def user_message(ws: "Workspace", message: str, context: dict[str, Any] | None,
                 images: list[Any] | None) -> dict[str, Any]:
    """The person's message, with variable previews after it and images as image parts."""
    text = message
    if context:
        text = f"{message}\n\n{context_block(context, ws.env.redact)}"
    if not images:
        return {"role": "user", "content": text}
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    for item in images:
        image = as_image(item)
        if image is None and isinstance(item, (str, os.PathLike, bytes, bytearray)):
            image = Image(item)
        if image is None:
            raise HalionError(f"images=[...]: {type(item).__name__} is not an image (a path, bytes, a PIL image, "
                              "a matplotlib figure or halion_nb.Image)")
        sent, note = for_model(image, max_side=ws.image_max_side, max_bytes=ws.image_max_bytes)
        parts.append({"type": "image_url", "image_url": {"url": sent.data_url()}} if sent is not None
                     else {"type": "text", "text": f"[{note}]"})
    return {"role": "user", "content": parts}


def _images_of(r: ToolCallRecord) -> list[Image]:
    value = r.outcome.value if r.outcome is not None and r.ok else None
    if value is None:
        return []
    items = list(value.values()) if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
    found = [as_image(v) for v in items[:8]]
    return [i for i in found if i is not None]


def _image_message(ws: "Workspace", shown: list[tuple[ToolCallRecord, Image]]) -> dict[str, Any]:
    """Chat Completions tool messages hold text only: the images follow in a user message."""
    parts: list[dict[str, Any]] = []
    lines = []
    for r, image in shown:
        sent, note = for_model(image, max_side=ws.image_max_side, max_bytes=ws.image_max_bytes)
        lines.append(f"{r.name} ({r.id}): {note}")
        if sent is not None:
            parts.append({"type": "image_url", "image_url": {"url": sent.data_url()}})
    head = f"{IMAGE_NOTE}\n" + "\n".join(lines)
    return {"role": "user", "content": [{"type": "text", "text": head}, *parts]}


def _tool_message(r: ToolCallRecord) -> dict[str, Any]:
    content = r.outcome.content if r.outcome is not None else f"Error: {r.error}"
    return {"role": "tool", "tool_call_id": r.id, "content": content}


def _person_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)
