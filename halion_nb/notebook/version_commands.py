"""`%halion history|diff|revert`: the saved versions of a tool or chain from a notebook line."""
from __future__ import annotations

import argparse
from typing import Any

from IPython.display import display

from ..display.versions import HistoryView, version_label
from ..workspace import Workspace, workspace
from .command_spec import UsageError, arg, command

_CHAIN = arg("--chain", action="store_true", help="NAME is a chain (default: a tool, or the chain if no tool has it)")


def _is_chain(ws: Workspace, name: str, chain: bool) -> bool:
    return chain or (name not in ws.tools and name in ws.chains)


@command("history", "Saved versions of a tool or chain, newest first: number, hash, when, who, message.",
         arg("name"), _CHAIN)
def _history(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    ws = workspace()
    owner = ws.chains if _is_chain(ws, args.name, args.chain) else ws.tools
    display(HistoryView(args.name, owner.history(args.name)))


@command("diff", "Unified diff of a tool or chain between versions A and B (numbers or hashes; "
         "default: the newest and the one before).", arg("name"), arg("a", nargs="?"), arg("b", nargs="?"), _CHAIN)
def _diff(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    ws = workspace()
    owner = ws.chains if _is_chain(ws, args.name, args.chain) else ws.tools
    display(owner.diff(args.name, args.a, args.b))


@command("revert", "Make version V of a tool or chain current again (saved as a new version).",
         arg("name"), arg("version", metavar="V"), _CHAIN)
def _revert(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    ws = workspace()
    chain = _is_chain(ws, args.name, args.chain)
    owner = ws.chains if chain else ws.tools
    old = ws.versions.find("chain" if chain else "tool", args.name, args.version)
    owner.revert(args.name, args.version)
    newest = owner.history(args.name)[-1]
    print(f"{args.name}: back to {version_label(old)}; saved as {version_label(newest)}.")


def call_source(ws: Workspace, call_id: int) -> Any:
    """The version of the tool code that ran in log row `call_id` (`%halion log --open ID`)."""
    record = ws.log.get(call_id)
    if record is None:
        raise UsageError(f"no call {call_id} in the log; %halion log lists the calls with their ids")
    if not record.version or not record.name:
        raise UsageError(f"call {call_id} is a {record.kind} row with no tool version (only tool calls and chain "
                         "steps name the code that ran)")
    return ws.versions.find("tool", record.name, record.version)
