"""`%%tool` cells that hold IPython syntax (`%magic`, `!cmd`) still register their function."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import get_ipython, start_ipython
from IPython.utils.capture import capture_output

import halion_nb


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    # One shell per process: started here, or by another module, or cleared by one and made anew.
    shell = start_ipython() or get_ipython() or InteractiveShell.instance()
    shell.run_line_magic("load_ext", "halion_nb")
    yield shell


def test_a_tool_cell_with_a_line_magic_registers_its_function(ip: Any, tmp_path: Path) -> None:
    ws = halion_nb.use_workspace(tmp_path)
    cell = '%time x = 1\n\ndef double(n: int) -> int:\n    """Twice n.\n\n    Args:\n        n: a number\n    """\n    return 2 * n\n'
    with capture_output() as captured:
        ip.run_cell_magic("tool", "", cell)
    assert "halion:" not in captured.stderr
    assert ws.tools.get("double").call({"n": 4}) == 8


def test_a_tool_cell_that_is_not_python_gets_one_clear_line(ip: Any, tmp_path: Path) -> None:
    halion_nb.use_workspace(tmp_path)
    with capture_output() as captured:
        result = ip.run_cell("%%tool\ndef broken(:\n    pass\n")
    assert "SyntaxError" in captured.stdout + captured.stderr  # IPython shows the person's own error
    assert "Traceback" not in captured.stderr
    assert not result.success, "the cell fails, so that a notebook run stops there"
    assert "UsageError: halion: the cell raised an error (shown above), so no tool was registered." in captured.stderr
