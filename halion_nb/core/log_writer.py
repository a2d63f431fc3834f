"""Call-log rows written behind the caller: a chat turn queues its rows, one daemon thread writes them
in batches while the turn waits on the network, and the turn waits for them before it returns.

So after a turn its rows are on disk, as before, but their encoding, redaction and the SQLite
transaction no longer sit on the turn's path.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
Row = tuple[Any, ...]


class RowWriter:
    """Takes row makers (`put`), writes what they make with `write_batch` on a daemon thread; `flush` waits."""

    def __init__(self, write_batch: Callable[[list[Row]], None]) -> None:
        self._write_batch = write_batch
        self._queue: queue.SimpleQueue[Callable[[], Row] | threading.Event] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def put(self, make_row: Callable[[], Row]) -> None:
        self._ensure_thread()
        self._queue.put(make_row)

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every row queued so far is written (or failed and was reported); False on timeout."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._start:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="halion-log-writer", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            while True:  # take everything already waiting: one transaction for the lot
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            rows, waiters = [], []
            for item in items:
                if isinstance(item, threading.Event):
                    waiters.append(item)
                    continue
                try:
                    rows.append(item())
                except Exception:  # one row that cannot be made must not lose the others
                    log.warning("could not prepare a call-log row", exc_info=True)
            if rows:
                try:
                    self._write_batch(rows)
                except Exception:  # a broken log never breaks the chat (as for rows written in place)
                    log.warning("could not write %d call-log row(s)", len(rows), exc_info=True)
            for waiter in waiters:
                waiter.set()
