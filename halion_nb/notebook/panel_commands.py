"""`%halion panel [chat|tools|chains|logs|env|admin]`: show the ipywidgets panels."""
from __future__ import annotations

import argparse
from typing import Any

from IPython.display import display

from .command_spec import arg, command

_NAMES = ("chat", "tools", "chains", "logs", "env", "admin")


@command("panel", "Show every panel as tabs, or one: chat, tools, chains, logs, env, admin.",
         arg("which", nargs="?", choices=_NAMES))
def _panel(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    from ..widgets import panel

    display(panel(args.which))
