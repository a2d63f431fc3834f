"""halion_nb: a Jupyter notebook as a workbench for LLM tools.

Heavy parts load on first use, so `%load_ext halion_nb` stays cheap.
"""
from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

from ._version import __version__ as __version__
from .errors import (
    ChainValidationError,
    ConfigError,
    HalionError,
    ModelServiceError,
    ToolArgumentError,
    ToolDefinitionError,
    ToolNameError,
    ToolNotFoundError,
)

_LAZY = {
    "Workspace": "halion_nb.workspace",
    "workspace": "halion_nb.workspace",
    "use_workspace": "halion_nb.workspace",
    "tool": "halion_nb.workspace",
    "Tool": "halion_nb.core.tool",
    "Image": "halion_nb.core.images",
    "Toolchain": "halion_nb.models",
    "ToolchainStep": "halion_nb.models",
    "ChainInput": "halion_nb.models",
    "Ref": "halion_nb.models",
    "export_tools": "halion_nb.notebook.cells",
    "import_tools": "halion_nb.notebook.cells",
    "panel": "halion_nb.widgets",
}

__all__ = [
    "ChainValidationError", "ConfigError", "HalionError", "ModelServiceError", "ToolArgumentError",
    "ToolDefinitionError", "ToolNameError", "ToolNotFoundError", *_LAZY,
    "load_ipython_extension", "unload_ipython_extension",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'halion_nb' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext halion_nb`: register `%halion` and `%%tool` (loading twice is harmless)."""
    from .display.printers import attach
    from .notebook.magics import load

    attach(ipython)
    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .display.printers import detach
    from .notebook.magics import unload

    unload(ipython)
    detach(ipython)


def _attach_printers() -> None:
    """Inside a running IPython, halion's objects display richly even without `%load_ext` (cheap: no views load)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if shell is not None and hasattr(shell, "display_formatter"):
        from .display.printers import attach

        attach(shell)


_attach_printers()
