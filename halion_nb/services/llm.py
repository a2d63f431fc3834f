"""The model layer: an `openai` client for OpenAI, any compatible base URL, or a replay file.

`complete` sends one Chat Completions request (streamed or not), assembles the answer,
logs it and maps service errors to `halion_nb.errors`; `parse_structured` asks for a
pydantic model as structured output. Each request waits at most ws.request_timeout for the
server, the SDK's retries included, and Stop closes it (`inflight`). `openai` is imported on
first use only.
"""
from __future__ import annotations

import contextvars
import json
import logging
import os
import threading
import time
import uuid
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

from ..errors import (
    ConfigError,
    HalionError,
    ModelServiceError,
)
from .model_errors import StreamEnded, map_error, shorten

if TYPE_CHECKING:
    import openai
    from pydantic import BaseModel

    from ..core.redaction import StreamRedactor
    from ..workspace import Workspace
    from .inflight import Inflight

log = logging.getLogger(__name__)
M = TypeVar("M", bound="BaseModel")

NO_KEY = "sk-no-key-needed"
"""Placeholder key for local servers (Ollama, vLLM, LM Studio) that need none."""
REPLAY_URL = "http://replay.halion.invalid/v1"
SHIPPED = (Path(__file__).resolve().parents[1], Path(__file__).resolve().parents[2] / "notebooks")
"""The package and its demo notebooks: a recording inside them is shipped, and a person's run never writes it."""

SETUP_HELP = (
    "Set OPENAI_API_KEY for OpenAI or a compatible proxy (ws.env.set('OPENAI_API_KEY', ...) keeps it in "
    "this workspace), or OPENAI_BASE_URL for a local server: Ollama http://localhost:11434/v1, "
    "LM Studio http://localhost:1234/v1, vLLM http://localhost:8000/v1. Choose the model with HALION_MODEL "
    "or Workspace(model=...). To run offline from a recording, set HALION_REPLAY=path.jsonl "
    "(or Workspace(replay=...))."
)

_attempts: "contextvars.ContextVar[list[dict[str, Any]] | None]" = contextvars.ContextVar("_attempts", default=None)
"""The HTTP attempts of the request this thread is sending, one per try: the SDK's retries show in the log."""
_inflight: "contextvars.ContextVar[Inflight | None]" = contextvars.ContextVar("_inflight", default=None)
"""The request the worker thread is sending, for the HTTP hooks (deadline, cancel, its socket)."""

_clients: "weakref.WeakKeyDictionary[Workspace, tuple[tuple[Any, ...], openai.OpenAI]]" = weakref.WeakKeyDictionary()
_clients_lock = threading.Lock()


@dataclass
class Completion:
    """One assistant answer: text, tool calls (id, name, raw JSON arguments), why it ended, tokens."""

    content: str | None = None
    tool_calls: list[dict[str, str]] = field(default_factory=list)
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cancelled: bool = False

    def message(self) -> dict[str, Any]:
        """The assistant message to append to the history."""
        msg: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in self.tool_calls
            ]
        return msg


