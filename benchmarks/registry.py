"""Registry figures: register 1,000 tools, save them, load 1,000 tool files (targets < 1 s, -, < 2 s).

The tools are ordinary module functions with a Google docstring, a Literal, defaults and
a list, like a person writes. Registering checks each signature and builds its argument
model; the JSON schemas are built on first use (printed too: register + build every schema).
Loading imports each file and builds its tool again. Each figure is the best and the median of ROUNDS
rounds (wall clock; CPU time of this process in brackets, less disturbed by a busy machine).

Run: python benchmarks/registry.py [count]
"""
from __future__ import annotations

import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from halion_nb import Workspace

COUNT = 1000
ROUNDS = 3
TEMPLATE = '''
def tool_{i}(city: str, days: int = 3, unit: Literal["c", "f"] = "c", tags: list[str] | None = None) -> str:
    """Forecast number {i} for a city.

    Args:
        city: The city to look up.
        days: How many days ahead.
        unit: Temperature unit.
        tags: Labels to attach.
    """
    return f"{{city}} {{days}} {{unit}} {{tags}}"
'''


def _module(folder: Path, count: int) -> object:
    source = folder / "many_tools.py"
    source.write_text("from typing import Literal\n" + "".join(TEMPLATE.format(i=i) for i in range(count)))
    spec = importlib.util.spec_from_file_location("many_tools", source)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["many_tools"] = module
    spec.loader.exec_module(module)
    return module


def _timed(action: Callable[[int], object]) -> str:
    wall: list[float] = []
    cpu: list[float] = []
    for round_ in range(ROUNDS):
        start, start_cpu = time.perf_counter(), time.process_time()
        action(round_)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return (f"best {min(wall):5.2f} s, median {statistics.median(wall):5.2f} s "
            f"[cpu best {min(cpu):5.2f} s]")


def main(count: int = COUNT) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        module = _module(folder, count)
        functions = [getattr(module, f"tool_{i}") for i in range(count)]
        Workspace(folder / "warm").tools.register(functions[0])  # first-use imports (griffe, pydantic) not counted

        def register(round_: int) -> None:
            ws = Workspace(folder / f"ws{round_}")
            for fn in functions:
                ws.tools.register(fn)

        def register_and_schema(round_: int) -> None:
            ws = Workspace(folder / f"schema{round_}")
            for fn in functions:
                ws.tools.register(fn)
            [tool.schema for tool in ws.tools.all()]  # what the first chat request pays

        def save(round_: int) -> None:
            ws = Workspace(folder / f"ws{round_}")
            for fn in functions:
                ws.tools.register(fn)
            start = time.perf_counter()
            for name in ws.tools.names():
                ws.tools.save(name)
            saved.append(time.perf_counter() - start)

        def load(round_: int) -> None:
            report = Workspace(folder / f"ws{round_}").tools.load()
            assert len(report.loaded) == count and not report.errors, report

        saved: list[float] = []
        registered = _timed(register)
        with_schema = _timed(register_and_schema)
        _timed(save)
        loaded = _timed(load)

    print(f"tools: {count}, rounds: {ROUNDS}")
    print(f"register {count}: {registered}   target < 1 s")
    print(f"register {count} + build every schema (first chat request): {with_schema}")
    print(f"save {count}:     best {min(saved):5.2f} s, median {statistics.median(saved):5.2f} s")
    print(f"load {count}:     {loaded}   target < 2 s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else COUNT)
