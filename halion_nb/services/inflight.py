"""One model request the caller can stop waiting for: Stop, or the person's ws.request_timeout.

The SDK call runs on a daemon worker thread and hands over what it receives (the answer, or
each stream chunk); the caller waits with a deadline and a cancel event. Giving up shuts the
request's socket down, so the server sees the request closed and the worker ends at once,
and refuses any attempt the SDK would still retry. The socket is found through httpcore's
`trace` extension (at connect) and the response's `network_stream` extension (at headers);
a kept-alive connection still waiting for headers is closed with its client (`on_unseen`).
"""
from __future__ import annotations

import contextvars
import math
import queue
import socket
import threading
import time
from typing import Any, Callable, Iterator

import openai

from ..core.workers import WORKERS

POLL = 0.05
"""Seconds between two looks at the cancel event while waiting for the server."""
_LONGEST = 1.0
"""The longest single wait on the queue (a deadline may be far off, or none: an infinite timeout)."""
_ITEM, _END, _ERROR = "item", "end", "error"


class RequestAborted(openai.OpenAIError):
    """The caller stopped waiting: raised to the SDK at its next attempt, which it does not retry."""


class DeadlinePassed(Exception):
    """Nothing arrived from the server for `timeout` seconds, all the SDK's attempts included."""

    def __init__(self, timeout: float, midway: bool = False) -> None:
        super().__init__(f"nothing arrived within {timeout:g} s" + (" (the answer had started)" if midway else ""))
        self.timeout = timeout
        self.midway = midway


class Inflight:
    """A request on its worker thread: `start(work)`, then iterate `results(cancel)`."""

    def __init__(self, timeout: float | None, on_unseen: Callable[[], None] | None = None) -> None:
        self.timeout = timeout if timeout and timeout > 0 else math.inf  # None or 0: no deadline
        self.deadline = time.monotonic() + self.timeout
        self.aborted = threading.Event()
        self._queue: "queue.SimpleQueue[tuple[str, Any]]" = queue.SimpleQueue()
        self._streams: list[Any] = []
        self._lock = threading.Lock()
        self._on_unseen = on_unseen
        """Called on abort when no socket of this request was seen (a reused connection still waiting)."""

    def start(self, work: Callable[[Callable[[Any], None]], None]) -> None:
        """Run `work(put)` on a daemon thread in a copy of the caller's context (hooks see this request)."""
        context = contextvars.copy_context()

        def run() -> None:
            try:
                work(self._put)
            except BaseException as exc:  # handed to the caller, who raises it (or has stopped listening)
                self._queue.put((_ERROR, exc))
            else:
                self._queue.put((_END, None))

        WORKERS.submit(lambda: context.run(run))

    def run_here(self, work: Callable[[Callable[[Any], None]], None]) -> list[Any]:
        """Run `work(put)` on this thread and return what it put; the time running out is DeadlinePassed."""
        items: list[Any] = []
        try:
            work(items.append)
        except (RequestAborted, openai.APITimeoutError) as exc:  # the hook found the time up, or a read timed out
            raise DeadlinePassed(self.timeout, midway=False) from exc
        return items

    def _put(self, item: Any) -> None:
        if self.aborted.is_set():
            raise RequestAborted("the caller stopped waiting for this model request")
        self._queue.put((_ITEM, item))

    def results(self, cancel: threading.Event | None = None) -> Iterator[Any]:
        """What the worker hands over, as it comes; ends early (request closed) once `cancel` is set.

        Raises DeadlinePassed when nothing came for `timeout` seconds; the worker's own error as is.
        """
        finished, started = False, False
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    return
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise DeadlinePassed(self.timeout, midway=started)
                try:
                    kind, value = self._queue.get(timeout=min(POLL if cancel is not None else _LONGEST, left))
                except queue.Empty:
                    continue
                if kind == _ITEM:
                    started = True
                    self.deadline = time.monotonic() + self.timeout
                    yield value
                elif kind == _ERROR:
                    finished = True
                    if isinstance(value, (RequestAborted, openai.APITimeoutError)):  # the time was up, seen there
                        raise DeadlinePassed(self.timeout, midway=started) from value
                    raise value
                else:
                    finished = True
                    return
        finally:
            if not finished:  # cancelled, timed out, or the caller left (an error, KeyboardInterrupt)
                self.abort()

    def abort(self) -> None:
        """Close the request now: its socket is shut down and no further attempt is sent."""
        self.aborted.set()
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            _shut_down(stream)
        if not streams and self._on_unseen is not None:
            self._on_unseen()

    # hooks, called on the worker thread by the HTTP client

    def on_request(self, request: Any) -> None:
        """Before each attempt: refuse it once aborted; bound it by the time left; watch its connection."""
        left = self.deadline - time.monotonic()
        if self.aborted.is_set() or left <= 0:
            raise RequestAborted("the caller stopped waiting for this model request")
        timeouts = request.extensions.get("timeout") or {}
        if math.isfinite(left):
            request.extensions["timeout"] = {
                k: left if v is None else min(v, left) for k, v in {"connect": None, "read": None, "write": None,
                                                                    "pool": None, **timeouts}.items()
            }
        request.extensions["trace"] = self._trace

    def on_response(self, response: Any) -> None:
        self._track(response.extensions.get("network_stream"))

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith(".complete"):
            self._track(info.get("return_value"))

    def _track(self, stream: Any) -> None:
        if not hasattr(stream, "get_extra_info"):
            return
        with self._lock:
            self._streams.append(stream)
        if self.aborted.is_set():  # connected just as the caller gave up
            _shut_down(stream)


def _shut_down(stream: Any) -> None:
    """Shut the stream's socket down (a blocked read in another thread returns at once; close() would not)."""
    try:
        sock = stream.get_extra_info("socket")
        if sock is not None:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, also for an SSLSocket
    except (OSError, ValueError):  # already closed
        pass
