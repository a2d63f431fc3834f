"""A saved tool is the same tool: reopened in a new process it returns what it returned in
the notebook, or `save` refuses and says why."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from halion_nb import ToolDefinitionError, Workspace
from tests.core.test_tool_files import FakeNotebook

RUN_FILE = textwrap.dedent("""
    import importlib.util, json, sys
    path, calls = sys.argv[1], json.loads(sys.argv[2])
    spec = importlib.util.spec_from_file_location("tool_file", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = getattr(module, spec.origin.rsplit("/", 1)[-1][:-3])
    print(json.dumps({"results": [fn(**c) for c in calls], "halion": "halion_nb" in sys.modules}))
""")


def run_saved(path: Path, calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Call the saved file's tool under plain `python -I` (no halion_nb, no cwd on sys.path)."""
    out = subprocess.run([sys.executable, "-I", "-c", RUN_FILE, str(path), json.dumps(calls)],
                         cwd=path.parent, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"{out.stderr}\n--- {path.name} ---\n{path.read_text()}"
    return json.loads(out.stdout)


@pytest.fixture
def notebook() -> Iterator[FakeNotebook]:
    import linecache

    nb = FakeNotebook()
    yield nb
    for name in nb.filenames:
        linecache.cache.pop(name, None)


def save_and_compare(tmp: Path, nb: FakeNotebook, cell: str, fn_name: str, calls: list[dict[str, Any]],
                     name: str | None = None) -> Path:
    """Run `cell` as a `%%tool [--name NAME]` cell would, save it, and check the file gives the notebook's results."""
    nb.run(cell)
    name = name or fn_name
    ws = Workspace(tmp)
    tool = ws.tools.register(nb.ns[fn_name], name=name, source=textwrap.dedent(cell))
    expected = [json.loads(json.dumps(tool.call(c))) for c in calls]
    path = ws.tools.save(name)
    shown = run_saved(path, calls)
    assert shown["results"] == expected, path.read_text()
    assert shown["halion"] is False
    reopened = Workspace(tmp).tools
    report = reopened.load()
    assert report.errors == {} and name in report.loaded
    assert [json.loads(json.dumps(reopened.get(name).call(c))) for c in calls] == expected
    assert reopened.get(name).schema == tool.schema
    return path


def test_notebook_globals_named_like_builtins_are_copied(tmp_path: Path, notebook: FakeNotebook) -> None:
    notebook.run('def filter(values):\n    return [v for v in values if v % 2 == 0]\n')
    notebook.run('format = "<{}>"\n')
    cell = '''
        def evens(values: list[int]) -> list[str]:
            """The even values, bracketed."""
            return [format.format(v) for v in filter(values)]
    '''
    path = save_and_compare(tmp_path, notebook, cell, "evens", [{"values": [1, 2, 3, 4]}])
    assert "def filter(" in path.read_text() and "format = '<{}>'" in path.read_text()


def test_a_helpers_global_named_like_a_tool_parameter_is_copied(tmp_path: Path, notebook: FakeNotebook) -> None:
    notebook.run("rate = 3\n\ndef _scaled(v):\n    return v * rate\n")
    cell = '''
        def price(rate: int) -> int:
            """The helper's own `rate` is the notebook's, not this parameter."""
            return _scaled(10) + rate
    '''
    path = save_and_compare(tmp_path, notebook, cell, "price", [{"rate": 1}])
    assert "rate = 3" in path.read_text()


def test_a_functools_cached_tool_loads_back(tmp_path: Path, notebook: FakeNotebook) -> None:
    cell = '''
        import functools

        @functools.lru_cache(maxsize=None)
        def fib(n: int) -> int:
            """The n-th Fibonacci number."""
            return n if n < 2 else fib(n - 1) + fib(n - 2)
    '''
    save_and_compare(tmp_path, notebook, cell, "fib", [{"n": 20}])


def test_a_tool_made_by_a_factory_is_refused_with_the_reason(tmp_path: Path, notebook: FakeNotebook) -> None:
    notebook.run('''
        def make(step):
            def stepper(n: int) -> int:
                """n plus the step."""
                return n + step
            return stepper

        step = 100
        add_two = make(2)
    ''')
    ws = Workspace(tmp_path)
    ws.tools.register(notebook.ns["add_two"], name="add_two")
    with pytest.raises(ToolDefinitionError, match="'step'"):
        ws.tools.save("add_two")
    assert not (tmp_path / "tools" / "add_two.py").exists()


def test_a_helper_closure_is_refused_with_the_reason(tmp_path: Path, notebook: FakeNotebook) -> None:
    notebook.run("def make(k):\n    def inner(v):\n        return v + k\n    return inner\n\n_plus = make(5)\n")
    notebook.run('def plus(n: int) -> int:\n    """n plus five."""\n    return _plus(n)\n')
    ws = Workspace(tmp_path)
    ws.tools.register(notebook.ns["plus"])
    with pytest.raises(ToolDefinitionError, match="_plus"):
        ws.tools.save("plus")


def test_a_cell_with_ipython_syntax_is_refused_in_one_line(tmp_path: Path, notebook: FakeNotebook) -> None:
    notebook.run('def noisy(n: int) -> int:\n    """n."""\n    return n\n')
    ws = Workspace(tmp_path)
    ws.tools.register(notebook.ns["noisy"], source='%time x = 1\ndef noisy(n: int) -> int:\n    """n."""\n    return n\n')
    with pytest.raises(ToolDefinitionError, match="IPython"):
        ws.tools.save("noisy")


# The property: cells built from blocks a notebook is made of.

@dataclass(frozen=True)
class Block:
    """Code for an earlier cell (or the tool cell), and an expression the tool returns."""

    code: str
    term: str
    saves: bool = True  # False: `save` may refuse (it must then name `refused`)
    refused: str = ""


def _blocks(i: int, k: int) -> list[Block]:
    return [
        Block(f"C{i} = {k}\n", f"C{i} + x"),
        Block(f"D{i} = {{'a': [{k}, 's'], 't': (1, {k}), 'n': None, 'f': {k}.5}}\n", f"[D{i}['a'][0] + x, D{i}['t'], D{i}['f']]"),
        Block(f"S{i} = {{{k}, {k + 1}}}\n", f"sorted(S{i})"),
        Block(f"def _h{i}(v):\n    return v * {k}\n", f"_h{i}(x)"),
        Block(f"x = {k}\n\ndef _g{i}(v):\n    return v + x\n", f"_g{i}(1)"),  # a global named like the parameter
        Block(f"def filter(v):\n    return v * {k}\n", "filter(x)"),
        Block(f"format = '{k}-{{}}'\n", "format.format(x)"),
        Block(f"max = {k}\n", "max + x"),
        Block(f"len = lambda v: {k}\n", "len([1, 2])"),
        Block(f"import functools\n\n@functools.lru_cache(maxsize=None)\ndef _c{i}(v):\n    return v + {k}\n", f"_c{i}(x)"),
        Block("import functools\n\ndef twice(f):\n    @functools.wraps(f)\n    def wrapper(*a, **kw):\n"
              "        return 2 * f(*a, **kw)\n    return wrapper\n\n"
              f"@twice\ndef _t{i}(v):\n    return v + {k}\n", f"_t{i}(x)"),
        Block(f"import math as m{i}\n", f"m{i}.floor(x / {k + 1})"),
        Block("import urllib.parse\n", f"urllib.parse.quote('a b{k}')"),  # a submodule its package does not import
        Block(f"import xml.etree as et{i}\n", f"et{i}.ElementTree.fromstring('<a>{k}</a>').text"),
        Block(f"from math import gcd as g{i}\n", f"g{i}(x, {k + 2})"),
        Block(f"import os.path as osp{i}\n", f"osp{i}.basename('/a/b{k}')"),
        Block(f"from collections import Counter as Ctr{i}\n", f"sorted(Ctr{i}('ab{k}a').items())"),
        Block(f"class P{i}:\n    base = {k}\n\n    def __init__(self, v):\n        self.v = v\n\n"
              f"    def get(self):\n        return self.v + self.base + C_{i}\n\nC_{i} = 7\n", f"P{i}(x).get()"),
        Block(f"from dataclasses import dataclass\n\n@dataclass\nclass Q{i}:\n    a: int = {k}\n", f"Q{i}(x).a + Q{i}().a"),
        Block(f"import enum\n\nclass Col{i}(enum.Enum):\n    RED = {k}\n\nDEF{i} = Col{i}.RED\n",
              f"[Col{i}.RED.value, DEF{i}.name]"),
        Block(f"B{i} = b'\\x0{k}ab'\nZ{i} = {k}+1j\n", f"[B{i}.hex(), Z{i}.imag]"),
        Block(f"_sq{i} = lambda v: v * v + {k}\n", f"_sq{i}(x)"),
        Block(f"def _base{i}(v):\n    return v - {k}\n\n_alias{i} = _base{i}\n", f"_alias{i}(x)"),
        Block(f"LIM{i} = {k}\n", f"[v for v in range(6) if v < LIM{i}]"),
        Block(f"K{i} = {k}\n\ndef _d{i}(v, w=K{i}):\n    return v + w\n", f"_d{i}(x)"),
        Block(f"def _r{i}(v):\n    return v if v < 1 else _r{i}(v - 1) + {k}\n", f"_r{i}(3)"),
        Block("from typing import Annotated, Literal\nfrom pydantic import BaseModel, Field\n\n"
              f"class M{i}(BaseModel):\n    a: Annotated[int, Field(description='plain count')] = {k}\n"
              f"    kind: Literal['plain', 'fancy'] = 'plain'\n    more: 'list[int]' = []\n",
              f"M{i}(a=x).model_dump()"),
        Block(f"import os\nE{i} = os.environ['FIDELITY_API_KEY']\n", f"E{i}[-3:]"),
        Block(f"import os\nU{i} = os.environ.get('FIDELITY_ENDPOINT')\n", f"U{i}.rsplit('/', 1)[-1]"),
        Block(f"import os\nH{i} = {{'auth': 'Bearer ' + os.environ['FIDELITY_API_KEY']}}\n", f"H{i}['auth'][:6]",
              saves=False, refused=f"H{i}"),
        Block(f"from typing import Literal, Optional\nNum{i} = int | float\nVec{i} = list[Optional[int]]\n"
              f"Lit{i} = Literal['a', 'b{k}']\n\ndef _vs{i}(v: Num{i}, kind: Lit{i} = 'a') -> Vec{i}:\n    return [v, None]\n",
              f"[_vs{i}(x), list(Lit{i}.__args__)]"),
        Block(f"def make{i}(n):\n    def add(v):\n        return v + n\n    return add\n\n_add{i} = make{i}({k})\n",
              f"_add{i}(x)", saves=False, refused=f"_add{i}"),
    ]


N_KINDS = len(_blocks(0, 0))
SECRET = "fk-7Hq2Lm9Xv4Rt8Wz1"


TOOL_SHAPES = {  # how the tool function itself is written: (code before the def, decorator line, tool name)
    "plain": ("", "", "tool_fn"),
    "cached": ("import functools\n\n", "@functools.lru_cache(maxsize=None)\n", "tool_fn"),
    "renamed": ("", "", "renamed_tool"),  # %%tool --name renamed_tool
    "wrapped": ("import functools\n\ndef logged(f):\n    @functools.wraps(f)\n    def inner(*a, **kw):\n"
                "        return [\"logged\", *f(*a, **kw)]\n    return inner\n\n", "@logged\n", "tool_fn"),
}


@st.composite
def notebooks(draw: st.DrawFn) -> tuple[list[str], str, str, list[Block]]:
    """Earlier cells, the tool cell, the tool's name, and the blocks they were made of."""
    picks = draw(st.lists(st.tuples(st.integers(0, N_KINDS - 1), st.integers(1, 9), st.booleans()),
                          min_size=1, max_size=6))
    before, decorator, name = TOOL_SHAPES[draw(st.sampled_from(sorted(TOOL_SHAPES)))]
    earlier: list[str] = []
    inline: list[str] = []
    blocks: list[Block] = []
    for i, (kind, k, in_tool_cell) in enumerate(picks):
        block = _blocks(i, k)[kind]
        (inline if in_tool_cell else earlier).append(block.code)
        blocks.append(block)
    terms = ", ".join(b.term for b in blocks)
    tool = (before + "\n".join(inline)
            + f'\n{decorator}def tool_fn(x: int) -> list:\n    """Everything the blocks give."""\n    return [{terms}]\n')
    return earlier, tool, name, blocks


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(notebooks())
def test_a_saved_tool_returns_what_it_returned_in_the_notebook(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[list[str], str, str, list[Block]]
) -> None:
    earlier, cell, name, blocks = case
    os.environ.update(FIDELITY_API_KEY=SECRET, FIDELITY_ENDPOINT="https://fidelity.example.test/v1")
    nb = FakeNotebook()
    for code in earlier:
        nb.run(code)
    tmp = tmp_path_factory.mktemp("fidelity")
    try:
        path = save_and_compare(tmp, nb, cell, "tool_fn", [{"x": 3}, {"x": 10}], name=name)
        assert SECRET not in path.read_text() and "fidelity.example.test" not in path.read_text()
    except ToolDefinitionError as exc:
        refusable = [b.refused for b in blocks if not b.saves]
        assert refusable, f"save refused a cell it can write: {exc}\n{cell}"
        assert any(name in str(exc) for name in refusable), str(exc)
        assert not (tmp / "tools" / f"{name}.py").exists()


def test_type_aliases_from_earlier_cells_are_copied(tmp_path: Path, notebook: FakeNotebook) -> None:
    notebook.run("from typing import Literal\n\nUnit = Literal['c', 'f']\nReadings = list[float]\n")
    cell = '''
        def convert(values: Readings, unit: Unit = "c") -> Readings:
            """Convert readings."""
            return [v * 9 / 5 + 32 if unit == "f" else v for v in values]
    '''
    path = save_and_compare(tmp_path, notebook, cell, "convert", [{"values": [0.0, 100.0], "unit": "f"}])
    assert "Unit = Literal['c', 'f']" in path.read_text() and "Readings = list[float]" in path.read_text()


def test_enum_members_and_bytes_from_earlier_cells_are_copied(tmp_path: Path, notebook: FakeNotebook) -> None:
    notebook.run("import enum\n\nclass Color(enum.Enum):\n    RED = 'red'\n    BLUE = 'blue'\n\nDEFAULT = Color.BLUE\nMAGIC = b'\\x00hi'\n")
    cell = '''
        def paint(name: str) -> str:
            """Paint."""
            return f"{name}:{DEFAULT.value}:{MAGIC[1:].decode()}"
    '''
    save_and_compare(tmp_path, notebook, cell, "paint", [{"name": "wall"}])


def test_a_cell_with_top_level_await_is_refused_in_one_line(tmp_path: Path, notebook: FakeNotebook) -> None:
    notebook.run('def waits(n: int) -> int:\n    """n."""\n    return n\n')
    ws = Workspace(tmp_path)
    ws.tools.register(notebook.ns["waits"], source='import asyncio\nawait asyncio.sleep(0)\n\ndef waits(n: int) -> int:\n    """n."""\n    return n\n')
    with pytest.raises(ToolDefinitionError, match="'await' outside function"):
        ws.tools.save("waits")
