"""Tools panel: every tool with its switches; source editor, schema, test-run form, delete, draft."""
from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..errors import HalionError
from ._controller import Controller
from ._form import FormField, collect, fields_of
from ._ui import Banner, ConfirmBar, PanelView, button, css, field_widget, heading, html, message, pre, show, wrap_row
from .versions import HistoryBox

if TYPE_CHECKING:
    from ..core.invocation import ToolOutcome
    from ..workspace import Workspace

TEMPLATE = '''def my_tool(text: str, times: int = 1) -> str:
    """Repeat a text.

    Args:
        text: What to repeat.
        times: How many times.
    """
    return text * times
'''
NO_DRAFT = "Drafting a tool with the model is not available in this version of halion_nb (ws.tools.draft)."


class ToolRow(W.HBox):
    """One tool: select button, active and postprocess switches, description."""

    def __init__(self, name: str) -> None:
        self.tool_name = name
        self.select = button(name, "halion-tools-select", tooltip=f"Show {name}")
        self.active = css(W.Checkbox(description="active", indent=False,
                                     layout=W.Layout(width="auto", flex="0 0 auto")), "halion-tools-active")
        self.postprocess = css(W.Checkbox(description="result → model", indent=False,
                                          layout=W.Layout(width="auto", flex="0 0 auto")), "halion-tools-postprocess")
        self.postprocess.tooltip = "On: the result goes back to the model. Off: it goes straight to you."
        self.approval = css(W.Checkbox(description="ask first", indent=False,
                                       layout=W.Layout(width="auto", flex="0 0 auto")), "halion-tools-approval")
        self.approval.tooltip = "On: each call waits for your Approve or Deny."
        # the description takes what is left and goes to a line of its own when that is too little
        self.summary = css(W.HTML(layout=W.Layout(flex="1 1 160px", min_width="0")), "halion-tools-summary")
        super().__init__([self.select, self.active, self.postprocess, self.approval, self.summary],
                         layout=W.Layout(align_items="center", flex_flow="row wrap", padding="2px 0"))
        css(self, "halion-tool-row", f"halion-tool-row-{name}")

    def show_state(self, active: bool, postprocess: bool, description: str, server: str | None = None,
                   approval: bool = False) -> None:
        self.active.value = active
        self.postprocess.value = postprocess
        self.approval.value = approval
        short = description if len(description) <= 60 else description[:59] + "…"
        mark = (f'<span class="halion-tools-mcp" title="runs in MCP server {escape(server)}">MCP · {escape(server)}'
                '</span> ' if server else "")
        self.summary.value = f'{mark}<span class="halion-muted">{escape(short)}</span>'


