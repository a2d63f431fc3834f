"""Tools panel: switches in sync across panels, editing code safely, the test-run form, delete, draft."""
from __future__ import annotations

import enum
import json
from html import unescape
from typing import Literal

import ipywidgets as W
import pytest

from halion_nb.testing import FakeOpenAI, reply
from halion_nb.widgets import find, find_all, panel
from halion_nb.errors import ToolDefinitionError
from halion_nb.workspace import Workspace


def test_every_tool_has_a_row_with_its_switches(ws: Workspace, add: Workspace) -> None:
    view = panel("tools", ws=ws)
    row = find(view, "halion-tool-row-add")
    assert find(row, "halion-tools-active").value is True
    assert find(row, "halion-tools-postprocess").value is True
    assert "Add two integers" in find(row, "halion-tools-summary").value


def test_a_switch_changes_the_workspace_and_the_other_panel(ws: Workspace, add: Workspace) -> None:
    one, two = panel("tools", ws=ws), panel("tools", ws=ws)
    find(one, "halion-tools-active").value = False
    assert ws.tools.is_active("add") is False
    assert find(two, "halion-tools-active").value is False
    find(two, "halion-tools-postprocess").value = False
    assert ws.tools.postprocess("add") is False
    assert find(one, "halion-tools-postprocess").value is False
    ws.tools.enable("add")  # from Python (or a magic): both panels follow
    assert find(one, "halion-tools-active").value and find(two, "halion-tools-active").value


def test_a_tool_registered_elsewhere_appears_and_a_removed_one_goes(ws: Workspace) -> None:
    view = panel("tools", ws=ws)
    assert find(view, "halion-tools-empty").layout.display != "none"
    def add(a: int, b: int = 2) -> int:
        """Add two integers."""
        return a + b

    ws.tools.register(add)
    assert [r.tool_name for r in find_all(view, "halion-tool-row")] == ["add"]
    ws.tools.remove("add")
    assert find_all(view, "halion-tool-row") == []


def test_selecting_shows_source_schema_and_a_form(ws: Workspace, add: Workspace) -> None:
    view = panel("tools", ws=ws)
    find(view, "halion-tools-select").click()
    assert "return a + b" in find(view, "halion-tools-source").value
    assert "&quot;a&quot;" in find(view, "halion-tools-schema").value
    a, b = find(view, "halion-tools-param-a"), find(view, "halion-tools-param-b")
    assert isinstance(a, W.IntText) and isinstance(b, W.IntText) and b.value == 2


def test_saving_edited_code_re_registers_and_writes_the_file(ws: Workspace, add: Workspace) -> None:
    view, other = panel("tools", ws=ws), panel("tools", ws=ws)
    find(view, "halion-tools-select").click()
    source = find(view, "halion-tools-source")
    source.value = source.value.replace("return a + b", "return a + b + 100")
    find(view, "halion-tools-save").click()
    assert ws.tools.get("add").call({"a": 1}) == 103
    assert "a + b + 100" in ws.tools.path_of("add").read_text()
    assert "Saved" in find(view, "halion-tools-status").value
    assert find(view, "halion-tools-error").value == ""
    assert find(other, "halion-tool-row-add")  # the other panel still lists it


@pytest.mark.parametrize("broken, says", [
    ("def add(a: int, b: int = 2) -> int:\n    return (a +\n", "Syntax error at line"),
    ("def plus(a: int) -> int:\n    return a\n", "no function named 'add'"),
    ("def add(a, b):\n    return a + b\n", "has no type hint"),
    ("import no_such_module_here\n\ndef add(a: int) -> int:\n    return a\n", "ModuleNotFoundError"),
])
def test_a_failed_save_shows_the_error_and_loses_nothing(ws: Workspace, add: Workspace, broken: str, says: str) -> None:
    ws.tools.save("add")
    before = ws.tools.path_of("add").read_text()
    view = panel("tools", ws=ws)
    find(view, "halion-tools-select").click()
    find(view, "halion-tools-source").value = broken
    find(view, "halion-tools-save").click()
    assert says in unescape(find(view, "halion-tools-error").value)
    assert find(view, "halion-tools-source").value == broken  # the editor keeps the text
    assert ws.tools.get("add").call({"a": 1, "b": 2}) == 3  # the old tool stays
    assert ws.tools.path_of("add").read_text() == before
    find(view, "halion-tools-revert").click()
    assert "return a + b" in find(view, "halion-tools-source").value


