"""`%%tool --save` in a real IPython shell: the saved file is the same tool and holds no secret."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import get_ipython, start_ipython
from IPython.utils.capture import capture_output

import halion_nb
from tests.core.test_tool_file_fidelity import run_saved

SECRET = "tok-live-5c4b3a29f8e7d6a1b2"


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    shell = start_ipython() or get_ipython() or InteractiveShell.instance()
    shell.run_line_magic("load_ext", "halion_nb")
    yield shell


def run(ip: Any, cell: str) -> str:
    with capture_output() as captured:
        result = ip.run_cell(cell)
    assert result.success, captured.stderr + captured.stdout
    return captured.stdout + captured.stderr + "".join(str(o.data) for o in captured.outputs)


def test_a_saved_tool_cell_is_the_same_tool_and_holds_no_secret(ip: Any, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_API_TOKEN", SECRET)
    ws = halion_nb.use_workspace(tmp_path)
    run(ip, "import os, functools\nTOKEN = os.environ['SHOP_API_TOKEN']\n")
    run(ip, "def filter(values):\n    return [v for v in values if v > 1]\n\nformat = '[{}]'\nrate = 3\n")
    run(ip, "def _scaled(v):\n    return v * rate\n")
    shown = run(ip, '''%%tool --save
@functools.lru_cache(maxsize=None)
def basket(rate: int, token: str = os.environ.get("SHOP_API_TOKEN", "")) -> str:
    """Price a basket.

    Args:
        rate: Tax rate.
        token: The shop's key.
    """
    items = tuple(filter((1, 2, 3)))
    return format.format(f"{sum(items) * rate + _scaled(1)}:{token[-2:]}:{TOKEN[:3]}")
''')
    assert "Traceback" not in shown and "halion:" not in shown, shown
    assert SECRET not in shown and "(from the environment)" in shown
    tool = ws.tools.get("basket")
    assert SECRET not in json.dumps(tool.schema)
    expected = tool.call({"rate": 2})
    assert expected == "[13:b2:tok]"
    path = tmp_path / "tools" / "basket.py"
    assert SECRET not in path.read_text()
    assert run_saved(path, [{"rate": 2}])["results"] == [expected]
    detail = run(ip, "%halion show basket")
    assert SECRET not in detail
    reopened = halion_nb.Workspace(tmp_path)
    assert reopened.load_report.errors == {}
    assert reopened.tools.get("basket").call({"rate": 2}) == expected
