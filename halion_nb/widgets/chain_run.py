"""The Chains panel's Run section: the inputs form, a run in a thread, each step's status live from the log."""
from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from ..display.text import shown
from ..errors import HalionError
from ..models import Toolchain
from ._form import OMIT, FormField, collect
from ._ui import message, pre

if TYPE_CHECKING:
    from .chains import ChainsController

_KIND = {"string": "text", "integer": "int", "number": "float", "boolean": "bool", "array": "json", "object": "json"}


class RunSection:
    """Runs the chain being built with the form's inputs; `last` is the latest `ChainRun`."""

    def __init__(self, panel: ChainsController) -> None:
        self.panel = panel
        self.last: Any = None
        self._kinds: dict[str, Any] = {}

    def fields(self) -> list[FormField]:
        """The run form: one field per named input, typed and defaulted as the input declares."""
        out = []
        for item in self.panel.editor.inputs:
            if not item.name:
                continue
            default: Any = OMIT
            if not item.required and item.default_json.strip():
                try:
                    default = json.loads(item.default_json)
                except ValueError:
                    default = OMIT
            f = FormField(name=item.name, kind=_KIND[item.type], required=item.required, default=default)  # type: ignore[arg-type]
            if f.kind in ("int", "float"):
                f.loose_number = not f.required and not isinstance(default, (int, float))
            if f.kind == "bool" and not f.required and not isinstance(default, bool):
                f.kind, f.choices = "choice", [True, False]
            out.append(f)
        return out

    def render(self) -> None:
        """Rebuild the run form, keeping each value whose field did not change kind."""
        values = {k: w.value for k, w in self.panel.view.run_widgets.items()}
        fields = self.fields()
        kinds = {f.name: (f.kind, f.loose_number, tuple(map(repr, f.choices))) for f in fields}
        keep = {k: val for k, val in values.items() if k in kinds and self._kinds.get(k) == kinds[k]}
        self._kinds = kinds
        self.panel.view.show_run_inputs(fields, keep)

    def start(self) -> None:
        """Run the chain being built (in a thread) with the run form's inputs; steps update as they finish."""
        chain, problems = self.panel.build()
        if chain is None:
            self.panel.view.show_problems(problems, "Cannot build the chain")
            return
        problems = self.panel.editor.validate()
        self.panel.show_check()
        if problems:
            self.panel.view.show_problems(problems, f"Cannot run: {len(problems)} problem(s)")
            return
        fields = self.fields()
        inputs, bad = collect(fields, {k: w.value for k, w in self.panel.view.run_widgets.items()})
        if bad:
            self.panel.view.show_problems(bad, "Cannot read the inputs")
            return
        self.panel.view.show_problems([])
        self.panel.view.output.value = message(f"Running {chain.name}…")
        for i, box in enumerate(self.panel.view.steps):
            box.result.value = ""
            box.show_status("running" if i == 0 or chain.parallel else "pending")
        self.panel.view.run_button.disabled = True
        latest = self.panel.ws.log.recent(1)
        since = latest[0].id if latest else 0
        done = threading.Event()
        threading.Thread(target=self._watch, args=(chain, since, done), daemon=True, name="halion-chain-watch").start()

        def finished(run: Any) -> None:
            done.set()
            self.last = run
            self._show(run)

        def failed(exc: BaseException) -> None:
            done.set()
            problems = getattr(exc, "problems", None) or [str(exc)]
            for box in self.panel.view.steps:
                box.status.value = ""
            self.panel.view.show_problems(problems, "The chain did not run")
            self.panel.view.output.value = ""

        def finally_() -> None:
            done.set()
            self.panel.view.run_button.disabled = False
            self.panel.hub.emit("log")

        self.panel.view.approvals.children = []
        self.panel.worker.start(lambda: self.panel.chains.run_with(chain, inputs, approve=self._approver()),
                                on_done=finished, on_error=failed, on_finally=finally_)

    def _approver(self) -> Any:
        return self.panel.ws.approver or self.ask

    def ask(self, request: Any) -> Any:
        """A card for a step that needs approval; the run's worker thread waits for the click."""
        from .approval import ApprovalCard

        card = ApprovalCard(request, self.panel.ws.env.redact)
        box = self.panel.view.approvals
        box.children = [*box.children, card]
        return card.wait()

    def _watch(self, chain: Toolchain, since: int, done: threading.Event) -> None:
        """Show each step's outcome as its log row appears (the run itself reports only at the end)."""
        seen: set[int] = set()
        order = [s.id for s in chain.steps]
        while not done.wait(0.1):
            try:
                rows = [r for r in self.panel.ws.log.recent(100, kind="step") if r.id > since and r.id not in seen
                        and r.meta.get("chain") == chain.name]
            except HalionError:
                return
            for r in sorted(rows, key=lambda r: r.id):
                seen.add(r.id)
                step = r.meta.get("step")
                if step not in order or done.is_set():
                    continue
                box = self.panel.view.steps[order.index(step)] if order.index(step) < len(self.panel.view.steps) else None
                if box is None:
                    continue
                box.show_status("error" if r.error else "ok", self._took(r.duration_ms))
                nxt = order.index(step) + 1
                if not chain.parallel and not r.error and nxt < len(self.panel.view.steps):
                    self.panel.view.steps[nxt].show_status("running")

    @staticmethod
    def _took(ms: float | None) -> str:
        return f"<span class='halion-muted'>{ms:.0f} ms</span>" if ms is not None else ""

    def _show(self, run: Any) -> None:
        def safe(value: Any) -> str:
            return shown(value, self.panel.ws.env.redact, indent=2)

        for box, step in zip(self.panel.view.steps, run.steps):
            box.show_status(step.status, self._took(step.duration_ms))
            if step.status == "ok":
                box.result.value = f"<b>result</b>{pre(safe(step.result))}"
            elif step.status == "error":
                box.result.value = f"<b class='halion-err'>error</b>{pre(safe(step.error))}"
            else:
                box.result.value = ""
        took = f" in {run.duration_ms:.0f} ms" if run.duration_ms is not None else ""
        if run.error is None:
            self.panel.view.output.value = message(f"{run.chain.name} finished{took}. Output:", "ok", mark="check") + pre(safe(run.output))
        else:
            self.panel.view.output.value = message(safe(run.error), "error", mark="times")