def test_new_tool_from_the_editor(ws: Workspace) -> None:
    view = panel("tools", ws=ws)
    find(view, "halion-tools-new").click()
    assert "def my_tool" in find(view, "halion-tools-source").value
    find(view, "halion-tools-save").click()
    assert ws.tools.get("my_tool").call({"text": "ab", "times": 2}) == "abab"
    assert ws.tools.path_of("my_tool").exists()
    assert find(view, "halion-tool-row-my_tool")


class Unit(enum.Enum):
    C = "c"
    F = "f"


def test_the_test_run_form_has_a_widget_per_type_and_calls_the_tool(ws: Workspace) -> None:
    def convert(value: float, unit: Unit, mode: Literal["exact", "rounded"] = "exact", label: str = "",
                times: int = 1, loud: bool = False, tags: list[str] | None = None, limit: int | None = None) -> dict:
        """Convert a temperature."""
        result = value * 9 / 5 + 32 if unit is Unit.C else (value - 32) * 5 / 9
        return {"result": round(result) if mode == "rounded" else result, "label": label, "times": times,
                "loud": loud, "tags": tags, "limit": limit}

    ws.tools.register(convert)
    view = panel("tools", ws=ws)
    find(view, "halion-tools-select").click()
    form = {name: find(view, f"halion-tools-param-{name}")
            for name in ("value", "unit", "mode", "label", "times", "loud", "tags", "limit")}
    assert isinstance(form["value"], W.FloatText)
    assert isinstance(form["unit"], W.Dropdown) and form["unit"].options == (('"c"', "c"), ('"f"', "f"))
    assert isinstance(form["mode"], W.Dropdown)
    assert isinstance(form["label"], W.Text) and isinstance(form["times"], W.IntText)
    assert isinstance(form["loud"], W.Checkbox) and isinstance(form["tags"], W.Textarea)
    assert isinstance(form["limit"], W.Text)  # optional number without a default: blank means "default"
    form["value"].value = 100.0
    form["mode"].value = "rounded"
    form["tags"].value = '["a", "b"]'
    form["loud"].value = True
    form["limit"].value = "7"
    find(view, "halion-tools-run").click()
    assert view.controller.wait(10)
    shown = find(view, "halion-tools-result").value
    assert "returned in" in shown and "212" in shown and "&quot;limit&quot;: 7" in shown
    form["tags"].value = "[not json"
    find(view, "halion-tools-run").click()
    assert "tags: not valid JSON" in find(view, "halion-tools-result").value


def test_the_test_run_shows_argument_errors_and_exceptions(ws: Workspace) -> None:
    def pick(items: list[int], index: int = 0) -> int:
        """Pick an item."""
        return items[index]

    ws.tools.register(pick)
    view = panel("tools", ws=ws)
    find(view, "halion-tools-select").click()
    find(view, "halion-tools-param-items").value = '["x"]'
    find(view, "halion-tools-run").click()
    view.controller.wait(10)
    assert "Invalid arguments" in find(view, "halion-tools-result").value
    assert "items.0" in find(view, "halion-tools-result").value
    find(view, "halion-tools-param-items").value = "[1, 2]"
    find(view, "halion-tools-param-index").value = 5
    find(view, "halion-tools-run").click()
    view.controller.wait(10)
    assert "pick raised IndexError" in find(view, "halion-tools-result").value


