"""Per-workspace change signals the Workspace has no listener for yet (log, env, chains, model).

Tool changes come from `ws.tools.subscribe`; these cover the rest, so that several panels
on one workspace stay in sync: a chat turn refreshes the Logs panel, a secret set in one
Env panel shows as set in another.
"""
from __future__ import annotations

import logging
import threading
import weakref
from typing import Any, Callable

log = logging.getLogger(__name__)
Listener = Callable[[str], None]
TOPICS = ("log", "env", "chains", "model", "conversation")


class Hub:
    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {t: [] for t in TOPICS}
        self._lock = threading.Lock()
        self.chat_lock = threading.Lock()
        """Held while a chat turn runs, so two chat panels never send into one conversation at once."""
        self.chat_records: dict[int, Any] = {}
        """Tool-call records of the current conversation by call id (durations for every chat panel)."""

    def subscribe(self, topic: str, listener: Listener) -> Callable[[], None]:
        """Call `listener(topic)` after each `emit(topic)`; returns the unsubscribe function."""
        with self._lock:
            self._listeners[topic].append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners[topic]:
                    self._listeners[topic].remove(listener)

        return unsubscribe

    def emit(self, topic: str) -> None:
        """Tell every listener of `topic` (the panel that made the change included)."""
        with self._lock:
            listeners = list(self._listeners[topic])
        for listener in listeners:
            try:
                listener(topic)
            except Exception:
                log.exception("a panel listener failed on %s", topic)


_HUBS: "weakref.WeakKeyDictionary[Any, Hub]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def hub(ws: Any) -> Hub:
    """The hub of one workspace (created on first use, dropped with the workspace)."""
    with _LOCK:
        found = _HUBS.get(ws)
        if found is None:
            found = _HUBS[ws] = Hub()
        return found
