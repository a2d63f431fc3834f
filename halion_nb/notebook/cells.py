"""Notebook files ⇄ tool files: `%%tool` cells to `tools/*.py` and back, with nbformat."""
from __future__ import annotations

import ast
import os
import shlex
from pathlib import Path
from typing import Iterable

from ..core.files import atomic_write_text
from ..core.naming import check_name
from ..core.tool import Tool
from ..core.tool_files import render_tool_file, strip_schema, tool_function_name
from ..errors import HalionError, ToolLoadError

PathLike = str | os.PathLike[str]


def tool_cells(notebook: PathLike) -> list[tuple[str, str, str]]:
    """(magic line arguments, cell body, import lines of earlier cells) for each `%%tool` cell."""
    import nbformat

    try:
        nb = nbformat.read(os.fspath(notebook), as_version=4)
    except (OSError, ValueError) as exc:  # missing file, not a notebook
        raise ToolLoadError(f"Cannot read the notebook {notebook}: {exc}") from exc
    found: list[tuple[str, str, str]] = []
    imports: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        first, _, body = cell.source.partition("\n")
        if first.startswith("%%tool"):
            found.append((first.removeprefix("%%tool").strip(), body, "\n".join(imports)))
        elif not first.startswith("%%"):
            imports += _import_lines(cell.source)
    return found


def _import_lines(source: str) -> list[str]:
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    return [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]


def export_tools(notebook: PathLike, tools_dir: PathLike | None = None) -> list[Path]:
    """Write every `%%tool` cell of `notebook` to `tools_dir/<name>.py` (default: `tools/` beside it).

    Each cell runs in a fresh namespace that has only the imports of earlier cells, so a
    cell that leans on other notebook state is reported by name instead of exported half-way.
    """
    from .tool_cell import TOOL_PARSER

    target = Path(tools_dir) if tools_dir is not None else Path(notebook).resolve().parent / "tools"
    written: list[Path] = []
    failures: list[str] = []
    for index, (line, body, imports) in enumerate(tool_cells(notebook), start=1):
        try:
            args = TOOL_PARSER.parse_args(shlex.split(line))
            fn_name = tool_function_name(body, args.name)
            namespace: dict[str, object] = {"__name__": "__main__"}
            exec(compile(imports, f"<imports before tool cell {index}>", "exec"), namespace)
            exec(compile(body, f"<tool cell {index}>", "exec"), namespace)
            name = check_name(args.name or fn_name)
            tool = Tool.from_function(namespace[fn_name], name, description=args.description, source=body)  # type: ignore[arg-type]
            written.append(atomic_write_text(target / f"{name}.py", render_tool_file(tool)))
        except Exception as exc:  # report every bad cell, export the rest
            failures.append(f"tool cell {index}: {type(exc).__name__}: {exc}")
    if failures:
        raise ToolLoadError(
            f"{len(failures)} %%tool cell(s) of {notebook} could not be exported "
            f"({len(written)} written):\n" + "\n".join(failures)
        )
    return written


def import_tools(tools: PathLike | Iterable[PathLike], notebook: PathLike) -> Path:
    """Append a `%%tool` cell for each tool file (a folder means its `*.py`) to `notebook`."""
    import nbformat

    paths = _tool_files(tools)
    notebook = Path(notebook)
    nb = nbformat.read(notebook, as_version=4) if notebook.exists() else nbformat.v4.new_notebook()
    if not any(c.cell_type == "code" and c.source.strip() == "%load_ext halion_nb" for c in nb.cells):
        nb.cells.insert(0, nbformat.v4.new_code_cell("%load_ext halion_nb"))
    for path in paths:
        text = path.read_text()
        code = strip_schema(text).rstrip()
        nb.cells.append(nbformat.v4.new_code_cell(f"%%tool{_magic_flags(check_name(path.stem), text, code)}\n{code}"))
    atomic_write_text(notebook, nbformat.writes(nb))
    return notebook


def _magic_flags(name: str, text: str, code: str) -> str:
    """The `--name`/`--description` a cell needs to export back to the same file."""
    from ..core.tool_schema import parse_docstring

    flags = ""
    try:
        fn_name = tool_function_name(code, name)
    except HalionError:
        fn_name = None
    if fn_name != name:
        flags += f" --name {name}"
    tree = ast.parse(text)
    schema = next((n.value for n in tree.body if isinstance(n, ast.Assign)
                   and any(isinstance(t, ast.Name) and t.id == "schema" for t in n.targets)), None)
    try:
        described = ast.literal_eval(schema)["function"]["description"] if schema is not None else None
    except (ValueError, TypeError, KeyError, SyntaxError):
        described = None
    fn = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == fn_name), None)
    summary = parse_docstring(ast.get_docstring(fn))[0] if fn is not None else ""
    if isinstance(described, str) and described != summary and "\n" not in described:
        flags += f" --description {shlex.quote(described)}"
    return flags


def _tool_files(tools: PathLike | Iterable[PathLike]) -> list[Path]:
    if isinstance(tools, (str, os.PathLike)):
        path = Path(tools)
        return sorted(path.glob("*.py")) if path.is_dir() else [path]
    return [Path(p) for p in tools]
