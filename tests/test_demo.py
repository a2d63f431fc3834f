"""`halion demo`, the README's main job: runs a demo notebook offline from a temporary copy."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def halion(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "HALION_REPLAY", "HALION_HOME", "HALION_MODEL")}
    exe = shutil.which("halion")
    assert exe, "`pip install -e .` installs the halion console script"
    return subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_halion_demo_runs_the_quickstart_offline_and_leaves_the_repository_alone(tmp_path: Path) -> None:
    before = snapshot(NOTEBOOKS)
    done = halion("demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = re.search(r"quickstart\.ipynb: (\d+) code cells ran in [\d.]+ s, (\d+) tool calls", done.stdout)
    assert summary, done.stdout
    assert int(summary.group(2)) >= 2  # the chat turns called tools
    executed = Path(re.search(r"executed notebook: (.+)", done.stdout).group(1).strip())
    nb = nbformat.read(executed, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("Offline: replaying recorded model responses" in o.get("text", "") for o in outputs)
    assert snapshot(NOTEBOOKS) == before


def test_an_unknown_demo_is_one_clear_line(tmp_path: Path) -> None:
    done = halion("demo", "nope", cwd=tmp_path)
    assert done.returncode == 1
    assert "No demo notebook named 'nope'" in done.stderr and "quickstart" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_demo_that_fails_a_command_stops_there_with_one_line(tmp_path: Path) -> None:
    cells = ["%load_ext halion_nb", "%halion show nosuch", 'print("never")']
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(notebook, tmp_path / "bad.ipynb")
    done = halion("demo", str(tmp_path / "bad.ipynb"), cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if "halion" in line]  # the kernel may warn too
    assert line.startswith("halion: bad.ipynb stopped at cell 2: UsageError: halion: No tool named 'nosuch'"), line
