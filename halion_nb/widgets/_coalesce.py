"""Coalesce fast updates (stream deltas) into at most a few widget updates a second."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
_NOTHING: Any = object()


class Coalescer(Generic[T]):
    """`push(value)` as often as you like; `apply(latest)` runs at most `per_second` times a second.

    The first push applies at once, later ones within the interval are folded into one
    timed update carrying the latest value; `flush()` applies what is pending now.
    """

    def __init__(self, apply: Callable[[T], None], per_second: float = 20.0) -> None:
        self._apply = apply
        self.interval = 1.0 / per_second
        self.applied = 0
        """How many times `apply` ran (tests check the rate with it)."""
        self._pending: Any = _NOTHING
        self._last = float("-inf")
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._apply_lock = threading.Lock()

    def push(self, value: T) -> None:
        with self._lock:
            self._pending = value
            if self._timer is not None:
                return
            wait = self._last + self.interval - time.monotonic()
            if wait > 0:
                self._timer = threading.Timer(wait, self._fire)
                self._timer.daemon = True
                self._timer.start()
                return
        self._fire(from_timer=False)

    def flush(self) -> None:
        """Apply the pending value now (the end of a stream)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self._fire(from_timer=False)

    def cancel(self) -> None:
        """Drop the pending value."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._pending = _NOTHING

    def _fire(self, from_timer: bool = True) -> None:
        with self._apply_lock:
            with self._lock:
                if from_timer:
                    self._timer = None
                value, self._pending = self._pending, _NOTHING
                if value is _NOTHING:
                    return
                self._last = time.monotonic()
            try:
                self._apply(value)
                self.applied += 1
            except Exception:
                log.exception("a coalesced update failed")
