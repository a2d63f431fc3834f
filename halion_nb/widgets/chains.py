"""Chains panel: build a toolchain step by step, check it, run it with live step status, save and share it.

The chain being built is a `services.chain_editor.ChainEditor`; this module maps the widgets of
`chain_views` onto it and calls `ws.chains` for checks, runs, files and drafts.
Each step argument is a literal (a widget typed from the tool's schema) or a reference to
a chain input or an earlier step's output, with an optional field path (`.items[0].name`).
"""
from __future__ import annotations

import json
import time
from html import escape
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..errors import ChainValidationError, HalionError, NameTaken
from ..models import Toolchain
from ..services.chain_editor import UNSET, ChainEditor, EditorArgument, EditorStep
from ._controller import Controller
from ._form import OMIT, FormField, blank, collect, fields_of, to_raw
from ._ui import message
from .chain_run import RunSection
from .chain_views import VALID, ArgRow, ArgState, ChainsView, StepBox
from .versions import ChainVersions

if TYPE_CHECKING:
    from ..workspace import Workspace

# -- controller -----------------------------------------------------------------------------------

def _fits(f: FormField, value: Any) -> bool:
    """Whether a literal can be shown in the parameter's own widget (else it is shown as JSON)."""
    if f.kind == "text":
        return isinstance(value, str)
    if f.kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if f.kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if f.kind == "bool":
        return isinstance(value, bool)
    if f.kind == "choice":
        return value in f.choices
    return True


