"""Logs panel: newest first, filters, paging, one call's full detail, refresh when others log."""
from __future__ import annotations

from html import unescape

from halion_nb.widgets import find, panel
from halion_nb.workspace import Workspace


def fill(ws: Workspace) -> None:
    for i in range(25):
        ws.log.record("tool", name="add", arguments={"a": i, "b": 1}, result=i + 1, duration_ms=2.5,
                      error="ValueError: boom" if i % 10 == 3 else None)
    for i in range(5):
        ws.log.record("model", name="gpt-test", arguments={"messages": [f"hello {i}"]}, result="hi",
                      prompt_tokens=10, completion_tokens=3)
    ws.log.record("tool", name="shout", arguments={"text": "needle in a haystack"}, result="NEEDLE")


def rows(view: object) -> int:
    return find(view, "halion-logs-table").value.count("<tr class='halion-logs-row'>")


def test_newest_first_and_paging(ws: Workspace) -> None:
    fill(ws)
    view = panel("logs", ws=ws)
    assert rows(view) == 20
    assert "1–20 of 31" in find(view, "halion-logs-page").value
    table = find(view, "halion-logs-table").value
    assert table.index("<td>31</td>") < table.index("<td>30</td>")  # newest first
    newer, older = find(view, "halion-logs-newer"), find(view, "halion-logs-older")
    assert newer.disabled and not older.disabled
    older.click()
    assert rows(view) == 11 and "21–31 of 31" in find(view, "halion-logs-page").value
    assert older.disabled and not newer.disabled
    newer.click()
    assert "1–20 of 31" in find(view, "halion-logs-page").value


def test_filters(ws: Workspace) -> None:
    fill(ws)
    view = panel("logs", ws=ws)
    find(view, "halion-logs-kind").value = "model"
    assert rows(view) == 5 and "10+3" in find(view, "halion-logs-table").value
    find(view, "halion-logs-kind").value = ""
    find(view, "halion-logs-tool").value = "shout"
    assert rows(view) == 1
    find(view, "halion-logs-tool").value = ""
    find(view, "halion-logs-errors").value = True
    assert rows(view) == 3 and "boom" in find(view, "halion-logs-table").value
    find(view, "halion-logs-errors").value = False
    find(view, "halion-logs-text").value = "needle"
    assert rows(view) == 1 and "shout" in find(view, "halion-logs-table").value
    find(view, "halion-logs-text").value = "nothing matches this"
    assert rows(view) == 0 and "No calls" in find(view, "halion-logs-table").value


def test_a_filter_goes_back_to_the_first_page(ws: Workspace) -> None:
    fill(ws)
    view = panel("logs", ws=ws)
    find(view, "halion-logs-older").click()
    find(view, "halion-logs-kind").value = "tool"
    assert "1–20 of 26" in find(view, "halion-logs-page").value


def test_opening_a_row_shows_everything(ws: Workspace) -> None:
    fill(ws)
    view = panel("logs", ws=ws)
    picker = find(view, "halion-logs-open")
    labels = dict((value, label) for label, value in picker.options)
    assert "#31 · tool · shout" in labels[31]
    picker.value = 24
    detail = unescape(find(view, "halion-logs-detail").value)
    assert "#24 · tool · add" in detail and '"a": 23' in detail and "ValueError: boom" in detail
    picker.value = None
    assert find(view, "halion-logs-detail").value == ""


def test_tool_filter_lists_the_tools_and_follows_the_registry(ws: Workspace) -> None:
    view = panel("logs", ws=ws)

    def add(a: int) -> int:
        """Add."""
        return a

    ws.tools.register(add)
    assert "add" in find(view, "halion-logs-tool").options


def test_refresh_shows_new_calls(ws: Workspace) -> None:
    view = panel("logs", ws=ws)
    assert rows(view) == 0
    ws.log.record("tool", name="add", arguments={}, result=1)
    find(view, "halion-logs-refresh").click()
    assert rows(view) == 1
