"""Batch runs in other processes: a real `distributed.LocalCluster(processes=True)` and a process pool.

Tools are defined the way a `%%tool` cell defines them (in `__main__`, so they travel by value)
or loaded from `tools/*.py` (they travel as source). Clusters are small: two workers.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from halion_nb.errors import ConfigError
from halion_nb.models import ChainInput, Ref, Toolchain, ToolchainStep
from halion_nb.services.batch import BatchRun
from halion_nb.workspace import Workspace

CELLS = '''
import hashlib
import os
import time


def weather(city: str) -> dict:
    """Weather of a city (a fixed table)."""
    table = {"Madrid": 21, "Oslo": 3, "Lima": 18}
    if city not in table:
        raise ValueError(f"no weather for {city!r}")
    return {"city": city, "celsius": table[city], "tags": {"dry", "warm"} if table[city] > 15 else {"cold"}}


def to_f(celsius: float) -> float:
    """Celsius to Fahrenheit."""
    return round(celsius * 9 / 5 + 32, 1)


def slow_square(n: int, trail: str) -> int:
    """n squared, slowly; notes each run in the trail file."""
    with open(trail, "a") as f:
        f.write(f"{n}\\n")
    time.sleep(0.1)
    return n * n


def use_token(show: int = 0) -> dict:
    """Reads the service token from the environment."""
    token = os.environ["SERVICE_TOKEN"]
    if show == 2:
        raise ValueError(f"token {token} refused")
    out = {"sha": hashlib.sha256(token.encode()).hexdigest()}
    if show == 1:
        out["token"] = token
    return out
'''
SECRET = "svc-7f3a9c1e5b2d8h4k6m0p"
CITIES = ["Madrid", "Atlantis", "Oslo", "Lima", "", "Madrid"]


def _cell_tools() -> dict[str, Any]:
    """Functions defined like a `%%tool` cell's: in `__main__`, so cloudpickle sends them by value."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(CELLS, "<cell>", "exec"), namespace)  # noqa: S102 - the test's own cells
    return namespace


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True, dashboard_address=":0",
                                  silence_logs=40) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    w = Workspace(tmp_path)
    cells = _cell_tools()
    for name in ("weather", "to_f", "slow_square", "use_token"):
        w.tools.register(cells[name], source=CELLS)
    w.chains.save(Toolchain(
        name="forecast", inputs=[ChainInput(name="city", type="string")],
        steps=[ToolchainStep(id="now", tool="weather", arguments={"city": Ref("inputs.city")}),
               ToolchainStep(id="f", tool="to_f", arguments={"celsius": Ref("steps.now.output.celsius")})]))
    yield w
    w.log.close()


def _seen(run: BatchRun) -> list[Any]:
    """What a person sees of each input: status, output, error and every step."""
    return [(r.status, r.output, r.error, [(s.id, s.status, s.arguments, s.result, s.error) for s in r.steps])
            for r in run.results]


def test_the_same_call_on_threads_and_on_a_cluster_gives_identical_results(ws: Workspace, client: Any) -> None:
    frame = pd.DataFrame({"city": CITIES})
    on_threads = ws.chains.map("forecast", frame, progress=False)
    on_dask = ws.chains.map("forecast", frame, executor=client, progress=False)
    assert on_dask.executor == "Dask, 2 workers"
    assert _seen(on_dask) == _seen(on_threads)
    assert [r.status for r in on_dask.results] == ["ok", "error", "ok", "ok", "error", "ok"]
    assert on_dask.results[1].error == "step 'now' (weather) failed: ValueError: no weather for 'Atlantis'"
    assert on_dask.results[0].steps[0].result["tags"] == ["dry", "warm"]
    workers = {r.worker for r in on_dask.results if r.worker}
    assert all(str(os.getpid()) != w.split(":")[-1] for w in workers)  # really other processes


def test_a_cluster_run_is_logged_by_the_driver_with_caller_batch(ws: Workspace, client: Any) -> None:
    run = ws.tools.map("weather", [{"city": c} for c in CITIES], executor=client, progress=False)
    rows = [r for r in ws.log.recent(50, caller="batch") if r.meta.get("batch") == run.id]
    assert sorted(r.meta["index"] for r in rows) == list(range(len(CITIES)))
    assert all(r.kind == "tool" and r.name == "weather" and r.version for r in rows)
    assert {r.meta["worker"] for r in rows} == {r.worker for r in run.results}
    assert sum(r.error is not None for r in rows) == 2


def test_tools_from_files_travel_as_source(ws: Workspace, client: Any, tmp_path: Path) -> None:
    code = ('import math\n\n\ndef hypot(a: float, b: float) -> float:\n    """Length of the hypotenuse."""\n'
            '    return math.hypot(a, b)\n')
    ws.tools.update_source(None, code)
    reopened = Workspace(tmp_path)  # loads tools/hypot.py as a module of its own, as a new kernel would
    assert reopened.tools.get("hypot").function.__module__ == "halion_tools.hypot"
    run = reopened.tools.map("hypot", [{"a": 3, "b": 4}, {"a": 5, "b": 12}], executor=client, progress=False)
    assert [r.output for r in run.results] == [5.0, 13.0]
    reopened.log.close()


