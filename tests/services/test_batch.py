"""Batch runs on threads (the default): ws.tools.map and ws.chains.map over lists, DataFrames and files."""
from __future__ import annotations

import _thread
import json
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from halion_nb.errors import ConfigError, HalionError
from halion_nb.models import ChainInput, Ref, Toolchain, ToolchainStep
from halion_nb.services import batch
from halion_nb.services.batch_inputs import BatchInputError
from halion_nb.services.batch_views import progress_views
from halion_nb.workspace import Workspace

GATE = threading.Event()
SEEN: Counter[int] = Counter()


def weather(city: str) -> dict:
    """Weather of a city (a fixed table).

    Args:
        city: The city's name.
    """
    table = {"Madrid": 21, "Oslo": 3, "Lima": 18}
    if city not in table:
        raise ValueError(f"no weather for {city!r}")
    return {"city": city, "celsius": table[city]}


def to_f(celsius: float) -> float:
    """Celsius to Fahrenheit."""
    return round(celsius * 9 / 5 + 32, 1)


def flaky(n: int) -> int:
    """Fails the first time it sees an odd number."""
    SEEN[n] += 1
    if n % 2 and SEEN[n] == 1:
        raise RuntimeError(f"flaked on {n}")
    return n * 10


def gated(n: int) -> int:
    """Waits for the test to open the gate (inputs above 1 only)."""
    if n > 1:
        GATE.wait(10)
    return n


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    w = Workspace(tmp_path)
    for fn in (weather, to_f, flaky, gated):
        w.tools.register(fn)
    w.chains.save(Toolchain(
        name="forecast", inputs=[ChainInput(name="city", type="string")],
        steps=[ToolchainStep(id="now", tool="weather", arguments={"city": Ref("inputs.city")}),
               ToolchainStep(id="f", tool="to_f", arguments={"celsius": Ref("steps.now.output.celsius")})]))
    SEEN.clear()
    GATE.clear()
    yield w
    GATE.set()
    w.log.close()


CITIES = ["Madrid", "Atlantis", "Oslo", "Lima", "Atlantis", "Madrid"]


def test_a_tool_over_a_list_gives_results_in_input_order(ws: Workspace) -> None:
    run = ws.tools.map("weather", [{"city": c} for c in CITIES], progress=False)
    assert run.status == "done"
    assert [r.status for r in run.results] == ["ok", "error", "ok", "ok", "error", "ok"]
    assert [r.output["celsius"] if r.ok else None for r in run.results] == [21, None, 3, 18, None, 21]
    assert run.results[1].error == "ValueError: no weather for 'Atlantis'"
    assert [r.index for r in run.failed()] == [1, 4]
    assert all(r.duration_ms is not None and r.attempts == 1 for r in run.results)
    assert "6 inputs — 4 ok, 2 failed" in repr(run) and "#1 {\"city\": \"Atlantis\"}" in repr(run)


def test_every_call_is_logged_once_with_caller_batch_and_the_batch_id(ws: Workspace) -> None:
    run = ws.chains.map("forecast", [{"city": c} for c in CITIES], progress=False)
    rows = [r for r in ws.log.recent(100, caller="batch") if r.meta.get("batch") == run.id]
    steps = [r for r in rows if r.kind == "step"]
    chains = [r for r in rows if r.kind == "chain"]
    assert len(chains) == 6 and sorted(r.meta["index"] for r in chains) == list(range(6))
    assert len(steps) == 4 * 2 + 2 * 1  # the failing inputs stop after their first step
    assert {r.user for r in rows} == {rows[0].user} and rows[0].user
    assert sorted((r.meta["index"], r.meta["step"]) for r in steps)[:2] == [(0, "f"), (0, "now")]
    failed = next(r for r in chains if r.meta["index"] == 1)
    assert failed.error == "step 'now' (weather) failed: ValueError: no weather for 'Atlantis'"
    assert sum(r.id in set(run.results[0].log_ids) for r in rows) == 3


def test_a_chain_over_a_dataframe_keeps_each_step(ws: Workspace) -> None:
    frame = pd.DataFrame({"city": CITIES})
    run = ws.chains.map("forecast", frame, progress=False)
    first = run.results[0]
    assert first.output == 69.8
    assert [(s.id, s.status, s.result) for s in first.steps] == [("now", "ok", {"city": "Madrid", "celsius": 21}),
                                                                 ("f", "ok", 69.8)]
    assert [s.status for s in run.results[1].steps] == ["error", "skipped"]
    table = run.to_pandas()
    assert list(table.columns) == ["city", "status", "output", "error", "duration_ms"]
    assert table["output"].tolist()[:1] + table["output"].tolist()[2:3] == [69.8, 37.4]
    assert table["output"].isna().tolist() == [False, True, False, False, True, False]
    assert table.loc[4, "status"] == "error"


