"""Logs panel: the call log as a table, newest first, with filters and paging; a click on a row
opens that call's full details under it (a second click closes them)."""
from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..errors import HalionError
from ..models import CallRecord
from ._controller import Controller
from ._ui import Banner, PanelView, button, css, heading, html, message, outcome, pre, wrap_row
from .versions import source_html

if TYPE_CHECKING:
    from ..workspace import Workspace

KINDS = ("model", "tool", "chain", "step")
COLUMNS = ("#", "time", "kind", "name", "arguments", "outcome", "duration", "tokens")
WHO = ("caller", "user", "version")
"""Who made a call and with what, shown in its details when the log row has them."""


def _short(value: Any, limit: int = 70) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _duration(ms: float | None) -> str:
    if ms is None:
        return ""
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def _tokens(r: CallRecord) -> str:
    if r.prompt_tokens is None and r.completion_tokens is None:
        return ""
    return f"{r.prompt_tokens or 0}+{r.completion_tokens or 0}"


def _cells(values: list[str], cls: str) -> str:
    return f"<div class='halion-logs-cells {cls}'>" + "".join(f"<div>{v}</div>" for v in values) + "</div>"


class LogRow(W.Box):
    """One call of the page. A transparent button covers the row, so a click anywhere opens it."""

    def __init__(self) -> None:
        self.call_id: int | None = None
        self.cells = html()
        self.cells.layout = W.Layout(width="100%", margin="0")
        self.opener = button("", "halion-logs-row-open", tooltip="Show this call's details")
        super().__init__([self.cells, self.opener])
        css(self, "halion-logs-row")

    def show_record(self, r: CallRecord) -> None:
        self.call_id = r.id
        self.opener.tooltip = f"Show call #{r.id} in full"
        result = (f"{outcome(False)} <span class='halion-err'>{escape(_short(r.error, 60))}</span>" if r.error
                  else f"{outcome(True)} {escape(_short(r.result, 50))}")
        local = r.ts.astimezone()
        self.cells.value = _cells([
            str(r.id), f"<span title='{local.isoformat(timespec='seconds')}'>{local.strftime('%H:%M:%S')}</span>",
            r.kind, f"<code>{escape(r.name or '')}</code>", f"<code>{escape(_short(r.arguments))}</code>",
            result, _duration(r.duration_ms), _tokens(r)], "halion-logs-call")

    def mark_open(self, is_open: bool) -> None:
        (self.add_class if is_open else self.remove_class)("halion-logs-row-selected")


