"""History, bundles and the live diagram in the panels: what a person sees and clicks."""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
import re
from pathlib import Path

import ipywidgets as W

from halion_nb.widgets import find, find_all, panel
from halion_nb.workspace import Workspace

ADD_SOURCE = (
    'def add(a: int, b: int = 2) -> int:\n    """Add two integers.\n\n'
    '    Args:\n        a: first number\n        b: second number\n    """\n    return a + b\n'
)


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def upload(view: W.Widget, name: str, data: bytes) -> None:
    find(view, "halion-chains-import-bundle").value = (
        {"name": name, "type": "application/json", "size": len(data), "content": memoryview(data),
         "last_modified": datetime.datetime.now(datetime.UTC)},)


def test_tools_panel_history_shows_versions_diffs_and_reverts(ws: Workspace) -> None:
    ws.tools.update_source(None, ADD_SOURCE)
    ws.tools.update_source("add", ADD_SOURCE.replace("return a + b", "return a + b + 1"))
    view = panel("tools", ws)
    find(view, "halion-tools-select").click()
    find(view, "halion-tools-history").click()
    listing = find(view, "halion-tools-history-list")
    assert [label.split()[0] for label, _ in listing.options] == ["v2", "v1"] and listing.value == 2
    diff = find(view, "halion-tools-history-diff").value
    assert '<span style="background:#dafbe1;color:#116329">+    return a + b + 1</span>' in diff
    listing.value = 1
    find(view, "halion-tools-history-revert").click()
    assert ws.tools.get("add")(a=1) == 3 and len(ws.tools.history("add")) == 3
    assert find(view, "halion-tools-source").value.rstrip().endswith("return a + b")  # the editor follows
    assert "Back to v1" in find(view, "halion-tools-history-status").value
    assert find(view, "halion-tools-history-list").options[0][0].startswith("v3 ")


def test_chains_panel_diagram_is_redrawn_as_the_chain_is_edited(add: Workspace) -> None:
    view = panel("chains", add)
    assert view.controller.versions.diagram_source == ""
    find(view, "halion-chains-add-tool").value = "add"
    find(view, "halion-chains-add-step").click()
    first = view.controller.versions.diagram_source
    assert first.startswith("flowchart LR") and 's_add["add<br/>add"]' in first
    find(view, "halion-chains-add-step").click()
    second = view.controller.versions.diagram_source
    assert second.count("-.->") == 1 and second != first  # the new step, after the first
    step = find_all(view, "halion-chain-step")[1]
    row = find(step, "halion-chains-arg-a")
    find(row, "halion-chains-arg-mode").value = "ref"
    find(row, "halion-chains-arg-ref").value = find(row, "halion-chains-arg-ref").options[-1][1]
    third = view.controller.versions.diagram_source
    assert '-->|"a"| s_' in third and "-.->" not in third  # the reference became a labelled data edge
    shown = find(view, "halion-chains-diagram").outputs[0]["data"]["text/markdown"]
    assert shown == f"```mermaid\n{third}\n```"


def test_chains_panel_exports_and_imports_a_bundle_with_the_report_first(add: Workspace, tmp_path: Path) -> None:
    add.tools.update_source("add", ADD_SOURCE)
    add.chains.save({"name": "plus", "steps": [{"id": "p", "tool": "add", "arguments": {"a": 40}}]})
    source = panel("chains", add)
    source.controller.load("plus")
    find(source, "halion-chains-export-bundle").click()
    link = find(source, "halion-chains-download").value
    assert 'download="plus.bundle.json"' in link
    data = base64.b64decode(re.search(r"base64,([^\"]+)\"", link).group(1))
    assert json.loads(data)["tools"][0]["source"] == ADD_SOURCE

    fresh = Workspace(tmp_path / "fresh")
    (tmp_path / "fresh").mkdir()
    view = panel("chains", fresh)
    before = tree(tmp_path / "fresh")
    upload(view, "plus.bundle.json", data)
    report = find(view, "halion-chains-bundle-report").value
    assert "would add: add, chain:plus" in report and "code of <code>add</code>" in report
    assert tree(tmp_path / "fresh") == before  # shown, not written
    find(view, "halion-chains-bundle-accept").click()
    assert "imported" in find(view, "halion-chains-bundle-report").value
    assert fresh.chains.run("plus").output == 42 and find(view, "halion-chains-select").value == "plus"
    find(view, "halion-chains-versions").selected_index = 0
    assert [label.split()[0] for label, _ in find(view, "halion-chains-history-list").options] == ["v1"]


def test_a_hostile_upload_is_refused_and_writes_nothing(ws: Workspace) -> None:
    ws.path.mkdir(parents=True, exist_ok=True)
    view = panel("chains", ws)
    before = tree(ws.path)
    bundle = {"format": "halion-bundle", "format_version": 1, "chain": {"name": "x", "steps": []},
              "tools": [{"name": "../../evil", "version": "0" * 12, "source": "import os"}]}
    upload(view, "evil.bundle.json", json.dumps(bundle).encode())
    assert "Invalid tool name" in find(view, "halion-chains-bundle-report").value
    assert find(view, "halion-chains-bundle-accept").layout.display == "none"
    assert tree(ws.path) == before


def test_logs_panel_opens_the_code_that_ran(add: Workspace) -> None:
    outcome = add.tools.invoke("add", {"a": 1})
    view = panel("logs", add)
    row = next(r for r in find(view, "halion-logs-table").children if getattr(r, "call_id", None) == outcome.log_id)
    row.opener.click()
    detail = find(view, "halion-logs-detail").value
    assert f"code that ran</b> · {outcome.version} (live, never saved)" in detail
    assert "return a + b" in detail
