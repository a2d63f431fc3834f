"""Notebook files ⇄ tool files: `export_tools`, `import_tools`, and `halion export`."""
from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import halion_nb
from halion_nb import HalionError

AREA = '''def area(radius: float) -> float:
    """Area of a circle.

    Args:
        radius: The radius, in metres.
    """
    return round(math.pi * radius ** 2, 2)'''

CONVERT = '''def to_fahrenheit(celsius: float, style: Literal["plain", "fancy"] = "plain") -> str:
    """Celsius to Fahrenheit.

    Args:
        celsius: Degrees Celsius.
        style: How to write the result.
    """
    value = celsius * 9 / 5 + 32
    return f"{value:.1f} °F" if style == "fancy" else str(value)'''

STATS = '''def spread(values: list[float]) -> float:
    """Range of the values."""
    return _width(values)


def _width(values: list[float]) -> float:
    return max(values) - min(values)'''


def write_notebook(path: Path, cells: list[nbformat.NotebookNode]) -> Path:
    nbformat.write(new_notebook(cells=cells), path)
    return path


@pytest.fixture
def analysis(tmp_path: Path) -> Path:
    return write_notebook(tmp_path / "analysis.ipynb", [
        new_code_cell("%load_ext halion_nb"),
        new_markdown_cell("# Tools for the analysis"),
        new_code_cell("import math\nfrom typing import Literal\n%matplotlib inline"),
        new_code_cell("%%tool\n" + AREA),
        new_code_cell('%%tool --name convert --description "Convert a temperature."\n' + CONVERT),
        new_code_cell("%%tool --save\n" + STATS),
        new_code_cell("area(2.0)"),
        new_code_cell("%%time\nimport json"),  # another cell magic: neither a tool nor an import
    ])


