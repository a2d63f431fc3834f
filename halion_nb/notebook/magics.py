"""`%halion` and `%%tool`: registered cheaply; everything else is imported on first use."""
from __future__ import annotations

import re
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


_CHAT_LINE = re.compile(r"(\s*)%halion\s+chat\b(.*)$", re.S)


def keep_question_marks(lines: list[str]) -> list[str]:
    """`%halion chat Is it sunny in Madrid?` is a message, not IPython's `Madrid?` help: call the magic."""
    if not lines or lines[0].lstrip().startswith("%%"):
        return lines
    out = []
    for line in lines:
        m = _CHAT_LINE.match(line)
        if m and line.rstrip().endswith("?"):
            line = f"{m.group(1)}get_ipython().run_line_magic('halion', {('chat' + m.group(2)).rstrip()!r})\n"
        out.append(line)
    return out


def load(ipython: Any) -> None:
    from .batch_display import install

    ipython.register_magics(HalionMagics)
    install(ipython)  # batch runs show a live progress bar
    if keep_question_marks not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(keep_question_marks)


def unload(ipython: Any) -> None:
    from .batch_display import uninstall

    uninstall(ipython)
    manager = ipython.magics_manager
    for kind, names in (("line", ("halion",)), ("cell", ("halion", "tool"))):
        for name in names:
            manager.magics[kind].pop(name, None)
    manager.registry.pop(HalionMagics.__name__, None)
    if keep_question_marks in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(keep_question_marks)
