"""The reliability suite's tally: each test adds what it tried and what held; printed at the end."""
from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from pathlib import Path

import pytest

_TALLY: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
TEMPLATES = {"secrets": "secret forms tried × sinks scanned: {forms} × {sinks}, found {found}"}
"""How a category reads when it has the counters its template names; the other counters follow in brackets."""


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
        terminalreporter.write_line(line(category, counts))
    target = Path(os.environ.get("HALION_ARTIFACTS", "artifacts")) / "reliability.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({c: dict(v) for c, v in _TALLY.items()}, indent=2))


def line(category: str, counts: dict[str, int]) -> str:
    """`category: k v, ...`, or its template filled in with the rest in brackets."""
    template = TEMPLATES.get(category)
    named = set(re.findall(r"{(\w+)}", template or ""))
    if template is None or not named <= set(counts):
        return f"{category}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
    rest = [f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if k not in named]
    return template.format(**counts) + (f" ({', '.join(rest)})" if rest else "")
