"""What `%load_ext halion_nb` adds to an IPython start-up (target: < 40 ms).

Each run is a fresh interpreter: one starts an IPython shell, the other starts one and
loads the extension. Both are timed from the outside (whole process) and the load itself
from the inside. Medians of RUNS runs each, interleaved so machine noise hits both.

Run: python benchmarks/load_ext.py [runs]
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = 20
SCRIPT = """
import json, sys, time
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
start = time.perf_counter()
if {load}:
    shell.run_line_magic("load_ext", "halion_nb")
inside = time.perf_counter() - start
print(json.dumps({{"inside": inside, "heavy": [m for m in ("openai", "nbformat", "ipywidgets") if m in sys.modules]}}))
"""


def _once(load: bool, cwd: str) -> tuple[float, float, list[str]]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(load=load)], cwd=cwd, capture_output=True, text=True,
                         check=True)
    total = time.perf_counter() - start
    found = json.loads(out.stdout.strip().splitlines()[-1])
    return total, found["inside"], found["heavy"]


def _ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def main(runs: int = RUNS) -> None:
    bare: list[float] = []
    loaded: list[float] = []
    inside: list[float] = []
    heavy: set[str] = set()
    with tempfile.TemporaryDirectory() as cwd:
        _once(True, cwd)  # warm the file cache and the bytecode
        for _ in range(runs):
            bare.append(_once(False, cwd)[0])
            total, load, modules = _once(True, cwd)
            loaded.append(total)
            inside.append(load)
            heavy |= set(modules)

    print(f"runs: {runs} each")
    print(f"IPython start-up, bare:            {_ms(bare):7.1f} ms (median)")
    print(f"IPython start-up + %load_ext:      {_ms(loaded):7.1f} ms (median)")
    print(f"added by %load_ext (outside):      {_ms(loaded) - _ms(bare):7.1f} ms   (target < 40 ms)")
    print(f"%load_ext itself (inside):         {_ms(inside):7.1f} ms   (target < 40 ms)")
    print(f"heavy modules imported by it:      {', '.join(sorted(heavy)) or 'none'}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else RUNS)
