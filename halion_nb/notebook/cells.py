"""Notebook files ⇄ tool files: `%%tool` cells to `tools/*.py` and back, with nbformat."""
from __future__ import annotations

import ast
import os
import re
import shlex
import warnings
from pathlib import Path
from typing import Any, Iterable

from ..core.files import atomic_write_text
from ..core.naming import check_name
from ..core.tool import Tool
from ..core.tool_files import render_tool_file, strip_schema, tool_function_name
from ..errors import HalionError, ToolLoadError

PathLike = str | os.PathLike[str]


def tool_cells(notebook: PathLike) -> list[tuple[str, str, str]]:
    """(magic line arguments, cell body, import lines of earlier cells) for each `%%tool` cell."""
    return [(line, body, imports) for _, line, body, imports in _tool_cells(read_notebook(notebook))]


def read_notebook(notebook: PathLike) -> Any:
    """The notebook at `notebook` (nbformat v4), or ToolLoadError in one line saying what is wrong."""
    import nbformat

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat warns about details it fixes on reading
            nb = nbformat.read(os.fspath(notebook), as_version=4)
    except OSError as exc:  # missing file, a folder
        raise ToolLoadError(f"Cannot read the notebook {notebook}: {exc.strerror or exc}.") from exc
    except Exception as exc:  # not JSON; JSON that nbformat cannot convert or validate (each raises its own kind)
        raise ToolLoadError(f"{notebook} is not a notebook Jupyter can open ({_first_line(exc)}).") from exc
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise ToolLoadError(f"{notebook} is not a notebook Jupyter can open (it has no list of cells).")
    for index, cell in enumerate(cells, start=1):
        if not (isinstance(cell, dict) and isinstance(cell.get("cell_type"), str) and isinstance(cell.get("source"), str)):
            raise ToolLoadError(f"{notebook} is not a notebook Jupyter can open (cell {index} has no text source).")
    return nb


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 160 else line[:157] + "..."


def _tool_cells(nb: Any) -> list[tuple[int, str, str, str]]:
    """(index in nb.cells, magic line arguments, body, import lines of earlier cells) for each `%%tool` cell.

    Leading blank lines are skipped, as IPython does before it looks for a cell magic.
    """
    found: list[tuple[int, str, str, str]] = []
    imports: list[str] = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        source = _LEADING_BLANK_LINES.sub("", cell.source)
        first, _, body = source.partition("\n")
        if first.startswith("%%tool") and first[6:7] in ("", " ", "\t"):
            found.append((index, first.removeprefix("%%tool").strip(), body, "\n".join(imports)))
        elif not first.startswith("%%"):
            imports += _import_lines(source)
    return found


