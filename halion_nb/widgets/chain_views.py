"""The Chains panel's widgets: the header, input rows, one box per step with its argument rows, run and share."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

import ipywidgets as W

from ..services.chain_editor import EditorInput, EditorStep
from ._form import OMIT, FormField, blank
from ._ui import Banner, ConfirmBar, PanelView, button, css, field_widget, heading, html, message, show

INPUT_TYPES = ("string", "integer", "number", "boolean", "array", "object")
VALID = message("The chain is valid.", "ok", mark="check")


@dataclass
class ArgState:
    """What an argument row shows: the mode, the widget's raw value, the reference and its field path."""

    mode: str = "value"  # "value" or "ref"
    value: Any = OMIT
    ref: str | None = None
    path: str = ""


class InputRow(W.HBox):
    def __init__(self, item: EditorInput) -> None:
        self.name_text = css(W.Text(value=item.name, placeholder="name", continuous_update=False,
                                    layout=W.Layout(width="160px")), "halion-chains-input-name")
        self.type = css(W.Dropdown(options=INPUT_TYPES, value=item.type, layout=W.Layout(width="110px")),
                        "halion-chains-input-type")
        self.required = css(W.Checkbox(value=item.required, description="required", indent=False,
                                       layout=W.Layout(width="90px")), "halion-chains-input-required")
        self.default = css(W.Text(value=item.default_json, placeholder="default (JSON)", continuous_update=False,
                                  layout=W.Layout(width="160px")), "halion-chains-input-default")
        self.remove = button("", "halion-chains-input-remove", icon="times", tooltip="Remove this input")
        super().__init__([self.name_text, self.type, self.required, self.default, self.remove])
        css(self, "halion-chains-input")


class ArgRow(W.HBox):
    def __init__(self, f: FormField, arg: ArgState, refs: list[str]) -> None:
        self.param = f.name
        self.field = f
        optional = "" if f.required else " <span class='halion-muted'>(optional)</span>"
        label = f"<code>{escape(f.name)}</code>{optional}"
        self.label = W.HTML(label, layout=W.Layout(width="150px"))
        self.mode = css(W.Dropdown(options=[("value", "value"), ("reference", "ref")], value=arg.mode,
                                   layout=W.Layout(width="110px")), "halion-chains-arg-mode")
        self.value = css(field_widget(f, arg.value, label=""), "halion-chains-arg-value")
        self.value.layout.width = "260px"
        options: list[tuple[str, str | None]] = [("— pick —", None), *[(r, r) for r in refs]]
        ref = arg.ref if arg.ref in refs else None
        self.ref = css(W.Dropdown(options=options, value=ref, layout=W.Layout(width="200px")), "halion-chains-arg-ref")
        self.path = css(W.Text(value=arg.path, placeholder=".field[0]", layout=W.Layout(width="100px")),
                        "halion-chains-arg-path")
        super().__init__([self.label, self.mode, self.value, self.ref, self.path])
        css(self, "halion-chains-arg", f"halion-chains-arg-{f.name}")
        self.show_mode(arg.mode)

    def show_mode(self, mode: str) -> None:
        show(self.value, mode == "value")
        show(self.ref, mode == "ref")
        show(self.path, mode == "ref")

    def state(self) -> ArgState:
        return ArgState(self.mode.value, self.value.value, self.ref.value, self.path.value.strip())


