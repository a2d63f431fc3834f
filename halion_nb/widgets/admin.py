"""Admin panel: where the workspace lives, what it holds, reload from disk, clear the log."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from ..errors import HalionError
from ._controller import Controller
from ._ui import ConfirmBar, PanelView, button, heading, html, message, wrap_row

if TYPE_CHECKING:
    from ..workspace import Workspace


@dataclass
class Summary:
    path: str
    model: str
    tools: int
    active: int
    chains: int | None
    calls: int
    errors: int
    secrets: int
    places: list[tuple[str, str]]
    tool_files: list[tuple[str, str]]


def chains_of(ws: "Workspace") -> Any:
    """`ws.chains`, or None while this halion_nb has no chain service."""
    try:
        return ws.chains
    except ImportError:
        return None


class AdminView(PanelView):
    name = "admin"

    def __init__(self) -> None:
        self.refresh_button = button("Refresh", "halion-admin-refresh", icon="refresh")
        self.reload_button = button("Reload from disk", "halion-admin-reload", icon="folder-open",
                                    tooltip="Load tools/*.py and chains/*.json again")
        self.clear_button = button("Clear the call log", "halion-admin-clear-log", icon="trash", style="danger")
        self.confirm = ConfirmBar()
        self.status = html(cls="halion-admin-status")
        self.info = html(cls="halion-admin-info")
        header = wrap_row([html(heading("cog", "Workspace")), self.refresh_button, self.reload_button, self.clear_button])
        super().__init__([header, self.confirm, self.status, self.info])

    def show_summary(self, s: Summary) -> None:
        counts = [
            ("tools", f"{s.tools} ({s.active} active)"),
            ("chains", "chains not available" if s.chains is None else str(s.chains)),
            ("logged calls", f"{s.calls} ({s.errors} with errors)"),
            ("secrets stored", str(s.secrets)),
            ("chat model", s.model),
        ]
        rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in counts)
        places = "".join(f"<tr><th>{escape(k)}</th><td><code>{escape(v)}</code></td></tr>" for k, v in s.places)
        files = "".join(f"<tr><td><code>{escape(n)}</code></td><td><code>{escape(p)}</code></td></tr>"
                        for n, p in s.tool_files) or "<tr><td colspan=2><i>no tools</i></td></tr>"
        self.info.value = (
            f"<div><b>Workspace</b> <code>{escape(s.path)}</code></div>"
            f"<table class='halion-table' style='width:auto'>{rows}</table>"
            f"<div class='halion-section-title'>Files</div>"
            f"<table class='halion-table' style='width:auto'>{places}</table>"
            f"<div class='halion-section-title'>Tool files <span class='halion-muted'>(written by Save, "
            f"%%tool --save or %halion save)</span></div>"
            f"<table class='halion-table' style='width:auto'>{files}</table>")


class AdminController(Controller):
    view: AdminView

    def __init__(self, ws: "Workspace", view: AdminView) -> None:
        super().__init__(ws, view)
        view.refresh_button.on_click(lambda _: self.refresh())
        view.reload_button.on_click(lambda _: self.reload())
        view.clear_button.on_click(lambda _: self.ask_clear())
        self.on_tools(lambda event, name: self.refresh())
        for topic in ("log", "env", "chains", "model"):
            self.on(topic, lambda _: self.refresh())
        self.refresh()

    def summary(self) -> Summary:
        ws = self.ws
        chains = chains_of(ws)
        names = ws.tools.names()
        return Summary(
            path=str(ws.path), model=ws.model, tools=len(names), active=len(ws.tools.active()),
            chains=None if chains is None else len(chains.names()),
            calls=ws.log.count(), errors=ws.log.count(errors_only=True), secrets=len(ws.env.names()),
            places=[("tools", str(ws.tools.dir)), ("chains", str(ws.path / "chains")),
                    ("call log", str(ws.log.path)), ("secrets", str(ws.env.env_file)),
                    ("tool states", str(ws.tools.manager.path))],
            tool_files=[(n, str(ws.tools.path_of(n))) for n in names],
        )

    def refresh(self) -> None:
        try:
            self.view.show_summary(self.summary())
        except HalionError as exc:
            self.view.status.value = message(str(exc), "error")

    def reload(self) -> None:
        lines = []
        try:
            lines.append(repr(self.ws.tools.load()))
            chains = chains_of(self.ws)
            if chains is not None:
                lines.append(repr(chains.load()))
                self.hub.emit("chains")
        except HalionError as exc:
            lines.append(str(exc))
        self.view.status.value = "<br>".join(escape(line) for text in lines for line in text.splitlines())
        self.refresh()

    def ask_clear(self) -> None:
        count = self.ws.log.count()
        self.view.confirm.ask(f"Delete all {count} logged calls? This cannot be undone.", self.clear,
                              yes_label="Clear the log")

    def clear(self) -> None:
        try:
            deleted = self.ws.log.clear()
        except HalionError as exc:
            self.view.status.value = message(str(exc), "error")
            return
        self.view.status.value = message(f"Deleted {deleted} logged calls.", "ok")
        self.hub.emit("log")


def admin_panel(ws: "Workspace") -> AdminView:
    view = AdminView()
    AdminController(ws, view)
    return view