class ToolsView(PanelView):
    name = "tools"

    def __init__(self) -> None:
        self.new_button = button("New tool", "halion-tools-new", icon="plus")
        self.draft_button = button("Draft with AI", "halion-tools-draft", icon="magic")
        self.reload_button = button("Reload", "halion-tools-reload", icon="refresh",
                                    tooltip="Load tools/*.py from disk again")
        self.banner = Banner("halion-tools-banner")
        self.rows_box = css(W.VBox(), "halion-tools-list")
        self.rows: dict[str, ToolRow] = {}
        self.empty = html("<i>No tools yet: write a %%tool cell, or click New tool.</i>", "halion-tools-empty")

        self.draft_description = css(W.Textarea(placeholder="Describe the tool you want, e.g. 'convert "
                                                "Celsius to Fahrenheit'", layout=W.Layout(width="100%", height="70px")),
                                     "halion-tools-draft-description")
        self.draft_go = button("Draft", "halion-tools-draft-go", icon="magic", style="primary")
        self.draft_cancel = button("Cancel", "halion-tools-draft-cancel")
        self.draft_status = html(cls="halion-tools-draft-status")
        self.draft_box = css(W.VBox([html('<div class="halion-section-title">Draft a tool with the model</div>'),
                                     self.draft_description,
                                     wrap_row([self.draft_go, self.draft_cancel, self.draft_status])]),
                             "halion-tools-draft-box")
        show(self.draft_box, False)

        self.title = html(cls="halion-tools-title")
        self.review = html(cls="halion-tools-draft-review")
        self.source = css(W.Textarea(layout=W.Layout(width="100%", height="240px")),
                          "halion-tools-source", "halion-code")
        self.save_button = button("Save", "halion-tools-save", icon="save", style="primary",
                                  tooltip="Validate, register and write tools/<name>.py")
        self.revert_button = button("Revert", "halion-tools-revert", icon="undo", tooltip="Back to the registered code")
        self.source_error = html(cls="halion-tools-error")
        self.source_status = html(cls="halion-tools-status")
        self.schema = html(cls="halion-tools-schema")
        self.form_box = css(W.VBox(), "halion-tools-form")
        self.form_widgets: dict[str, W.Widget] = {}
        self.run_button = button("Run", "halion-tools-run", icon="play", style="success", tooltip="Call the tool")
        self.run_button.layout.align_self = "flex-start"
        self.run_result = html(cls="halion-tools-result")
        self.test_box = W.VBox([html('<div class="halion-section-title">Test run</div>'), self.form_box,
                                self.run_button, self.run_result])
        self.delete_button = button("Delete tool", "halion-tools-delete", icon="trash", style="danger")
        self.confirm = ConfirmBar()
        self.history = HistoryBox("halion-tools")
        self.detail = css(W.VBox([
            self.title, self.review, self.source,
            wrap_row([self.save_button, self.revert_button, self.source_status]), self.source_error, self.history,
            self.schema, self.test_box, wrap_row([self.delete_button]), self.confirm,
        ], layout=W.Layout(flex="2 1 380px", min_width="0", padding="0 0 0 12px")), "halion-tools-detail")
        show(self.detail, False)

        toolbar = wrap_row([html(heading("wrench", "Tools")), self.new_button, self.draft_button, self.reload_button])
        # side by side when there is room, the detail under the list when the panel is narrow
        tool_list = W.VBox([self.rows_box, self.empty], layout=W.Layout(flex="1 1 320px", min_width="0"))
        columns = W.HBox([tool_list, self.detail], layout=W.Layout(flex_flow="row wrap", align_items="flex-start"))
        super().__init__([toolbar, self.banner, self.draft_box, columns])

    # the tool list
    def sync_rows(self, names: list[str]) -> list[ToolRow]:
        """Keep one row per tool, in order; returns the rows created now (to wire)."""
        created = []
        for gone in set(self.rows) - set(names):
            self.rows.pop(gone).close()
        for name in names:
            if name not in self.rows:
                self.rows[name] = ToolRow(name)
                created.append(self.rows[name])
        self.rows_box.children = [self.rows[n] for n in names]
        show(self.empty, not names)
        return created

    def mark_selected(self, name: str | None) -> None:
        for row_name, row in self.rows.items():
            (row.add_class if row_name == name else row.remove_class)("halion-tool-row-selected")
            row.select.button_style = "info" if row_name == name else ""

    # the detail pane
    def show_tool(self, name: str, description: str, strict_reason: str | None, schema: dict[str, Any],
                  source: str, needs_env: list[str]) -> None:
        strict = "strict" if strict_reason is None else f"not strict: {strict_reason}"
        env = (f'<div class="halion-muted">reads env: {escape(", ".join(needs_env))}</div>' if needs_env else "")
        self.title.value = (f"<h3 style='margin:4px 0'><i class='fa fa-wrench'></i> {escape(name)}</h3>"
                            f"<div>{escape(description) or '<i>no description</i>'}</div>"
                            f'<div class="halion-muted">{escape(strict)}</div>{env}')
        self.source.value = source
        self.review.value = ""
        self.schema.value = f"<details><summary>Schema</summary>{pre(schema)}</details>"
        self.source_error.value = ""
        self.run_result.value = ""
        for part in (self.detail, self.test_box, self.delete_button, self.schema, self.history):
            show(part)

    def show_new(self, title: str, source: str, review: str = "") -> None:
        self.title.value = f"<h3 style='margin:4px 0'>{escape(title)}</h3>"
        self.review.value = review
        self.source.value = source
        self.source_error.value = ""
        self.source_status.value = message("Save registers the tool and writes tools/<name>.py.")
        self.schema.value = ""
        for part in (self.test_box, self.delete_button, self.schema, self.history):
            show(part, False)
        self.confirm.cancel()
        show(self.detail)

    def hide_detail(self) -> None:
        show(self.detail, False)

    def show_form(self, fields: list[FormField]) -> None:
        self.form_widgets = {}
        rows = []
        for f in fields:
            widget = field_widget(f)
            css(widget, "halion-tools-param", f"halion-tools-param-{f.name}")
            self.form_widgets[f.name] = widget
            rows.append(widget)
        if not rows:
            rows = [html('<i class="halion-muted">no parameters</i>')]
        old = self.form_box.children
        self.form_box.children = rows
        for widget in old:
            widget.close()

    def form_values(self) -> dict[str, Any]:
        return {name: widget.value for name, widget in self.form_widgets.items()}


