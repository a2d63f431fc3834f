"""Two kernels on one workspace: both switch tools and write the log at once.

Each is a separate Python process (as a second notebook kernel is). Each toggles its own
five tools 100 times (active and postprocess) and writes 300 log rows. No update may be
lost, no "database is locked" may reach the user, and every row must be there.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from halion_nb.workspace import Workspace

PLAN = '''
def plan(k, j):
    """What process k does at step j: (tool name, active, postprocess)."""
    i = j % 5
    turn = j // 5
    active = turn % 2 == (1 if i % 2 else 0)
    return f"p{k}_{i}", active, (turn + i + k) % 3 != 0
'''

WORKER = PLAN + '''
import json, sys, time
from pathlib import Path

from halion_nb.core.tool_manager import ToolManager
from halion_nb.workspace import Workspace

home, k, go = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
ws = Workspace(home)


def make():
    def fn(x: int) -> int:
        """Echo x."""
        return x
    return fn


names = [f"p{k}_{i}" for i in range(5)]
for name in names:
    ws.tools.register(make(), name=name)
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
started = time.time()
errors, lost, mine = [], 0, {}
for j in range(100):
    name, active, postprocess = plan(k, j)
    try:
        ws.tools.enable(name) if active else ws.tools.disable(name)
        ws.tools.set_postprocess(name, postprocess)
        mine[name] = (active, postprocess)
        for kind in ("tool", "model", "step"):
            ws.log.record(kind, name=name, arguments={"j": j}, result=f"{k}-{j}", meta={"proc": k, "j": j})
        fresh = ToolManager(ws.tools.manager.path)  # read from disk: did the other kernel undo any of mine?
        for other, expected in mine.items():
            state = fresh.state(other)
            lost += (state.active, state.postprocess) != expected
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
print(json.dumps({"errors": errors, "lost": lost, "span": [started, time.time()]}), flush=True)
'''


def expected_states() -> dict[str, tuple[bool, bool]]:
    namespace: dict[str, Any] = {}
    exec(PLAN, namespace)
    final: dict[str, tuple[bool, bool]] = {}
    for k in (0, 1):
        for j in range(100):
            name, active, postprocess = namespace["plan"](k, j)
            final[name] = (active, postprocess)
    return final


def test_two_kernels_writing_status_and_log_at_once_lose_nothing(tmp_path: Path, tally: Any) -> None:
    home, go = tmp_path / "ws", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(home), str(k), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in (0, 1)]
    try:
        for proc in procs:  # both kernels are up before either starts writing
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        started = time.monotonic()
        go.touch()
        outputs = [proc.communicate(timeout=90) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    elapsed = time.monotonic() - started
    results = []
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert "database is locked" not in err and "Traceback" not in err, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    (start0, end0), (start1, end1) = (r["span"] for r in results)
    assert start0 < end1 and start1 < end0, f"the two kernels did not overlap: {results}"
    errors = [e for r in results for e in r["errors"]]
    lost = sum(r["lost"] for r in results)

    ws = Workspace(home)
    final = {name: (s.active, s.postprocess) for name, s in ws.tools.manager.states().items()}
    wrong = {n: (final.get(n), want) for n, want in expected_states().items() if final.get(n) != want}
    rows = ws.log.recent(1000)
    by_proc = {k: sorted((r.kind, r.meta["j"]) for r in rows if r.meta.get("proc") == k) for k in (0, 1)}
    ws.log.close()
    tally.add("concurrency", processes=2, status_writes=400, log_rows=len(rows), lost_updates=lost + len(wrong),
              errors=len(errors))

    assert errors == [], errors
    assert lost == 0 and wrong == {}, wrong
    assert len(rows) == 600 and len({r.id for r in rows}) == 600
    for k in (0, 1):
        assert by_proc[k] == sorted((kind, j) for j in range(100) for kind in ("tool", "model", "step"))
    assert not list((home / ".halion").glob(".*.tmp")), "no temp file left behind"
    assert elapsed < 60
