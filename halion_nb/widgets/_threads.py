"""Run long work off the kernel's main thread, so the kernel keeps answering the panels."""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

log = logging.getLogger(__name__)


class Worker:
    """Runs one job at a time in a daemon thread and reports back through callbacks.

    `on_done(result)` or `on_error(exc)` runs in the worker thread, then `on_finally()`;
    widget updates from there reach the browser (ipykernel sends comm messages from any
    thread). A callback that raises is logged, never lost in the thread.
    """

    def __init__(self, name: str = "halion-panel") -> None:
        self.name = name
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(
        self,
        job: Callable[[], Any],
        *,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_finally: Callable[[], None] | None = None,
    ) -> bool:
        """Start `job` unless one is running; return whether it started."""
        with self._lock:
            if self.busy:
                return False

            def run() -> None:
                try:
                    try:
                        result = job()
                    except BaseException as exc:  # reported to the panel, never raised in the thread
                        if on_error is None:
                            log.exception("%s: job failed", self.name)
                        else:
                            _safely(on_error, exc)
                    else:
                        if on_done is not None:
                            _safely(on_done, result)
                finally:
                    if on_finally is not None:
                        _safely(on_finally)

            self._thread = threading.Thread(target=run, name=self.name, daemon=True)
            self._thread.start()
            return True

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the running job; True when none is running any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.busy


def _safely(fn: Callable[..., None], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("a panel callback failed")