def test_wrong_inputs_fail_that_input_only_and_run_nothing(ws: Workspace) -> None:
    run = ws.chains.map("forecast", [{"city": "Oslo"}, {"town": "Oslo"}], progress=False)
    assert run.results[0].ok
    assert run.results[1].error.startswith("inputs: input 'town': unknown input")
    assert run.results[1].steps == []
    assert [r.meta["index"] for r in ws.log.recent(10, kind="chain")] == [0]
    run.retry_failed()  # wrong inputs stay wrong: nothing runs again
    assert run.results[1].attempts == 0 and len(ws.log.recent(10, kind="chain")) == 1


def test_inputs_from_csv_and_jsonl_files(ws: Workspace, tmp_path: Path) -> None:
    csv = tmp_path / "cities.csv"
    csv.write_text("city\nMadrid\nLima\n", encoding="utf-8")
    lines = tmp_path / "cities.jsonl"
    lines.write_text('{"city": "Oslo"}\n\n{"city": "Lima"}\n', encoding="utf-8")
    assert [r.output for r in ws.chains.map("forecast", csv, progress=False).results] == [69.8, 64.4]
    assert [r.output for r in ws.chains.map("forecast", str(lines), progress=False).results] == [37.4, 64.4]


@pytest.mark.parametrize("text, message", [
    ('{"city": "Oslo"}\n[1, 2]\n', "cities.jsonl line 2 is a JSON list, not an object"),
    ('{"city": \n', "cities.jsonl line 1 is not valid JSON"),
])
def test_a_bad_inputs_file_says_which_line(ws: Workspace, tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cities.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BatchInputError, match=message):
        ws.chains.map("forecast", path, progress=False)


def test_inputs_that_are_not_a_list_of_dicts_are_refused(ws: Workspace) -> None:
    with pytest.raises(BatchInputError, match="Input 1 is a str"):
        ws.tools.map("weather", [{"city": "Oslo"}, "Lima"], progress=False)
    with pytest.raises(BatchInputError, match="not one dict"):
        ws.tools.map("weather", {"city": "Oslo"}, progress=False)


def test_retry_failed_reruns_only_the_failed_inputs(ws: Workspace) -> None:
    run = ws.tools.map("flaky", [{"n": n} for n in range(6)], progress=False)
    assert [r.index for r in run.failed()] == [1, 3, 5]
    run.retry_failed()
    assert [r.output for r in run.results] == [0, 10, 20, 30, 40, 50]
    assert [r.attempts for r in run.results] == [1, 2, 1, 2, 1, 2]
    assert SEEN == Counter({0: 1, 1: 2, 2: 1, 3: 2, 4: 1, 5: 2})
    rows = ws.log.recent(100, tool="flaky", caller="batch")
    assert sorted((r.meta["index"], r.meta["attempt"]) for r in rows) == sorted(
        [(i, 1) for i in range(6)] + [(1, 2), (3, 2), (5, 2)])


def test_cancel_keeps_what_finished(ws: Workspace) -> None:
    run = ws.tools.map("gated", [{"n": n} for n in range(40)], max_workers=2, progress=False, wait=False)
    while sum(r.ok for r in run.results) < 2:
        run.wait(0.05)
    run.cancel()
    GATE.set()
    run.wait()
    statuses = Counter(r.status for r in run.results)
    assert run.status == "cancelled" and statuses["pending"] == 0
    assert statuses["ok"] >= 2 and statuses["cancelled"] >= 30
    assert len(ws.log.recent(100, tool="gated")) == statuses["ok"]


def test_interrupting_the_kernel_while_waiting_keeps_what_finished(ws: Workspace) -> None:
    def interrupt_when_two_are_done() -> None:
        while not runs or sum(r.ok for r in runs[0].results) < 2:
            threading.Event().wait(0.01)
        _thread.interrupt_main()

    runs: list[batch.BatchRun] = []
    progress_views.append(runs.append)
    try:
        threading.Thread(target=interrupt_when_two_are_done, daemon=True).start()
        run = ws.tools.map("gated", [{"n": n} for n in range(40)], max_workers=2)
    finally:
        progress_views.remove(runs.append)
        GATE.set()
    run.wait()
    assert run is runs[0] and run.status == "cancelled"
    assert [r.output for r in run.results[:2]] == [0, 1]
    assert Counter(r.status for r in run.results)["cancelled"] >= 30


