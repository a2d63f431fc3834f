"""`%halion` subcommands for tools: tools, show, enable, disable, approve, save, load, export."""
from __future__ import annotations

import argparse
from typing import Any

from IPython.display import display

from ..workspace import workspace
from .command_spec import UsageError, arg, command
from .display import ToolCard, ToolDetail, ToolsTable


@command("tools", "List the workspace's tools with their state.")
def _tools(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    display(ToolsTable(workspace().tools))


@command("show", "Show a tool's schema and source.", arg("name"))
def _show(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    display(ToolDetail(workspace().tools.get(args.name)))


@command("enable", "Switch a tool on: the model may call it.", arg("name"))
def _enable(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    ws = workspace()
    ws.tools.enable(args.name)
    display(ToolCard.of(ws, args.name))


@command("disable", "Switch a tool off: the model no longer sees it.", arg("name"))
def _disable(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    ws = workspace()
    ws.tools.disable(args.name)
    display(ToolCard.of(ws, args.name))


@command("approve", "Make each call of tool NAME wait for the person's approval (on), or not (off).",
         arg("name"), arg("switch", choices=["on", "off"], nargs="?", default="on"))
def _approve(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    ws = workspace()
    ws.tools.require_approval(args.name, args.switch == "on")
    print(f"{args.name}: " + ("each call waits for your approval" if args.switch == "on" else "runs without asking"))


@command("save", "Write tools/NAME.py (or every tool with --all).", arg("name", nargs="?"), arg("--all", action="store_true"))
def _save(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    ws = workspace()
    if bool(args.name) == bool(args.all):
        raise UsageError("give a tool name or --all\nusage: %halion save NAME|--all")
    names = [t.name for t in ws.tools.all() if t.source is not None] if args.all else [args.name]
    for name in names:  # --all: tools without code of their own (MCP tools, built-ins) have no file to write
        print(f"saved {ws.tools.save(name)}")


@command("load", "Load every tools/*.py of the workspace; broken files are listed.")
def _load(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    print(repr(workspace().tools.load()))


@command("export", "Write every %%tool cell of a notebook to tools/*.py.", arg("notebook"), arg("--tools-dir"))
def _export(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    from .cells import export_tools

    for path in export_tools(args.notebook, tools_dir=args.tools_dir or workspace().tools.dir):
        print(f"wrote {path}")