class ChainsController(Controller):
    """Maps the view onto a `ChainEditor` (the chain being built) and calls `ws.chains` for the rest."""

    view: ChainsView

    def __init__(self, ws: "Workspace", view: ChainsView) -> None:
        super().__init__(ws, view)
        self.chains = ws.chains
        self.editor = ChainEditor(ws.chains)
        self._raw: dict[tuple[int, str], Any] = {}
        """Each argument widget's last raw value, by (id of the editor's step, parameter)."""
        self._as_json: dict[int, set[str]] = {}
        """Per step (by id of the editor's step): arguments shown as JSON because their widget cannot hold them."""
        self.runs = RunSection(self)
        self.versions = ChainVersions(self)
        """The diagram (redrawn on every edit), the saved chain's history, bundle export and import."""
        self._rendering = False
        self._showing_check = False
        """True while the problems area (or the output's "valid") shows the editor's check."""
        self.draft_worker = self.new_worker("draft")
        v = view
        v.load_button.on_click(lambda _: self.load(v.select.value))
        v.new_button.on_click(lambda _: self.new())
        v.delete_button.on_click(lambda _: self.ask_delete())
        v.add_input.on_click(lambda _: self.add_input())
        v.add_step.on_click(lambda _: self.add_step(v.add_tool.value))
        v.validate_button.on_click(lambda _: self.validate())
        v.run_button.on_click(lambda _: self.run())
        v.save_button.on_click(lambda _: self.save())
        v.export_json.on_click(lambda _: self.export_json())
        v.import_json.on_click(lambda _: self.import_json())
        v.export_file.on_click(lambda _: self.export_file())
        v.import_file.on_click(lambda _: self.import_file())
        v.draft_button.on_click(lambda _: self.draft())
        for w in (v.chain_name, v.description, v.parallel, v.expose):
            w.observe(lambda _: self._edited(), "value")
        self.on_tools(self._tools_changed)
        self.on("chains", lambda _: self._chains_changed())
        v.show_tools(ws.tools.names())
        self._chains_changed()
        self.new()

    @property
    def last_run(self) -> Any:
        """The latest run from the panel (a `ChainRun`), or None."""
        return self.runs.last

    def run(self) -> None:
        """Run the chain being built (in a thread) with the run form's inputs; steps update as they finish."""
        self.runs.start()

    @property
    def last_problems(self) -> list[str]:
        return self.editor.problems or []

    # widgets -> editor
    def capture(self) -> None:
        """Read the widgets into the editor (before a re-render, a build or a check)."""
        v, ed = self.view, self.editor
        ed.name, ed.description = v.chain_name.value, v.description.value
        ed.parallel, ed.expose = v.parallel.value, v.expose.value
        for row, item in zip(v.input_rows, ed.inputs):
            item.name, item.type = row.name_text.value.strip(), row.type.value
            item.required, item.default_json = row.required.value, row.default.value
        for box, step in zip(v.steps, ed.steps):
            step.id = box.id_text.value.strip()
            step.arguments = {row.param: self._argument(step, row) for row in box.args}

    def _argument(self, step: EditorStep, row: ArgRow) -> EditorArgument:
        state = row.state()
        self._raw[(id(step), row.param)] = state.value
        if state.mode == "ref":
            return EditorArgument("ref", ref=state.ref, path=state.path)
        values, bad = collect([row.field], {row.param: state.value})
        if bad:
            return EditorArgument("value", unread=bad[0])
        return EditorArgument("value", values.get(row.param, UNSET))

    def _fields(self, step: EditorStep) -> tuple[list[FormField], bool]:
        known = step.tool in self.ws.tools
        fields = fields_of(self.ws.tools.get(step.tool).spec.loose_parameters) if known else []
        as_json = self._as_json.get(id(step), set())
        fields = [FormField(name=f.name, kind="json", required=f.required, description=f.description)
                  if f.name in as_json else f for f in fields]
        names = {f.name for f in fields}
        extra = [FormField(name=a, kind="json", required=False) for a in step.arguments if a not in names]
        return fields + extra, known

    def _arg_state(self, step: EditorStep, f: FormField) -> ArgState:
        arg = step.arguments.get(f.name)
        raw = self._raw.get((id(step), f.name), OMIT)
        if arg is None:
            return ArgState(value=blank(f) if raw is OMIT else raw)
        if raw is OMIT:
            raw = blank(f) if arg.value is UNSET else to_raw(f, arg.value)
        return ArgState(arg.mode, raw, arg.ref, arg.path)

    # editor -> widgets
    def render(self) -> None:
        """Rebuild header, inputs, steps and the run form from the editor."""
        v, ed = self.view, self.editor
        self._rendering = True
        v.show_header(ed.name, ed.description, ed.parallel, ed.expose)
        self._rendering = False
        for row in v.show_inputs(ed.inputs):
            row.remove.on_click(lambda _, r=row: self.remove_input(v.input_rows.index(r)))
            for w in (row.name_text, row.type, row.required, row.default):
                w.observe(lambda _: self.refresh_structure(), "value")
        self.render_steps()

    def render_steps(self) -> None:
        """Rebuild the steps (their reference choices) and the run form from the editor."""
        v, ed = self.view, self.editor
        boxes = []
        for index, step in enumerate(ed.steps):
            fields, known = self._fields(step)
            args = {f.name: self._arg_state(step, f) for f in fields}
            box = StepBox(index, step, args, fields, ed.references(index), known, len(ed.steps))
            box.up.on_click(lambda _, i=index: self.move(i, -1))
            box.down.on_click(lambda _, i=index: self.move(i, +1))
            box.remove.on_click(lambda _, i=index: self.remove_step(i))
            box.id_text.observe(lambda _: self.refresh_structure(), "value")
            for row in box.args:
                row.mode.observe(lambda ch, r=row: r.show_mode(ch["new"]), "value")
                for w in (row.mode, row.value, row.ref, row.path):
                    w.observe(lambda _: self._edited(), "value")
            boxes.append(box)
        v.show_steps(boxes)
        self.runs.render()
        self.show_check()
        self.versions.draw()

    def refresh_structure(self) -> None:
        """An input or step id changed: the reference choices and the run form follow."""
        self.capture()
        self.render_steps()

    # the check shown always matches the chain as it is now
    def _edited(self) -> None:
        """A widget changed: an earlier "valid" or problem list may no longer describe the chain."""
        if not self._rendering and self._showing_check:
            self.capture()
            self.show_check()
        if not self._rendering:
            self.capture()
            self.versions.draw()

    def show_check(self, say_valid: bool = True) -> None:
        """Problems per step and overall, or "valid": the editor's last check while it is current, else nothing."""
        ed, v = self.editor, self.view
        problems = ed.problems
        for index, box in enumerate(v.steps):
            mine = ed.step_problems(index) if index < len(ed.steps) else []
            box.problems.value = ("<ul class='halion-err' style='margin:2px 0'>"
                                  + "".join(f"<li>{escape(p)}</li>" for p in mine) + "</ul>") if mine else ""
        if problems is None:
            if self._showing_check:
                v.show_problems([])
                if v.output.value == VALID:
                    v.output.value = ""
            self._showing_check = False
            return
        self._showing_check = True
        if problems:
            v.show_problems(problems, f"{len(problems)} problem(s)")
        else:
            v.show_problems([])
            if say_valid:
                v.output.value = VALID

    # editing
    def new(self) -> None:
        self.editor.new()
        self._raw.clear()
        self._as_json.clear()
        self.view.select.value = None
        self.view.show_problems([])
        self.view.output.value = ""
        self.render()

    def add_input(self, name: str = "", type: str = "string") -> None:
        self.capture()
        self.editor.add_input(name, type)
        self.render()

    def remove_input(self, index: int) -> None:
        self.capture()
        self.editor.remove_input(index)
        self.render()

    def add_step(self, tool: str | None) -> None:
        if not tool:
            self.view.banner.show_message("Pick a tool to add as a step (register one first if there are none).")
            return
        self.capture()
        self.editor.add_step(tool)
        self.render()

    def move(self, index: int, delta: int) -> None:
        self.capture()
        self.editor.move_step(index, delta)
        self.render()

    def remove_step(self, index: int) -> None:
        self.capture()
        self.editor.remove_step(index)
        self.render()

    def build(self) -> tuple[Toolchain | None, list[str]]:
        """The Toolchain the builder shows, or None and the problems that keep it from being one."""
        self.capture()
        return self.editor.build()

    def show(self, chain: Toolchain) -> None:
        """Put a chain into the builder."""
        self.editor.load(chain)
        self._raw.clear()
        self._as_json.clear()
        for step, source in zip(self.editor.steps, chain.steps):
            fields = {f.name: f for f in self._fields(step)[0]}
            self._as_json[id(step)] = {p for p, v in source.literals().items() if p in fields
                                       and not _fits(fields[p], v)}
        self.view.show_problems([])
        self.view.output.value = ""
        self.render()

    # actions
    def validate(self) -> list[str]:
        self.capture()
        problems = self.editor.validate()
        self.show_check()
        return problems

    def save(self) -> None:
        self.capture()
        try:
            path, left = self.editor.save()
        except ChainValidationError as exc:
            self.view.show_problems(exc.problems, "Cannot save: the chain is not complete")
            return
        except HalionError as exc:
            self.view.show_problems([str(exc)], "Not saved")
            return
        note = f" ({len(left)} problem(s) left)" if left else ""
        self.view.output.value = message(f"Saved {path}{note}", "error" if left else "ok")
        self.show_check(say_valid=False)
        self.hub.emit("chains")
        self.view.select.value = self.editor.name.strip()

    def load(self, name: str | None) -> None:
        if not name:
            self.view.banner.show_message("Pick a saved chain to load.", "info")
            return
        try:
            chain = self.chains.get(name)
        except HalionError as exc:
            self.view.banner.show_message(str(exc))
            return
        self.view.banner.hide()
        self.show(chain)
        self.view.select.value = name

    def ask_delete(self) -> None:
        name = self.view.select.value
        if not name:
            self.view.banner.show_message("Pick a saved chain to delete.", "info")
            return
        self.view.confirm.ask(f"Delete the chain {name} and chains/{name}.json?", lambda: self.delete(name),
                              yes_label="Delete")

    def delete(self, name: str) -> None:
        try:
            self.chains.remove(name)
        except HalionError as exc:
            self.view.banner.show_message(str(exc))
            return
        self.view.banner.show_message(f"Deleted the chain {name}.", "ok")
        self.hub.emit("chains")

    def export_json(self) -> None:
        from ..core.toolchain_registry import chain_to_json

        chain, problems = self.build()
        if chain is None:
            self.view.share_status.value = message("; ".join(problems), "error")
            return
        self.view.json.value = json.dumps(chain_to_json(chain), indent=2, ensure_ascii=False)
        self.view.share_status.value = message("The chain as JSON: copy it, or save it with Export to file.", "ok")

    def import_json(self) -> None:
        try:
            chain = Toolchain.model_validate_json(self.view.json.value)
        except ValidationError as exc:
            errors = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'chain'}: {e['msg']}" for e in exc.errors()[:5])
            self.view.share_status.value = message(f"Not a chain: {errors}", "error")
            return
        self.show(chain)
        self.view.share_status.value = message(f"Loaded {chain.name} into the builder (not saved yet).", "ok")

    def export_file(self) -> None:
        path = self.view.path.value.strip()
        chain, problems = self.build()
        if chain is None or not path:
            self.view.share_status.value = message("; ".join(problems) or "Type a path to export to.", "error")
            return
        try:
            self.chains.save(chain)
            written = self.chains.export(chain.name, path)
        except (HalionError, OSError) as exc:
            self.view.share_status.value = message(str(exc), "error")
            return
        self.hub.emit("chains")
        self.view.share_status.value = message(f"Saved and exported to {written}", "ok")

    def import_file(self, overwrite: bool = False) -> None:
        path = self.view.path.value.strip()
        if not path:
            self.view.share_status.value = message("Type the path of a chain file.", "error")
            return
        try:
            chain = self.chains.import_(path, overwrite=overwrite)
        except NameTaken as exc:
            self.view.share_status.value = message(str(exc), "error")
            self.view.confirm.ask("Replace the workspace's chain of that name with the imported one?",
                                  lambda: self.import_file(overwrite=True), yes_label="Replace")
            return
        except (HalionError, OSError) as exc:
            self.view.share_status.value = message(str(exc), "error")
            return
        self.hub.emit("chains")
        self.show(chain)
        self.view.select.value = chain.name
        self.view.share_status.value = message(f"Imported {chain.name} into this workspace.", "ok")

    def draft(self) -> None:
        goal = self.view.goal.value.strip()
        if not goal:
            self.view.draft_status.value = message("Type a goal first.", "error")
            return
        self.view.draft_button.disabled = True
        self.view.draft_status.value = message("Asking the model…")
        started = time.perf_counter()

        def done(chain: Toolchain) -> None:
            self.show(chain)
            self.view.draft_status.value = message(
                f"Draft {chain.name} loaded ({time.perf_counter() - started:.1f} s): review, Validate, Save.", "ok")

        def failed(exc: BaseException) -> None:
            self.view.draft_status.value = message(str(exc) or type(exc).__name__, "error")

        def finish() -> None:
            self.view.draft_button.disabled = False
            self.hub.emit("log")

        self.draft_worker.start(lambda: self.chains.draft(goal), on_done=done, on_error=failed, on_finally=finish)

    # sync
    def _tools_changed(self, event: str, name: str) -> None:
        if event == "state":
            return
        self.view.show_tools(self.ws.tools.names())
        if any(s.tool == name for s in self.editor.steps) or event == "loaded":
            self.capture()
            self.render()

    def _chains_changed(self) -> None:
        self.view.show_chains(self.chains.names(), self.view.select.value)


def chains_panel(ws: "Workspace") -> ChainsView:
    view = ChainsView()
    ChainsController(ws, view)
    return view