def test_delete_asks_first(ws: Workspace, add: Workspace) -> None:
    ws.tools.save("add")
    view = panel("tools", ws=ws)
    find(view, "halion-tools-select").click()
    find(view, "halion-tools-delete").click()
    confirm = find(view, "halion-confirm")
    assert confirm.layout.display != "none" and "Delete the tool add" in confirm.text.value
    find(view, "halion-confirm-no").click()
    assert "add" in ws.tools and confirm.layout.display == "none"
    find(view, "halion-tools-delete").click()
    find(view, "halion-confirm-yes").click()
    assert "add" not in ws.tools and not ws.tools.path_of("add").exists()
    assert find_all(view, "halion-tool-row") == []
    assert find(view, "halion-tools-detail").layout.display == "none"


def test_reload_reads_tools_from_disk(ws: Workspace) -> None:
    view = panel("tools", ws=ws)
    ws.tools.dir.mkdir(parents=True)
    (ws.tools.dir / "double.py").write_text('def double(x: int) -> int:\n    """Double x."""\n    return 2 * x\n')
    (ws.tools.dir / "broken.py").write_text("def broken(:\n")
    find(view, "halion-tools-reload").click()
    assert find(view, "halion-tool-row-double")
    assert "Could not load broken" in find(view, "halion-tools-banner").text.value


def test_draft_with_ai_fills_the_editor_for_review_then_saves(ws: Workspace, live: FakeOpenAI) -> None:
    code = ('def shout(text: str) -> str:\n    """Shout a text.\n\n    Args:\n        text: what to shout\n'
            '    """\n    return text.upper() + "!"\n')
    live.script(reply(json_content={"name": "shout", "code": code, "env_vars": [],
                                    "rationale": "Upper-cases the text."}))
    view = panel("tools", ws=ws)
    draft = find(view, "halion-tools-draft")
    assert not draft.disabled
    draft.click()
    find(view, "halion-tools-draft-description").value = "shout a text"
    find(view, "halion-tools-draft-go").click()
    assert view.controller.wait(20)
    assert find(view, "halion-tools-source").value == code
    assert "Upper-cases the text." in find(view, "halion-tools-draft-review").value
    assert "shout" not in ws.tools  # nothing runs before the person saves
    find(view, "halion-tools-save").click()
    assert ws.tools.get("shout").call({"text": "hi"}) == "HI!"
    assert ws.tools.path_of("shout").exists()


def test_draft_errors_show_inline(ws: Workspace) -> None:
    view = panel("tools", ws=ws)  # no model service configured
    find(view, "halion-tools-draft").click()
    find(view, "halion-tools-draft-description").value = "anything"
    find(view, "halion-tools-draft-go").click()
    view.controller.wait(20)
    assert "no model service is configured" in find(view, "halion-tools-draft-status").value
    assert not find(view, "halion-tools-draft-go").disabled


def test_update_source_api(ws: Workspace) -> None:
    tool = ws.tools.update_source(None, "def triple(x: int) -> int:\n    \"\"\"Triple.\"\"\"\n    return 3 * x\n")
    assert tool.name == "triple" and tool.call({"x": 2}) == 6
    assert "schema = " in ws.tools.path_of("triple").read_text()
    with pytest.raises(ToolDefinitionError, match=r"several public functions \(a, b\)"):
        ws.tools.update_source(None, "def a(x: int) -> int:\n    return x\n\ndef b(x: int) -> int:\n    return x\n")
    state_events: list[tuple[str, str]] = []
    ws.tools.subscribe(lambda e, n: state_events.append((e, n)))
    ws.tools.update_source("triple", "def triple(x: int) -> int:\n    \"\"\"Triple.\"\"\"\n    return x * 3\n")
    assert ("registered", "triple") in state_events and ("saved", "triple") in state_events
    assert json.loads(json.dumps(ws.tools.get("triple").schema))["function"]["name"] == "triple"


def test_draft_is_disabled_with_a_reason_when_not_available(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ws.tools, "draft", None, raising=False)
    view = panel("tools", ws=ws)
    button = find(view, "halion-tools-draft")
    assert button.disabled and "not available" in button.tooltip
