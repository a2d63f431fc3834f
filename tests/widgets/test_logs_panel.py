"""Logs panel: newest first, filters, paging, a row opens its call's full detail, refresh when others log."""
from __future__ import annotations

from html import unescape
from typing import Any

from halion_nb.widgets import find, find_all, panel
from halion_nb.workspace import Workspace


def fill(ws: Workspace) -> None:
    for i in range(25):
        ws.log.record("tool", name="add", arguments={"a": i, "b": 1}, result=i + 1, duration_ms=2.5,
                      error="ValueError: boom" if i % 10 == 3 else None)
    for i in range(5):
        ws.log.record("model", name="gpt-test", arguments={"messages": [f"hello {i}"]}, result="hi",
                      prompt_tokens=10, completion_tokens=3)
    ws.log.record("tool", name="shout", arguments={"text": "needle in a haystack"}, result="NEEDLE")


def shown_rows(view: Any) -> list[Any]:
    return find_all(find(view, "halion-logs-table"), "halion-logs-row")


def rows(view: Any) -> int:
    return len(shown_rows(view))


def table(view: Any) -> str:
    """The text of the rows shown, and the empty-table message."""
    return "".join(r.cells.value for r in shown_rows(view)) + find(view, "halion-logs-empty").value


def detail(view: Any) -> str:
    """The open call's details, or "" when none is shown under a row."""
    shown = find_all(find(view, "halion-logs-table"), "halion-logs-detail")
    return unescape(shown[0].value) if shown else ""


def test_newest_first_and_paging(ws: Workspace) -> None:
    fill(ws)
    view = panel("logs", ws=ws)
    assert rows(view) == 20
    assert "1–20 of 31" in find(view, "halion-logs-page").value
    assert [r.call_id for r in shown_rows(view)][:3] == [31, 30, 29]  # newest first
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
    assert rows(view) == 5 and "10+3" in table(view)
    find(view, "halion-logs-kind").value = ""
    find(view, "halion-logs-tool").value = "shout"
    assert rows(view) == 1
    find(view, "halion-logs-tool").value = ""
    find(view, "halion-logs-errors").value = True
    assert rows(view) == 3 and "boom" in table(view)
    find(view, "halion-logs-errors").value = False
    find(view, "halion-logs-text").value = "needle"
    assert rows(view) == 1 and "shout" in table(view)
    find(view, "halion-logs-text").value = "nothing matches this"
    assert rows(view) == 0 and "No calls" in table(view)


def test_a_filter_goes_back_to_the_first_page(ws: Workspace) -> None:
    fill(ws)
    view = panel("logs", ws=ws)
    find(view, "halion-logs-older").click()
    find(view, "halion-logs-kind").value = "tool"
    assert "1–20 of 26" in find(view, "halion-logs-page").value


def test_clicking_a_row_opens_it_under_the_row_and_again_closes_it(ws: Workspace) -> None:
    fill(ws)
    view = panel("logs", ws=ws)
    row = next(r for r in shown_rows(view) if r.call_id == 24)
    row.opener.click()
    text = detail(view)
    assert "#24 · tool · <code>add</code>" in text and '"a": 23' in text and "ValueError: boom" in text
    assert "2 ms" in text  # duration
    table_children = list(find(view, "halion-logs-table").children)
    assert table_children[table_children.index(row) + 1] is find(view, "halion-logs-detail")
    assert "halion-logs-row-selected" in row._dom_classes
    next(r for r in shown_rows(view) if r.call_id == 31).opener.click()  # another row: that one opens instead
    assert "NEEDLE" in detail(view) and "halion-logs-row-selected" not in row._dom_classes
    shown_rows(view)[0].opener.click()
    assert detail(view) == ""


def test_details_name_the_caller_user_and_version_when_logged(ws: Workspace) -> None:
    ws.log.record("tool", name="add", arguments={"a": 1}, result=2, caller="panel", user="ada", version="3f9a1c")
    ws.log.record("model", name="gpt-test", arguments={}, result="hi", prompt_tokens=10, completion_tokens=3)
    view = panel("logs", ws=ws)
    by_id = {r.call_id: r for r in shown_rows(view)}
    by_id[1].opener.click()
    text = detail(view)
    for field, value in (("caller", "panel"), ("user", "ada"), ("version", "3f9a1c")):
        assert f"<th>{field}</th><td>{value}</td>" in text
    by_id[2].opener.click()
    text = detail(view)
    assert "<th>tokens</th><td>10+3</td>" in text and "<th>caller</th>" not in text


def test_an_open_call_stays_open_when_new_calls_arrive(ws: Workspace) -> None:
    fill(ws)
    view = panel("logs", ws=ws)
    next(r for r in shown_rows(view) if r.call_id == 30).opener.click()
    ws.log.record("tool", name="add", arguments={}, result=1)
    find(view, "halion-logs-refresh").click()
    assert "#30 · model" in detail(view)
    find(view, "halion-logs-older").click()  # the open call is no longer on the page
    assert detail(view) == ""


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
