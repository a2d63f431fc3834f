"""`%halion` and `%%tool`: registered cheaply; everything else is imported on first use."""
from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, cell_magic, line_cell_magic, magics_class


@magics_class
class HalionMagics(Magics):
    """Thin layer over the Workspace: parse the line, call the API, display the result."""

    @line_cell_magic
    def halion(self, line: str, cell: str | None = None) -> Any:
        """Workspace commands; `%halion help` lists them."""
        from .commands import run_command

        return run_command(self.shell, line, cell)

    @cell_magic
    def tool(self, line: str, cell: str) -> None:
        """Run the cell and register its function as a tool; `%halion help` has the flags."""
        from .tool_cell import run_tool_cell

        run_tool_cell(self.shell, line, cell)


def load(ipython: Any) -> None:
    ipython.register_magics(HalionMagics)


def unload(ipython: Any) -> None:
    manager = ipython.magics_manager
    for kind, names in (("line", ("halion",)), ("cell", ("halion", "tool"))):
        for name in names:
            manager.magics[kind].pop(name, None)
    manager.registry.pop(HalionMagics.__name__, None)
