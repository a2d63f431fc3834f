"""The `%halion` subcommands: each parses its words, calls the Workspace, displays the result.

Subcommands register with `@command`; `%halion help` and the README's magics reference are
generated from what they declare, so the documentation cannot drift. A command that fails
fails its cell the way IPython's own magics do: `IPython.core.error.UsageError`, shown as one
line without a traceback, and a notebook run (nbclient, `halion demo`, CI) stops there.
"""
from __future__ import annotations

import argparse
import shlex
from typing import Any

from ..errors import HalionError
from .command_spec import COMMANDS, Command, UsageError, arg, command, fail

__all__ = ["COMMANDS", "Command", "UsageError", "arg", "command", "fail", "help_text", "run_command"]


MODULES = ("tool_commands", "chat_commands", "chain_commands", "env_commands", "panel_commands", "mcp_commands",
           "version_commands")
"""The modules that register subcommands, in the order help lists them."""


def _load_all() -> None:
    for module in MODULES:  # each module registers its subcommands
        try:
            __import__(f"{__package__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{module}":
                raise


def help_text() -> str:
    """Every subcommand's usage and summary, in a fixed order (whatever imported which module first)."""
    _load_all()
    order = {f"{__package__}.{m}": i for i, m in enumerate(MODULES)}
    listed = sorted(COMMANDS.values(), key=lambda c: order.get(c.handler.__module__, len(order)))  # stable
    lines = ["%halion SUBCOMMAND ...", ""]
    lines += [f"  {c.usage}\n      {c.summary}" for c in listed]
    from .tool_cell import TOOL_PARSER

    lines += ["", "%%tool cell magic:", f"  {TOOL_PARSER.format_usage().removeprefix('usage: ').strip()}",
              f"      {TOOL_PARSER.description}"]
    return "\n".join(lines)


def run_command(shell: Any, line: str, cell: str | None) -> Any:
    """Parse and run one `%halion` line; usage and HalionErrors fail the cell with one clear message."""
    _load_all()
    head, text = (line.split(None, 1) + ["", ""])[:2]
    try:
        words = [head] if head in COMMANDS and COMMANDS[head].raw else shlex.split(line)
    except ValueError as exc:
        fail(f"cannot parse the line ({exc}); check the quotes.")
    if not words or words[0] in ("help", "-h", "--help"):
        print(help_text())
        return None
    name, rest = words[0], words[1:]
    found = COMMANDS.get(name)
    if found is None:
        known = ", ".join(COMMANDS)
        fail(f"unknown subcommand '{name}'. Known: {known}. Try %halion help.")
    try:
        args = argparse.Namespace(text=text.strip()) if found.raw else found.parser.parse_args(rest)
        return found.handler(shell, args, cell)
    except UsageError as exc:
        fail(str(exc))
    except HalionError as exc:
        fail(str(exc))