def mode(ws: "Workspace") -> str:
    """"live", "record" (live, writing ws.replay) or "replay" (serving ws.replay); ConfigError if none."""
    live = bool(os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"))
    if live:
        return "record" if ws.replay and may_record(ws.replay) else "live"
    if ws.replay:
        return "replay"
    raise ConfigError(f"no model service is configured. {SETUP_HELP}")


def may_record(path: Path) -> bool:
    """A live run records into `path` unless it is a shipped recording (inside the package or its demo
    notebooks/ folder): only HALION_RECORD=1, as notebooks/make_demos.py sets it, rewrites those."""
    if os.environ.get("HALION_RECORD", "").strip().lower() not in ("", "0", "false", "no"):
        return True
    where = Path(path).expanduser().resolve()
    return not any(where.is_relative_to(folder) for folder in SHIPPED)


def client(ws: "Workspace") -> "openai.OpenAI":
    """The workspace's `openai.OpenAI` client, rebuilt when the configuration changes."""
    which = mode(ws)
    key = os.environ.get("OPENAI_API_KEY") or None
    base_url = os.environ.get("OPENAI_BASE_URL") or None
    retries = int(ws.max_retries)
    config = (which, key, base_url, str(ws.replay), float(ws.request_timeout), retries)
    with _clients_lock:
        cached = _clients.get(ws)
        if cached is not None and cached[0] == config:
            return cached[1]
        built = _build(ws, which, key, base_url, retries)
        if cached is not None:
            cached[1].close()
        _clients[ws] = (config, built)
        return built


def reset(ws: "Workspace") -> None:
    """Forget the workspace's client; a replay starts again from its first recorded request."""
    with _clients_lock:
        cached = _clients.pop(ws, None)
    if cached is not None:
        cached[1].close()


def _close_connections(ws: "Workspace") -> None:
    """Close the workspace's live client (and the request waiting on it); the next request builds a new one."""
    if mode(ws) == "replay":
        return  # no connection to close, and the replay must keep its place
    with _clients_lock:
        cached = _clients.pop(ws, None)
    if cached is not None:
        cached[1].close()


def _build(ws: "Workspace", which: str, key: str | None, base_url: str | None, retries: int) -> "openai.OpenAI":
    import httpx2
    import openai

    limits = httpx2.Limits(max_connections=100)
    transport: httpx2.BaseTransport | None = None
    if which == "replay":
        from .replay import ReplayTransport

        assert ws.replay is not None
        transport = ReplayTransport(ws.replay, ws.env.redact)
        key, base_url = NO_KEY, REPLAY_URL
    elif which == "record":
        from .replay import RecordingTransport

        assert ws.replay is not None
        transport = RecordingTransport(ws.replay, httpx2.HTTPTransport(limits=limits), ws.env.redact,
                                       ws.env.stream_redactor)
    http = openai.DefaultHttpx2Client(transport=transport, timeout=ws.request_timeout, limits=limits,
                                      event_hooks={"request": [_on_request], "response": [_on_response]})
    return openai.OpenAI(api_key=key or NO_KEY, base_url=base_url, http_client=http,
                         timeout=ws.request_timeout, max_retries=retries)


def _on_request(request: Any) -> None:
    run = _inflight.get()
    if run is not None:
        run.on_request(request)  # refuses an attempt the caller no longer waits for
    attempts = _attempts.get()
    if attempts is not None:
        attempts.append({"status": None, "started": time.perf_counter()})


def _on_response(response: Any) -> None:
    run = _inflight.get()
    if run is not None:
        run.on_response(response)
    attempts = _attempts.get()
    if attempts:
        attempts[-1].update(status=response.status_code, ended=time.perf_counter())


def _waited(ws: "Workspace", work: Callable[[Callable[[Any], None]], None],
            cancel: threading.Event | None = None, *, here: bool = False) -> Iterator[Any]:
    """Run `work(put)` (the SDK call) on a worker thread; what it puts, as it comes, within the deadline.

    `here`: nobody can press Stop and nothing streams, so the call runs on this thread (no hand-off);
    the deadline holds all the same, through the per-attempt timeouts the HTTP hook sets.
    """
    from .inflight import Inflight

    run = Inflight(float(ws.request_timeout), on_unseen=lambda: _close_connections(ws))
    token = _inflight.set(run)
    try:
        if here and cancel is None:
            return iter(run.run_here(work))
        run.start(work)
    finally:
        _inflight.reset(token)
    return run.results(cancel)


def complete(
    ws: "Workspace",
    messages: list[dict[str, Any]],
    *,
    model: str | None = None,
    tools: list[dict[str, Any]] | None = None,
    stream: bool = False,
    on_text: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    conversation_id: str | None = None,
    purpose: str = "chat",
) -> Completion:
    """Send one Chat Completions request and return the assembled answer (logged as kind "model")."""
    request: dict[str, Any] = {"model": model or ws.model, "messages": messages}
    if tools:
        request["tools"] = tools
    if stream:
        request["stream"] = True
        request["stream_options"] = {"include_usage": True}
    api = client(ws)
    with _model_call(ws, request["model"], messages, tools, stream, conversation_id, purpose) as call:
        if stream:
            def receive(put: Callable[[Any], None]) -> None:
                with api.chat.completions.create(**request) as chunks:
                    for chunk in chunks:
                        put(chunk)

            call.out = _assemble(_waited(ws, receive, cancel), on_text, cancel, ws.env.stream_redactor())
        else:
            answers = list(_waited(ws, lambda put: put(api.chat.completions.create(**request)), cancel, here=True))
            if not answers:  # Stop pressed while waiting: the request was closed
                call.out = Completion(finish_reason="cancelled", cancelled=True)
            else:
                call.out = _from_response(answers[0])
                if not answers[0].choices:
                    call.problem = ModelServiceError(
                        "the model service answered with no choices (an empty answer), so nothing was added to "
                        "the conversation. Call ws.conversation.retry(), or check the server's logs."
                    )
    return call.out


@dataclass
class _Call:
    """What one logged model request produced: the answer, or a problem found in it."""

    out: Completion | None = None
    problem: HalionError | None = None


@contextmanager
def _model_call(
    ws: "Workspace", name: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
    stream: bool, conversation_id: str | None, purpose: str, response_model: type | None = None,
) -> Iterator[_Call]:
    """Time one request, collect the SDK's retried attempts, log it, and turn SDK errors into
    HalionErrors; a `problem` set on the call is logged, then raised."""
    call = _Call()
    started = time.perf_counter()
    attempts: list[dict[str, Any]] = []
    token = _attempts.set(attempts)
    try:
        yield call
    except BaseException as exc:
        error = _translate(exc, ws, response_model, attempts)
        _log_model(ws, name, messages, tools, stream, None, error, started, conversation_id, purpose, attempts)
        if error is exc:
            raise
        raise error from None
    finally:
        _attempts.reset(token)
    _log_model(ws, name, messages, tools, stream, call.out, call.problem, started, conversation_id, purpose, attempts)
    if call.problem is not None:
        raise call.problem


def _translate(exc: BaseException, ws: "Workspace", response_model: type | None,
               attempts: list[dict[str, Any]] | None = None) -> BaseException:
    """The error the caller sees: the caller's own callback error unchanged, SDK errors mapped."""
    if isinstance(exc, _CallbackFailed):
        return exc.error
    if isinstance(exc, HalionError) or not isinstance(exc, Exception):
        return exc
    from pydantic import ValidationError

    if response_model is not None and isinstance(exc, ValidationError):
        problems = exc.errors()
        first = problems[0] if problems else {}
        where = ".".join(map(str, first.get("loc") or ()))
        return ModelServiceError(  # in the person's words: the class asked for is an internal name
            f"the model's answer is not the structured reply that was asked for "
            f"({where + ': ' if where else ''}{first.get('msg') or exc}). Try again, or use a stronger model."
        )
    return map_error(exc, ws, attempts=attempts)


class _CallbackFailed(Exception):
    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _from_response(response: Any) -> Completion:
    choice = response.choices[0] if response.choices else None
    out = Completion(finish_reason=choice.finish_reason if choice else None)
    if choice is not None:
        msg = choice.message
        out.content = msg.content if msg.content is not None else getattr(msg, "refusal", None)
        for tc in msg.tool_calls or []:
            fn = getattr(tc, "function", None)
            if fn is not None:
                out.tool_calls.append({"id": tc.id or _call_id(), "name": fn.name or "",
                                       "arguments": _arguments_text(fn.arguments)})
    if response.usage is not None:
        out.prompt_tokens = response.usage.prompt_tokens or 0
        out.completion_tokens = response.usage.completion_tokens or 0
    return out


def _assemble(chunks: Any, on_text: Callable[[str], None] | None, cancel: threading.Event | None,
              shown: "StreamRedactor") -> Completion:
    """Collect a stream: text deltas to `on_text` as they come (through `shown`, so that no part of a
    secret is ever shown, not even its first characters), tool-call deltas joined by index."""

    def show(text: str) -> None:
        if on_text is not None and text:
            try:
                on_text(text)
            except Exception as exc:
                raise _CallbackFailed(exc) from exc

    out = Completion()
    text: list[str] = []
    slots: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        if cancel is not None and cancel.is_set():
            break
        if chunk.usage is not None:
            out.prompt_tokens = chunk.usage.prompt_tokens or 0
            out.completion_tokens = chunk.usage.completion_tokens or 0
        for choice in chunk.choices or []:
            delta = choice.delta
            if delta is not None and delta.content:
                text.append(delta.content)
                show(shown.feed(delta.content))
            for d in (delta.tool_calls if delta is not None else None) or []:
                index = d.index if d.index is not None else len(slots)
                slot = slots.setdefault(index, {"id": "", "name": "", "arguments": ""})
                if d.id:
                    slot["id"] = d.id
                if d.function is not None:
                    if d.function.name and not slot["name"]:
                        slot["name"] = d.function.name
                    slot["arguments"] += _arguments_text(d.function.arguments)
            if choice.finish_reason:
                out.finish_reason = choice.finish_reason
    out.cancelled = cancel is not None and cancel.is_set()
    out.content = "".join(text) if text else None
    if out.cancelled or out.finish_reason is not None:
        show(shown.flush())
    if out.cancelled:
        out.finish_reason = "cancelled"
    elif out.finish_reason is None:  # the SDK does not insist on [DONE]: a half answer would pass as whole
        raise StreamEnded(f"{len(text)} text piece(s) and {len(slots)} tool call(s) had arrived")
    else:
        out.tool_calls = [{**s, "id": s["id"] or _call_id()} for _, s in sorted(slots.items())]
    return out


def _arguments_text(value: Any) -> str:
    """A tool call's arguments as the JSON text the API specifies; some servers send the object itself."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def parse_structured(
    ws: "Workspace",
    messages: list[dict[str, Any]],
    response_model: type[M],
    *,
    model: str | None = None,
    purpose: str = "draft",
) -> M:
    """Ask the model for an instance of `response_model` (structured output); logged as kind "model"."""
    name = model or ws.model
    api = client(ws)
    with _model_call(ws, name, messages, None, False, None, purpose, response_model) as call:
        (response,) = _waited(ws, lambda put: put(
            api.chat.completions.parse(model=name, messages=messages, response_format=response_model)))
        call.out = _from_response(response)
        parsed = response.choices[0].message.parsed if response.choices else None
        if parsed is None:
            call.problem = ModelServiceError(
                f"the model gave no structured reply "
                f"({shorten(ws.env.redact(call.out.content or 'no content'), 200)}). Try again or rephrase."
            )
    return parsed  # type: ignore[return-value]


def _log_model(
    ws: "Workspace", name: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
    stream: bool, out: Completion | None, error: BaseException | None, started: float,
    conversation_id: str | None, purpose: str, attempts: list[dict[str, Any]] | None = None,
) -> None:
    """One "model" row, after one for each attempt the SDK retried; a broken log never breaks the chat."""
    last = messages[-1] if messages else {}
    arguments = {
        "messages": len(messages),
        "last": {"role": last.get("role"), "content": shorten(ws.env.redact(_content_text(last.get("content"))), 2000)},
        "tools": [t.get("function", {}).get("name") for t in tools or []],
        "stream": stream,
    }
    result = None
    meta: dict[str, Any] = {"purpose": purpose}
    if out is not None:
        result = {"text": out.content, "tool_calls": [{"name": c["name"], "arguments": c["arguments"]}
                                                       for c in out.tool_calls]}
        meta["finish_reason"] = out.finish_reason
        prices = getattr(ws, "prices", None)
        cost = prices.cost(name, out.prompt_tokens, out.completion_tokens) if prices is not None else None
        if cost is not None:
            meta["cost_usd"] = round(cost, 8)
    attempts = attempts or []
    if len(attempts) > 1:
        meta["attempts"] = len(attempts)
    try:
        for number, attempt in enumerate(attempts[:-1], 1):  # every attempt but the last was retried
            status = attempt["status"]
            what = f"HTTP {status}" if status and status >= 400 else "no full answer (timeout or connection cut)"
            ended = attempt.get("ended") or attempts[number]["started"]
            ws.log.record(
                "model", name=name, conversation_id=conversation_id, arguments=arguments,
                error=f"{what}; the SDK retried (attempt {number} of {len(attempts)})",
                duration_ms=(ended - attempt["started"]) * 1000,
                meta={"purpose": purpose, "attempt": number, "status": status, "retried": True},
            )
        ws.log.record(
            "model", name=name, conversation_id=conversation_id, arguments=arguments, result=result,
            error=None if error is None else f"{type(error).__name__}: {error}",
            duration_ms=(time.perf_counter() - started) * 1000,
            prompt_tokens=out.prompt_tokens if out else None,
            completion_tokens=out.completion_tokens if out else None, meta=meta,
        )
    except Exception:  # a broken log never breaks the chat
        log.warning("could not write the model call to the log", exc_info=True)


def _content_text(content: Any) -> str:
    """A message's content as the log keeps it: text parts as they are, an image as its type, size and sha256."""
    if isinstance(content, list):
        from ..core.images import image_stub

        return " ".join(str(p.get("text", "")) if p.get("type") == "text" else
                        f"[{image_stub(str((p.get('image_url') or {}).get('url', '')))}]"
                        for p in content if isinstance(p, dict))
    return str(content or "")