class ToolsController(Controller):
    view: ToolsView

    def __init__(self, ws: "Workspace", view: ToolsView) -> None:
        super().__init__(ws, view)
        self.selected: str | None = None
        self.creating = False
        self.draft_result: Any = None
        """The last ToolDraft the model wrote (Save accepts it as is, or the edited code)."""
        self._loaded_source = ""
        self._saving = False
        self._fields: list[FormField] = []
        self.draft_worker = self.new_worker("draft")
        v = view
        v.new_button.on_click(lambda _: self.new_tool())
        v.draft_button.on_click(lambda _: self.open_draft())
        v.draft_go.on_click(lambda _: self.draft())
        v.draft_cancel.on_click(lambda _: show(v.draft_box, False))
        v.reload_button.on_click(lambda _: self.reload())
        v.save_button.on_click(lambda _: self.save())
        v.revert_button.on_click(lambda _: self.revert())
        v.run_button.on_click(lambda _: self.run())
        v.delete_button.on_click(lambda _: self.ask_delete())
        if not callable(getattr(ws.tools, "draft", None)):
            v.draft_button.disabled = True
            v.draft_button.tooltip = NO_DRAFT
        self.on_tools(self._on_tool_event)
        self.refresh()

    # list and switches
    def refresh(self) -> None:
        names = self.ws.tools.names()
        for row in self.view.sync_rows(names):
            row.select.on_click(lambda _, n=row.tool_name: self.select(n))
            row.active.observe(lambda ch, n=row.tool_name: self.set_active(n, ch["new"]), "value")
            row.postprocess.observe(lambda ch, n=row.tool_name: self.set_postprocess(n, ch["new"]), "value")
            row.approval.observe(lambda ch, n=row.tool_name: self.set_approval(n, ch["new"]), "value")
        for name in names:
            self._show_row(name)
        if self.selected is not None and self.selected not in self.ws.tools:
            self.selected = None
            self.view.hide_detail()
        self.view.mark_selected(self.selected)

    def _show_row(self, name: str) -> None:
        row = self.view.rows.get(name)
        if row is None or name not in self.ws.tools:
            return
        tool = self.ws.tools.get(name)
        row.show_state(self.ws.tools.is_active(name), self.ws.tools.postprocess(name), tool.description,
                       getattr(tool, "server", None), self.ws.tools.needs_approval(name))

    def set_active(self, name: str, active: bool) -> None:
        try:
            if self.ws.tools.is_active(name) != active:
                (self.ws.tools.enable if active else self.ws.tools.disable)(name)
        except HalionError as exc:
            self.view.banner.show_message(str(exc))

    def set_postprocess(self, name: str, postprocess: bool) -> None:
        try:
            if self.ws.tools.postprocess(name) != postprocess:
                self.ws.tools.set_postprocess(name, postprocess)
        except HalionError as exc:
            self.view.banner.show_message(str(exc))

    def set_approval(self, name: str, on: bool) -> None:
        try:
            if self.ws.tools.needs_approval(name) != on:
                self.ws.tools.require_approval(name, on)
        except HalionError as exc:
            self.view.banner.show_message(str(exc))

    def _on_tool_event(self, event: str, name: str) -> None:
        if event == "state":
            self._show_row(name)
            return
        self.refresh()
        if name == self.selected and event == "registered" and not self._saving:
            if self.view.source.value == self._loaded_source:
                self.select(name)
            else:
                self.view.source_status.value = message(
                    f"{name} changed outside this editor; Revert loads that version.", "error")

    # detail
    def select(self, name: str) -> None:
        try:
            tool = self.ws.tools.get(name)
            needs = self.ws.env.required(name)
        except (HalionError, ValueError) as exc:
            self.view.banner.show_message(str(exc))
            return
        self.selected, self.creating = name, False
        self._loaded_source = tool.source or ""
        self.view.show_tool(name, tool.description, tool.strict_reason, tool.schema, self._loaded_source, needs)
        self.view.source_status.value = "" if tool.source else message(
            "This tool has no source Python could find; write it here and Save.")
        self._fields = fields_of(tool.spec.loose_parameters)
        self.view.show_form(self._fields)
        self.view.mark_selected(name)
        self.view.history.bind(lambda: self.ws.tools.history(name), lambda a, b: self.ws.tools.diff(name, a, b),
                               lambda n: self.ws.tools.revert(name, n))

    def new_tool(self, source: str = TEMPLATE, title: str = "New tool (not saved yet)", review: str = "") -> None:
        self.selected, self.creating = None, True
        self._loaded_source = source
        if not review:
            self.draft_result = None
        self.view.mark_selected(None)
        self.view.show_new(title, source, review)

    def revert(self) -> None:
        if self.selected is not None:
            self.select(self.selected)
        elif self.creating:
            self.view.source.value = self._loaded_source

    def save(self) -> None:
        """Validate and register the edited code; on error the editor keeps the text, the old tool stays."""
        code = self.view.source.value
        name = None if self.creating else self.selected
        draft = self.draft_result if self.creating else None
        self._saving = True
        try:
            if draft is not None and code == getattr(draft, "code", None):
                tool = self.ws.tools.accept(draft)
            else:
                tool = self.ws.tools.update_source(getattr(draft, "name", name), code)
        except HalionError as exc:
            self.view.source_error.value = f'<pre class="halion-err">{escape(str(exc))}</pre>'
            self.view.source_status.value = message("Not saved.", "error")
            return
        finally:
            self._saving = False
        self.draft_result = None
        self.select(tool.name)
        self.view.source_status.value = message(f"Saved {self.ws.tools.path_of(tool.name)}", "ok")

    def run(self) -> None:
        """Call the selected tool with the form's values (in a thread) and show the result or error."""
        if self.selected is None:
            return
        args, problems = collect(self._fields, self.view.form_values())
        if problems:
            self.view.run_result.value = (
                "<div class='halion-err'><b>Cannot read the form:</b><ul>"
                + "".join(f"<li>{escape(p)}</li>" for p in problems) + "</ul></div>")
            return
        name = self.selected
        self.view.run_button.disabled = True
        self.view.run_result.value = message(f"Running {name}…")

        def done(outcome: ToolOutcome) -> None:
            if outcome.ok:
                self.view.run_result.value = (message(f"{name} returned in {outcome.duration_ms:.0f} ms", "ok", mark="check")
                                              + pre(outcome.content))
            elif outcome.error_kind == "arguments":
                items = "".join(f"<li>{escape(p)}</li>" for p in outcome.problems or (outcome.error or "",))
                self.view.run_result.value = f"<div class='halion-err'><b>Invalid arguments</b><ul>{items}</ul></div>"
            else:
                what = f"raised {outcome.exception}" if outcome.exception else "failed"
                self.view.run_result.value = (f"<div class='halion-err'><b>{escape(name)} {escape(what)}</b>"
                                              f"{pre(outcome.error or '')}</div>")

        def failed(exc: BaseException) -> None:
            self.view.run_result.value = f"<div class='halion-err'>{pre(self.ws.env.redact(str(exc)))}</div>"

        def finish() -> None:
            self.view.run_button.disabled = False

        self.worker.start(lambda: self.ws.tools.invoke(name, args, caller="panel"), on_done=done, on_error=failed,
                          on_finally=finish)

    def ask_delete(self) -> None:
        name = self.selected
        if name is None:
            return
        self.view.confirm.ask(f"Delete the tool {name} and tools/{name}.py?", lambda: self.delete(name),
                              yes_label="Delete")

    def delete(self, name: str) -> None:
        try:
            self.ws.tools.remove(name, delete_file=True)
        except HalionError as exc:
            self.view.banner.show_message(str(exc))
            return
        self.view.banner.show_message(f"Deleted {name}.", "ok")

    def reload(self) -> None:
        report = self.ws.tools.load()
        self.view.banner.show_message(repr(report), "error" if report.errors else "ok")
        self.refresh()

    # drafting
    def open_draft(self) -> None:
        show(self.view.draft_box)
        self.view.draft_status.value = ""

    def draft(self) -> None:
        description = self.view.draft_description.value.strip()
        drafter = getattr(self.ws.tools, "draft", None)
        if not description or drafter is None:
            self.view.draft_status.value = message("Describe the tool first." if drafter else NO_DRAFT, "error")
            return
        self.view.draft_go.disabled = True
        self.view.draft_status.value = message("Asking the model…")

        def done(draft: Any) -> None:
            code = _draft_source(draft)
            if not code:
                self.view.draft_status.value = message("The model's draft has no code.", "error")
                return
            self.view.draft_status.value = message("Draft ready: review it, then Save.", "ok")
            self.draft_result = draft if not isinstance(draft, str) else None
            self.new_tool(code, title=f"Draft: {getattr(draft, 'name', 'new tool')} (review, then Save)",
                          review=_review_html(draft))

        def failed(exc: BaseException) -> None:
            self.view.draft_status.value = message(str(exc) or type(exc).__name__, "error")

        def finish() -> None:
            self.view.draft_go.disabled = False
            self.hub.emit("log")

        self.draft_worker.start(lambda: drafter(description), on_done=done, on_error=failed, on_finally=finish)


