"""Base of the panels' controllers: the workspace, the view, a worker thread, subscriptions."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ._hub import Hub, hub
from ._threads import Worker

if TYPE_CHECKING:
    from ..workspace import Workspace


class Controller:
    """Event handlers of one panel. They call the Workspace and tell the view what to show."""

    def __init__(self, ws: "Workspace", view: Any) -> None:
        self.ws = ws
        self.view = view
        view.controller = self
        self.worker = Worker(f"halion-{getattr(view, 'name', 'panel')}")
        self.workers = [self.worker]
        self.hub: Hub = hub(ws)
        self._unsubscribe: list[Callable[[], None]] = []

    def on_tools(self, listener: Callable[[str, str], None]) -> None:
        """Listen to the tool registry's changes until `close()`."""
        self._unsubscribe.append(self.ws.tools.subscribe(listener))

    def on(self, topic: str, listener: Callable[[str], None]) -> None:
        """Listen to one of the hub's topics until `close()`."""
        self._unsubscribe.append(self.hub.subscribe(topic, listener))

    def new_worker(self, name: str) -> Worker:
        """Another background lane (so a slow draft does not block a test run)."""
        worker = Worker(f"halion-{getattr(self.view, 'name', 'panel')}-{name}")
        self.workers.append(worker)
        return worker

    def wait(self, timeout: float | None = 30.0) -> bool:
        """Wait for the panel's background jobs (tests, scripts); True when all are done."""
        return all([w.join(timeout) for w in self.workers])

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
