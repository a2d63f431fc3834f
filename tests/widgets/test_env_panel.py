"""Env panel: what each tool reads, what is missing, setting a value that is never shown."""
from __future__ import annotations

import json
import os
from html import unescape

from halion_nb.widgets import find, panel, walk
from halion_nb.workspace import Workspace

WEATHER = '''import os

def weather(city: str) -> str:
    """Weather in a city."""
    key = os.environ["WEATHER_API_KEY"]
    return f"sunny in {city}"
'''
SECRET = "s3cr3t-value-that-must-never-show-9f8e7d"


def register_weather(ws: Workspace) -> None:
    ws.tools.update_source(None, WEATHER, save=False)


def widget_text(root: object) -> str:
    return "\n".join(json.dumps(w.get_state(), default=str) for w in walk(root))  # type: ignore[arg-type]


def all_widgets_text() -> str:
    from ipywidgets.widgets.widget import _instances

    return "\n".join(json.dumps(w.get_state(), default=str) for w in list(_instances.values()))


def test_missing_variables_are_listed_with_their_tools(ws: Workspace) -> None:
    register_weather(ws)
    view = panel("env", ws=ws)
    table = unescape(find(view, "halion-env-table").value)
    assert "WEATHER_API_KEY" in table and "weather" in table and "missing" in table
    assert find(view, "halion-env-name").options[0] == "WEATHER_API_KEY"


def test_set_stores_the_value_and_never_shows_it(ws: Workspace) -> None:
    register_weather(ws)
    view, other = panel("env", ws=ws), panel("env", ws=ws)
    find(view, "halion-env-name").value = "WEATHER_API_KEY"
    find(view, "halion-env-value").value = SECRET
    find(view, "halion-env-set").click()
    assert os.environ["WEATHER_API_KEY"] == SECRET
    assert ws.env.is_set("WEATHER_API_KEY") and ws.env.names() == ["WEATHER_API_KEY"]
    assert find(view, "halion-env-value").value == ""  # the password box is cleared
    assert "WEATHER_API_KEY is set" in find(view, "halion-env-status").value
    for panel_view in (view, other):
        table = find(panel_view, "halion-env-table").value
        assert "missing" not in table and "set" in table  # the other panel follows
    assert SECRET not in widget_text(view) and SECRET not in widget_text(other)
    assert SECRET not in all_widgets_text()


def test_a_bad_name_is_refused_and_the_value_still_cleared(ws: Workspace) -> None:
    view = panel("env", ws=ws)
    find(view, "halion-env-name").value = "not a name"
    find(view, "halion-env-value").value = SECRET
    find(view, "halion-env-set").click()
    assert "not a valid environment variable name" in find(view, "halion-env-status").value
    assert find(view, "halion-env-value").value == ""
    assert SECRET not in all_widgets_text()


def test_empty_inputs_are_explained(ws: Workspace) -> None:
    view = panel("env", ws=ws)
    find(view, "halion-env-set").click()
    assert "variable name first" in find(view, "halion-env-status").value
    find(view, "halion-env-name").value = "SOME_TOKEN"
    find(view, "halion-env-set").click()
    assert "Type a value" in find(view, "halion-env-status").value


def test_remove(ws: Workspace) -> None:
    view = panel("env", ws=ws)
    find(view, "halion-env-name").value = "SOME_TOKEN"
    find(view, "halion-env-value").value = SECRET
    find(view, "halion-env-set").click()
    assert "SOME_TOKEN" in find(view, "halion-env-table").value
    find(view, "halion-env-unset").click()
    assert ws.env.names() == [] and "SOME_TOKEN" not in os.environ
    assert "SOME_TOKEN" not in find(view, "halion-env-table").value


def test_a_new_tool_updates_the_list(ws: Workspace) -> None:
    view = panel("env", ws=ws)
    assert "No tool reads" in find(view, "halion-env-table").value
    register_weather(ws)
    assert "WEATHER_API_KEY" in find(view, "halion-env-table").value
