"""Toolchain runner figures (printed, never asserted).

1. A 1,000-step chain of trivial tools: the runner's overhead per step (target ≤ 0.5 ms),
   i.e. a run's time minus the bare cost of calling the same tools directly, printed beside.
2. Eight independent 200 ms steps with `parallel: true`: total time (target ≤ 0.35 s).

Run: python benchmarks/chains.py
"""
from __future__ import annotations

import tempfile
import time

from halion_nb.models import Ref, Toolchain, ToolchainStep
from halion_nb.workspace import Workspace

STEPS = 1000
REPEATS = 5


def inc(x: int) -> int:
    """Add one."""
    return x + 1


def nap(i: int) -> int:
    """Sleep 200 ms and return i."""
    time.sleep(0.2)
    return i


def best(fn, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        ws = Workspace(folder)
        tool = ws.tools.register(inc)
        ws.tools.register(nap)
        steps = [ToolchainStep(id="s0", tool="inc", arguments={"x": 0})]
        steps += [ToolchainStep(id=f"s{i}", tool="inc", arguments={"x": Ref(f"steps.s{i - 1}.output")})
                  for i in range(1, STEPS)]
        long_chain = Toolchain(name="long", steps=steps)

        def direct_functions() -> None:
            x = 0
            for _ in range(STEPS):
                x = inc(x)

        def direct_tools() -> None:
            x = 0
            for _ in range(STEPS):
                x = tool.call({"x": x})

        assert ws.chains.run(long_chain).output == STEPS
        bare_fn = best(direct_functions)
        bare_tool = best(direct_tools)
        validate = best(lambda: ws.chains.validate(long_chain))
        chain = best(lambda: ws.chains.run(long_chain))
        per_step = (chain - bare_tool) / STEPS * 1000
        print(f"1,000-step chain: run {chain * 1000:.1f} ms (best of {REPEATS}, call log on)")
        print(f"  bare cost: functions {bare_fn * 1000:.2f} ms, tool.call with validation {bare_tool * 1000:.1f} ms")
        print(f"  of which validating the chain before the run: {validate * 1000:.1f} ms")
        print(f"  runner overhead per step: {per_step:.3f} ms over tool.call "
              f"({(chain - bare_fn) / STEPS * 1000:.3f} ms over the bare function)  [target ≤ 0.5 ms]")
        redact, ws.log.redact = ws.log.redact, None
        unredacted = best(lambda: ws.chains.run(long_chain))
        ws.log.redact = redact
        record, ws.log.record = ws.log.record, lambda *a, **k: 0
        unlogged = best(lambda: ws.chains.run(long_chain))
        ws.log.record = record
        print(f"  per step without secret redaction in the log: {(unredacted - bare_tool) / STEPS * 1000:.3f} ms; "
              f"without the log at all: {(unlogged - bare_tool) / STEPS * 1000:.3f} ms")

        parallel = Toolchain(name="fan_out", parallel=True,
                             steps=[ToolchainStep(id=f"n{i}", tool="nap", arguments={"i": i}) for i in range(8)])
        run = None

        def run_parallel() -> None:
            nonlocal run
            run = ws.chains.run(parallel)

        total = best(run_parallel, 3)
        assert run is not None and run.ok
        print(f"8 independent 200 ms steps, parallel: {total:.3f} s (best of 3; sequential would be 1.6 s)  "
              "[target ≤ 0.35 s]")


if __name__ == "__main__":
    main()
