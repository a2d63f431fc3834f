"""Logs panel: the call log as a table, newest first, with filters, paging and one call's detail."""
from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..errors import HalionError
from ..models import CallRecord
from ._controller import Controller
from ._ui import Banner, PanelView, button, css, heading, html, message, pre

if TYPE_CHECKING:
    from ..workspace import Workspace

KINDS = ("model", "tool", "chain", "step")


def _short(value: Any, limit: int = 70) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _duration(ms: float | None) -> str:
    if ms is None:
        return ""
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


class LogsView(PanelView):
    name = "logs"

    def __init__(self) -> None:
        narrow = W.Layout(width="170px")
        self.kind = css(W.Dropdown(options=[("all kinds", ""), *[(k, k) for k in KINDS]], value="",
                                   description="kind", layout=narrow, style={"description_width": "36px"}),
                        "halion-logs-kind")
        self.tool = css(W.Combobox(options=[], placeholder="all tools", ensure_option=False,
                                   continuous_update=False, description="tool", layout=W.Layout(width="200px"),
                                   style={"description_width": "36px"}), "halion-logs-tool")
        self.errors = css(W.Checkbox(description="errors only", indent=False, layout=W.Layout(width="110px")),
                          "halion-logs-errors")
        self.text = css(W.Text(placeholder="search (Enter)", continuous_update=False,
                               layout=W.Layout(width="200px")), "halion-logs-text")
        self.refresh_button = button("Refresh", "halion-logs-refresh", icon="refresh")
        self.newer = button("◀ Newer", "halion-logs-newer", tooltip="Newer calls")
        self.older = button("Older ▶", "halion-logs-older", tooltip="Older calls")
        self.page = html(cls="halion-logs-page")
        self.banner = Banner("halion-logs-banner")
        self.table = html(cls="halion-logs-table")
        self.open_call = css(W.Dropdown(options=[("— pick a call on this page —", None)], value=None,
                                   description="open", layout=W.Layout(width="360px"),
                                   style={"description_width": "36px"}), "halion-logs-open")
        self.detail = html(cls="halion-logs-detail")
        filters = W.HBox([html(heading("list-alt", "Call log")), self.kind, self.tool, self.errors, self.text,
                          self.refresh_button], layout=W.Layout(align_items="center", flex_flow="row wrap"))
        pager = W.HBox([self.newer, self.older, self.page], layout=W.Layout(align_items="center"))
        super().__init__([filters, self.banner, pager, self.table, self.open_call, self.detail])

    def show_tools(self, names: list[str]) -> None:
        self.tool.options = tuple(names)

    def show_page(self, records: list[CallRecord], total: int, offset: int, size: int) -> None:
        if total == 0:
            self.page.value = message("No calls match." if offset == 0 else "")
            self.table.value = "<i class='halion-muted'>No calls logged yet (or none match the filters).</i>"
        else:
            self.page.value = message(f"{offset + 1}–{offset + len(records)} of {total}, newest first")
            rows = "".join(self._row(r) for r in records)
            self.table.value = (
                "<table class='halion-table'><tr><th>#</th><th>time</th><th>kind</th><th>name</th>"
                f"<th>arguments</th><th>outcome</th><th>duration</th><th>tokens</th></tr>{rows}</table>")
        self.newer.disabled = offset <= 0
        self.older.disabled = offset + size >= total
        current = self.open_call.value
        ids = [r.id for r in records]
        self.open_call.options = [("— pick a call on this page —", None),
                             *[(f"#{r.id} · {r.kind} · {r.name or ''}{' · error' if r.error else ''}", r.id)
                               for r in records]]
        self.open_call.value = current if current in ids else None

    @staticmethod
    def _row(r: CallRecord) -> str:
        outcome = (f"<span class='halion-err'>✗ {escape(_short(r.error, 60))}</span>" if r.error
                   else f"<span class='halion-ok'>✓</span> {escape(_short(r.result, 50))}")
        tokens = "" if r.prompt_tokens is None and r.completion_tokens is None else \
            f"{r.prompt_tokens or 0}+{r.completion_tokens or 0}"
        local = r.ts.astimezone()
        ts = f"<span title='{local.isoformat(timespec='seconds')}'>{local.strftime('%H:%M:%S')}</span>"
        return (f"<tr class='halion-logs-row'><td>{r.id}</td><td>{ts}</td><td>{r.kind}</td>"
                f"<td><code>{escape(r.name or '')}</code></td><td><code>{escape(_short(r.arguments))}</code></td>"
                f"<td>{outcome}</td><td>{_duration(r.duration_ms)}</td><td>{tokens}</td></tr>")

    def show_detail(self, record: CallRecord | None) -> None:
        if record is None:
            self.detail.value = ""
            return
        head = (f"<h4 style='margin:6px 0'>#{record.id} · {record.kind} · {escape(record.name or '')}</h4>"
                f"<div class='halion-muted'>{record.ts.astimezone().isoformat(timespec='seconds')}"
                f"{' · ' + _duration(record.duration_ms) if record.duration_ms is not None else ''}"
                f"{' · conversation ' + escape(record.conversation_id) if record.conversation_id else ''}</div>")
        parts = [head, "<b>arguments</b>", pre(record.arguments)]
        if record.error:
            parts += ["<b class='halion-err'>error</b>", pre(record.error)]
        else:
            parts += ["<b>result</b>", pre(record.result)]
        if record.meta:
            parts += ["<b>meta</b>", pre(record.meta)]
        self.detail.value = "".join(parts)


class LogsController(Controller):
    view: LogsView
    page_size = 20

    def __init__(self, ws: "Workspace", view: LogsView) -> None:
        super().__init__(ws, view)
        self.offset = 0
        v = view
        for widget in (v.kind, v.tool, v.errors, v.text):
            widget.observe(lambda _: self.first_page(), "value")
        v.refresh_button.on_click(lambda _: self.refresh())
        v.newer.on_click(lambda _: self.turn(-1))
        v.older.on_click(lambda _: self.turn(+1))
        v.open_call.observe(lambda ch: self.open(ch["new"]), "value")
        self.on_tools(lambda event, name: self._tools_changed(event))
        self.on("log", lambda _: self.refresh())
        v.show_tools(ws.tools.names())
        self.refresh()

    def filters(self) -> dict[str, Any]:
        v = self.view
        return {"kind": v.kind.value or None, "tool": v.tool.value.strip() or None, "errors_only": bool(v.errors.value),
                "text": v.text.value.strip() or None}

    def _tools_changed(self, event: str) -> None:
        if event != "state":
            self.view.show_tools(self.ws.tools.names())

    def first_page(self) -> None:
        self.offset = 0
        self.refresh()

    def turn(self, pages: int) -> None:
        self.offset = max(0, self.offset + pages * self.page_size)
        self.refresh()

    def refresh(self) -> None:
        try:
            filters = self.filters()
            total = self.ws.log.count(**filters)
            if self.offset >= total > 0:
                self.offset = (total - 1) // self.page_size * self.page_size
            records = self.ws.log.recent(self.page_size, offset=self.offset, **filters)
        except HalionError as exc:
            self.view.banner.show_message(str(exc))
            return
        self.view.banner.hide()
        self.view.show_page(records, total, self.offset, self.page_size)

    def open(self, call_id: int | None) -> None:
        if call_id is None:
            self.view.show_detail(None)
            return
        try:
            self.view.show_detail(self.ws.log.get(call_id))
        except HalionError as exc:
            self.view.banner.show_message(str(exc))


def logs_panel(ws: "Workspace") -> LogsView:
    view = LogsView()
    LogsController(ws, view)
    return view
