"""Daemon worker threads, reused: tool calls and model requests run on them.

A worker that never returns (a hung tool, a server that never answers) is simply left behind:
being a daemon, it never keeps the interpreter from exiting, and a new worker takes the next task.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class DaemonWorkers:
    """Daemon threads: one is started whenever none is idle; idle ones retire after a while."""

    IDLE_SECONDS = 60.0

    def __init__(self) -> None:
        self._tasks: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._started = 0

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                self._started += 1
                threading.Thread(target=self._work, name=f"halion-worker-{self._started}", daemon=True).start()
        self._tasks.put((fn, future))
        return future

    def _work(self) -> None:
        while True:
            try:
                fn, future = self._tasks.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._idle:  # nobody has claimed an idle worker: this one retires
                        self._idle -= 1
                        return
                continue
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:  # SystemExit too: a tool must never end the kernel
                    future.set_exception(exc)
            del fn, future
            with self._lock:
                self._idle += 1


WORKERS = DaemonWorkers()
"""The process's shared workers."""
