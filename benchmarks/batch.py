"""Batch runs: 1,000 inputs of a one-step chain whose tool takes 20 ms (I/O), on 8 workers.

Against the ideal (inputs × step ÷ workers = 2.5 s) on threads (target within 1.2× of it) and on a
Dask LocalCluster of worker processes (2 processes × 4 threads = 8 workers). Prints the wall time,
the ratio to the ideal, and the overhead per input: (wall − ideal) × workers ÷ inputs, i.e. what each
input costs beyond its 20 ms of work. Every input's call is written to the log by the driver.

Run: python benchmarks/batch.py [inputs] [--no-dask]
"""
from __future__ import annotations

import sys
import tempfile
import time

from halion_nb.models import ChainInput, Ref, Toolchain, ToolchainStep
from halion_nb.workspace import Workspace

STEP = 0.020
WORKERS = 8

CELL = '''
import time


def fetch(n: int) -> dict:
    """A 20 ms lookup (I/O)."""
    time.sleep(0.020)
    return {"n": n, "square": n * n}
'''


def _workspace(folder: str) -> Workspace:
    ws = Workspace(folder)
    namespace: dict = {"__name__": "__main__"}  # as a %%tool cell defines it: travels to workers by value
    exec(CELL, namespace)  # noqa: S102 - the benchmark's own tool
    ws.tools.register(namespace["fetch"], source=CELL)
    ws.chains.save(Toolchain(name="one_step", inputs=[ChainInput(name="n", type="integer")],
                             steps=[ToolchainStep(id="fetch", tool="fetch", arguments={"n": Ref("inputs.n")})]))
    return ws


def _measure(ws: Workspace, label: str, count: int, executor: object = None) -> None:
    inputs = [{"n": n} for n in range(count)]
    ws.chains.map("one_step", inputs[:WORKERS], executor=executor, max_workers=WORKERS, progress=False)  # warm up
    start = time.perf_counter()
    run = ws.chains.map("one_step", inputs, executor=executor, max_workers=WORKERS, progress=False)
    wall = time.perf_counter() - start
    assert run.status == "done" and all(r.ok for r in run.results), run.summary()
    assert [r.output["n"] for r in run.results] == list(range(count))
    ideal = count * STEP / WORKERS
    overhead_ms = max(0.0, wall - ideal) * WORKERS / count * 1000
    print(f"  {label:<34} {wall:6.2f} s  {wall / ideal:4.2f}× ideal  overhead {overhead_ms:5.2f} ms/input")


def main(count: int = 1000, dask: bool = True) -> None:
    ideal = count * STEP / WORKERS
    print(f"{count} inputs × {STEP * 1000:.0f} ms step on {WORKERS} workers: ideal {ideal:.2f} s "
          "(target for threads: ≤ 1.2× ideal)")
    with tempfile.TemporaryDirectory() as folder:
        ws = _workspace(folder)
        _measure(ws, f"threads ({WORKERS})", count)
        if dask:
            from distributed import Client, LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=WORKERS // 2, processes=True,
                              dashboard_address=":0", silence_logs=40) as cluster, Client(cluster) as client:
                _measure(ws, f"Dask LocalCluster (2 × {WORKERS // 2})", count, client)
        ws.log.close()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(args[0]) if args else 1000, dask="--no-dask" not in sys.argv)
