"""A real HTTP server on 127.0.0.1 that speaks OpenAI's Chat Completions, scripted reply by reply.

Each POST to ``/v1/chat/completions`` pops the next scripted response (``reply``, ``error``,
``malformed``, ``cut_stream``, ``hang``, ``empty_choices``) and answers it as JSON or, when the
request says ``"stream": true``, as server-sent events. Every request body and its headers are
recorded, and so is a client that closes a request while it hangs (``closed_by_client``).
"""
from __future__ import annotations

import itertools
import json
import logging
import re
import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

__all__ = [
    "FakeOpenAI", "Scripted", "Reply", "ToolCall", "Error", "Malformed", "CutStream", "Hang", "EmptyChoices",
    "reply", "call", "error", "malformed", "cut_stream", "hang", "empty_choices",
]

log = logging.getLogger(__name__)
_MISSING: Any = object()
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 409: "conflict_error", 422: "invalid_request_error",
                429: "rate_limit_error"}


@dataclass(frozen=True)
class ToolCall:
    """One function call the fake model makes; ``arguments`` is sent verbatim (a dict as a JSON object)."""

    name: str
    arguments: str | dict[str, Any]
    id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Scripted:
    """Base of every scripted response; ``delay`` seconds pass before the answer starts."""

    delay: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Reply(Scripted):
    """An assistant message: text, tool calls or both."""

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: tuple[int, int] | None = None
    finish_reason: str | None = None
    chunk_size: int | None = None


@dataclass(frozen=True, kw_only=True)
class Error(Scripted):
    """An HTTP error with OpenAI's JSON error body."""

    status: int
    message: str
    type: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Malformed(Scripted):
    """A 200 answer whose body (or SSE data) is not JSON."""

    body: str = "this is not JSON {"


@dataclass(frozen=True, kw_only=True)
class CutStream(Scripted):
    """A reply whose connection closes after ``after`` content chunks, without ``[DONE]``."""

    after: int = 3
    text: str = "This reply is cut off midway and never gets to the end of what it meant to say"


@dataclass(frozen=True, kw_only=True)
class Hang(Scripted):
    """No answer for ``seconds`` (less if the server stops or the client closes the request), then the
    connection just closes. A stream with ``after`` set first sends that many chunks of ``text``."""

    seconds: float = 30.0
    after: int | None = None
    text: str = "This answer starts, then the server goes quiet"


@dataclass(frozen=True, kw_only=True)
class EmptyChoices(Scripted):
    """A 200 answer whose ``choices`` list is empty (a stream: one chunk with no choices, then ``[DONE]``)."""


def call(name: str, arguments: dict[str, Any] | str = "{}", *, id: str | None = None,
         as_object: bool = False) -> ToolCall:
    """A tool call; dict arguments are JSON-encoded, a str is sent as is (for broken JSON).

    ``as_object=True`` sends a dict as a JSON object instead of a string, as some servers wrongly do.
    """
    args = arguments if isinstance(arguments, str) or as_object else json.dumps(arguments)
    return ToolCall(name=name, arguments=args, id=id)


def reply(text: str | None = None, *, tool_calls: list[ToolCall] | tuple[ToolCall, ...] = (),
          json_content: Any = _MISSING, usage: tuple[int, int] | None = None,
          delay: float = 0.0, finish_reason: str | None = None, chunk_size: int | None = None) -> Reply:
    """An assistant reply. ``usage=(prompt, completion)``; ``finish_reason=None`` picks
    ``"tool_calls"`` or ``"stop"``; ``json_content`` becomes ``json.dumps(obj)`` as the text.
    Streamed, the text goes word by word, or in pieces of ``chunk_size`` characters (a word split up)."""
    if json_content is not _MISSING:
        if text is not None:
            raise ValueError("reply(): give either text or json_content, not both")
        text = json.dumps(json_content)
    return Reply(content=text, tool_calls=tuple(tool_calls), usage=usage, delay=delay,
                 finish_reason=finish_reason, chunk_size=chunk_size)


def error(status: int, message: str = "fake server error", *, type: str | None = None,
          code: str | None = None, headers: dict[str, str] | None = None, delay: float = 0.0) -> Error:
    """An HTTP error answer, e.g. ``error(429, "slow down", headers={"retry-after-ms": "1"})``."""
    return Error(status=status, message=message, type=type, code=code, headers=dict(headers or {}),
                 delay=delay)


def malformed(body: str = "this is not JSON {", *, delay: float = 0.0) -> Malformed:
    """A 200 answer that cannot be parsed."""
    return Malformed(body=body, delay=delay)


def cut_stream(after: int = 3, text: str | None = None, *, delay: float = 0.0) -> CutStream:
    """A stream that dies after ``after`` content chunks (no finish chunk, no ``[DONE]``)."""
    return CutStream(after=after, delay=delay, **({"text": text} if text is not None else {}))


