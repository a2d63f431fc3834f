"""A tool file never holds a secret, and a default read from the environment is never shown or sent."""
from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from halion_nb import ToolDefinitionError, Workspace
from halion_nb.notebook.display import ToolCard, ToolDetail
from tests.core.test_tool_file_fidelity import run_saved
from tests.core.test_tool_files import FakeNotebook

SECRET = "sk-test-9f8e7d6c5b4a39281706"


@pytest.fixture
def notebook(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNotebook]:
    import linecache

    monkeypatch.setenv("WEATHER_API_KEY", SECRET)
    monkeypatch.setenv("WEATHER_ENDPOINT", "https://weather.example.test/v2")
    nb = FakeNotebook()
    yield nb
    for name in nb.filenames:
        linecache.cache.pop(name, None)


def test_a_global_read_from_the_environment_stays_an_environment_read(tmp_path: Path, notebook: FakeNotebook) -> None:
    notebook.run('import os\nKEY = os.environ["WEATHER_API_KEY"]\nENDPOINT = os.environ.get("WEATHER_ENDPOINT")\n')
    notebook.run('def forecast(city: str) -> str:\n    """Forecast."""\n    return f"{ENDPOINT}/{city}?k={KEY[-4:]}"\n')
    ws = Workspace(tmp_path)
    tool = ws.tools.register(notebook.ns["forecast"])
    expected = tool.call({"city": "Lima"})
    path = ws.tools.save("forecast")
    text = path.read_text()
    assert SECRET not in text and "weather.example.test" not in text
    assert "os.environ.get('WEATHER_API_KEY')" in text and "import os" in text
    assert run_saved(path, [{"city": "Lima"}])["results"] == [expected]


def test_a_default_read_from_the_environment_is_never_shown_or_sent(tmp_path: Path, notebook: FakeNotebook) -> None:
    cell = textwrap.dedent('''
        import os

        def search(query: str, token: str = os.environ.get("WEATHER_API_KEY", "")) -> str:
            """Search.

            Args:
                query: What to look for.
                token: The key to use.
            """
            return f"{query}:{token[-4:]}"
    ''')
    notebook.run(cell)
    ws = Workspace(tmp_path)
    tool = ws.tools.register(notebook.ns["search"], source=cell)
    shown = [json.dumps(tool.schema), json.dumps(tool.spec.loose_parameters), repr(ToolCard.of(ws, "search")),
             ToolCard.of(ws, "search")._repr_html_(), repr(ToolDetail(tool)), ToolDetail(tool)._repr_markdown_()]
    for text in shown:
        assert SECRET not in text
    token = tool.spec.loose_parameters["properties"]["token"]
    assert "default" not in token and "(from the environment)" in token["description"]
    assert "(from the environment)" in repr(ToolCard.of(ws, "search"))
    assert tool.call({"query": "rain", "token": None}) == tool.call({"query": "rain"}) == "rain:1706"
    path = ws.tools.save("search")
    assert SECRET not in path.read_text()
    assert run_saved(path, [{"query": "rain"}])["results"] == ["rain:1706"]
    reopened = Workspace(tmp_path).tools
    assert reopened.load().errors == {}
    assert SECRET not in json.dumps(reopened.get("search").schema)


def test_a_value_that_holds_a_secret_is_refused_naming_the_variable(tmp_path: Path, notebook: FakeNotebook) -> None:
    notebook.run('import os\nHEADERS = {"Authorization": "Bearer " + os.environ["WEATHER_API_KEY"]}\n')
    notebook.run('def headers(name: str) -> str:\n    """A header."""\n    return HEADERS[name][:6]\n')
    ws = Workspace(tmp_path)
    ws.tools.register(notebook.ns["headers"])
    with pytest.raises(ToolDefinitionError, match="WEATHER_API_KEY") as caught:
        ws.tools.save("headers")
    assert "HEADERS" in str(caught.value) and SECRET not in str(caught.value)
    assert not (tmp_path / "tools" / "headers.py").exists()


def test_a_secret_written_into_the_cell_is_refused(tmp_path: Path, notebook: FakeNotebook) -> None:
    cell = f'def pinned(city: str) -> str:\n    """Pinned."""\n    return city + "{SECRET}"[:2]\n'
    notebook.run(cell)
    ws = Workspace(tmp_path)
    ws.tools.register(notebook.ns["pinned"], source=cell)
    with pytest.raises(ToolDefinitionError, match="WEATHER_API_KEY") as caught:
        ws.tools.save("pinned")
    assert SECRET not in str(caught.value)
    assert not (tmp_path / "tools" / "pinned.py").exists()


def test_plain_values_that_are_not_from_the_environment_are_kept(tmp_path: Path, notebook: FakeNotebook) -> None:
    home = os.environ.get("HOME", "/root")
    notebook.run(f'LIMIT = 5\nNAME = "weather"\nHOME_DIR = {home!r}\n')
    notebook.run('def plain(n: int = LIMIT) -> str:\n    """Plain."""\n    return f"{NAME}{n}{len(HOME_DIR) > 0}"\n')
    ws = Workspace(tmp_path)
    tool = ws.tools.register(notebook.ns["plain"])
    assert tool.spec.loose_parameters["properties"]["n"]["default"] == 5
    text = ws.tools.save("plain").read_text()
    assert "LIMIT = 5" in text and "NAME = 'weather'" in text


def test_a_default_written_as_an_environment_read_is_hidden_whatever_its_value(
        tmp_path: Path, notebook: FakeNotebook, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_CODE", "ab12cd")  # short, and a name that does not say "secret"
    cell = 'import os\n\ndef shop(item: str, code: str = os.getenv("SHOP_CODE", "none")) -> str:\n    """Shop."""\n    return item + code\n'
    notebook.run(cell)
    tool = Workspace(tmp_path).tools.register(notebook.ns["shop"], source=cell)
    assert "ab12cd" not in json.dumps(tool.schema) and "ab12cd" not in json.dumps(tool.spec.loose_parameters)
    assert tool.spec.loose_parameters["properties"]["code"]["description"] == "(from the environment)"
    assert tool.call({"item": "x"}) == "xab12cd"
