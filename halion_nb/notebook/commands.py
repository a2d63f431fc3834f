"""The `%halion` subcommands: each parses its words, calls the Workspace, displays the result.

Subcommands register with `@command`; `%halion help` and the README's magics reference are
generated from what they declare, so the documentation cannot drift. A command that fails
fails its cell the way IPython's own magics do: `IPython.core.error.UsageError`, shown as one
line without a traceback, and a notebook run (nbclient, `halion demo`, CI) stops there.
"""
from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass
from typing import Any, Callable, NoReturn

from IPython.core import error as ipython_error

from ..errors import HalionError

Handler = Callable[[Any, argparse.Namespace, "str | None"], Any]


@dataclass
class Command:
    name: str
    summary: str
    parser: argparse.ArgumentParser
    handler: Handler
    raw: bool = False
    """Takes the rest of the line verbatim (apostrophes and all) as `args.text`."""

    @property
    def usage(self) -> str:
        return self.parser.format_usage().removeprefix("usage: ").strip()


class UsageError(HalionError):
    """Words `%halion` does not understand; the cell fails with a one-line usage, never a traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message}\nusage: {self.format_usage().removeprefix('usage: ').strip()}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise UsageError(message or self.format_usage())


COMMANDS: dict[str, Command] = {}


def command(name: str, summary: str, *arguments: tuple[tuple[str, ...], dict[str, Any]],
            raw: bool = False) -> Callable[[Handler], Handler]:
    """Register a `%halion NAME ...` subcommand with argparse-style arguments."""
    def register(handler: Handler) -> Handler:
        parser = _Parser(prog=f"%halion {name}", description=summary, add_help=False)
        for flags, options in arguments:
            if not flags[0].startswith("-"):
                options.setdefault("metavar", flags[0].upper())
            parser.add_argument(*flags, **options)
        COMMANDS[name] = Command(name, summary, parser, handler, raw)
        return handler

    return register


def arg(*flags: str, **options: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    return flags, options


def _load_all() -> None:
    from . import tool_commands  # noqa: F401  (each module registers its subcommands)
    for module in ("chat_commands", "chain_commands", "env_commands", "panel_commands", "mcp_commands"):
        try:
            __import__(f"{__package__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{module}":
                raise


def help_text() -> str:
    _load_all()
    lines = ["%halion SUBCOMMAND ...", ""]
    lines += [f"  {c.usage}\n      {c.summary}" for c in COMMANDS.values()]
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


def fail(message: str) -> NoReturn:
    """Fail the cell as IPython's own magics do: `UsageError: halion: MESSAGE`, no traceback, the run stops."""
    head, sep, usage = message.partition("\nusage: ")
    if sep:  # the usage goes on the same line
        message = f"{head}; usage: {' '.join(usage.split())}"
    raise ipython_error.UsageError(f"halion: {message}")
