"""One direction of imports: models ← core ← services ← notebook, widgets (checked with `ast`)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "halion_nb"


def imported_modules(path: Path, package_root: Path = PACKAGE) -> set[str]:
    """Absolute names of every module `path` imports, anywhere in it (lazy and TYPE_CHECKING ones too).

    `from x import y` counts as importing both `x` and `x.y` (y may be a submodule).
    """
    parts = list(path.relative_to(package_root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    package = parts[:-1] if path.name != "__init__.py" else parts
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def violations(paths: list[Path], forbidden: tuple[str, ...], package_root: Path = PACKAGE) -> list[str]:
    bad = []
    for path in paths:
        for module in sorted(imported_modules(path, package_root)):
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


def test_models_core_and_services_never_import_the_ui() -> None:
    files = python_files("models.py", "core", "services")
    assert len(files) > 5
    assert violations(files, UI) == []


def test_models_import_nothing_above_them() -> None:
    assert violations(python_files("models.py"), ("halion_nb.core", "halion_nb.services", "halion_nb.workspace")) == []


def test_core_never_imports_services() -> None:
    assert violations(python_files("core"), ("halion_nb.services",)) == []


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
    assert len(violations([sample], UI, root)) == 5
    assert violations([sample], ("halion_nb.core.files", "sqlite3"), root) == [
        "halion_nb/core/sample.py imports halion_nb.core.files", "halion_nb/core/sample.py imports sqlite3"]
    init = root / "core" / "__init__.py"
    init.write_text("from .sample import later\nfrom ..services import chat\n")
    assert {"halion_nb.core.sample", "halion_nb.services.chat"} <= imported_modules(init, root)
