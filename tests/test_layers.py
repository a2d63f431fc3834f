"""Imports, read with `ast`: one direction (models ← core ← services ← notebook, widgets), display/ on the
side (it reads plain data; nothing below imports it), and no import cycle among halion_nb's modules."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "halion_nb"


def module_name(path: Path, package_root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package_root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_modules(path: Path, package_root: Path = PACKAGE, *, type_checking: bool = True,
                     from_modules: bool = True) -> set[str]:
    """Absolute names of every module `path` imports, anywhere in it (inside functions too).

    `from x import y` counts as importing both `x` and `x.y` (y may be a submodule); only `x.y`
    with `from_modules=False`. With `type_checking=False` the imports under `if TYPE_CHECKING:`
    (which never run) are left out.
    """
    name = module_name(path, package_root)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and not type_checking and _is_type_checking(child):
                for other in child.orelse:
                    visit_node(other)
                continue
            visit_node(child)

    def visit_node(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if from_modules:
                found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        visit(node)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return found


def import_graph(package_root: Path = PACKAGE, *, type_checking: bool = False) -> dict[str, set[str]]:
    """Module → the package's modules it imports when it runs (each name resolved to the module that defines it).

    `from . import x` is an edge to the submodule `x` when there is one, else to the package itself;
    the packages a module sits in are not edges (Python runs their `__init__` first, which imports lazily).
    """
    modules = {module_name(p, package_root): p for p in package_root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for target in imported_modules(path, package_root, type_checking=type_checking, from_modules=False):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each set of modules that import each other in a circle (strongly connected, more than one), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found)


def violations(paths: list[Path], forbidden: tuple[str, ...], package_root: Path = PACKAGE, *,
               type_checking: bool = True) -> list[str]:
    bad = []
    for path in paths:
        for module in sorted(imported_modules(path, package_root, type_checking=type_checking)):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(package_root.parent)} imports {module}")
    return bad


def python_files(*relative: str) -> list[Path]:
    files: list[Path] = []
    for rel in relative:
        target = PACKAGE / rel
        files += [target] if target.suffix == ".py" else sorted(target.rglob("*.py"))
    return [f for f in files if f.exists()]


UI = ("IPython", "ipywidgets", "halion_nb.notebook", "halion_nb.widgets")
DISPLAY = ("halion_nb.display",)
ABOVE_DATA = ("halion_nb.core", "halion_nb.services", "halion_nb.workspace", "halion_nb.notebook",
              "halion_nb.widgets", "halion_nb.mcp", "halion_nb.server", "halion_nb.cli", "halion_nb.demo",
              "halion_nb.testing")


def test_no_import_cycle_among_the_package_modules() -> None:
    graph = import_graph()
    assert len(graph) > 30 and graph["halion_nb.services.chat"]
    assert cycles(graph) == []


def test_models_core_and_services_never_import_the_ui() -> None:
    files = python_files("models.py", "core", "services")
    assert len(files) > 5
    assert violations(files, UI) == []


def test_nothing_below_the_ui_imports_display_not_even_for_type_hints() -> None:
    assert violations(python_files("models.py", "errors.py", "core", "services"), DISPLAY) == []


def test_display_reads_plain_data_only() -> None:
    """Views take duck-typed objects and `halion_nb.models` data; no class of the layers below, no IPython."""
    files = python_files("display")
    assert len(files) >= 4
    assert violations(files, ABOVE_DATA + ("IPython", "ipywidgets")) == []


def test_the_new_callers_plug_in_above_services() -> None:
    """MCP (`mcp/`), REST (`server/`) and the CLI call the services; nothing below them imports them."""
    below = python_files("models.py", "errors.py", "core", "services", "display")
    assert violations(below, ("halion_nb.mcp", "halion_nb.server", "halion_nb.cli", "halion_nb.demo")) == []
    assert violations(python_files("mcp", "server"), ("halion_nb.notebook", "halion_nb.widgets", "ipywidgets")) == []


def test_models_import_nothing_above_them() -> None:
    assert violations(python_files("models.py"), ("halion_nb.core", "halion_nb.services", "halion_nb.workspace")) == []


def test_core_never_imports_services() -> None:
    assert violations(python_files("core"), ("halion_nb.services",)) == []


def test_services_and_the_ui_name_the_workspace_only_in_type_hints() -> None:
    """The Workspace is the composition root: the layers it builds may name it in hints, never import it to run."""
    files = python_files("core", "services", "notebook/display.py", "widgets/_controller.py")
    assert violations(files, ("halion_nb.workspace",), type_checking=False) == []


def test_widgets_never_touch_files_or_the_log_directly() -> None:
    files = python_files("widgets")
    if not files:
        pytest.skip("no widgets yet")
    forbidden = ("sqlite3", "halion_nb.core.files", "halion_nb.core.call_log")
    assert violations(files, forbidden) == []


def test_the_checker_sees_relative_lazy_and_aliased_imports(tmp_path: Path) -> None:
    root = tmp_path / "halion_nb"
    (root / "core").mkdir(parents=True)
    sample = root / "core" / "sample.py"
    sample.write_text(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "from ..notebook import magics\n"
        "from .. import widgets as w\n"
        "if TYPE_CHECKING:\n"
        "    import ipywidgets\n"
        "def later():\n"
        "    import IPython.display as d\n"
        "    from . import files\n"
        "    import sqlite3\n"
    )
    found = imported_modules(sample, root)
    assert {"halion_nb.notebook", "halion_nb.notebook.magics", "halion_nb.widgets", "ipywidgets",
            "IPython.display", "halion_nb.core.files", "sqlite3"} <= found
    assert "ipywidgets" not in imported_modules(sample, root, type_checking=False)
    assert len(violations([sample], UI, root)) == 5
    assert violations([sample], ("halion_nb.core.files", "sqlite3"), root) == [
        "halion_nb/core/sample.py imports halion_nb.core.files", "halion_nb/core/sample.py imports sqlite3"]
    init = root / "core" / "__init__.py"
    init.write_text("from .sample import later\nfrom ..services import chat\n")
    assert {"halion_nb.core.sample", "halion_nb.services.chat"} <= imported_modules(init, root)


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    root = tmp_path / "halion_nb"
    _write(root, {
        "__init__.py": "",
        "models.py": "def view():\n    from .display import chains\n",  # the cycle the issue measured
        "display/__init__.py": "",
        "display/chains.py": "from ..models import Ref\n",
        "core/__init__.py": "",
        "core/tool.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..services.chat import X\n",
        "services/__init__.py": "",
        "services/chat.py": "from ..core import tool\n",
    })
    graph = import_graph(root)
    assert graph["halion_nb.models"] == {"halion_nb.display.chains"}
    assert graph["halion_nb.display.chains"] == {"halion_nb.models"}
    assert graph["halion_nb.services.chat"] == {"halion_nb.core.tool"}  # `from ..core import tool`: the module
    assert cycles(graph) == [["halion_nb.display.chains", "halion_nb.models"]]  # hints alone make no cycle
    assert cycles(import_graph(root, type_checking=True)) == [
        ["halion_nb.core.tool", "halion_nb.services.chat"], ["halion_nb.display.chains", "halion_nb.models"]]


def test_from_package_import_name_is_the_package_when_no_such_submodule(tmp_path: Path) -> None:
    root = tmp_path / "halion_nb"
    _write(root, {
        "__init__.py": "def load():\n    from .notebook.magics import load\n",
        "errors.py": "from . import __version__\n",  # not a module: an edge to the package itself
        "notebook/__init__.py": "",
        "notebook/magics.py": "from .. import errors\n",
    })
    graph = import_graph(root)
    assert graph["halion_nb.errors"] == {"halion_nb"}
    assert graph["halion_nb.notebook.magics"] == {"halion_nb.errors"}
    assert cycles(graph) == [["halion_nb", "halion_nb.errors", "halion_nb.notebook.magics"]]