class LogsView(PanelView):
    name = "logs"

    def __init__(self) -> None:
        self.kind = css(W.Dropdown(options=[("all kinds", ""), *[(k, k) for k in KINDS]], value="",
                                   description="kind", layout=W.Layout(width="170px"),
                                   style={"description_width": "36px"}), "halion-logs-kind")
        self.tool = css(W.Combobox(options=[], placeholder="all tools", ensure_option=False,
                                   continuous_update=False, description="tool", layout=W.Layout(width="200px"),
                                   style={"description_width": "36px"}), "halion-logs-tool")
        self.errors = css(W.Checkbox(description="errors only", indent=False, layout=W.Layout(width="110px")),
                          "halion-logs-errors")
        self.text = css(W.Text(placeholder="search (Enter)", continuous_update=False,
                               layout=W.Layout(width="200px")), "halion-logs-text")
        self.refresh_button = button("Refresh", "halion-logs-refresh", icon="refresh")
        self.newer = button("Newer", "halion-logs-newer", icon="chevron-left", tooltip="Newer calls")
        self.older = button("Older", "halion-logs-older", icon="chevron-right", tooltip="Older calls")
        self.page = html(cls="halion-logs-page")
        self.banner = Banner("halion-logs-banner")
        self.head = html(_cells([escape(c) for c in COLUMNS], "halion-logs-head"))
        self.rows: list[LogRow] = []
        self._shown: list[LogRow] = []
        self.table = css(W.VBox([self.head]), "halion-logs-table")
        self.empty = html(cls="halion-logs-empty")
        self.detail = html(cls="halion-logs-detail")
        self.open_id: int | None = None
        filters = wrap_row([html(heading("list-alt", "Call log")), self.kind, self.tool, self.errors, self.text,
                       self.refresh_button])
        pager = wrap_row([self.newer, self.older, self.page])
        super().__init__([filters, self.banner, pager, self.table, self.empty])

    def show_tools(self, names: list[str]) -> None:
        self.tool.options = tuple(names)

    def show_page(self, records: list[CallRecord], total: int, offset: int, size: int) -> list[LogRow]:
        """Show one page of calls; returns the row widgets created now (to wire)."""
        created = [LogRow() for _ in range(len(records) - len(self.rows))]
        self.rows.extend(created)
        for r, log_row in zip(records, self.rows):
            log_row.show_record(r)
        self._shown = self.rows[: len(records)]
        if total == 0:
            self.page.value = message("No calls match." if offset == 0 else "")
            self.empty.value = "<i class='halion-muted'>No calls logged yet (or none match the filters).</i>"
        else:
            self.page.value = message(f"{offset + 1}–{offset + len(records)} of {total}, newest first")
            self.empty.value = ""
        self.newer.disabled = offset <= 0
        self.older.disabled = offset + size >= total
        self._lay_out()
        return created

    def show_detail(self, record: CallRecord | None) -> None:
        """Open `record` under its row (None closes the open one)."""
        self.open_id = record.id if record is not None else None
        self.detail.value = "" if record is None else _detail_html(record)
        self._lay_out()

    def _lay_out(self) -> None:
        shown = self._shown
        if self.open_id not in [r.call_id for r in shown]:
            self.open_id, self.detail.value = None, ""
        children: list[W.Widget] = [self.head] if shown else []
        for log_row in shown:
            is_open = log_row.call_id == self.open_id
            log_row.mark_open(is_open)
            children += [log_row, self.detail] if is_open else [log_row]
        self.table.children = children


def _detail_html(record: CallRecord) -> str:
    """Everything logged about one call: who and when, arguments, result or error, meta."""
    facts = [("time", record.ts.astimezone().isoformat(timespec="seconds")), ("duration", _duration(record.duration_ms)),
             ("tokens", _tokens(record)), ("conversation", record.conversation_id or "")]
    facts += [(name, str(getattr(record, name, None) or "")) for name in WHO]
    rows = "".join(f"<tr class='halion-logs-fact-{k}'><th>{escape(k)}</th><td>{escape(v)}</td></tr>"
                   for k, v in facts if v)
    title = f"#{record.id} · {escape(record.kind)} · <code>{escape(record.name or '')}</code>"
    parts = [f"<div class='halion-section-title'>{title}</div>",
             f"<table class='halion-table' style='width:auto'>{rows}</table>",
             "<b>arguments</b>", pre(record.arguments)]
    if record.error:
        parts += ["<b class='halion-err'>error</b>", pre(record.error)]
    else:
        parts += ["<b>result</b>", pre(record.result)]
    if record.meta:
        parts += ["<b>meta</b>", pre(record.meta)]
    return "".join(parts)


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
        for log_row in self.view.show_page(records, total, self.offset, self.page_size):
            log_row.opener.on_click(lambda _, r=log_row: self.toggle(r.call_id))

    def toggle(self, call_id: int | None) -> None:
        """A click on a row: open that call, or close it when it is the open one."""
        self.open(None if call_id == self.view.open_id else call_id)

    def open(self, call_id: int | None) -> None:
        """Show one call's details under its row (None closes them)."""
        if call_id is None:
            self.view.show_detail(None)
            return
        try:
            record = self.ws.log.get(call_id)
            self.view.show_detail(record)
        except HalionError as exc:
            self.view.banner.show_message(str(exc))
            return
        if record is not None:  # the code that ran, from the version history
            self.view.detail.value += source_html(self.ws, record)


def logs_panel(ws: "Workspace") -> LogsView:
    view = LogsView()
    LogsController(ws, view)
    return view