def _json(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _draft_source(draft: Any) -> str:
    if isinstance(draft, str):
        return draft
    for attr in ("source", "code"):
        value = getattr(draft, attr, None)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _review_html(draft: Any) -> str:
    """What a person should read before saving a drafted tool."""
    parts = []
    if getattr(draft, "rationale", ""):
        parts.append(f"<div>{escape(draft.rationale)}</div>")
    env_vars = getattr(draft, "env_vars", []) or []
    if env_vars:
        missing = set(getattr(draft, "missing_env", []) or [])
        shown = ", ".join(f"<code>{escape(n)}</code>" + (" (missing: set it in Env)" if n in missing else "")
                          for n in env_vars)
        parts.append(f"<div>reads env: {shown}</div>")
    for label, cls, items in (("Problems", "halion-err", getattr(draft, "problems", [])),
                              ("Warnings", "halion-muted", getattr(draft, "warnings", []))):
        if items:
            parts.append(f"<div class='{cls}'><b>{label}</b><ul>"
                         + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul></div>")
    parts.append("<div class='halion-muted'>Not run yet: Save runs the code, registers the tool and writes "
                 "tools/&lt;name&gt;.py.</div>")
    return "".join(parts)


def tools_panel(ws: "Workspace") -> ToolsView:
    view = ToolsView()
    ToolsController(ws, view)
    return view
