"""The reliability report: run tests/reliability and print what its tally holds.

The suite's tests count what they tried and what held (faults injected / survived, fuzz
cases / crashes, kill-during-write trials / broken files, secrets found); its conftest
writes the totals to $HALION_ARTIFACTS/reliability.json (default artifacts/), read here.

Run: python benchmarks/reliability.py [extra pytest arguments, e.g. -k faults]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "faults": ("faults injected / survived", ("injected", "survived")),
    "fuzz": ("fuzz cases run / crashes", ("cases", "crashes")),
    "kill_during_write": ("kill-during-write trials / broken files", ("trials", "broken_files")),
    "secrets": ("secret forms tried × sinks scanned, found", ("forms", "sinks", "found")),
}
"""Report headings and the counters they show; other counters follow in brackets, other categories by name."""
TEMPLATES = {"secrets": "secret forms tried × sinks scanned: {forms} × {sinks}, found {found}"}
"""Categories that read better as a sentence than as `n / m`, used when the suite reported every counter named."""


def report_path() -> Path:
    """Where the suite's conftest writes the tally (a relative HALION_ARTIFACTS is taken from the repo root)."""
    return ROOT / os.environ.get("HALION_ARTIFACTS", "artifacts") / "reliability.json"


def lines(tally: dict[str, dict[str, int]]) -> list[str]:
    """One line a category, the four known ones first: `heading: n / m (other counters)`."""
    order = [c for c in LABELS if c in tally] + sorted(c for c in tally if c not in LABELS)
    out = []
    for category in order:
        counts = tally[category]
        heading, shown = LABELS.get(category, (f"{category} {' / '.join(counts)}".replace("_", " "), tuple(counts)))
        line = f"{heading}: {' / '.join(str(counts.get(k, 0)) for k in shown)}"
        if category in TEMPLATES:  # a sentence when every counter it names is there, else what is
            missing = [k for k in shown if k not in counts]
            line = TEMPLATES[category].format(**counts) if not missing else \
                f"{heading}: {', '.join(missing)} not reported, " + ", ".join(f"{k} {counts[k]}" for k in shown
                                                                          if k in counts)
        rest = [f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if k not in shown]
        out.append(line + (f" ({', '.join(rest)})" if rest else ""))
    missing = [heading for c, (heading, _) in LABELS.items() if c not in tally]
    out += [f"{heading}: not reported by any test" for heading in missing]
    return out


def outcome(junit: Path) -> str:
    """"N tests: p passed, f failed, e errors, s skipped in T s" from pytest's JUnit XML."""
    try:
        suite = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        return "no test results"
    suite = suite if suite.tag == "testsuite" else suite[0]
    total, failed, errors, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    passed = total - failed - errors - skipped
    return (f"{total} tests: {passed} passed, {failed} failed, {errors} errors, {skipped} skipped "
            f"in {float(suite.get('time', 0)):.1f} s")


def main(extra: list[str]) -> int:
    target = report_path()
    target.unlink(missing_ok=True)  # a stale report must not pass for this run's
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "tests/reliability", "-q", "-p", "no:cacheprovider",
                   f"--junitxml={junit}", *extra]
        run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if run.returncode != 0:
            print(run.stdout + run.stderr)
        print(f"pytest tests/reliability: {outcome(junit)} (exit {run.returncode})")
    if not target.exists():
        print(f"no reliability tally was written to {target}")
        return run.returncode or 1
    tally = json.loads(target.read_text())
    shown = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
    print(f"reliability report ({shown}):")
    for line in lines(tally):
        print(f"  {line}")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