_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t\r]*\n)+")


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
    Two cells making one tool: the later one is written, as running the notebook leaves it,
    with a warning naming both.
    """
    from .tool_cell import TOOL_PARSER

    target = Path(tools_dir) if tools_dir is not None else Path(notebook).resolve().parent / "tools"
    written: list[Path] = []
    made_by: dict[str, int] = {}
    failures: list[str] = []
    for index, (_, line, body, imports) in enumerate(_tool_cells(read_notebook(notebook)), start=1):
        try:
            args = TOOL_PARSER.parse_args(shlex.split(line))
            fn_name = tool_function_name(body, args.name)
            namespace: dict[str, object] = {"__name__": "__main__"}
            exec(compile(imports, f"<imports before tool cell {index}>", "exec"), namespace)
            exec(compile(body, f"<tool cell {index}>", "exec"), namespace)
            name = check_name(args.name or fn_name)
            tool = Tool.from_function(namespace[fn_name], name, description=args.description, source=body)  # type: ignore[arg-type]
            path = atomic_write_text(target / f"{name}.py", render_tool_file(tool))
        except Exception as exc:  # report every bad cell, export the rest
            failures.append(f"tool cell {index}: {type(exc).__name__}: {exc}")
            continue
        if name in made_by:
            warnings.warn(
                f"tool cells {made_by[name]} and {index} both make the tool '{name}'; {path.name} holds the later "
                "one, as running the notebook leaves it. Rename one with --name to keep both.",
                UserWarning, stacklevel=2,
            )
            written.remove(path)
        made_by[name] = index
        written.append(path)
    if failures:
        raise ToolLoadError(
            f"{len(failures)} %%tool cell(s) of {notebook} could not be exported "
            f"({len(written)} written):\n" + "\n".join(failures)
        )
    return written


def import_tools(tools: PathLike | Iterable[PathLike], notebook: PathLike, *, replace: bool = False) -> Path:
    """Append a `%%tool` cell for each tool file (a folder means its `*.py`) to `notebook`.

    A tool the notebook already has a cell for is not added twice: the same code is left as
    it is; different code is refused (nothing is written) unless `replace=True` updates that cell.
    """
    import nbformat

    paths = _tool_files(tools)
    notebook = Path(notebook)
    nb = read_notebook(notebook) if notebook.exists() else nbformat.v4.new_notebook()
    cells = [(check_name(path.stem), _tool_cell_text(path)) for path in paths]
    if not any(c.cell_type == "code" and c.source.strip() == "%load_ext halion_nb" for c in nb.cells):
        nb.cells.insert(0, nbformat.v4.new_code_cell("%load_ext halion_nb"))
    existing = _cells_by_tool(nb)
    differ: list[str] = []
    for (name, text), path in zip(cells, paths):
        index = existing.get(name)
        if index is None:
            nb.cells.append(nbformat.v4.new_code_cell(text))
            existing[name] = len(nb.cells) - 1
        elif _tool_code(nb.cells[index].source) != _tool_code(text):
            if replace:
                nb.cells[index].source = text
            else:
                differ.append(f"'{name}' (cell {index + 1}, unlike {path.name})")
    if differ:
        raise ToolLoadError(
            f"{notebook} already has a %%tool cell for {', '.join(differ)}; nothing was written. "
            "Pass replace=True to replace those cells with the files' code."
        )
    atomic_write_text(notebook, nbformat.writes(nb))
    return notebook


def _tool_cell_text(path: Path) -> str:
    """The `%%tool` cell that exports back to the tool file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ToolLoadError(f"Cannot read the tool file {path}: {getattr(exc, 'strerror', None) or exc}.") from exc
    try:
        code = strip_schema(text).rstrip()
    except SyntaxError as exc:
        raise ToolLoadError(f"{path.name} is not valid Python (line {exc.lineno}: {exc.msg}).") from None
    return f"%%tool{_magic_flags(check_name(path.stem), text, code)}\n{code}"


def _tool_code(cell: str) -> str:
    """What makes a `%%tool` cell's tool: its description flag and its function's code (as an AST,
    so layout does not count); imports and helpers a tool file adds around it are not compared."""
    from .tool_cell import TOOL_PARSER

    first, _, body = _LEADING_BLANK_LINES.sub("", cell).partition("\n")
    try:
        args = TOOL_PARSER.parse_args(shlex.split(first.removeprefix("%%tool")))
        fn_name = tool_function_name(body, args.name)
        node = next(n for n in ast.parse(body).body
                    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == fn_name)
    except (HalionError, ValueError, SyntaxError, StopIteration):
        return cell.strip()
    return f"{args.description!r}\n{ast.dump(node)}"


def _cells_by_tool(nb: Any) -> dict[str, int]:
    """Tool name → index in nb.cells of the last `%%tool` cell making it."""
    from .tool_cell import TOOL_PARSER

    found: dict[str, int] = {}
    for index, line, body, _ in _tool_cells(nb):
        try:
            args = TOOL_PARSER.parse_args(shlex.split(line))
            found[args.name or tool_function_name(body)] = index
        except (HalionError, ValueError):  # a cell that names no tool cannot clash
            continue
    return found


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
