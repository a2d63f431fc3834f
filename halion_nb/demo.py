"""`halion demo`: run a demo notebook end to end in a fresh kernel, in a throwaway workspace."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from .errors import ConfigError, HalionError
from .services.llm import SHIPPED

NOTEBOOKS = SHIPPED[1]
"""The demo notebooks beside the package (a source checkout or an editable install)."""


def find_notebook(name: str) -> Path:
    """`name` as a path, or a demo notebook by name in ./notebooks or the repository's notebooks/."""
    direct = Path(name)
    if direct.suffix == ".ipynb" and direct.is_file():
        return direct.resolve()
    for folder in (Path.cwd() / "notebooks", NOTEBOOKS):
        candidate = folder / f"{direct.stem}.ipynb"
        if candidate.is_file():
            return candidate
    known = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) if NOTEBOOKS.is_dir() else []
    raise ConfigError(f"No demo notebook named '{name}'. Known: {', '.join(known) or 'none found'}.")


def run_demo(name: str = "quickstart", *, output: str | os.PathLike[str] | None = None, timeout: int = 600) -> str:
    """Execute the notebook from a temporary copy of its folder; return a short summary."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    source = find_notebook(name)
    workdir = Path(tempfile.mkdtemp(prefix=f"halion-demo-{source.stem}-"))
    shutil.copytree(source.parent, workdir, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".halion", ".ipynb_checkpoints", "__pycache__"))
    notebook = nbformat.read(workdir / source.name, as_version=4)
    started = time.perf_counter()
    previous = os.environ.get("HALION_HOME")
    os.environ["HALION_HOME"] = str(workdir)
    try:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(workdir)}}).execute()
    except CellExecutionError as exc:  # the run stopped at a failed cell: say which, in one line
        ran = [i for i, c in enumerate(notebook.cells, 1) if c.get("execution_count")]
        where = f"cell {ran[-1]}" if ran else "a cell"
        nbformat.write(notebook, workdir / source.name)
        raise HalionError(f"{source.name} stopped at {where}: {exc.ename}: {exc.evalue} "
                          f"(the executed notebook: {workdir / source.name})") from None
    finally:
        if previous is None:
            os.environ.pop("HALION_HOME", None)
        else:
            os.environ["HALION_HOME"] = previous
    elapsed = time.perf_counter() - started
    target = Path(output) if output else workdir / source.name
    nbformat.write(notebook, target)
    code_cells = sum(c.cell_type == "code" for c in notebook.cells)
    from .core.call_log import CallLog

    tool_calls = CallLog(workdir / ".halion" / "calls.sqlite").count(kind="tool")
    return (f"{source.name}: {_count(code_cells, 'code cell')} ran in {elapsed:.1f} s, "
            f"{_count(tool_calls, 'tool call')}\nexecuted notebook: {target}")


def _count(n: int, thing: str) -> str:
    """`1 tool call`, `2 tool calls`."""
    return f"{n} {thing}{'' if n == 1 else 's'}"
