"""Workspace, the `tool` decorator, and registering tools by name."""
from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import halion_nb
from halion_nb import HalionError, ToolNameError, ToolNotFoundError, Workspace
from halion_nb.core.tool import Tool


def weather(city: str, days: int = 1) -> str:
    """Weather for a city.

    Args:
        city: The city.
        days: Days ahead.
    """
    return f"{city}:{days}"


def population(city: str) -> int:
    """People living in a city."""
    return len(city) * 1000


@pytest.fixture
def fresh_current(monkeypatch: pytest.MonkeyPatch) -> None:
    """No current workspace, and no HALION_HOME from the environment running the tests."""
    monkeypatch.setattr(importlib.import_module("halion_nb.workspace"), "_current", None)
    monkeypatch.delenv("HALION_HOME", raising=False)


def files_under(path: Path) -> list[Path]:
    return sorted(p.relative_to(path) for p in path.rglob("*"))


# --- Workspace ---------------------------------------------------------------------------


def test_workspace_folder_defaults_to_halion_home_then_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_current: None
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Workspace().path == tmp_path.resolve()
    home = tmp_path / "home"
    monkeypatch.setenv("HALION_HOME", str(home))
    assert Workspace().path == home.resolve()
    assert Workspace(tmp_path / "explicit").path == (tmp_path / "explicit").resolve()


def test_folders_appear_on_first_write_not_on_construction(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    ws = Workspace(root)
    ws.tools.register(weather)
    ws.tools.names(), ws.tools.active(), ws.tools.is_active("weather"), ws.tools.load(), repr(ws)
    assert not root.exists()
    ws.tools.disable("weather")
    assert (root / ".halion" / "tool_status.json").is_file()
    assert not (root / "tools").exists()
    ws.tools.save("weather")
    assert (root / "tools" / "weather.py").is_file()


def test_current_workspace_decorator_and_use_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_current: None
) -> None:
    monkeypatch.setenv("HALION_HOME", str(tmp_path / "a"))
    ws = halion_nb.workspace()
    assert ws.path == (tmp_path / "a").resolve()
    assert halion_nb.workspace() is ws

    @halion_nb.tool
    def shout(text: str) -> str:
        """Upper-case the text."""
        return text.upper()

    assert isinstance(shout, Tool)
    assert shout("hi") == "HI"  # still calls like the function
    assert ws.tools.get("shout") is shout

    other = halion_nb.use_workspace(tmp_path / "b")
    assert halion_nb.workspace() is other and other.path == (tmp_path / "b").resolve()

    @halion_nb.tool(name="whisper", description="Lower-case the text.")
    def quiet(text: str) -> str:
        return text.lower()

    assert other.tools.names() == ["whisper"]
    assert quiet.description == "Lower-case the text."
    assert ws.tools.names() == ["shout"]
    assert halion_nb.use_workspace(ws) is ws and halion_nb.workspace() is ws


