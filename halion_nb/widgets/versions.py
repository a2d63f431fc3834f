"""Version pieces of the Tools and Chains panels: a history box (versions, diff, revert), bundle export
and import (a download link; an upload whose report is shown before anything is written), and the chain's
Mermaid diagram redrawn as the chain is edited."""
from __future__ import annotations

import base64
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..display.chains import chain_mermaid
from ..display.versions import diff_html, report_html, version_line
from ..errors import HalionError
from ..services.bundles import bundle_json, import_bundle
from ._ui import button, css, html, message, show, shown, wrap_row

if TYPE_CHECKING:
    from ..models import Version
    from ..services.bundles import ImportReport
    from .chains import ChainsController


class HistoryBox(W.VBox):
    """The saved versions of one tool or chain: pick one to see what it changed, revert to it.

    `bind(history, diff, revert)` gives it the Workspace calls for the current name; `reload()` reads them again.
    """

    def __init__(self, prefix: str) -> None:
        self.toggle = button("History", f"{prefix}-history", icon="history", tooltip="Saved versions, diffs, revert")
        self.versions = css(W.Select(options=[], rows=5, layout=W.Layout(width="100%")), f"{prefix}-history-list")
        self.diff = html(cls=f"{prefix}-history-diff")
        self.revert = button("Revert to this version", f"{prefix}-history-revert", icon="undo",
                             tooltip="Make the chosen version current again (saved as a new version)")
        self.status = html(cls=f"{prefix}-history-status")
        self.body = W.VBox([self.versions, self.diff, wrap_row([self.revert, self.status])])
        show(self.body, False)
        super().__init__([self.toggle, self.body])
        css(self, f"{prefix}-history-box")
        self._calls: tuple[Callable[[], list[Version]], Callable[..., Any], Callable[[int], Any]] | None = None
        self.toggle.on_click(lambda _: self.expand(not shown(self.body)))
        self.versions.observe(lambda _: self._show_diff(), "value")
        self.revert.on_click(lambda _: self._revert())

    def bind(self, history: Callable[[], list[Version]], diff: Callable[..., Any], revert: Callable[[int], Any]) -> None:
        self._calls = (history, diff, revert)
        self.status.value = ""
        if shown(self.body):
            self.reload()

    def expand(self, visible: bool = True) -> None:
        show(self.body, visible)
        if visible:
            self.reload()

    def reload(self) -> None:
        if self._calls is None:
            return
        try:
            versions = self._calls[0]()
        except HalionError as exc:
            self.versions.options, self.diff.value = [], message(str(exc), "error")
            return
        self.versions.options = [(version_line(v), v.number) for v in reversed(versions)]
        self.versions.value = versions[-1].number if versions else None
        self.revert.disabled = len(versions) < 2
        if not versions:
            self.diff.value = message("No saved versions yet: each Save that changes it records one.")

    def _show_diff(self) -> None:
        number = self.versions.value
        if self._calls is None or number is None:
            return
        try:
            self.diff.value = diff_html(self._calls[1](None, number))
        except HalionError as exc:
            self.diff.value = message(str(exc), "error")

    def _revert(self) -> None:
        number = self.versions.value
        if self._calls is None or number is None:
            return
        try:
            self._calls[2](number)
        except HalionError as exc:
            self.status.value = message(str(exc), "error")
            return
        self.reload()
        self.status.value = message(f"Back to v{number}, saved as a new version.", "ok")


