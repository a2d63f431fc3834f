"""`tools/<name>.py`: files that import and run without halion_nb, and loading them back."""
from __future__ import annotations

import builtins
import importlib
import importlib.util
import json
import linecache
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

import halion_nb
from halion_nb import ToolDefinitionError, Workspace


class FakeNotebook:
    """Runs cells the way IPython does: one `__main__` namespace, each cell's code in linecache."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.filenames: list[str] = []

    def run(self, code: str) -> None:
        code = textwrap.dedent(code)
        filename = f"<fake-cell-{id(self)}-{len(self.filenames)}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
        self.filenames.append(filename)
        exec(compile(code, filename, "exec", dont_inherit=True), self.ns)


@pytest.fixture
def notebook() -> Iterator[FakeNotebook]:
    nb = FakeNotebook()
    yield nb
    for name in nb.filenames:
        linecache.cache.pop(name, None)


def run_isolated(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Plain `python -I`: no halion_nb on purpose, no cwd on sys.path, no PYTHON* variables."""
    return subprocess.run([sys.executable, "-I", "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)


CALL_FILE = textwrap.dedent("""
    import importlib.util, json, sys
    path, arguments = sys.argv[1], json.loads(sys.argv[2])
    spec = importlib.util.spec_from_file_location("tool_file", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = getattr(module, spec.origin.rsplit("/", 1)[-1][:-3])
    result = fn(**arguments)
    print(json.dumps({"result": result, "schema": module.schema, "halion": "halion_nb" in sys.modules}))
""")


def call_file_isolated(path: Path, arguments: dict[str, Any], cwd: Path) -> dict[str, Any]:
    code = CALL_FILE.replace("sys.argv[1]", repr(str(path))).replace("sys.argv[2]", repr(json.dumps(arguments)))
    out = run_isolated(code, cwd)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


NOTEBOOK_CELLS = [
    """
    import math
    import statistics as stats
    from collections import Counter
    from pydantic import BaseModel, Field
    """,
    """
    UNITS = {"m": 1.0, "km": 0.001}
    PRECISION = 3

    def _scale(value: float, unit: str) -> float:
        return round(value * UNITS[unit], PRECISION)
    """,
    """
    class Point(BaseModel):
        x: float
        y: float = 0.0

    class Route(BaseModel):
        points: list[Point] = Field(min_length=1)
        unit: str = "m"
    """,
    '''
    def route_length(route: Route, start: Point | None = None) -> dict:
        """Length of a route.

        Args:
            route: The points to visit, in order.
            start: Where to begin.
        """
        pts = ([start] if start else []) + route.points
        steps = [math.dist((a.x, a.y), (b.x, b.y)) for a, b in zip(pts, pts[1:])]
        return {
            "length": _scale(sum(steps), route.unit),
            "mean_step": _scale(stats.mean(steps) if steps else 0.0, route.unit),
            "kinds": dict(Counter(type(p).__name__ for p in pts)),
        }
    ''',
]


def test_saved_notebook_tool_runs_with_plain_python(tmp_path: Path, notebook: FakeNotebook) -> None:
    for cell in NOTEBOOK_CELLS:
        notebook.run(cell)
    ws = Workspace(tmp_path / "ws")
    tool = ws.tools.register(notebook.ns["route_length"])
    path = ws.tools.save("route_length")
    assert path == (tmp_path / "ws" / "tools" / "route_length.py").resolve()
    text = path.read_text()
    for line in ("import math", "import statistics as stats", "from collections import Counter",
                 "from pydantic import BaseModel", "from pydantic import Field", "PRECISION = 3",
                 "UNITS = {'m': 1.0, 'km': 0.001}", "def _scale(", "class Point(BaseModel):",
                 "class Route(BaseModel):", "def route_length(", "schema = {"):
        assert line in text, line
    assert "halion" not in text
    assert text.index("class Point") < text.index("class Route")  # a model after the models it uses

    arguments = {"route": {"points": [{"x": 0, "y": 0}, {"x": 3, "y": 4}, {"x": 6, "y": 8}], "unit": "km"},
                 "start": None}
    expected = tool.call(arguments)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = CALL_FILE.replace("fn(**arguments)", "fn(route=module.Route(**arguments['route']))")
    out = run_isolated(code.replace("sys.argv[1]", repr(str(path))).replace("sys.argv[2]", repr(json.dumps(arguments))),
                       elsewhere)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["result"] == expected == {"length": 0.01, "mean_step": 0.005, "kinds": {"Point": 3}}
    assert shown["schema"] == tool.schema
    assert shown["halion"] is False

    ran = subprocess.run([sys.executable, "-I", str(path)], cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr


def test_load_brings_a_saved_tool_back_after_a_restart(tmp_path: Path, notebook: FakeNotebook) -> None:
    for cell in NOTEBOOK_CELLS:
        notebook.run(cell)
    ws = Workspace(tmp_path)
    original = ws.tools.register(notebook.ns["route_length"])
    first = ws.tools.save("route_length").read_text()

    restarted = Workspace(tmp_path)
    report = restarted.tools.load()
    assert report.loaded == ["route_length"] and report.errors == {}
    loaded = restarted.tools.get("route_length")
    assert loaded.schema == original.schema
    arguments = '{"route": {"points": [{"x": 0, "y": 0}, {"x": 0, "y": 2}]}, "start": {"x": 0, "y": -2}}'
    assert loaded.call(arguments) == original.call(arguments) == {"length": 4.0, "mean_step": 2.0, "kinds": {"Point": 3}}
    assert restarted.tools.save("route_length").read_text() == first  # saving a loaded tool changes nothing


def weather(city: str, days: int = 1) -> str:
    """Weather for a city.

    Args:
        city: The city.
        days: Days ahead.
    """
    return f"{city} in {days} day(s): sunny"


def test_renamed_tool_keeps_its_name_and_description_after_load(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    tool = ws.tools.register(weather, name="forecast", description="Tomorrow's sky.")
    path = ws.tools.save("forecast")
    assert path.name == "forecast.py"
    shown = call_file_isolated(path, {"city": "Lima"}, tmp_path)
    assert shown["result"] == "Lima in 1 day(s): sunny"
    assert shown["schema"] == tool.schema

    restarted = Workspace(tmp_path)
    assert restarted.tools.load().loaded == ["forecast"]
    loaded = restarted.tools.get("forecast")
    assert loaded.description == "Tomorrow's sky."
    assert loaded.schema == tool.schema
    assert loaded.call({"city": "Quito", "days": 2}) == "Quito in 2 day(s): sunny"
    assert restarted.tools.save("forecast").read_text() == path.read_text()


def test_halion_decorator_is_left_out_of_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "my_module.py"
    source.write_text(textwrap.dedent('''
        import halion_nb
        from halion_nb import tool

        @halion_nb.tool
        def shout(text: str) -> str:
            """Upper-case text."""
            return text.upper()

        @tool(description="Whisper.")
        def whisper(text: str) -> str:
            return text.lower()
    '''))
    ws = Workspace(tmp_path / "ws")
    monkeypatch.setattr(importlib.import_module("halion_nb.workspace"), "_current", ws)
    spec = importlib.util.spec_from_file_location("my_module_for_decorator_test", source)
    assert spec and spec.loader
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert ws.tools.names() == ["shout", "whisper"]
    for name, expected in (("shout", "HEY"), ("whisper", "hey")):
        path = ws.tools.save(name)
        assert "halion" not in path.read_text() and "@" not in path.read_text()
        assert call_file_isolated(path, {"text": "Hey"}, tmp_path)["result"] == expected


def test_load_reports_each_broken_file_and_loads_the_rest(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.tools.register(weather)
    ws.tools.save("weather")
    tools = tmp_path / "tools"
    broken = {
        "syntax": ("def syntax(city: str) -> str\n    return city\n", "SyntaxError"),
        "needs_module": ("import no_such_module_xyz\n\ndef needs_module(a: int) -> int:\n    return a\n",
                         "no_such_module_xyz"),
        "wrong_function": ("def something_else(a: int) -> int:\n    return a\n", "wrong_function"),
        "explodes": ("raise RuntimeError('boom at import')\n", "boom at import"),
        "untyped": ("def untyped(a):\n    return a\n", "type hint"),
        "exits": ("import sys\nsys.exit(3)\n", "SystemExit"),
    }
    for name, (code, _) in broken.items():
        (tools / f"{name}.py").write_text(code)
    (tools / "bad-name.py").write_text("def f(a: int) -> int:\n    return a\n")
    (tools / "good_two.py").write_text('def good_two(n: int) -> int:\n    """Double."""\n    return 2 * n\n')

    restarted = Workspace(tmp_path)
    report = restarted.tools.load()
    assert report.loaded == ["good_two", "weather"]
    assert set(report.errors) == {*broken, "bad-name"}
    for name, (_, words) in broken.items():
        assert words in report.errors[name], (name, report.errors[name])
    shown = repr(report)
    assert all(name in shown for name in report.errors)
    assert restarted.tools.get("good_two").call({"n": 21}) == 42
    assert restarted.tools.get("weather").call('{"city": "Rome"}') == "Rome in 1 day(s): sunny"


def test_load_with_no_tools_folder_loads_nothing(tmp_path: Path) -> None:
    report = Workspace(tmp_path / "empty").tools.load()
    assert report.loaded == [] and report.errors == {}
    assert not (tmp_path / "empty").exists()


def test_tool_without_source_cannot_be_saved(tmp_path: Path) -> None:
    namespace: dict[str, Any] = {}
    exec("def made_up(a: int) -> int:\n    return a\n", namespace)
    ws = Workspace(tmp_path)
    ws.tools.register(namespace["made_up"])
    with pytest.raises(ToolDefinitionError, match="no source"):
        ws.tools.save("made_up")
    assert not (tmp_path / "tools").exists()


def test_notebook_state_that_cannot_be_written_is_named(tmp_path: Path, notebook: FakeNotebook) -> None:
    notebook.run("import threading\nGUARD = threading.Lock()\n")
    notebook.run('def guarded(a: int) -> int:\n    """Guarded."""\n    with GUARD:\n        return a\n')
    ws = Workspace(tmp_path)
    ws.tools.register(notebook.ns["guarded"])
    with pytest.raises(ToolDefinitionError, match="GUARD"):
        ws.tools.save("guarded")
    assert not (tmp_path / "tools" / "guarded.py").exists()


def test_use_workspace_then_tool_then_save(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.import_module("halion_nb.workspace"), "_current", None)
    ws = halion_nb.use_workspace(tmp_path)
    halion_nb.tool(weather)
    assert ws.tools.save("weather") == (tmp_path / "tools" / "weather.py").resolve()
    assert call_file_isolated(tmp_path / "tools" / "weather.py", {"city": "Oslo"}, tmp_path / "tools")["result"] == (
        "Oslo in 1 day(s): sunny")


def test_local_names_of_every_kind_are_not_mistaken_for_missing_ones(tmp_path: Path, notebook: FakeNotebook) -> None:
    notebook.run('''
        def _join(*parts: str, sep: str = "-", **extra: str) -> str:
            return sep.join([*parts, *extra.values()])
    ''')
    notebook.run('''
        def shapes(values: list[int]) -> str:
            """Every way a name gets bound inside a function."""
            import json as j
            from collections import deque
            total = 0
            for index, value in enumerate(values):
                total += value
            squares = [v * v for v in values if (big := v > 1)]
            try:
                raise ValueError("x")
            except ValueError as err:
                caught = type(err).__name__
            match {"kind": "point", "x": 1, "more": 2}:
                case {"kind": kind, **rest}:
                    matched = f"{kind}{len(rest)}"
            with open(j.__file__) as handle:
                first = handle.read(0)
            twice = lambda n, *more, **kw: 2 * n  # noqa: E731
            def inner(a, /, b, *c, d, **e):
                return a
            class Local:
                pass
            return _join(str(total), str(squares), str(big), caught, matched, first,
                         str(twice(1)), str(inner(1, 2, d=3)), Local.__name__, str(deque([index])), sep="|")
    ''')
    ws = Workspace(tmp_path)
    tool = ws.tools.register(notebook.ns["shapes"])
    expected = tool.call({"values": [1, 2, 3]})
    assert expected == "6|[4, 9]|True|ValueError|point2||2|1|Local|deque([2])"
    path = ws.tools.save("shapes")
    assert call_file_isolated(path, {"values": [1, 2, 3]}, tmp_path)["result"] == expected


def test_a_name_defined_nowhere_is_reported_not_saved_half_way(tmp_path: Path, notebook: FakeNotebook) -> None:
    notebook.run('def lost(a: int) -> int:\n    """Lost."""\n    return helper_never_defined(a)\n')
    ws = Workspace(tmp_path)
    ws.tools.register(notebook.ns["lost"])
    with pytest.raises(ToolDefinitionError, match="helper_never_defined"):
        ws.tools.save("lost")
    assert not (tmp_path / "tools").exists()


def test_opening_a_workspace_never_waits_on_one_tool_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "sleeper.py").write_text("import time\ntime.sleep(30)\n\ndef sleeper(a: int) -> int:\n    return a\n")
    (tools / "spinner.py").write_text("for _ in range(10 ** 8):\n    pass\n\ndef spinner(a: int) -> int:\n    return a\n")
    (tools / "quick.py").write_text('def quick(n: int) -> int:\n    """Double."""\n    return 2 * n\n')
    monkeypatch.setattr(importlib.import_module("halion_nb.core.tool_loading"), "LOAD_TIMEOUT", 0.2, raising=False)
    ws = Workspace(tmp_path)
    assert ws.load_report.loaded == ["quick"]
    assert set(ws.load_report.errors) == {"sleeper", "spinner"}
    assert all("did not finish loading within 0.2 s" in e for e in ws.load_report.errors.values())
    assert ws.tools.get("quick").call({"n": 4}) == 8
    assert "halion_tools.sleeper" not in sys.modules