def test_progress_views_see_the_run_and_its_progress(ws: Workspace) -> None:
    seen: list[tuple[int, int]] = []

    def view(run: batch.BatchRun) -> None:
        run.subscribe(lambda r: seen.append((r.progress().done, r.progress().failed)))

    progress_views.append(view)
    try:
        ws.tools.map("weather", [{"city": c} for c in CITIES])
        ws.tools.map("weather", [{"city": "Oslo"}], progress=False)
    finally:
        progress_views.remove(view)
    assert seen[-1] == (6, 2) and len(seen) == 7  # one update per input, one at the end
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_threads_leave_the_kernels_environment_alone(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    code = ('import os\n\ndef token_length() -> int:\n    """Length of the token."""\n'
            '    return len(os.environ["SERVICE_TOKEN"])\n')
    ws.tools.update_source(None, code, save=False)
    monkeypatch.setenv("SERVICE_TOKEN", "s3cr3t-token-value")
    run = ws.tools.map("token_length", [{}] * 3, progress=False)
    assert [r.output for r in run.results] == [18] * 3
    assert __import__("os").environ["SERVICE_TOKEN"] == "s3cr3t-token-value"


def test_results_and_errors_are_redacted(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    code = ('import os\n\ndef leak(fail: bool) -> dict:\n    """Leaks the token."""\n'
            '    token = os.environ["SERVICE_TOKEN"]\n'
            '    if fail:\n        raise ValueError(f"bad token {token}")\n    return {"token": token}\n')
    ws.tools.update_source(None, code, save=False)
    monkeypatch.setenv("SERVICE_TOKEN", "s3cr3t-token-value")
    run = ws.tools.map("leak", [{"fail": False}, {"fail": True}], progress=False)
    assert run.results[0].output == {"token": "***"}
    assert run.results[1].error == "ValueError: bad token ***"
    assert "s3cr3t" not in json.dumps([r.model_dump(mode="json") for r in ws.log.recent(10)])


def test_a_tool_that_asks_before_each_call_is_refused(ws: Workspace) -> None:
    ws.tools.require_approval("weather")
    with pytest.raises(HalionError, match="asks the person before each call"):
        ws.tools.map("weather", [{"city": "Oslo"}], progress=False)


def test_an_unknown_executor_is_a_clear_error(ws: Workspace) -> None:
    with pytest.raises(ConfigError, match="executor must be None"):
        ws.tools.map("weather", [{"city": "Oslo"}], executor=42, progress=False)


def test_a_registry_without_a_workspace_cannot_map() -> None:
    from halion_nb.core.tool_manager import ToolManager
    from halion_nb.core.tool_registry import ToolRegistry

    registry = ToolRegistry(Path("/nonexistent/tools"), ToolManager(Path("/nonexistent/state.json")))
    with pytest.raises(ConfigError, match="batch runs need a Workspace"):
        registry.map("weather", [])


def test_threads_need_no_dask_and_a_cluster_without_it_says_which_extra(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "for name in ('cloudpickle', 'distributed', 'dask'): sys.modules[name] = None\n"
        "from halion_nb.workspace import Workspace\n"
        f"ws = Workspace({str(tmp_path)!r})\n"
        "def sq(n: int) -> int:\n    '''n squared.'''\n    return n * n\n"
        "ws.tools.register(sq)\n"
        "print(ws.tools.map('sq', [{'n': 3}], progress=False).results[0].output)\n"
        "try:\n    ws.tools.map('sq', [{'n': 3}], executor='tcp://127.0.0.1:8786', progress=False)\n"
        "except Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines() == [
        "9", 'ConfigError Running a batch on Dask needs the dask extra: pip install "halion_nb[dask]"'], done.stderr


def test_a_tool_that_cannot_travel_is_one_clear_error(ws: Workspace) -> None:
    lock = threading.Lock()

    def guarded(n: int) -> int:
        """Uses a lock of this kernel."""
        with lock:
            return n

    ws.tools.register(guarded)
    with ProcessPoolExecutor(1) as pool, pytest.raises(ConfigError, match="Tool 'guarded' cannot be sent"):
        ws.tools.map("guarded", [{"n": 1}], executor=pool, progress=False)
    run = ws.tools.map("guarded", [{"n": 1}], progress=False)  # on threads it is fine
    assert run.results[0].output == 1
