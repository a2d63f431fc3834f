"""The function-calling loop: send the conversation, run the tools the model calls, repeat.

Each tool call goes through the one invocation path, `ws.tools.invoke` (several calls of one
answer at once, on threads: no asyncio here, so it works inside Jupyter's running loop). A bad
argument, an unknown tool, a tool that raises or times out becomes a tool message the model
can read and correct. A failed request
leaves the history as it was before that round, so `Conversation.retry()` just works.
"""
from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..core.brief import brief
from ..core.invocation import ToolOutcome
from ..errors import HalionError
from . import llm

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
    """"stop", "length", "content_filter", "max_rounds", "cancelled" or "direct_result"."""
    model: str = ""
    conversation_id: str = ""
    redact: Callable[[str], str] | None = field(default=None, repr=False, compare=False)

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
        self._failed = False
        self._busy = threading.Lock()

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
             on_text: Callable[[str], None] | None = None, cancel: threading.Event | None = None) -> ChatResult:
        """Add the person's `message` and run the turn until the model answers in text."""
        with self._one_turn():
            self.messages.append({"role": "user", "content": message})
            self._failed = False
            return self._turn(len(self.messages) - 1, model, stream, on_text, cancel)

    def retry(self, *, model: str | None = None, stream: bool | None = None,
              on_text: Callable[[str], None] | None = None, cancel: threading.Event | None = None) -> ChatResult:
        """Send the last user message again without repeating it.

        After a failed turn it carries on from where it stopped (tools that already ran are not
        run again); after a finished turn it drops that turn's answer and asks anew.
        """
        with self._one_turn():
            users = [i for i, m in enumerate(self.messages) if m.get("role") == "user"]
            if not users:
                raise HalionError("nothing to retry: this conversation has no message yet; use send() first.")
            if not self._failed:
                del self.messages[users[-1] + 1:]
            self._failed = False
            return self._turn(users[-1], model, stream, on_text, cancel)

    def _turn(self, start: int, model: str | None, stream: bool | None,
              on_text: Callable[[str], None] | None, cancel: threading.Event | None) -> ChatResult:
        ws = self.ws
        name = model or ws.model
        streaming = on_text is not None if stream is None else stream
        tools = {t.name: t for t in ws.offered_tools()}
        schemas = [t.schema for t in tools.values()]
        usage, records = Usage(), []
        text, reason, rounds = "", "max_rounds", 0
        max_rounds = max(1, int(ws.max_rounds))
        while True:
            if cancel is not None and cancel.is_set():
                reason = "cancelled"
                break
            if rounds >= max_rounds:
                text = (f"Stopped after {max_rounds} model round(s) without a final answer (ws.max_rounds). "
                        "Ask the model to continue, or raise ws.max_rounds.")
                reason = "max_rounds"
                break
            rounds += 1
            mark = len(self.messages)
            try:
                answer = llm.complete(ws, self.messages, model=name, tools=schemas or None, stream=streaming,
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
                done = run_tool_calls(ws, tools, answer.tool_calls, self.id)
                self.messages.extend(_tool_message(r) for r in done)
            except BaseException:
                del self.messages[mark:]  # nothing half-appended: the failed round is undone
                self._failed = True
                raise
            records.extend(done)
            direct = [r for r in done if r.to_person]
            if direct:
                text, reason = "\n\n".join(_person_text(r.result) for r in direct), "direct_result"
                break
        return ChatResult(text=text, tool_calls=records, messages=list(self.messages[start:]), usage=usage,
                          rounds=rounds, stopped_reason=reason, model=name, conversation_id=self.id,
                          redact=ws.env.redact)

    def __repr__(self) -> str:
        return f"<Conversation {self.id[:8]} · {len(self.messages)} messages>"


def run_tool_calls(ws: "Workspace", tools: dict[str, "Tool"], calls: list[dict[str, Any]],
                   conversation_id: str | None = None) -> list[ToolCallRecord]:
    """Run the model's tool calls through `ws.tools.invoke`, several at once; records in call order.

    Each call is bounded by ws.tool_timeout inside the invocation path, so these pool threads never hang.
    """
    def one(c: dict[str, Any]) -> ToolCallRecord:
        outcome = ws.tools.invoke(c["name"], c["arguments"], caller="chat", conversation_id=conversation_id,
                                  call_id=c["id"], tool=tools.get(c["name"]), only_active=True)
        return ToolCallRecord(id=c["id"], name=c["name"], arguments=outcome.arguments, result=outcome.result,
                              error=outcome.error, duration_ms=outcome.duration_ms, to_person=outcome.to_person,
                              outcome=outcome)

    if len(calls) == 1:
        return [one(calls[0])]
    with ThreadPoolExecutor(max_workers=min(len(calls), POOL_SIZE), thread_name_prefix="halion-chat") as pool:
        return list(pool.map(one, calls))


def _tool_message(r: ToolCallRecord) -> dict[str, Any]:
    content = r.outcome.content if r.outcome is not None else f"Error: {r.error}"
    return {"role": "tool", "tool_call_id": r.id, "content": content}


def _person_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)
