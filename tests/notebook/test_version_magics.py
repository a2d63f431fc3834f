"""`%halion history|diff|revert` and `%halion log --open ID` in a real IPython shell."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import get_ipython, start_ipython
from IPython.utils.capture import CapturedIO, capture_output

import halion_nb
from halion_nb.workspace import Workspace

CELL = '''def double(x: int) -> int:
    """Double a number.

    Args:
        x: the number
    """
    return x * 2
'''


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    shell = start_ipython() or get_ipython() or InteractiveShell.instance()
    shell.run_line_magic("load_ext", "halion_nb")
    types = shell.display_formatter.active_types
    shell.display_formatter.active_types = [*types, "text/html"]  # what a notebook kernel asks for
    yield shell
    shell.display_formatter.active_types = types


@pytest.fixture
def ws(tmp_path: Path, ip: Any) -> Iterator[Workspace]:
    w = halion_nb.use_workspace(tmp_path / "ws")
    yield w
    w.log.close()


def run(ip: Any, cell: str) -> tuple[CapturedIO, Any]:
    with capture_output() as captured:
        result = ip.run_cell(cell)
    return captured, result


def shown(captured: CapturedIO, mime: str = "text/plain") -> str:
    return captured.stdout + "\n".join(o.data.get(mime, "") for o in captured.outputs)


def test_history_diff_revert_of_a_tool_saved_from_tool_cells(ip: Any, ws: Workspace) -> None:
    run(ip, f"%%tool --save\n{CELL}")
    run(ip, f"%%tool --save\n{CELL.replace('x * 2', 'x + x')}")
    out = shown(run(ip, "%halion history double")[0])
    assert "double: 2 version(s), newest first" in out and out.index("v2 ") < out.index("v1 ")
    captured, _ = run(ip, "%halion diff double")
    assert "-    return x * 2\n+    return x + x" in shown(captured)
    assert 'background:#dafbe1;color:#116329">+    return x + x</span>' in shown(captured, "text/html")
    assert "+    return x * 2" in shown(run(ip, "%halion diff double 2 1")[0])
    out = shown(run(ip, "%halion revert double 1")[0])
    assert out.startswith("double: back to v1 ") and "saved as v3 " in out
    assert ws.tools.get("double")(x=4) == 8 and "x * 2" in (ws.path / "tools" / "double.py").read_text()


def test_log_shows_the_version_and_opens_the_code_that_ran(ip: Any, ws: Workspace) -> None:
    run(ip, f"%%tool\n{CELL}")  # a live tool, never saved
    outcome = ws.tools.invoke("double", {"x": 3})
    out = shown(run(ip, "%halion log -n 1")[0])
    assert "version" in out.splitlines()[0] and outcome.version in out
    opened = shown(run(ip, f"%halion log --open {outcome.log_id}")[0])
    assert f"double live {outcome.version}" in opened and "return x * 2" in opened


def test_wrong_versions_fail_the_cell_with_one_line(ip: Any, ws: Workspace) -> None:
    run(ip, f"%%tool --save\n{CELL}")
    for line, said in (("%halion revert double 7", "has 1 saved version(s); there is no version 7"),
                       ("%halion diff nothing", "No saved version of tool 'nothing' yet"),
                       ("%halion log --open 999", "no call 999 in the log")):
        _, result = run(ip, line)
        assert not result.success and said in str(result.error_in_exec), line
