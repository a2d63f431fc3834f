"""Env panel: the variables each tool reads, which are missing, and setting one (never shown)."""
from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

import ipywidgets as W

from ..errors import HalionError
from ..services.env_overview import EnvVariable, env_overview
from ._controller import Controller
from ._ui import Banner, PanelView, button, css, heading, html, message, wrap_row

if TYPE_CHECKING:
    from ..workspace import Workspace


class EnvView(PanelView):
    name = "env"

    def __init__(self) -> None:
        self.refresh_button = button("Refresh", "halion-env-refresh", icon="refresh")
        self.banner = Banner("halion-env-banner")
        self.table = html(cls="halion-env-table")
        self.var = css(W.Combobox(placeholder="VARIABLE_NAME", ensure_option=False, description="name",
                                  layout=W.Layout(width="280px", max_width="100%"),
                                  style={"description_width": "40px"}), "halion-env-name")
        self.value = css(W.Password(placeholder="value (never shown)", description="value",
                                    layout=W.Layout(width="280px", max_width="100%"),
                                    style={"description_width": "40px"}), "halion-env-value")
        self.set_button = button("Set", "halion-env-set", icon="key", style="primary",
                                 tooltip="Store in .halion/.env (mode 0600) and in this kernel's environment")
        self.unset_button = button("Remove", "halion-env-unset", icon="trash",
                                   tooltip="Remove the variable from .halion/.env")
        self.status = html(cls="halion-env-status")
        header = wrap_row([html(heading("key", "Environment")), self.refresh_button])
        form = wrap_row([self.var, self.value, self.set_button, self.unset_button])
        super().__init__([header, self.banner, self.table, form, self.status])

    def show_rows(self, rows: list[EnvVariable], env_file: str) -> None:
        if not rows:
            self.table.value = "<i class='halion-muted'>No tool reads an environment variable, and none is stored.</i>"
        else:
            body = "".join(
                f"<tr class='halion-env-row'><td><code>{escape(r.name)}</code></td>"
                f"<td>{escape(', '.join(r.tools)) or '<span class=halion-muted>—</span>'}</td>"
                f"<td>{'<span class=halion-ok>set</span>' if r.is_set else '<b class=halion-err>missing</b>'}</td>"
                f"<td>{'yes' if r.stored else ''}</td></tr>"
                for r in rows)
            self.table.value = (
                "<table class='halion-table'><tr><th>variable</th><th>read by</th><th>status</th>"
                f"<th>in .halion/.env</th></tr>{body}</table>"
                f"<div class='halion-muted'>secrets file: <code>{escape(env_file)}</code> (mode 0600)</div>")
        missing = [r.name for r in rows if not r.is_set]
        self.var.options = tuple(missing + [r.name for r in rows if r.is_set])
        if missing and not self.var.value:
            self.var.value = missing[0]  # the first thing to fix, ready to type its value


class EnvController(Controller):
    view: EnvView

    def __init__(self, ws: "Workspace", view: EnvView) -> None:
        super().__init__(ws, view)
        view.refresh_button.on_click(lambda _: self.refresh())
        view.set_button.on_click(lambda _: self.set())
        view.unset_button.on_click(lambda _: self.unset())
        self.on_tools(lambda event, name: self.refresh() if event != "state" else None)
        self.on("env", lambda _: self.refresh())
        self.refresh()

    def rows(self) -> list[EnvVariable]:
        return env_overview(self.ws)

    def refresh(self) -> None:
        try:
            rows = self.rows()
        except HalionError as exc:
            self.view.banner.show_message(str(exc))
            return
        self.view.banner.hide()
        self.view.show_rows(rows, str(self.ws.env.env_file))

    def set(self) -> None:
        """Store the typed value; the password box is cleared whatever happens."""
        name = self.view.var.value.strip()
        value = self.view.value.value
        self.view.value.value = ""
        if not name:
            self.view.status.value = message("Type or pick a variable name first.", "error")
            return
        if not value:
            self.view.status.value = message(f"Type a value for {name} first (it is never shown).", "error")
            return
        try:
            self.ws.env.set(name, value)
        except HalionError as exc:
            self.view.status.value = message(str(exc), "error")
            return
        finally:
            del value
        self.view.status.value = message(f"{name} is set (stored in .halion/.env, not shown).", "ok")
        self.hub.emit("env")

    def unset(self) -> None:
        name = self.view.var.value.strip()
        if not name:
            self.view.status.value = message("Pick a variable to remove.", "error")
            return
        try:
            self.ws.env.unset(name)
        except HalionError as exc:
            self.view.status.value = message(str(exc), "error")
            return
        self.view.status.value = message(f"{name} removed from .halion/.env.", "ok")
        self.hub.emit("env")


def env_panel(ws: "Workspace") -> EnvView:
    view = EnvView()
    EnvController(ws, view)
    return view