def test_a_scheduler_address_joins_the_cluster(ws: Workspace, client: Any) -> None:
    run = ws.tools.map("to_f", [{"celsius": c} for c in (0, 100)], executor=client.scheduler.address,
                       progress=False)
    assert [r.output for r in run.results] == [32.0, 212.0]
    assert run.executor.startswith("Dask at tcp://")


def test_a_secret_reaches_the_tool_but_no_disk_and_comes_back_redacted(
        ws: Workspace, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.time()
    monkeypatch.setenv("SERVICE_TOKEN", SECRET)  # after the workers started: they can only get it from the run
    assert set(client.run(os.getenv, "SERVICE_TOKEN").values()) == {None}
    run = ws.tools.map("use_token", [{}, {"show": 1}, {"show": 2}], executor=client, progress=False)
    assert run.results[0].output == {"sha": hashlib.sha256(SECRET.encode()).hexdigest()}
    assert run.results[1].output["token"] == "***"
    assert run.results[2].error == "ValueError: token *** refused"
    assert set(client.run(os.getenv, "SERVICE_TOKEN").values()) == {None}  # removed after the run
    dirs = set(client.run(lambda dask_worker: dask_worker.local_directory).values())
    assert dirs and not _files_holding(SECRET, [Path(d) for d in dirs], since=0)
    assert not _files_holding(SECRET, [Path(tempfile.gettempdir())], since=started, skip=ws.path)
    returned = json.dumps([(r.output, r.error) for r in run.results])
    logged = json.dumps([r.model_dump(mode="json") for r in ws.log.recent(20)])
    assert SECRET not in returned + logged
    control = Path(next(iter(dirs))) / "control.txt"  # the scan does find a secret that is there
    control.write_text(SECRET)
    assert _files_holding(SECRET, [control.parent], since=0) == [control]
    control.unlink()


def test_a_killed_worker_loses_no_input_and_reports_none_twice(ws: Workspace, tmp_path: Path) -> None:
    trail, count = tmp_path / "trail.txt", 40
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as cluster, distributed.Client(cluster) as client:
        run = ws.tools.map("slow_square", [{"n": n, "trail": str(trail)} for n in range(count)], executor=client,
                           progress=False, wait=False)
        while sum(r.ok for r in run.results) < 4:
            run.wait(0.05)
        victim = next(iter(client.run(os.getpid).values()))
        os.kill(victim, signal.SIGKILL)
        run.wait(120)
    assert run.status == "done"
    assert [r.output for r in run.results] == [n * n for n in range(count)]
    rows = [r for r in ws.log.recent(100, tool="slow_square") if r.meta.get("batch") == run.id]
    assert sorted(r.meta["index"] for r in rows) == list(range(count))  # each input reported exactly once
    ran = Counter(int(line) for line in trail.read_text().split())
    assert set(ran) == set(range(count)) and sum(ran.values()) > count  # what the killed worker had ran again
    assert str(victim) not in {r.worker.split(":")[-1] for r in run.results[-4:]}


def test_a_process_pool_is_an_executor_too(ws: Workspace) -> None:
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        run = ws.chains.map("forecast", [{"city": c} for c in CITIES], executor=pool, progress=False)
    assert [r.output for r in run.results] == [69.8, None, 37.4, 64.4, None, 69.8]
    assert run.executor == "ProcessPoolExecutor"


def test_workers_without_halion_nb_give_one_clear_error(ws: Workspace) -> None:
    hide = "import sys; sys.modules['halion_nb'] = None"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50, preload=[hide]) as cluster, distributed.Client(cluster) as client, \
            pytest.raises(ConfigError) as caught:
        ws.tools.map("weather", [{"city": c} for c in CITIES], executor=client, progress=False)
    assert str(caught.value).startswith("The workers cannot import halion_nb (1 of 1")
    assert 'pip install "halion_nb[dask]"' in str(caught.value)
    assert ws.log.recent(10) == []


def test_workers_without_halion_nb_found_mid_run_stop_it_with_one_error(ws: Workspace) -> None:
    hide = ("import sys; sys.modules['halion_nb'] = None", {})
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=exec, initargs=hide) as pool:
        run = ws.tools.map("weather", [{"city": c} for c in CITIES * 5], executor=pool, progress=False)
    assert run.status == "failed" and run.failed() == []
    assert run.error is not None and run.error.startswith("The workers cannot import halion_nb")
    assert {r.status for r in run.results} == {"cancelled"}
    assert run.summary().count("cannot import halion_nb") == 1


def _files_holding(secret: str, roots: list[Path], since: float, skip: Path | None = None) -> list[Path]:
    """Files under `roots` changed after `since` whose bytes contain `secret`."""
    needle, found = secret.encode(), []
    for root in roots:
        for path in root.rglob("*"):
            try:
                if skip and path.is_relative_to(skip) or not path.is_file() or path.stat().st_mtime < since:
                    continue
                if path.stat().st_size < 20_000_000 and needle in path.read_bytes():
                    found.append(path)
            except OSError:  # vanished or unreadable while scanning (other tests' files)
                continue
    return found
