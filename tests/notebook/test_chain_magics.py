"""`%halion chain ...` in a real IPython shell: what a person sees in the notebook."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import get_ipython, start_ipython
from IPython.utils.capture import CapturedIO, capture_output

import halion_nb
from halion_nb.models import Toolchain
from halion_nb.testing import FakeOpenAI, reply
from halion_nb.workspace import Workspace


def get_weather(city: str) -> dict:
    """Current weather of a city."""
    return {"city": city, "temperature": 20.0}


def c_to_f(celsius: float, digits: int = 1) -> float:
    """Celsius to Fahrenheit."""
    return round(celsius * 9 / 5 + 32, digits)


def label(code: str, value: float) -> str:
    """A code and a value as one text."""
    if code == "fail":
        raise ValueError("no such code")
    return f"{code}: {value}"


CHAIN = {
    "name": "weather_f",
    "description": "Temperature of a city in Fahrenheit.",
    "inputs": [{"name": "city"}, {"name": "code", "type": "string", "required": False, "default": "t"},
               {"name": "digits", "type": "integer", "required": False, "default": 1}],
    "steps": [
        {"id": "fetch", "tool": "get_weather", "arguments": {"city": {"ref": "inputs.city"}}},
        {"id": "convert", "tool": "c_to_f",
         "arguments": {"celsius": {"ref": "steps.fetch.output.temperature"}, "digits": {"ref": "inputs.digits"}}},
        {"id": "show", "tool": "label", "arguments": {"code": {"ref": "inputs.code"},
                                                      "value": {"ref": "steps.convert.output"}}},
    ],
}


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    shell = start_ipython() or get_ipython() or InteractiveShell.instance()  # one shell per process
    shell.run_line_magic("load_ext", "halion_nb")
    types = shell.display_formatter.active_types
    shell.display_formatter.active_types = [*types, "text/markdown"]  # what a notebook kernel asks for
    yield shell
    shell.display_formatter.active_types = types


@pytest.fixture
def ws(tmp_path: Path, ip: Any) -> Iterator[Workspace]:
    w = halion_nb.use_workspace(tmp_path / "ws")
    for fn in (get_weather, c_to_f, label):
        w.tools.register(fn)
    w.chains.save(Toolchain.model_validate(CHAIN))
    yield w
    w.log.close()


def magic(ip: Any, line: str) -> CapturedIO:
    with capture_output() as captured:  # through run_cell: a failed command fails the cell as IPython shows it
        ip.run_cell(f"%halion {line}")
    return captured


def markdown(captured: CapturedIO) -> str:
    return "\n".join(o.data["text/markdown"] for o in captured.outputs if "text/markdown" in o.data)


def test_list_shows_every_chain_and_broken_files(ip: Any, ws: Workspace) -> None:
    (ws.path / "chains" / "broken.json").write_text("{ nope")
    ws.chains.load()
    out = markdown(magic(ip, "chain list"))
    assert "`weather_f`" in out and "get_weather → c_to_f → label" in out and 'fa-check" aria-hidden="true"></i> ready' in out
    assert "`broken`" in out and "could not be loaded" in out


def test_show_draws_the_chain_as_a_mermaid_flowchart_and_a_table(ip: Any, ws: Workspace) -> None:
    captured = magic(ip, "chain show weather_f")
    out = markdown(captured)
    assert "```mermaid\nflowchart LR" in out
    assert 's_fetch -->|"temperature → celsius"| s_convert' in out
    assert "| 2 | `convert` | `c_to_f` |" in out
    plain = captured.outputs[0].data["text/plain"]
    assert plain.startswith("Toolchain weather_f: Temperature of a city in Fahrenheit.")
    assert "convert = c_to_f(celsius=steps.fetch.output.temperature, digits=inputs.digits)" in plain


def test_run_parses_key_values_and_shows_the_coloured_run(ip: Any, ws: Workspace) -> None:
    out = markdown(magic(ip, 'chain run weather_f city="New York" digits=0 code=007'))
    assert "✓ ok" in out and "classDef ok" in out and "class s_fetch,s_convert,s_show ok" in out
    assert "**output:** `007: 68.0`" in out  # code is a string input: 007 stays text
    assert ws.log.recent(kind="chain")[0].arguments == {"city": "New York", "code": "007", "digits": 0}


def test_a_failing_run_is_shown_with_its_error_not_a_traceback(ip: Any, ws: Workspace) -> None:
    captured = magic(ip, "chain run weather_f city=Oslo code=fail")
    out = markdown(captured)
    assert 'fa-times" aria-hidden="true"></i> failed' in out and "class s_show error" in out
    assert "step 'show' (label) failed: ValueError: no such code" in out
    assert captured.stderr == ""


def test_mistakes_print_one_clear_line(ip: Any, ws: Workspace) -> None:
    assert "No chain named 'nope'" in magic(ip, "chain run nope").stderr
    assert "input 'city': required input is missing" in magic(ip, "chain run weather_f").stderr
    assert "is not key=value" in magic(ip, "chain run weather_f Paris").stderr
    assert "invalid choice: 'explode'" in magic(ip, "chain explode").stderr
    assert "nothing drafted yet" in magic(ip, "chain save").stderr
    ws.tools.disable("label")
    assert "step 'show': tool 'label' is inactive" in magic(ip, "chain run weather_f city=Oslo").stderr


def test_draft_then_save_keeps_the_drafted_chain(ip: Any, ws: Workspace, fake_openai: FakeOpenAI,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.delenv("HALION_REPLAY", raising=False)
    fake_openai.script(reply(json_content={
        "name": "hot_or_not", "description": "Fahrenheit of a city.", "parallel": False, "output_ref": None,
        "inputs": [{"name": "city", "type": "string", "description": "", "required": True, "default_json": None}],
        "steps": [
            {"id": "fetch", "tool": "get_weather", "arguments": [{"name": "city", "value_json": None,
                                                                  "ref": "inputs.city"}]},
            {"id": "convert", "tool": "c_to_f", "arguments": [
                {"name": "celsius", "value_json": None, "ref": "steps.fetch.output.temperature"}]},
        ],
    }))
    captured = magic(ip, "chain draft the temperature of a city in Fahrenheit")
    assert "```mermaid" in markdown(captured) and "Not saved yet" in captured.stdout
    assert "the temperature of a city in Fahrenheit" in fake_openai.requests[0]["messages"][-1]["content"]
    assert not (ws.path / "chains" / "hot_or_not.json").exists()

    assert "saved" in magic(ip, "chain save").stdout
    assert ws.chains.get("hot_or_not").steps[1].tool == "c_to_f"
    magic(ip, "chain save renamed")
    assert (ws.path / "chains" / "renamed.json").exists()


def test_delete_removes_the_file(ip: Any, ws: Workspace) -> None:
    assert "deleted chain weather_f" in magic(ip, "chain delete weather_f").stdout
    assert not (ws.path / "chains" / "weather_f.json").exists()
    assert "No chain named 'weather_f'" in magic(ip, "chain show weather_f").stderr


def test_help_lists_the_chain_subcommand(ip: Any, ws: Workspace) -> None:
    out = magic(ip, "help").stdout
    assert "%halion chain" in out and "draft" in out