def test_workspace_function_works_whatever_was_imported_first(tmp_path: Path) -> None:
    """`halion_nb.workspace` is also a submodule's name; importing it must not break the call."""
    code = textwrap.dedent(f"""
        import os
        os.environ["HALION_HOME"] = {str(tmp_path)!r}
        import halion_nb.workspace
        from halion_nb.notebook import tool_commands
        import halion_nb
        print(halion_nb.workspace().path)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(tmp_path.resolve())


# --- register, get, names, remove -------------------------------------------------------


def test_register_get_names_remove(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    tool = ws.tools.register(weather)
    assert isinstance(tool, Tool) and tool.name == "weather"
    assert ws.tools.get("weather") is tool
    renamed = ws.tools.register(population, name="people", description="How many live there.")
    assert renamed.name == "people" and renamed.schema["function"]["name"] == "people"
    assert renamed.description == "How many live there."
    assert ws.tools.names() == ["people", "weather"]
    assert "people" in ws.tools and len(ws.tools) == 2
    ws.tools.remove("weather")
    assert ws.tools.names() == ["people"]
    with pytest.raises(ToolNotFoundError):
        ws.tools.get("weather")
    with pytest.raises(ToolNotFoundError):
        ws.tools.remove("weather")


def test_registering_again_replaces_the_tool(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.tools.register(weather)

    def weather2(city: str) -> str:
        """Newer weather."""
        return "sunny"

    ws.tools.register(weather2, name="weather")
    assert ws.tools.names() == ["weather"]
    assert ws.tools.get("weather").call({"city": "x"}) == "sunny"
    again = ws.tools.register(ws.tools.get("weather"), name="weather_again")  # a Tool re-registers
    assert again("x") == "sunny"


def test_unknown_tool_error_is_readable_and_lists_known_tools(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.tools.register(weather)
    with pytest.raises(ToolNotFoundError) as info:
        ws.tools.get("wether")
    message = str(info.value)
    assert "wether" in message and "weather" in message
    assert not message.startswith(("'", '"'))  # not KeyError's quoted repr
    assert isinstance(info.value, HalionError) and isinstance(info.value, KeyError)


BAD_NAMES = [
    "a/b", "a\\b", "../evil", "/abs", "my.tool", "my-tool", "two words", "1st", "trailing\n",
    "class", "None", "lambda", "x" * 65, "wеather",  # Cyrillic 'е'
    "pаy",  # Cyrillic 'а'
    "ｗeather",  # full-width w
    "schema", "CON", "nul", "com1", "LPT9",
]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_invalid_names_are_refused_and_nothing_is_written(tmp_path: Path, bad: str) -> None:
    root = tmp_path / "ws"
    ws = Workspace(root)
    with pytest.raises(ToolNameError) as info:
        ws.tools.register(weather, name=bad)
    assert isinstance(info.value, HalionError)
    assert "name" in str(info.value)
    assert bad not in ws.tools.names() and len(ws.tools) == 0
    with pytest.raises((ToolNameError, ToolNotFoundError)):
        ws.tools.save(bad)
    with pytest.raises((ToolNameError, ToolNotFoundError)):
        ws.tools.remove(bad, delete_file=True)
    assert files_under(tmp_path) == []


def test_name_rule_messages_say_why() -> None:
    ws = Workspace("/nonexistent-never-written")
    for bad, why in (("x" * 65, "64"), ("class", "keyword"), ("schema", "reserved"), ("a/b", "identifier")):
        with pytest.raises(ToolNameError, match=why):
            ws.tools.register(weather, name=bad)


def test_longest_valid_name_is_64_characters(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    name = "w" * 64
    assert ws.tools.register(weather, name=name).name == name
    assert ws.tools.save(name) == (tmp_path / "tools" / f"{name}.py").resolve()


def test_a_lambda_needs_a_name(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    with pytest.raises(ToolNameError):
        ws.tools.register(lambda city: city)  # "<lambda>" is no identifier


def test_opening_a_workspace_loads_its_saved_tools_and_reports_broken_files(tmp_path: Path) -> None:
    first = Workspace(tmp_path)
    first.tools.register(_saved_tool)
    first.tools.save("_saved_tool")
    (tmp_path / "tools" / "broken.py").write_text("def broken(:\n")
    reopened = Workspace(tmp_path)  # a new kernel on the same folder
    assert reopened.tools.get("_saved_tool").call({"x": 2}) == 4
    assert list(reopened.load_report.errors) == ["broken"]
    assert [t.name for t in reopened.offered_tools()] == ["_saved_tool"]


def _saved_tool(x: int) -> int:
    """Double x.

    Args:
        x: a number
    """
    return 2 * x


def test_a_cached_tool_can_be_edited(tmp_path: Path) -> None:
    import functools

    registry = Workspace(tmp_path / "ws").tools

    @functools.lru_cache(maxsize=None)
    def fib(n: int) -> int:
        """Fibonacci."""
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    registry.register(fib)
    code = 'def fib(n: int) -> int:\n    """Fibonacci, edited."""\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n'
    edited = registry.update_source("fib", code, save=False)
    assert edited.description == "Fibonacci, edited." and edited.call({"n": 10}) == 55
