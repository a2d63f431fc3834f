"""Draft check figure: median time of `check_draft` on a 300-line draft (target ≤ 20 ms).

The draft has imports, a pydantic model, an Enum, private helpers and one public tool with
seven typed parameters; the check parses it, rebuilds the schema from the AST, scans it
for risky constructs and environment reads. Nothing of it is run.

Run: python benchmarks/draft_check.py [runs]
"""
from __future__ import annotations

import statistics
import sys
import time

from halion_nb.services.authoring import check_draft

RUNS = 200

HEAD = '''\
import json
import os
import re
from datetime import date
from enum import Enum
from typing import Literal, Optional

from pydantic import BaseModel, Field


class Unit(str, Enum):
    METRIC = "metric"
    IMPERIAL = "imperial"


class Place(BaseModel):
    """Where to look."""

    city: str = Field(description="City name")
    country: Optional[str] = None
    lat: float | None = None
    lon: float | None = None

'''

HELPER = '''
def _helper_{i}(values: list[float], scale: float = 1.0) -> dict[str, float]:
    """Summarise values (helper {i})."""
    cleaned = [v * scale for v in values if v == v]
    if not cleaned:
        return {{"n": 0.0}}
    total = sum(cleaned)
    mean = total / len(cleaned)
    spread = max(cleaned) - min(cleaned)
    ordered = sorted(cleaned)
    middle = ordered[len(ordered) // 2]
    label = re.sub(r"[^a-z]", "", "helper{i}".lower())
    return {{"n": float(len(cleaned)), "mean": mean, "spread": spread, "median": middle, "id": len(label)}}
'''

TOOL = '''

def forecast(
    place: Place,
    day: date,
    unit: Unit = Unit.METRIC,
    detail: Literal["short", "long"] = "short",
    hours: int = 24,
    include: list[str] = [],
    limit: Optional[int] = None,
) -> dict:
    """Forecast the weather for a place and day.

    Args:
        place: Where.
        day: Which day (ISO date).
        unit: Metric or imperial.
        detail: How much text.
        hours: Hours ahead to cover.
        include: Extra fields to include.
        limit: Most rows to return.
    """
    key = os.environ["WEATHER_API_KEY"]
    rows = [{"hour": h, "temp": 20 + h % 5} for h in range(hours)]
    stats = _helper_0([r["temp"] for r in rows])
    if limit is not None:
        rows = rows[:limit]
    return {"place": place.city, "day": day.isoformat(), "unit": unit.value, "rows": rows,
            "stats": stats, "detail": detail, "include": include, "key_set": bool(key)}
'''


def make_draft(lines: int = 300) -> str:
    code = HEAD
    i = 0
    while len((code + TOOL).splitlines()) < lines - len(HELPER.splitlines()):
        code += HELPER.format(i=i)
        i += 1
    code += TOOL
    while len(code.splitlines()) < lines:
        code += "\n"
    return code


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else RUNS
    code = make_draft()
    first = check_draft(code, "forecast", ["WEATHER_API_KEY"])  # warm-up: imports, griffe, pydantic
    assert first.ok and not first.warnings, (first.problems, first.warnings)
    times = []
    for run in range(runs):
        fresh = code + f"# run {run}\n"  # a new text each time, so that no cache helps
        started = time.perf_counter()
        check_draft(fresh, "forecast", ["WEATHER_API_KEY"])
        times.append((time.perf_counter() - started) * 1000)
    median = statistics.median(times)
    print(f"check_draft, {len(code.splitlines())}-line draft: median {median:.2f} ms over {runs} runs "
          f"(min {min(times):.2f}, p90 {statistics.quantiles(times, n=10)[-1]:.2f}; target ≤ 20 ms)")


if __name__ == "__main__":
    main()
