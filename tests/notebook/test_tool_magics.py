"""`%load_ext halion_nb`, `%%tool` and `%halion` in a real kernel (one notebook run for the module)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook

from halion_nb import Workspace

EXPORT_ME = '''%%tool
def echo(text: str) -> str:
    """Say it back."""
    return text'''

CELLS: list[tuple[str, str]] = [
    ("setup", 'import os\nos.environ["HALION_HOME"] = {home!r}\n%load_ext halion_nb'),
    ("load_again", "%load_ext halion_nb"),
    ("helpers", textwrap.dedent('''
        import math
        from typing import Literal
        from pydantic import BaseModel

        SCALE = 2.0

        def _norm(x: float, y: float) -> float:
            return math.hypot(x, y) * SCALE

        class Point(BaseModel):
            x: float
            y: float = 0.0
    ''').strip()),
    ("tool_dist", textwrap.dedent('''
        %%tool --save
        def dist(p: Point, k: int = 1) -> float:
            """Distance from the origin.

            Args:
                p: The point.
                k: A factor.
            """
            return _norm(p.x, p.y) * k
    ''').strip()),
    ("use_dist", "dist(Point(x=3, y=4))"),
    ("tool_weather", textwrap.dedent('''
        %%tool --name weather --description "Weather right now." --inactive --no-postprocess
        def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
            """Weather for a city.

            Args:
                city: The city.
                unit: Temperature unit.
            """
            return f"{city}: 21 {unit}"
    ''').strip()),
    ("state_after_cells", textwrap.dedent('''
        import halion_nb, json
        _ws = halion_nb.workspace()
        print(json.dumps({"path": str(_ws.path), "names": _ws.tools.names(),
                          "weather_active": _ws.tools.is_active("weather"),
                          "weather_post": _ws.tools.postprocess("weather"),
                          "call": _ws.tools.get("weather").call('{"city": "Oslo", "unit": null}'),
                          "plain": get_weather("Rome"),
                          "modules": [m for m in ("openai", "ipywidgets") if m in __import__("sys").modules]}))
    ''').strip()),
    ("tools", "%halion tools"),
    ("show", "%halion show dist"),
    ("disable", "%halion disable dist"),
    ("enable", "%halion enable weather"),
    ("save_all", "%halion save --all"),
    ("save_one", "%halion save weather"),
    ("load", "%halion load"),
    ("export", "%halion export {notebook!r}"),
    ("help", "%halion help"),
    ("empty", "%halion"),
    ("unknown", "%halion frobnicate"),
    ("save_nothing", "%halion save"),
    ("enable_missing_name", "%halion enable"),
    ("extra_word", "%halion tools extra"),
    ("bad_flag", "%halion disable dist --force"),
    ("bad_quote", "%halion show 'dist"),
    ("show_unknown", "%halion show nosuch"),
    ("tool_bad_flag", "%%tool --frob\ndef never(a: int) -> int:\n    return a"),
    ("tool_never_defined", "print('never' in globals())"),
    ("tool_no_function", "%%tool\nVALUE = 3"),
    ("tool_varargs", "%%tool\ndef loose(*values: int) -> int:\n    return 0"),
    ("tool_bad_name", "%%tool --name my.tool\ndef fine(a: int) -> int:\n    return a"),
    ("tool_user_error", "%%tool\ndef oops(a: int) -> int:\n    return a\n1 / 0"),
    ("tool_loose", "%%tool\ndef count_keys(data: dict) -> int:\n    \"\"\"Count the keys.\"\"\"\n    return len(data)"),
    ("show_loose", "%halion show count_keys"),
    ("unload", "%unload_ext halion_nb"),
    ("after_unload", "%halion tools"),
    ("reload", "%load_ext halion_nb\n%halion tools"),
]
EXPECTED_ERRORS = {"tool_user_error"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("magics")
    home = root / "ws"
    notebook = root / "other.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(EXPORT_ME)]), notebook)
    values = {"home": str(home), "notebook": str(notebook)}
    templated = {"setup", "export"}  # the other cells hold literal braces
    nb = new_notebook(cells=[new_code_cell(source.format(**values) if label in templated else source)
                             for label, source in CELLS])
    replies: dict[str, tuple[str, str | None]] = {}

    def on_reply(cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        content = execute_reply["content"]
        replies[CELLS[cell_index][0]] = (content["status"], content.get("ename"))

    NotebookClient(nb, kernel_name="python3", timeout=60, allow_errors=True, on_cell_executed=on_reply,
                   resources={"metadata": {"path": str(root)}}).execute()
    return {"cells": {label: cell for (label, _), cell in zip(CELLS, nb.cells)}, "home": home, "root": root,
            "replies": replies}


def outputs(run: dict[str, Any], label: str) -> list[dict[str, Any]]:
    return run["cells"][label]["outputs"]


def stream(run: dict[str, Any], label: str, name: str) -> str:
    return "".join(o["text"] for o in outputs(run, label) if o["output_type"] == "stream" and o["name"] == name)


def data(run: dict[str, Any], label: str, mime: str) -> str:
    return "".join(o["data"].get(mime, "") for o in outputs(run, label) if "data" in o)


def test_no_traceback_except_in_the_persons_own_code(run: dict[str, Any]) -> None:
    errors = {label for label in run["cells"] if any(o["output_type"] == "error" for o in outputs(run, label))}
    assert errors == EXPECTED_ERRORS


def test_loading_twice_is_harmless(run: dict[str, Any]) -> None:
    assert stream(run, "setup", "stderr") == ""
    assert "error" not in [o["output_type"] for o in outputs(run, "load_again")]
    assert stream(run, "load_again", "stderr") == ""


def test_tool_cell_runs_registers_and_shows_a_card(run: dict[str, Any]) -> None:
    text, html = data(run, "tool_dist", "text/plain"), data(run, "tool_dist", "text/html")
    assert "dist" in text and "active" in text and "p: Point" in text and "k: integer" in text
    assert "Distance from the origin." in text and "saved to" in text
    assert "halion-tool-card" in html and 'fa-wrench" aria-hidden="true"></i> dist</b>' in html and ">active<" in html
    assert "<code>p</code>" in html and "<code>k</code>" in html
    assert data(run, "use_dist", "text/plain") == "10.0"  # the function stays usable in the namespace


def test_tool_cell_flags(run: dict[str, Any]) -> None:
    text, html = data(run, "tool_weather", "text/plain"), data(run, "tool_weather", "text/html")
    assert text.startswith("tool weather (inactive, result → you): Weather right now.")
    assert ">inactive<" in html and "result → you" in html
    state = json.loads(stream(run, "state_after_cells", "stdout"))
    assert state["path"] == str(run["home"].resolve())
    assert state["names"] == ["dist", "weather"]
    assert state["weather_active"] is False and state["weather_post"] is False
    assert state["call"] == "Oslo: 21 c" and state["plain"] == "Rome: 21 c"


def test_tool_cell_imports_no_model_client_or_widgets(run: dict[str, Any]) -> None:
    assert json.loads(stream(run, "state_after_cells", "stdout"))["modules"] == []


def test_halion_tools_show_enable_disable(run: dict[str, Any]) -> None:
    table = data(run, "tools", "text/html")
    assert "halion-tools" in table and "<code>dist</code>" in table and "<code>weather</code>" in table
    assert "dist" in data(run, "tools", "text/plain")
    show = data(run, "show", "text/plain")
    assert '"name": "dist"' in show and "def dist(p: Point" in show
    assert "```python" in data(run, "show", "text/markdown")
    assert "tool dist (inactive" in data(run, "disable", "text/plain")
    assert "tool weather (active" in data(run, "enable", "text/plain")


def test_show_says_why_a_tool_is_not_strict(run: dict[str, Any]) -> None:
    text = data(run, "show_loose", "text/plain")
    assert text.startswith("Not strict: ") and "data" in text.splitlines()[0], text[:300]
    assert "Not strict" not in data(run, "show", "text/plain"), "dist is strict: nothing to explain"


def test_halion_save_load_export(run: dict[str, Any]) -> None:
    tools = run["home"] / "tools"
    assert stream(run, "save_all", "stdout").count("saved ") == 2
    assert str(tools / "weather.py") in stream(run, "save_one", "stdout")
    assert sorted(p.name for p in tools.iterdir() if p.suffix == ".py") == ["dist.py", "echo.py", "weather.py"]
    assert "Loaded 2 tool(s): dist, weather" in stream(run, "load", "stdout")
    assert stream(run, "export", "stdout").strip() == f"wrote {tools / 'echo.py'}"  # into the workspace's tools/


def test_state_and_files_survive_the_kernel(run: dict[str, Any]) -> None:
    ws = Workspace(run["home"])
    assert ws.tools.load().loaded == ["dist", "echo", "weather"]
    assert not ws.tools.is_active("dist") and ws.tools.is_active("weather")
    assert ws.tools.postprocess("weather") is False
    assert ws.tools.get("weather").description == "Weather right now."
    assert ws.tools.get("dist").call({"p": {"x": 3, "y": 4}, "k": None}) == 10.0


def test_saved_notebook_tool_runs_with_plain_python(run: dict[str, Any], tmp_path: Path) -> None:
    """The saved file carries the earlier cell's import, helper, constant and pydantic model."""
    path = run["home"] / "tools" / "dist.py"
    text = path.read_text()
    assert "import math" in text and "SCALE = 2.0" in text and "def _norm" in text and "class Point" in text
    assert "halion" not in text
    code = (f"import runpy, sys\nns = runpy.run_path({str(path)!r})\n"
            "print(ns['dist'](ns['Point'](x=6, y=8), k=2), ns['schema']['function']['name'], 'halion_nb' in sys.modules)")
    out = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["40.0", "dist", "False"]


