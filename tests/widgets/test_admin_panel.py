"""Admin panel: path, counts, files, reload from disk, clearing the log only after confirmation."""
from __future__ import annotations

import json
from html import unescape

from halion_nb.widgets import find, panel
from halion_nb.workspace import Workspace


def test_shows_path_counts_and_files(add: Workspace) -> None:
    ws = add
    ws.log.record("tool", name="add", arguments={}, result=3)
    ws.log.record("tool", name="add", arguments={}, error="boom")
    view = panel("admin", ws=ws)
    info = unescape(find(view, "halion-admin-info").value)
    assert str(ws.path) in info and str(ws.tools.path_of("add")) in info
    assert "1 (1 active)" in info and "2 (1 with errors)" in info and "gpt-test" in info
    ws.tools.disable("add")
    assert "1 (0 active)" in find(view, "halion-admin-info").value


def test_clear_the_log_asks_first_and_other_panels_follow(ws: Workspace) -> None:
    for i in range(3):
        ws.log.record("tool", name="add", arguments={"a": i}, result=i)
    view, logs = panel("admin", ws=ws), panel("logs", ws=ws)
    find(view, "halion-admin-clear-log").click()
    confirm = find(view, "halion-confirm")
    assert "Delete all 3 logged calls" in confirm.text.value
    find(view, "halion-confirm-no").click()
    assert ws.log.count() == 3
    find(view, "halion-admin-clear-log").click()
    find(view, "halion-confirm-yes").click()
    assert ws.log.count() == 0
    assert "Deleted 3 logged calls" in find(view, "halion-admin-status").value
    assert "No calls" in find(logs, "halion-logs-empty").value  # the Logs panel refreshed itself


def test_reload_from_disk(ws: Workspace) -> None:
    view, tools = panel("admin", ws=ws), panel("tools", ws=ws)
    ws.tools.dir.mkdir(parents=True)
    (ws.tools.dir / "double.py").write_text('def double(x: int) -> int:\n    """Double x."""\n    return 2 * x\n')
    chains = ws.path / "chains"
    chains.mkdir()
    (chains / "twice.json").write_text(json.dumps({"name": "twice", "steps": [
        {"id": "d", "tool": "double", "arguments": {"x": 2}}]}))
    find(view, "halion-admin-reload").click()
    status = find(view, "halion-admin-status").value
    assert "Loaded 1 tool(s): double" in status and "Loaded 1 chain(s): twice" in status
    assert find(tools, "halion-tool-row-double")
    assert "twice" in ws.chains.names()
