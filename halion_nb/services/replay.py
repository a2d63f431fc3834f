"""Record and replay model exchanges as JSONL, at the HTTP layer the `openai` SDK really uses.

`RecordingTransport` wraps the live transport and appends one line per request/response
pair (request body, status, a few headers, the raw body text, SSE included), redacted and
without the Authorization header. A streamed answer is redacted as the text it assembles
into, so a secret the model sends over several chunks leaves no piece in any of them.
`ReplayTransport` serves those lines in order through the same SDK code path, and refuses a
request that diverges from the recording.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2

from ..core.images import image_stub
from ..errors import ConfigError, ReplayMismatch

if TYPE_CHECKING:
    from ..core.redaction import StreamRedactor

log = logging.getLogger(__name__)
Redact = Callable[[str], str]

COMPARED = ("model", "messages", "tools", "response_format", "stream")
"""Request fields a replay must match; the rest (stream_options, headers...) may vary."""
KEPT_HEADERS = ("content-type", "retry-after", "retry-after-ms", "x-should-retry")
_RETRYABLE = {408, 409, 429}
_EVENT = re.compile(rb".*?(?:\r?\n\r?\n|$)", re.DOTALL)
_TEXT_EVENT = re.compile(r".*?(?:\r?\n\r?\n|$)", re.DOTALL)
_STREAMED = ("content", "refusal", "reasoning_content")
"""Delta fields whose text arrives in pieces (besides tool-call arguments)."""


def _identity(text: str) -> str:
    return text


def request_body(request: httpx2.Request) -> dict[str, Any]:
    """The JSON body of an SDK request ({} when it has none)."""
    raw = request.read()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return {"_raw": raw.decode("utf-8", "replace")}
    return body if isinstance(body, dict) else {"_raw": body}


def redacted_body(request: httpx2.Request, redact: Redact) -> dict[str, Any]:
    """The request body with every secret in its strings (keys too) replaced by `***`."""
    return _redact_strings(request_body(request), redact)


def _redact_strings(value: Any, redact: Redact) -> Any:
    if isinstance(value, str):
        return image_stub(value) if value.startswith("data:image/") else redact(value)
    if isinstance(value, list):
        return [_redact_strings(v, redact) for v in value]
    if isinstance(value, dict):
        return {redact(k): _redact_strings(v, redact) for k, v in value.items()}
    return value


class _TeeStream(httpx2.SyncByteStream):
    """Passes the live body through and writes the exchange once the body ends or is closed."""

    def __init__(self, inner: httpx2.SyncByteStream, finish: Callable[[bytes, bool], None]) -> None:
        self._inner = inner
        self._finish = finish
        self._chunks: list[bytes] = []
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                self._chunks.append(chunk)
                yield chunk
        except Exception:
            self._end(cut=True)
            raise
        self._end(cut=False)

    def _end(self, cut: bool) -> None:
        if not self._done:
            self._done = True
            self._finish(b"".join(self._chunks), cut)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._end(cut=False)


def redact_events(body: str, streams: Callable[[], StreamRedactor]) -> str:
    """An SSE body with the text of each streamed field (a choice's content, a tool call's arguments)
    redacted as the whole it assembles into: each event keeps the redacted part of its piece, and
    what a redactor held back at the end joins the field's last piece. The events stay valid JSON."""
    events: list[Any] = []  # the event's text, or [prefix, parsed JSON payload, suffix]
    redactors: dict[tuple[Any, ...], StreamRedactor] = {}
    last: dict[tuple[Any, ...], tuple[dict[str, Any], str]] = {}
    for m in _TEXT_EVENT.finditer(body):
        text = m.group()
        head, sep, rest = text.partition("data:")
        payload, end = rest.rstrip("\r\n"), rest[len(rest.rstrip("\r\n")):]
        try:
            data = json.loads(payload) if sep and not head.strip() and "\n" not in payload.strip() else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            events.append(text)
            continue
        for holder, key, field in _streamed_fields(data):
            redactor = redactors.get(key)
            if redactor is None:
                redactor = redactors[key] = streams()
            holder[field] = redactor.feed(holder[field])
            last[key] = (holder, field)
        events.append([head + sep + (" " if payload.startswith(" ") else ""), data, end])
    for key, (holder, field) in last.items():
        holder[field] += redactors[key].flush()
    return "".join(e if isinstance(e, str) else e[0] + json.dumps(e[1], ensure_ascii=False) + e[2] for e in events)


def _streamed_fields(data: dict[str, Any]) -> Iterator[tuple[dict[str, Any], tuple[Any, ...], str]]:
    """(the dict holding it, which stream it belongs to, field name) of every streamed text in one chunk."""
    for choice in data.get("choices") or []:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if not isinstance(delta, dict):
            continue
        at = choice.get("index", 0)
        for field in _STREAMED:
            if isinstance(delta.get(field), str):
                yield delta, (at, field), field
        for position, tool_call in enumerate(delta.get("tool_calls") or []):
            function = tool_call.get("function") if isinstance(tool_call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                yield function, (at, "tool_calls", tool_call.get("index", position)), "arguments"


class RecordingTransport(httpx2.BaseTransport):
    """Forwards every request to `inner` and appends the exchange to `path` (JSONL).

    `redact` hides secrets in request and response text; `streams` makes a `StreamRedactor`
    for each streamed field of an SSE answer (without it, each piece is redacted on its own).
    """

    def __init__(self, path: Path, inner: httpx2.BaseTransport, redact: Redact | None = None,
                 streams: Callable[[], StreamRedactor] | None = None) -> None:
        self.path = Path(path)
        self.inner = inner
        self.redact = redact or _identity
        self.streams = streams
        self._lock = threading.Lock()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        body = redacted_body(request, self.redact)
        request.headers["Accept-Encoding"] = "identity"  # record readable text, not gzip
        response = self.inner.handle_request(request)
        headers = {k: v for k in KEPT_HEADERS if (v := response.headers.get(k)) is not None}

        def finish(data: bytes, cut: bool) -> None:
            text = data.decode("utf-8", "replace")
            if self.streams is not None and "text/event-stream" in response.headers.get("content-type", ""):
                text = redact_events(text, self.streams)
            entry = {"request": body, "status": response.status_code, "headers": headers,
                     "body": self.redact(text)}
            if cut:
                entry["cut"] = True
            self._append(entry)

        stream = response.stream
        assert isinstance(stream, httpx2.SyncByteStream)
        return httpx2.Response(response.status_code, headers=response.headers,
                               stream=_TeeStream(stream, finish), extensions=response.extensions)

    def _append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)

    def close(self) -> None:
        self.inner.close()