def run_file(path: Path, call: str, cwd: Path) -> str:
    code = textwrap.dedent(f"""
        import runpy, sys
        ns = runpy.run_path({str(path)!r})
        print(repr({call}))
        assert "halion_nb" not in sys.modules
    """)
    out = subprocess.run([sys.executable, "-I", "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_export_writes_every_tool_cell(analysis: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    written = halion_nb.export_tools(analysis, tools_dir=out)
    assert sorted(p.name for p in written) == ["area.py", "convert.py", "spread.py"]
    assert sorted(p.name for p in out.iterdir()) == ["area.py", "convert.py", "spread.py"]
    area = (out / "area.py").read_text()
    assert area.startswith("import math\n")  # the import of an earlier cell
    assert "halion" not in area and "%%tool" not in area
    assert run_file(out / "area.py", "ns['area'](2.0)", tmp_path) == "12.57"
    assert run_file(out / "spread.py", "ns['spread']([3.0, 1.0, 7.5])", tmp_path) == "6.5"
    assert run_file(out / "convert.py", "ns['convert'](100, 'fancy')", tmp_path) == "'212.0 °F'"
    schema = json.loads(run_file(out / "convert.py", "__import__('json').dumps(ns['schema'])", tmp_path)[1:-1])
    assert schema["function"]["name"] == "convert"
    assert schema["function"]["description"] == "Convert a temperature."
    assert schema["function"]["parameters"]["properties"]["celsius"]["description"] == "Degrees Celsius."


def test_export_defaults_to_tools_beside_the_notebook(analysis: Path) -> None:
    halion_nb.export_tools(analysis)
    assert sorted(p.name for p in (analysis.parent / "tools").iterdir()) == ["area.py", "convert.py", "spread.py"]


def test_exported_files_load_into_a_workspace(analysis: Path, tmp_path: Path) -> None:
    halion_nb.export_tools(analysis, tools_dir=tmp_path / "tools")
    ws = halion_nb.Workspace(tmp_path)
    assert ws.tools.load().loaded == ["area", "convert", "spread"]
    assert ws.tools.get("convert").description == "Convert a temperature."
    assert ws.tools.get("convert").call({"celsius": 0, "style": None}) == "32.0"
    assert ws.tools.get("area").call('{"radius": 1}') == 3.14


def test_round_trip_keeps_the_code(analysis: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    halion_nb.export_tools(analysis, tools_dir=first)
    imported = halion_nb.import_tools(first, tmp_path / "imported.ipynb")
    nb = nbformat.read(imported, as_version=4)
    assert nb.cells[0].source == "%load_ext halion_nb"
    tool_cells = [c.source for c in nb.cells if c.source.startswith("%%tool")]
    assert len(tool_cells) == 3
    assert "schema =" not in "".join(tool_cells)  # regenerated on export, not carried in the cell
    halion_nb.export_tools(imported, tools_dir=second)
    for path in sorted(first.iterdir()):
        assert (second / path.name).read_text() == path.read_text(), path.name
    assert sorted(p.name for p in second.iterdir()) == sorted(p.name for p in first.iterdir())


def test_import_appends_to_an_existing_notebook(analysis: Path, tmp_path: Path) -> None:
    halion_nb.export_tools(analysis, tools_dir=tmp_path / "t")
    other = write_notebook(tmp_path / "other.ipynb", [new_code_cell("%load_ext halion_nb"), new_markdown_cell("# Other"),
                                                       new_code_cell("%%tool\n" + STATS)])
    before = len(nbformat.read(other, as_version=4).cells)
    halion_nb.import_tools([tmp_path / "t" / "area.py"], other)
    nb = nbformat.read(other, as_version=4)
    assert len(nb.cells) == before + 1
    assert nb.cells[-1].source.startswith("%%tool\n") and "def area(" in nb.cells[-1].source
    assert sum(c.source == "%load_ext halion_nb" for c in nb.cells) == 1


def test_a_bad_tool_cell_is_reported_and_the_others_exported(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "bad.ipynb", [
        new_code_cell("import math"),
        new_code_cell("%%tool\n" + AREA),
        new_code_cell("%%tool\ndef broken(x: int) -> int\n    return x"),
        new_code_cell("%%tool\nVALUE = 3"),
        new_code_cell("%%tool\ndef loose(*values: int) -> int:\n    return 0"),
        new_code_cell("%%tool --name ../escape\ndef fine(x: int) -> int:\n    return x"),
        new_code_cell("def _helper(x: int) -> int:\n    return x + 1"),
        new_code_cell("%%tool\ndef leans(x: int) -> int:\n    return _helper(x)"),  # notebook state, not an import
    ])
    with pytest.raises(HalionError) as info:
        halion_nb.export_tools(nb, tools_dir=tmp_path / "out")
    message = str(info.value)
    for index in (2, 3, 4, 5, 6):
        assert f"tool cell {index}" in message
    assert "_helper" in message
    assert "tool cell 1" not in message
    assert "1 written" in message
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["area.py"]
    assert not (tmp_path / "escape.py").exists()


def halion_script() -> str:
    script = Path(sysconfig.get_path("scripts")) / "halion"
    assert script.exists(), "the `halion` console script is not installed"
    return str(script)


def test_cli_export(analysis: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run([halion_script(), "export", str(analysis)], cwd=elsewhere, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (analysis.parent / "tools").iterdir()) == ["area.py", "convert.py", "spread.py"]
    assert out.stdout.count("wrote ") == 3
    assert list(elsewhere.iterdir()) == []

    target = tmp_path / "chosen"
    out = subprocess.run([halion_script(), "export", str(analysis), "--tools-dir", str(target)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in target.iterdir()) == ["area.py", "convert.py", "spread.py"]


def test_cli_export_errors_are_one_clear_message(tmp_path: Path) -> None:
    bad = write_notebook(tmp_path / "bad.ipynb", [new_code_cell("%%tool\nVALUE = 3")])
    for argv in (["export", str(bad)], ["export", str(tmp_path / "missing.ipynb")]):
        out = subprocess.run([halion_script(), *argv], capture_output=True, text=True, timeout=120)
        assert out.returncode == 1, out
        assert out.stderr.startswith("halion: ") and "Traceback" not in out.stderr, out.stderr


NOT_NOTEBOOKS = {
    "empty_object": "{}",
    "a_list": "[]",
    "a_number": "5",
    "null": "null",
    "cells_not_a_list": '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": 5}',
    "cell_not_an_object": '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [5]}',
    "source_not_text": ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": '
                        '[{"cell_type": "code", "source": 5, "metadata": {}, "outputs": []}]}'),
    "no_metadata": '{"nbformat": 4, "cells": [{"cell_type": "code", "source": "%%tool"}]}',
    "not_json": "{not json",
}


@pytest.mark.parametrize("text", NOT_NOTEBOOKS.values(), ids=NOT_NOTEBOOKS.keys())
def test_json_that_is_not_a_notebook_is_one_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "odd.ipynb"
    path.write_text(text)
    with pytest.raises(HalionError, match="odd.ipynb") as info:
        halion_nb.export_tools(path, tools_dir=tmp_path / "out")
    assert "\n" not in str(info.value)
    with pytest.raises(HalionError, match="odd.ipynb"):
        halion_nb.import_tools([], path)
    assert path.read_text() == text  # left as it was


def test_cli_export_of_json_that_is_not_a_notebook_is_one_line(tmp_path: Path) -> None:
    for name in ("empty_object", "source_not_text"):
        path = tmp_path / f"{name}.ipynb"
        path.write_text(NOT_NOTEBOOKS[name])
        out = subprocess.run([halion_script(), "export", str(path)], capture_output=True, text=True, timeout=120)
        assert out.returncode == 1 and out.stderr.startswith("halion: ") and "Traceback" not in out.stderr, out.stderr
        assert out.stderr.count("\n") == 1


def test_a_tool_cell_that_starts_with_a_blank_line_is_exported(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "blank.ipynb", [new_code_cell("import math"), new_code_cell("\n  \n%%tool\n" + AREA)])
    written = halion_nb.export_tools(nb, tools_dir=tmp_path / "out")
    assert [p.name for p in written] == ["area.py"]
    assert run_file(tmp_path / "out" / "area.py", "ns['area'](1.0)", tmp_path) == "3.14"


def test_two_cells_making_one_tool_are_not_lost_silently(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "twice.ipynb", [
        new_code_cell("import math"),
        new_code_cell("%%tool\n" + AREA),
        new_code_cell("%%tool\n" + AREA.replace("round(math.pi * radius ** 2, 2)", "0.0")),
    ])
    with pytest.warns(UserWarning, match=r"tool cells 1 and 2 both make the tool 'area'"):
        written = halion_nb.export_tools(nb, tools_dir=tmp_path / "out")
    assert [p.name for p in written] == ["area.py"]
    assert run_file(tmp_path / "out" / "area.py", "ns['area'](1.0)", tmp_path) == "0.0"  # as running the notebook does
    out = subprocess.run([halion_script(), "export", str(nb), "--tools-dir", str(tmp_path / "cli")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "halion: warning: tool cells 1 and 2 both make the tool 'area'" in out.stderr
    assert "Traceback" not in out.stderr and "UserWarning" not in out.stderr, out.stderr


def test_importing_a_tool_the_notebook_already_has_adds_no_duplicate(analysis: Path, tmp_path: Path) -> None:
    halion_nb.export_tools(analysis, tools_dir=tmp_path / "t")
    halion_nb.import_tools(tmp_path / "t", tmp_path / "copy.ipynb")
    before = nbformat.read(tmp_path / "copy.ipynb", as_version=4)
    halion_nb.import_tools(tmp_path / "t", tmp_path / "copy.ipynb")  # again: nothing new
    assert nbformat.read(tmp_path / "copy.ipynb", as_version=4).cells == before.cells

    cells = nbformat.read(analysis, as_version=4).cells
    halion_nb.import_tools(tmp_path / "t", analysis)  # the notebook the files came from: it has every tool
    assert nbformat.read(analysis, as_version=4).cells == cells

    area = tmp_path / "t" / "area.py"
    area.write_text(area.read_text().replace("round(math.pi * radius ** 2, 2)", "0.0"))
    with pytest.raises(HalionError, match=r"already has a %%tool cell for 'area'.*replace=True") as info:
        halion_nb.import_tools(tmp_path / "t", tmp_path / "copy.ipynb")
    assert "\n" not in str(info.value)
    assert nbformat.read(tmp_path / "copy.ipynb", as_version=4).cells == before.cells  # nothing written
    halion_nb.import_tools([area], tmp_path / "copy.ipynb", replace=True)
    cells = [c.source for c in nbformat.read(tmp_path / "copy.ipynb", as_version=4).cells]
    assert len(cells) == len(before.cells)
    assert sum("def area(" in c for c in cells) == 1 and any("0.0" in c and "def area(" in c for c in cells)


def test_a_tool_file_that_cannot_be_imported_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def broken(:\n")
    for paths in ([tmp_path / "broken.py"], [tmp_path / "missing.py"]):
        with pytest.raises(HalionError) as info:
            halion_nb.import_tools(paths, tmp_path / "nb.ipynb")
        assert paths[0].name in str(info.value)
    assert not (tmp_path / "nb.ipynb").exists()
