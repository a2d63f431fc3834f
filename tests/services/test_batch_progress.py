"""What a batch run looks like in a notebook: the live progress bar, its summary, `%halion chain map`."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import get_ipython, start_ipython
from IPython.utils.capture import CapturedIO, capture_output

import halion_nb
from halion_nb.display.printers import formats
from halion_nb.models import ChainInput, Ref, Toolchain, ToolchainStep
from halion_nb.notebook import batch_display
from halion_nb.services.batch_views import progress_views
from halion_nb.widgets import find
from halion_nb.widgets.batch import BatchProgress
from halion_nb.workspace import Workspace

WIDGET = "application/vnd.jupyter.widget-view+json"
GATE = threading.Event()


def square(n: int) -> int:
    """n squared; 13 is refused."""
    if n == 13:
        raise ValueError("unlucky")
    return n * n


def held(n: int) -> int:
    """Waits for the test to open the gate."""
    GATE.wait(10)
    return n


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    shell = start_ipython() or get_ipython() or InteractiveShell.instance()
    shell.run_line_magic("load_ext", "halion_nb")
    yield shell


@pytest.fixture
def ws(tmp_path: Path, ip: Any) -> Iterator[Workspace]:
    w = halion_nb.use_workspace(tmp_path / "ws")
    w.tools.register(square)
    w.tools.register(held)
    w.chains.save(Toolchain(name="squares", inputs=[ChainInput(name="n", type="integer")],
                            steps=[ToolchainStep(id="sq", tool="square", arguments={"n": Ref("inputs.n")})]))
    GATE.clear()
    yield w
    GATE.set()
    w.log.close()


def test_a_thousand_fast_inputs_repaint_the_bar_a_few_times_only(ws: Workspace) -> None:
    run = ws.tools.map("square", [{"n": n} for n in range(1000)], progress=False, wait=False)
    bar = BatchProgress(run)
    run.wait()
    bar.paints.flush()
    assert bar.bar.value == 1000 and bar.bar.max == 1000
    assert bar.paints.applied < 100  # 1,000 results, at most 5 repaints a second
    assert bar.bar.bar_style == "danger"
    assert "999 ok" not in bar.label.value and "1,000 / 1,000 done · 1 failed" in bar.label.value
    assert bar.cancel_button.layout.display == "none"
    assert "unlucky" in bar.summary.value and "<td>13</td>" in bar.summary.value


def test_the_cancel_button_stops_the_run(ws: Workspace) -> None:
    run = ws.tools.map("held", [{"n": n} for n in range(30)], max_workers=2, progress=False, wait=False)
    bar = BatchProgress(run)
    bar.cancel_button.click()
    GATE.set()
    run.wait()
    bar.paints.flush()
    assert run.status == "cancelled"
    assert "cancelled" in bar.label.value and bar.summary.value.startswith("<div class='halion-batch'>")


def test_a_run_displays_its_summary_with_inputs_redacted(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_TOKEN", "tok-0123456789abcdef")
    run = ws.tools.map("square", [{"n": 13, "note": "tok-0123456789abcdef"}, {"n": 2}], progress=False)
    html = formats(run)["text/html"]  # what a notebook stores as the run's HTML
    assert f"Batch {run.id}" in html and "2 / 2 done · 1 failed" in html
    assert "tok-0123456789abcdef" not in html and "***" in html
    assert "1 ok, 1 failed" in repr(run)


def test_map_shows_the_progress_bar_once_the_notebook_view_is_installed(ws: Workspace, ip: Any) -> None:
    batch_display.install(ip)
    try:
        with capture_output() as captured:
            run = ws.chains.map("squares", [{"n": n} for n in range(20)])
        assert progress_views.count(batch_display.show_progress) == 1
    finally:
        batch_display.uninstall(ip)
    assert [o.data for o in captured.outputs if WIDGET in o.data]
    assert run.status == "done"
    with capture_output() as captured:
        ws.chains.map("squares", [{"n": 1}])
    assert not captured.outputs  # uninstalled: nothing shown


def magic(ip: Any, line: str) -> CapturedIO:
    with capture_output() as captured:
        ip.run_cell(f"%halion {line}")
    return captured


def test_chain_map_runs_a_file_with_a_progress_bar(ws: Workspace, ip: Any, tmp_path: Path) -> None:
    inputs = tmp_path / "numbers.csv"
    inputs.write_text("n\n1\n2\n13\n4\n", encoding="utf-8")
    captured = magic(ip, f"chain map squares {inputs}")
    views = [o for o in captured.outputs if WIDGET in o.data]
    assert len(views) == 1
    rows = [r for r in ws.log.recent(20, kind="chain", caller="batch")]
    assert sorted(r.meta["index"] for r in rows) == [0, 1, 2, 3]
    assert sum(r.error is not None for r in rows) == 1


def test_chain_map_on_dask(ws: Workspace, ip: Any, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    inputs = tmp_path / "numbers.jsonl"
    inputs.write_text('{"n": 3}\n{"n": 5}\n', encoding="utf-8")
    with distributed.LocalCluster(n_workers=1, processes=False, protocol="tcp", host="127.0.0.1",
                                  dashboard_address=":0") as cluster:
        magic(ip, f"chain map squares {inputs} --dask {cluster.scheduler_address}")
    rows = ws.log.recent(20, kind="step", caller="batch")
    assert sorted(r.result for r in rows) == [9, 25]


@pytest.mark.parametrize("line, message", [
    ("chain map squares", "give the chain's name and an inputs file"),
    ("chain map squares numbers.csv --dask", "--dask needs the scheduler's address"),
    ("chain map squares missing.csv", "No inputs file at"),
])
def test_chain_map_explains_wrong_words(ws: Workspace, ip: Any, line: str, message: str) -> None:
    captured = magic(ip, line)
    assert message in captured.stderr + captured.stdout


def test_the_bar_finds_its_parts_by_class(ws: Workspace) -> None:
    run = ws.tools.map("square", [{"n": 1}], progress=False)
    bar = BatchProgress(run)
    assert find(bar, "halion-batch-summary") is bar.summary