class _ReplayStream(httpx2.SyncByteStream):
    """The recorded body, one SSE event a chunk; a recorded cut is raised again at the end."""

    def __init__(self, body: bytes, cut: bool) -> None:
        self._body = body
        self._cut = cut

    def __iter__(self) -> Iterator[bytes]:
        for m in _EVENT.finditer(self._body):
            if m.group():
                yield m.group()
        if self._cut:
            raise httpx2.RemoteProtocolError("the recorded stream was cut off here")


def load_recording(path: Path) -> list[dict[str, Any]]:
    """The exchanges in a recording; a missing or broken file is a `ConfigError` that says why."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(
            f"the replay file {path} does not exist. Record it first: run the conversation with a live "
            "model (OPENAI_API_KEY or OPENAI_BASE_URL set) and HALION_REPLAY pointing at it."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the replay file {path}: {exc}") from None
    entries = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict) or "request" not in entry or "status" not in entry:
                raise ValueError("not a recorded exchange")
        except ValueError as exc:
            raise ConfigError(f"the replay file {path} has a broken line {number} ({exc}); record it again.") from None
        entries.append(entry)
    return entries


class ReplayTransport(httpx2.BaseTransport):
    """Answers each request with the next recorded response, after checking it matches."""

    def __init__(self, path: Path, redact: Redact | None = None) -> None:
        self.path = Path(path)
        self.redact = redact or _identity
        self.entries = load_recording(self.path)
        self.position = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        got = redacted_body(request, self.redact)
        with self._lock:
            index = self.position
            if index >= len(self.entries):
                raise ReplayMismatch(
                    f"the replay {self.path.name} holds {len(self.entries)} recorded request(s) and this is "
                    f"request {index + 1}: the conversation goes beyond the recording. Record it again with "
                    "a live model, or start from a fresh Workspace to replay from the beginning."
                )
            entry = self.entries[index]
            problem = first_difference(entry["request"], got)
            if problem is not None:
                raise ReplayMismatch(
                    f"request {index + 1} differs from the recording {self.path.name}: {problem}. "
                    "Run the recorded cells in their order with the same tools, or record again with a live model."
                )
            self.position += 1
        status = int(entry["status"])
        headers = dict(entry.get("headers") or {})
        if status in _RETRYABLE or status >= 500:
            headers["retry-after-ms"] = "1"  # replay the SDK's retries without waiting
        body = str(entry.get("body") or "").encode("utf-8")
        return httpx2.Response(status, headers=headers, stream=_ReplayStream(body, bool(entry.get("cut"))))


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clean(value: Any) -> Any:
    """Drop null-valued keys, so that `{"content": null}` and a missing key compare equal."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _diff(expected: Any, got: Any, where: str) -> str | None:
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in [*expected, *(k for k in got if k not in expected)]:
            if key not in got:
                return f"{where}.{key}: expected {_short(expected[key])}, got nothing"
            if key not in expected:
                return f"{where}.{key}: not in the recording, got {_short(got[key])}"
            found = _diff(expected[key], got[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(got, list):
        for i, (e, g) in enumerate(zip(expected, got)):
            found = _diff(e, g, f"{where}[{i}]")
            if found:
                return found
        if len(expected) != len(got):
            return f"{where}: expected {len(expected)} item(s), got {len(got)}"
        return None
    if expected != got:
        return f"{where}: expected {_short(expected)}, got {_short(got)}"
    return None


def first_difference(expected: dict[str, Any], got: dict[str, Any]) -> str | None:
    """Where two request bodies first differ on what matters, or None when they match."""
    for key in COMPARED:
        e, g = _clean(expected.get(key)), _clean(got.get(key))
        if key == "tools" and e != g:
            names_e = [t.get("function", {}).get("name") for t in e or []]
            names_g = [t.get("function", {}).get("name") for t in g or []]
            if names_e != names_g:
                return f"tools: expected {names_e}, got {names_g}"
        if key == "messages" and isinstance(e, list) and isinstance(g, list):
            for i, (me, mg) in enumerate(zip(e, g)):
                found = _diff(me, mg, f"messages[{i}]")
                if found:
                    return found
            if len(e) != len(g):
                extra = g[len(e)] if len(g) > len(e) else e[len(g)]
                return (f"messages: expected {len(e)} message(s), got {len(g)} "
                        f"(first unmatched: {extra.get('role')} {_short(extra.get('content'), 60)})")
            continue
        found = _diff(e, g, key)
        if found:
            return found
    return None