class ChainVersions:
    """The Chains panel's diagram, history and bundles, wired into its controller."""

    def __init__(self, panel: ChainsController) -> None:
        self.panel = panel
        v = panel.view
        self.diagram = css(W.Output(), "halion-chains-diagram")
        self.diagram_source = ""
        """The Mermaid source now drawn (a chain that cannot be built yet keeps the last one)."""
        self.history = HistoryBox("halion-chains")
        show(self.history.toggle, False)  # the accordion's "History" title opens it
        show(self.history.body)
        self.export_button = button("Export bundle", "halion-chains-export-bundle", icon="download",
                                    tooltip="The chain and its tools' source in one file (saves the chain first)")
        self.download = html(cls="halion-chains-download")
        self.upload = css(W.FileUpload(accept=".json", multiple=False, description="Import bundle"),
                          "halion-chains-import-bundle")
        self.overwrite = css(W.Checkbox(description="replace what conflicts", indent=False,
                                        layout=W.Layout(width="auto")), "halion-chains-bundle-overwrite")
        self.report_html = html(cls="halion-chains-bundle-report")
        self.accept_button = button("Accept and import", "halion-chains-bundle-accept", icon="check", style="warning",
                                    tooltip="Runs the bundle's tool code, then saves the tools and the chain")
        show(self.accept_button, False)
        self.report: ImportReport | None = None
        self._upload: tuple[bytes, str] | None = None
        bundles = W.VBox([wrap_row([self.export_button, self.download]),
                          wrap_row([self.upload, self.overwrite, self.accept_button]), self.report_html])
        self.box = css(W.Accordion(children=[W.VBox([self.history]), bundles], titles=("History", "Bundles"),
                                   selected_index=None), "halion-chains-versions")
        children = list(v.children)
        children.insert(children.index(v.steps_box) + 1, self.diagram)
        v.children = (*children, self.box)
        self.export_button.on_click(lambda _: self.export())
        self.upload.observe(lambda ch: self.uploaded(ch["new"]), "value")
        self.overwrite.observe(lambda _: self._plan(), "value")
        self.accept_button.on_click(lambda _: self.accept())
        v.select.observe(lambda _: self.bind_history(), "value")
        panel.on("chains", lambda _: self.bind_history())
        self.bind_history()

    # diagram
    def draw(self) -> None:
        """Redraw the diagram from the chain as the builder shows it now (named or not yet)."""
        editor = self.panel.editor
        name = editor.name
        editor.name = name.strip() or "unnamed"  # a chain being built may have no name yet
        try:
            chain, _ = editor.build()
        finally:
            editor.name = name
        if chain is None or not chain.steps:
            if not self.panel.editor.steps:
                self._set_diagram("")
            return
        self._set_diagram(chain_mermaid(chain))

    def _set_diagram(self, source: str) -> None:
        if source == self.diagram_source:
            return
        self.diagram_source = source
        data = {"text/markdown": f"```mermaid\n{source}\n```", "text/plain": source}
        self.diagram.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},) if source else ()

    # history
    def bind_history(self) -> None:
        chains = self.panel.chains
        name = self.panel.view.select.value
        if not name:
            self.history.bind(list, lambda a, b: None, lambda n: None)
            self.history.diff.value = message("Load a saved chain to see its versions.")
            return
        self.history.bind(lambda: chains.history(name), lambda a, b: chains.diff(name, a, b),
                          lambda n: self._reverted(chains.revert(name, n)))

    def _reverted(self, chain: Any) -> None:
        self.panel.show(chain)
        self.panel.hub.emit("chains")

    # bundles
    def export(self) -> None:
        chain, problems = self.panel.build()
        if chain is None:
            self.download.value = message("; ".join(problems), "error")
            return
        try:
            self.panel.chains.save(chain)
            text = bundle_json(self.panel.ws, chain.name)
        except HalionError as exc:
            self.download.value = message(str(exc), "error")
            return
        self.panel.hub.emit("chains")
        data = base64.b64encode(text.encode("utf-8")).decode("ascii")
        file = f"{chain.name}.bundle.json"
        self.download.value = (f'<a download="{escape(file)}" href="data:application/json;base64,{data}">'
                               f'<i class="fa fa-download"></i> {escape(file)}</a> '
                               f'<span class="halion-muted">({len(text):,} bytes)</span>')

    def uploaded(self, value: Any) -> None:
        """A file was chosen: read and check it, show the report; nothing is written until Accept."""
        files = list(value or ())
        if not files:
            return
        first = files[0]
        self._upload = (bytes(first["content"]), str(first["name"]))
        self._plan()

    def _plan(self) -> None:
        self.report = None
        show(self.accept_button, False)
        if self._upload is None:
            return
        data, name = self._upload
        try:
            self.report = import_bundle(self.panel.ws, data, overwrite=self.overwrite.value, label=name)
        except HalionError as exc:
            self.report_html.value = message(str(exc), "error")
            return
        self.report_html.value = report_html(self.report)
        show(self.accept_button, self.report.ok and bool(self.report.added or self.report.conflicts))

    def accept(self) -> None:
        report = self.report
        if report is None:
            return
        try:
            report.accept()
        except HalionError as exc:
            self.report_html.value = message(str(exc), "error")
            return
        show(self.accept_button, False)
        self._upload = None
        self.report_html.value = report_html(report)
        self.panel.hub.emit("chains")
        self.panel.load(report.chain)


def source_html(ws: Any, record: Any) -> str:
    """For a Logs panel call: the tool code that ran (its version's source), folded; '' for rows without one."""
    if not getattr(record, "version", None) or not record.name:
        return ""
    try:
        found = ws.versions.find("tool", record.name, record.version)
    except HalionError:
        return (f"<div class='halion-muted halion-logs-source'>The source of version {escape(record.version)} "
                "was not recorded.</div>")
    label = f"v{found.number}" if found.number is not None else "live, never saved"
    return (f"<details class='halion-logs-source'><summary><b>code that ran</b> · {escape(found.hash)} "
            f"({escape(label)})</summary><pre>{escape(ws.env.redact(found.content))}</pre></details>")