def hang(seconds: float = 30.0, *, after: int | None = None, text: str | None = None) -> Hang:
    """Say nothing for ``seconds`` so that the client's timeout fires; ``stop()`` ends it early.

    ``after=N``: a streamed answer sends its headers and N text chunks first, then goes quiet.
    """
    return Hang(seconds=seconds, after=after, **({"text": text} if text is not None else {}))


def empty_choices(*, delay: float = 0.0) -> EmptyChoices:
    """A 200 answer with ``"choices": []``."""
    return EmptyChoices(delay=delay)


def _pieces(text: str, size: int | None = None) -> list[str]:
    """Word-sized deltas (spaces kept), or `size`-character ones, so that a stream arrives in several chunks."""
    if size:
        return [text[i:i + size] for i in range(0, len(text), size)]
    return re.findall(r"\s*\S+|\s+", text) or [text]


def _fragments(arguments: str | dict[str, Any], parts: int = 3) -> list[Any]:
    if not isinstance(arguments, str):
        return [arguments]  # an object cannot be split: sent whole in one delta
    size = max(1, -(-len(arguments) // parts))
    return [arguments[i:i + size] for i in range(0, len(arguments), size)]


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAI

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("fake server: error while answering %s", client_address, exc_info=True)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.fake._lock:
            self.fake._connections += 1
        super().process_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as real servers do: a kept-alive connection must not wait on delayed ACKs
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake server: " + format, *args)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._json(200, {"object": "list", "data": [
                {"id": "fake-model", "object": "model", "created": 0, "owned_by": "halion_nb"}]})
        else:
            self._json(404, _error_body(404, f"fake server: no route GET {self.path}"))

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?")[0].rstrip("/") != "/v1/chat/completions":
            self._json(404, _error_body(404, f"fake server: no route POST {self.path}"))
            return
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            self._json(400, _error_body(400, f"fake server: request body is not a JSON object: {exc}"))
            return
        fake = self.server.fake
        scripted = fake._take(body, {k.lower(): v for k, v in self.headers.items()})
        if scripted is None:
            self._json(500, _error_body(500, "fake server: no scripted response left"))
            return
        if isinstance(scripted, (Hang, CutStream)):
            self.close_connection = True  # a fault ends its connection; answers keep theirs alive, as servers do
        if scripted.delay and fake._stopping.wait(scripted.delay):
            self.close_connection = True
            return
        if isinstance(scripted, Hang) and not (body.get("stream") and scripted.after is not None):
            self._hold(fake, scripted.seconds)
        elif isinstance(scripted, Error):
            self._json(scripted.status, _error_body(scripted.status, scripted.message, scripted.type,
                                                    scripted.code), scripted.headers)
        elif body.get("stream"):
            self._stream(fake, scripted, body)
        elif isinstance(scripted, Malformed):
            self._send(200, scripted.body.encode(), "application/json")
        elif isinstance(scripted, EmptyChoices):
            self._json(200, {**fake._head(body), "object": "chat.completion", "choices": [],
                             "usage": {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1}})
        elif isinstance(scripted, CutStream):
            data = json.dumps(fake._completion(Reply(content=scripted.text), body)).encode()
            self._head(200, "application/json", {"Content-Length": str(len(data))})
            self.wfile.write(data[: len(data) // 2])
        else:
            assert isinstance(scripted, Reply)
            self._json(200, fake._completion(scripted, body))

    def _stream(self, fake: FakeOpenAI, scripted: Scripted, body: dict[str, Any]) -> None:
        self._head(200, "text/event-stream", {"Transfer-Encoding": "chunked", "Cache-Control": "no-cache"})
        if isinstance(scripted, Malformed):
            events: Iterator[str] = iter([scripted.body, "[DONE]"])
        elif isinstance(scripted, (CutStream, Hang)):
            events = itertools.islice(fake._chunks(Reply(content=scripted.text), body), (scripted.after or 0) + 1)
        elif isinstance(scripted, EmptyChoices):
            events = iter([json.dumps({**fake._head(body), "object": "chat.completion.chunk", "choices": []}),
                           "[DONE]"])
        else:
            assert isinstance(scripted, Reply)
            events = itertools.chain(fake._chunks(scripted, body), ["[DONE]"])
        for event in events:
            self.wfile.write(_chunked(f"data: {event}\n\n".encode()))
            self.wfile.flush()
        if isinstance(scripted, Hang):
            self._hold(fake, scripted.seconds)
        elif not isinstance(scripted, CutStream):
            self.wfile.write(b"0\r\n\r\n")

    def _hold(self, fake: FakeOpenAI, seconds: float) -> None:
        """Say nothing for `seconds`; return early when the server stops or the client closes the request."""
        end = time.monotonic() + seconds
        while not fake._stopping.is_set() and (left := end - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], min(0.05, left))
            if readable:
                try:
                    data = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    data = b""
                if not data:
                    with fake._lock:
                        fake._closed_by_client += 1
                    return

    def _head(self, status: int, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if self.close_connection:
            self.send_header("Connection", "close")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self._head(status, content_type, {"Content-Length": str(len(data)), **(headers or {})})
        self.wfile.write(data)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", headers)


def _error_body(status: int, message: str, type: str | None = None, code: str | None = None) -> dict[str, Any]:
    default_type = "server_error" if status >= 500 else _ERROR_TYPES.get(status, "invalid_request_error")
    return {"error": {"message": message, "type": type or default_type, "param": None, "code": code}}


class FakeOpenAI:
    """A scripted OpenAI-compatible server on 127.0.0.1 (random port), run in a daemon thread.

    Use as a context manager or with ``start()``/``stop()``; point the SDK at ``base_url``.
    """

    def __init__(self, *responses: Scripted, default: Scripted | None = None) -> None:
        self.default: Scripted | None = default
        self._queue: deque[Scripted] = deque(responses)
        self._requests: list[dict[str, Any]] = []
        self._headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._call_ids = itertools.count(1)
        self._closed_by_client = 0
        self._connections = 0
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeOpenAI:
        """Bind a random port on 127.0.0.1 and serve in a daemon thread."""
        if self._httpd is None:
            self._stopping.clear()
            self._httpd = _Server(("127.0.0.1", 0), _Handler)
            self._httpd.fake = self
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="FakeOpenAI", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delays and hangs in progress end at once."""
        if self._httpd is not None:
            self._stopping.set()
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeOpenAI is not running: call start() or use it in a with block")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The ``base_url`` to give the SDK, e.g. ``http://127.0.0.1:51234/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *responses: Scripted) -> FakeOpenAI:
        """Queue responses; each chat completion request takes the next one."""
        with self._lock:
            self._queue.extend(responses)
        return self

    @property
    def pending(self) -> int:
        """How many scripted responses have not been served yet."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every chat completion request body received, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def connections(self) -> int:
        """How many TCP connections clients opened (a client that keeps connections alive opens few)."""
        with self._lock:
            return self._connections

    @property
    def closed_by_client(self) -> int:
        """How many hanging answers the client closed before they ended (e.g. when a person pressed Stop)."""
        with self._lock:
            return self._closed_by_client

    @property
    def request_headers(self) -> list[dict[str, str]]:
        """The headers (lower-cased names) of each request in ``requests``."""
        with self._lock:
            return list(self._headers)

    def _take(self, body: dict[str, Any], headers: dict[str, str]) -> Scripted | None:
        with self._lock:
            self._requests.append(body)
            self._headers.append(headers)
            return self._queue.popleft() if self._queue else self.default

    def _head(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"id": f"chatcmpl-fake{next(self._ids)}", "created": int(time.time()),
                "model": body.get("model") or "fake-model", "system_fingerprint": "fp_fake"}

    def _tool_calls(self, r: Reply) -> list[dict[str, Any]]:
        return [{"id": tc.id or f"call_{next(self._call_ids)}", "type": "function",
                 "function": {"name": tc.name, "arguments": tc.arguments}} for tc in r.tool_calls]

    @staticmethod
    def _usage(r: Reply, body: dict[str, Any]) -> dict[str, int]:
        if r.usage is not None:
            prompt, completion = r.usage
        else:
            prompt = sum(len(str(m.get("content") or "").split()) + 3 for m in body.get("messages") or [])
            completion = len((r.content or "").split()) + sum(
                len(a if isinstance(a := tc.arguments, str) else json.dumps(a)) // 4 + 1 for tc in r.tool_calls)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    @staticmethod
    def _finish(r: Reply) -> str:
        return r.finish_reason or ("tool_calls" if r.tool_calls else "stop")

    def _completion(self, r: Reply, body: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": r.content, "refusal": None}
        if r.tool_calls:
            message["tool_calls"] = self._tool_calls(r)
        return {**self._head(body), "object": "chat.completion", "usage": self._usage(r, body),
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": self._finish(r)}]}

    def _chunks(self, r: Reply, body: dict[str, Any]) -> Iterator[str]:
        """SSE data payloads: role, text word by word, tool calls interleaved by index, finish, usage."""
        head = {**self._head(body), "object": "chat.completion.chunk"}
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        extra = {"usage": None} if with_usage else {}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return json.dumps({**head, **extra, "choices": [choice]})

        yield chunk({"role": "assistant", "content": "" if r.content is not None else None})
        for piece in _pieces(r.content, r.chunk_size) if r.content else []:
            yield chunk({"content": piece})
        per_call = []
        for index, tc in enumerate(self._tool_calls(r)):
            fn = tc["function"]
            first = {"index": index, "id": tc["id"], "type": "function",
                     "function": {"name": fn["name"], "arguments": ""}}
            per_call.append([first] + [{"index": index, "function": {"arguments": part}}
                                       for part in _fragments(fn["arguments"])])
        for round_ in itertools.zip_longest(*per_call):
            for delta in round_:
                if delta is not None:
                    yield chunk({"tool_calls": [delta]})
        yield chunk({}, self._finish(r))
        if with_usage:
            yield json.dumps({**head, "choices": [], "usage": self._usage(r, body)})