def test_help_lists_the_subcommands(run: dict[str, Any]) -> None:
    for label in ("help", "empty"):
        text = stream(run, label, "stdout")
        for word in ("%halion tools", "%halion show NAME", "%halion enable NAME", "%halion disable NAME",
                     "%halion save", "%halion load", "%halion export", "NOTEBOOK", "%%tool", "--no-postprocess"):
            assert word in text, (label, word)


@pytest.mark.parametrize("label", ["unknown", "save_nothing", "enable_missing_name", "extra_word", "bad_flag",
                                   "bad_quote", "tool_bad_flag"])
def test_bad_words_give_a_short_usage_on_stderr(run: dict[str, Any], label: str) -> None:
    err = stream(run, label, "stderr")
    assert err.startswith("UsageError: halion: ")
    assert "usage" in err or "help" in err or "quotes" in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert run["replies"][label] == ("error", "UsageError"), "the cell fails, as IPython's own usage errors do"
    assert [o["output_type"] for o in outputs(run, label)] == ["stream"]


def test_bad_flag_does_not_run_the_cell(run: dict[str, Any]) -> None:
    assert stream(run, "tool_never_defined", "stdout").strip() == "False"


@pytest.mark.parametrize(("label", "words"), [
    ("show_unknown", "nosuch"), ("tool_no_function", "no public function"),
    ("tool_varargs", "*values"), ("tool_bad_name", "my.tool"),
])
def test_errors_are_one_clear_message(run: dict[str, Any], label: str, words: str) -> None:
    err = stream(run, label, "stderr")
    assert err.startswith("UsageError: halion: ") and words in err and "Traceback" not in err
    assert len(err.splitlines()) == 1 and run["replies"][label] == ("error", "UsageError")


