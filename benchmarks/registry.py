"""Registry figures: register 1,000 tools, save them, load 1,000 tool files (targets < 1 s, -, < 2 s).

The tools are ordinary module functions with a Google docstring, a Literal, defaults and
a list, like a person writes. Registering includes building each schema; loading imports
each file and builds its tool again.

Run: python benchmarks/registry.py [count]
"""
from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

from halion_nb import Workspace

COUNT = 1000
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


def main(count: int = COUNT) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        module = _module(folder, count)
        functions = [getattr(module, f"tool_{i}") for i in range(count)]
        Workspace(folder / "warm").tools.register(functions[0])  # first-use imports (griffe, pydantic) not counted

        ws = Workspace(folder / "ws")
        start = time.perf_counter()
        for fn in functions:
            ws.tools.register(fn)
        registered = time.perf_counter() - start

        start = time.perf_counter()
        for name in ws.tools.names():
            ws.tools.save(name)
        saved = time.perf_counter() - start

        fresh = Workspace(folder / "ws")
        start = time.perf_counter()
        report = fresh.tools.load()
        loaded = time.perf_counter() - start
        assert len(report.loaded) == count and not report.errors, report

    print(f"tools: {count}")
    print(f"register: {registered:6.2f} s  ({registered / count * 1000:.2f} ms a tool; target < 1 s)")
    print(f"save:     {saved:6.2f} s  ({saved / count * 1000:.2f} ms a tool)")
    print(f"load:     {loaded:6.2f} s  ({loaded / count * 1000:.2f} ms a tool; target < 2 s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else COUNT)