class StepBox(W.VBox):
    def __init__(self, index: int, step: EditorStep, args: dict[str, ArgState], fields: list[FormField],
                 refs: list[str], known: bool, count: int) -> None:
        self.index = index
        self.tool = step.tool
        self.number = W.HTML(f"<b>{index + 1}.</b>")
        self.id_text = css(W.Text(value=step.id, continuous_update=False, description="id",
                                  layout=W.Layout(width="180px"), style={"description_width": "20px"}),
                           "halion-chains-step-id")
        missing = "" if known else " <span class='halion-err'>(no such tool)</span>"
        self.tool_label = W.HTML(f"tool <b>{escape(step.tool)}</b>{missing}")
        self.up = button("", "halion-chains-step-up", icon="arrow-up", tooltip="Move up")
        self.down = button("", "halion-chains-step-down", icon="arrow-down", tooltip="Move down")
        self.remove = button("", "halion-chains-step-remove", icon="times", tooltip="Remove this step")
        self.up.disabled = index == 0
        self.down.disabled = index == count - 1
        self.status = html(cls="halion-chains-step-status")
        self.args = [ArgRow(f, args.get(f.name, ArgState(value=blank(f))), refs) for f in fields]
        self.problems = html(cls="halion-chains-step-problems")
        self.result = html(cls="halion-chains-step-result")
        head = W.HBox([self.number, self.id_text, self.tool_label, self.up, self.down, self.remove, self.status],
                      layout=W.Layout(align_items="center"))
        args: list[W.Widget] = list(self.args) or [html("<i class='halion-muted'>no arguments</i>")]
        super().__init__([head, *args, self.problems, self.result])
        css(self, "halion-step", "halion-chain-step", f"halion-chain-step-{index + 1}")

    def show_status(self, status: str, detail: str = "") -> None:
        icon = {"pending": "clock-o", "running": "spinner fa-spin", "ok": "check-circle", "error": "times-circle",
                "skipped": "step-forward"}.get(status, "circle-o")
        self.status.value = (f"<span class='halion-chains-status-{status}'><i class='fa fa-{icon}'></i> "
                             f"{escape(status)}</span> {detail}")