def test_an_error_in_the_persons_code_registers_nothing(run: dict[str, Any]) -> None:
    error = next(o for o in outputs(run, "tool_user_error") if o["output_type"] == "error")
    assert error["ename"] == "ZeroDivisionError"
    assert "oops" not in json.loads(stream(run, "state_after_cells", "stdout"))["names"]
    assert not (run["home"] / "tools" / "oops.py").exists()


def test_unload_removes_the_magics_and_load_brings_them_back(run: dict[str, Any]) -> None:
    assert [o["output_type"] for o in outputs(run, "unload")] == []
    assert "`%halion` not found" in stream(run, "after_unload", "stderr")  # IPython's own UsageError
    assert data(run, "after_unload", "text/html") == ""
    assert "halion-tools" in data(run, "reload", "text/html")


LAZY_CHECK = textwrap.dedent('''
    import json, os, sys
    os.environ["HALION_HOME"] = sys.argv[1]
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    heavy = ("openai", "nbformat", "ipywidgets")
    before = [m for m in heavy if m in sys.modules]
    shell.run_line_magic("load_ext", "halion_nb")
    after_load = [m for m in heavy if m in sys.modules]
    result = shell.run_cell("%%tool\\ndef twice(n: int) -> int:\\n    \\"\\"\\"Double.\\"\\"\\"\\n    return 2 * n\\n")
    import halion_nb
    print(json.dumps({"before": before, "after_load": after_load, "ok": result.success,
                      "names": halion_nb.workspace().tools.names(),
                      "after_tool": [m for m in heavy if m in sys.modules]}))
''')


def test_load_ext_and_a_tool_cell_stay_lazy(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", LAZY_CHECK, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["before"] == [] and found["ok"] and found["names"] == ["twice"]
    assert found["after_load"] == [], "%load_ext halion_nb imported heavy modules"
    assert found["after_tool"] == [], "a %%tool cell imported heavy modules"


@pytest.mark.parametrize(("failing", "first_line"), [
    ("%halion show nosuch", "UsageError: halion: No tool named 'nosuch'"),
    ("%halion frobnicate", "UsageError: halion: unknown subcommand 'frobnicate'"),
    ("%%tool\ndef oops(a: int) -> int:\n    return a\n1 / 0",
     "UsageError: halion: the cell raised an error (shown above), so no tool was registered."),
], ids=["command", "usage", "tool-cell"])
def test_a_notebook_run_stops_at_a_failed_command(tmp_path: Path, failing: str, first_line: str) -> None:
    cells = [f'import os\nos.environ["HALION_HOME"] = {str(tmp_path / "ws")!r}\n%load_ext halion_nb',
             failing, 'print("still running")']
    nb = new_notebook(cells=[new_code_cell(source) for source in cells])
    with pytest.raises(CellExecutionError) as info:
        NotebookClient(nb, kernel_name="python3", timeout=60, resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert info.value.ename == "UsageError"
    err = "".join(o["text"] for o in nb.cells[1].outputs if o["output_type"] == "stream" and o["name"] == "stderr")
    assert err.startswith(first_line) and len(err.splitlines()) == 1 and "Traceback" not in err
    assert nb.cells[2].outputs == [] and nb.cells[2].execution_count is None, "the run stopped at the failed cell"
