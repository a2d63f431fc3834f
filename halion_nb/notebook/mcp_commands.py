"""`%halion mcp ...`: serve this kernel's tools to MCP clients, and use MCP servers' tools here."""
from __future__ import annotations

import argparse
import shlex
from typing import Any

from IPython.display import display

from ..workspace import workspace
from .command_spec import UsageError, _Parser, arg, command

USAGE = ("%halion mcp serve [--port N] [--allow NAME] | stop | list | "
         "add NAME [--env VAR] [--deferred] -- COMMAND ARGS... | add NAME --url URL | "
         "remove NAME | enable NAME | disable NAME | refresh [NAME]")


def _parser(action: str, *arguments: tuple[tuple[str, ...], dict[str, Any]]) -> _Parser:
    parser = _Parser(prog=f"%halion mcp {action}", add_help=False)
    for flags, options in arguments:
        parser.add_argument(*flags, **options)
    return parser


_PARSERS = {
    "serve": _parser("serve", (("--port",), {"type": int, "default": 0}),
                     (("--allow",), {"action": "append", "default": [], "metavar": "NAME"})),
    "add": _parser("add", (("name",), {"metavar": "NAME"}), (("--url",), {}),
                   (("--env",), {"action": "append", "default": [], "metavar": "VAR"}),
                   (("--deferred",), {"action": "store_true"}), (("--replace",), {"action": "store_true"})),
    "remove": _parser("remove", (("name",), {"metavar": "NAME"})),
    "enable": _parser("enable", (("name",), {"metavar": "NAME"})),
    "disable": _parser("disable", (("name",), {"metavar": "NAME"})),
    "refresh": _parser("refresh", (("name",), {"metavar": "NAME", "nargs": "?"})),
}


@command("mcp", "MCP: serve this kernel's tools to MCP clients (serve/stop), or use an MCP server's tools "
         "(add NAME -- COMMAND..., list, remove, enable, disable, refresh).",
         arg("action", nargs="?", metavar="serve|stop|list|add|remove|enable|disable|refresh"),
         arg("args", nargs="*", metavar="ARGS"), raw=True)
def _mcp(shell: Any, args: argparse.Namespace, cell: str | None) -> Any:
    try:
        words = shlex.split(args.text)
    except ValueError as exc:
        raise UsageError(f"cannot parse the line ({exc}); check the quotes.\nusage: {USAGE}") from None
    action, rest = (words[0], words[1:]) if words else ("list", [])
    ws = workspace()
    if action == "list":
        display(ws.mcp)
        return None
    if action == "stop":
        print("Stopped the MCP server." if ws.mcp.stop_serving() else "No MCP server was running.")
        return None
    parser = _PARSERS.get(action)
    if parser is None:
        raise UsageError(f"unknown `%halion mcp` action '{action}'\nusage: {USAGE}")
    command_words: list[str] = []
    if action == "add" and "--" in rest:
        at = rest.index("--")
        rest, command_words = rest[:at], rest[at + 1:]
    opts = parser.parse_args(rest)
    if action == "serve":
        serving = ws.mcp.serve(opts.port, allow=opts.allow)
        print(f"Serving this kernel's tools over MCP at {serving.url} until `%halion mcp stop`.\n"
              f"Tools enabled, disabled or edited here are seen by the next list_tools.\n"
              f"Client config (Claude Desktop / VS Code style):\n{serving.client_config()}")
    elif action == "add":
        if bool(command_words) == bool(opts.url):
            raise UsageError(f"give a command after -- or a --url\nusage: {USAGE}")
        tools = ws.mcp.add(opts.name, command_words or None, url=opts.url, env=opts.env, deferred=opts.deferred,
                           replace=opts.replace)
        state = " (deferred: the model loads them with find_tools)" if opts.deferred else ""
        print(f"Added MCP server '{opts.name}' with {len(tools)} tools{state}: {', '.join(t.name for t in tools)}")
    elif action == "remove":
        ws.mcp.remove(opts.name)
        print(f"Removed MCP server '{opts.name}' and its tools.")
    elif action in ("enable", "disable"):
        names = getattr(ws.mcp, action)(opts.name)
        print(f"{action.capitalize()}d {len(names)} tools of '{opts.name}'.")
    elif action == "refresh":
        tools = ws.mcp.refresh(opts.name)
        print(f"{len(tools)} MCP tools registered.")
    return None