class ChainsView(PanelView):
    name = "chains"

    def __init__(self) -> None:
        self.select = css(W.Dropdown(options=[("— saved chains —", None)], value=None, layout=W.Layout(width="220px")),
                          "halion-chains-select")
        self.load_button = button("Load", "halion-chains-load", icon="folder-open")
        self.new_button = button("New", "halion-chains-new", icon="file")
        self.delete_button = button("Delete", "halion-chains-delete", icon="trash", style="danger")
        self.banner = Banner("halion-chains-banner")
        self.confirm = ConfirmBar()
        self.chain_name = css(W.Text(placeholder="chain_name", description="name", layout=W.Layout(width="260px"),
                                     style={"description_width": "80px"}), "halion-chains-name")
        self.description = css(W.Text(placeholder="what the chain does", description="description",
                                      layout=W.Layout(width="560px"), style={"description_width": "80px"}),
                               "halion-chains-description")
        self.parallel = css(W.Checkbox(description="parallel", indent=False, layout=W.Layout(width="90px"),
                                       tooltip="Run steps whose references allow it at the same time"),
                            "halion-chains-parallel")
        self.expose = css(W.Checkbox(description="offer to the model", indent=False, layout=W.Layout(width="150px"),
                                     tooltip="Offer the chain to the chat model as a tool"), "halion-chains-expose")
        self.inputs_box = css(W.VBox(), "halion-chains-inputs")
        self.input_rows: list[InputRow] = []
        self.add_input = button("Input", "halion-chains-add-input", icon="plus", tooltip="Declare an input")
        self.steps_box = css(W.VBox(), "halion-chains-steps")
        self.steps: list[StepBox] = []
        self.add_tool = css(W.Dropdown(options=[], layout=W.Layout(width="200px")), "halion-chains-add-tool")
        self.add_step = button("Add step", "halion-chains-add-step", icon="plus")
        self.validate_button = button("Validate", "halion-chains-validate", icon="check")
        self.run_button = button("Run", "halion-chains-run", icon="play", style="success")
        self.save_button = button("Save", "halion-chains-save", icon="save", style="primary")
        self.problems = html(cls="halion-chains-problems")
        self.run_inputs = css(W.VBox(), "halion-chains-run-inputs")
        self.run_widgets: dict[str, W.Widget] = {}
        self.output = html(cls="halion-chains-output")
        self.approvals = css(W.VBox(), "halion-chains-approvals")
        """Approve/Deny cards of the running chain's steps whose tool needs approval."""
        self.json = css(W.Textarea(placeholder="chain JSON", layout=W.Layout(width="100%", height="160px")),
                        "halion-chains-json", "halion-code")
        self.export_json = button("Export JSON", "halion-chains-export-json", icon="download",
                                  tooltip="Show the chain being built as JSON")
        self.import_json = button("Import JSON", "halion-chains-import-json", icon="upload",
                                  tooltip="Load the JSON above into the builder")
        self.path = css(W.Text(placeholder="path/to/chain.json", layout=W.Layout(width="300px")), "halion-chains-path")
        self.export_file = button("Export to file", "halion-chains-export-file", icon="download")
        self.import_file = button("Import file", "halion-chains-import-file", icon="upload")
        self.share_status = html(cls="halion-chains-share-status")
        share = W.VBox([self.json, W.HBox([self.export_json, self.import_json]),
                        W.HBox([self.path, self.export_file, self.import_file]), self.share_status])
        self.share = css(W.Accordion(children=[share], titles=("Export / import JSON",), selected_index=None),
                         "halion-chains-share")
        self.goal = css(W.Text(placeholder="Goal, e.g. 'weather in a city, in Fahrenheit'",
                               layout=W.Layout(width="420px")), "halion-chains-goal")
        self.draft_button = button("Draft from goal", "halion-chains-draft", icon="magic")
        self.draft_status = html(cls="halion-chains-draft-status")
        super().__init__([
            W.HBox([html(heading("link", "Chains")), self.select, self.load_button, self.new_button,
                    self.delete_button], layout=W.Layout(align_items="center")),
            W.HBox([self.goal, self.draft_button, self.draft_status], layout=W.Layout(align_items="center")),
            self.banner, self.confirm,
            W.HBox([self.chain_name, self.parallel, self.expose], layout=W.Layout(align_items="center")),
            self.description,
            html("<div class='halion-section-title'>Inputs</div>"), self.inputs_box, self.add_input,
            html("<div class='halion-section-title'>Steps</div>"), self.steps_box,
            W.HBox([self.add_tool, self.add_step], layout=W.Layout(align_items="center")),
            html("<div class='halion-section-title'>Run</div>"), self.run_inputs,
            W.HBox([self.validate_button, self.run_button, self.save_button]),
            self.problems, self.approvals, self.output, self.share,
        ])

    def show_chains(self, names: list[str], current: str | None) -> None:
        self.select.options = [("— saved chains —", None), *[(n, n) for n in names]]
        self.select.value = current if current in names else None

    def show_tools(self, names: list[str]) -> None:
        current = self.add_tool.value
        self.add_tool.options = names
        self.add_tool.value = current if current in names else (names[0] if names else None)

    def show_header(self, name: str, description: str, parallel: bool, expose: bool) -> None:
        self.chain_name.value = name
        self.description.value = description
        self.parallel.value = parallel
        self.expose.value = expose

    def show_inputs(self, items: list[EditorInput]) -> list[InputRow]:
        old = self.input_rows
        self.input_rows = [InputRow(i) for i in items]
        self.inputs_box.children = self.input_rows
        for row in old:
            row.close()
        return self.input_rows

    def show_steps(self, boxes: list[StepBox]) -> None:
        old = self.steps
        self.steps = boxes
        self.steps_box.children = boxes or [html("<i class='halion-muted'>No steps yet: pick a tool and "
                                                 "click Add step.</i>")]
        for box in old:
            box.close()

    def show_run_inputs(self, fields: list[FormField], values: dict[str, Any]) -> None:
        self.run_widgets = {}
        rows = []
        for f in fields:
            widget = css(field_widget(f, values.get(f.name, OMIT)), "halion-chains-run-input",
                         f"halion-chains-run-input-{f.name}")
            self.run_widgets[f.name] = widget
            rows.append(widget)
        old = self.run_inputs.children
        self.run_inputs.children = rows or [html("<i class='halion-muted'>The chain declares no inputs.</i>")]
        for w in old:
            w.close()

    def show_problems(self, problems: list[str], title: str = "Problems") -> None:
        """The problems area; showing any problem takes back an earlier "valid" in the output line."""
        if not problems:
            self.problems.value = ""
            return
        if self.output.value == VALID:
            self.output.value = ""
        self.problems.value = (f"<div class='halion-err'><b>{escape(title)}</b><ul>"
                               + "".join(f"<li>{escape(p)}</li>" for p in problems) + "</ul></div>")
