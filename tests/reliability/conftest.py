"""The reliability suite's tally: each test adds what it tried and what held; printed at the end."""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

_TALLY: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))


class Tally:
    """`tally.add("faults", injected=1, survived=1)`; categories and counters are free-form."""

    def add(self, category: str, **counts: int) -> None:
        for key, value in counts.items():
            _TALLY[category][key] += value


@pytest.fixture
def tally() -> Tally:
    return Tally()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _TALLY:
        return
    terminalreporter.section("reliability report")
    for category, counts in sorted(_TALLY.items()):
        terminalreporter.write_line(f"{category}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    target = Path(os.environ.get("HALION_ARTIFACTS", "artifacts")) / "reliability.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({c: dict(v) for c, v in _TALLY.items()}, indent=2))
