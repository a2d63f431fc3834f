"""ipywidgets panels over a Workspace: chat, tools, chains, logs, env and admin.

`panel()` shows all of them as tabs, `panel("tools")` one. Several panels on one
workspace stay in sync (the tool registry's and the hub's change events).
"""
from __future__ import annotations

import importlib
import logging
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ._ui import css, find, find_all, walk

if TYPE_CHECKING:
    from ..workspace import Workspace

PANELS: dict[str, str] = {
    "chat": "Chat", "tools": "Tools", "chains": "Chains", "logs": "Logs", "env": "Env", "admin": "Admin",
}

log = logging.getLogger(__name__)

__all__ = ["PANELS", "HalionPanel", "panel", "find", "find_all", "walk"]


class HalionPanel(W.Tab):
    """Every panel as a tab; `panels["tools"]` is the Tools panel's root widget."""

    def __init__(self, panels: dict[str, W.Widget]) -> None:
        super().__init__(children=list(panels.values()), titles=[PANELS[k] for k in panels])
        self.panels = panels
        css(self, "halion-tabs")

    def close(self) -> None:
        for view in self.panels.values():
            view.close()
        super().close()


def _build(which: str, ws: "Workspace") -> W.Widget:
    module = importlib.import_module(f"{__name__}.{which}")
    return getattr(module, f"{which}_panel")(ws)


def _build_or_explain(which: str, ws: "Workspace") -> W.Widget:
    """One tab of the tabbed panel; a panel that cannot be built says why instead of hiding the others."""
    try:
        return _build(which, ws)
    except Exception as exc:
        log.exception("could not build the %s panel", which)
        message = f"The {PANELS[which]} panel could not be built: {type(exc).__name__}: {exc}"
        return css(W.HTML(f"<div class='halion-err'>{escape(message)}</div>"), "halion-panel-error")


def panel(which: str | None = None, ws: "Workspace | None" = None) -> Any:
    """The panel named `which` (chat, tools, chains, logs, env, admin), or all of them as tabs.

    `ws` defaults to the current workspace (the one `%halion` uses).
    """
    if ws is None:
        from ..workspace import workspace

        ws = workspace()
    if which is None or which == "all":
        return HalionPanel({name: _build_or_explain(name, ws) for name in PANELS})
    key = which.strip().lower()
    if key not in PANELS:
        raise ValueError(f"no panel named {which!r}; choose one of {', '.join(PANELS)} (or none for all)")
    return _build(key, ws)
