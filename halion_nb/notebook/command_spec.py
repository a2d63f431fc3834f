"""How a `%halion` subcommand is declared and how it fails: `@command`, `arg`, `UsageError`, `fail`.

Each `*_commands` module registers its subcommands here with `@command`; `commands` loads them
and dispatches a line (so no subcommand module imports the dispatcher).
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

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


def fail(message: str) -> NoReturn:
    """Fail the cell as IPython's own magics do: `UsageError: halion: MESSAGE`, no traceback, the run stops."""
    head, sep, usage = message.partition("\nusage: ")
    if sep:  # the usage goes on the same line
        message = f"{head}; usage: {' '.join(usage.split())}"
    raise ipython_error.UsageError(f"halion: {message}")
