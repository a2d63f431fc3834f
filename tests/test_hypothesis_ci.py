"""Under `CI` the property tests draw the same examples every run, so a random draw never turns CI red."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROPERTY = '''
import os

from hypothesis import given, settings, strategies as st

@settings(max_examples=20)
@given(st.text())
def test_draws(value):
    with open(os.environ["DRAWS"], "a", encoding="utf-8") as fh:
        fh.write(repr(value) + "\\n")
'''


def draws(tmp_path: Path, run: int, ci: bool) -> str:
    out = tmp_path / f"draws{run}.txt"
    test = tmp_path / f"run{run}" / "test_prop.py"
    test.parent.mkdir(exist_ok=True)
    test.write_text(PROPERTY)  # the same source each run: hypothesis seeds a derandomized test by it
    (test.parent / "conftest.py").write_text((Path(__file__).parent / "conftest.py").read_text())
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"DRAWS": str(out)} | ({"CI": "true"} if ci else {})
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                    "-o", "addopts=", str(test)], cwd=tmp_path, env=env, check=True, capture_output=True)
    return out.read_text()


@pytest.mark.parametrize("ci", [True, False])
def test_ci_draws_the_same_examples_every_run(tmp_path: Path, ci: bool) -> None:
    first, second = draws(tmp_path, 1, ci), draws(tmp_path, 2, ci)
    assert (first == second) is ci
