"""`%halion draft` (the model writes a tool into a new cell) and `%halion env` (secrets, by name only)."""
from __future__ import annotations

import argparse
import getpass
import html
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from IPython.display import display

from ..services.env_overview import EnvVariable, env_overview
from ..workspace import workspace
from .command_spec import UsageError, arg, command

if TYPE_CHECKING:
    from ..workspace import Workspace


@command("draft", "Ask the model to write a tool; it lands in a new %%tool cell below, not run.",
         arg("description", metavar='"DESCRIPTION"'), raw=True)
def _draft(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    description = _unquote(args.text)
    if not description:
        raise UsageError('describe the tool to draft\nusage: %halion draft "what the tool should do"')
    draft = workspace().tools.draft(description)
    shell.set_next_input("%%tool\n" + draft.code.rstrip() + "\n", replace=False)
    display(draft)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


@command(
    "env",
    "List the variables tools read and those stored: set/missing, never values. "
    "`set NAME` asks for the value at a hidden prompt.",
    arg("action", nargs="?", metavar="list|set|unset"),
    arg("name", nargs="?"),
    raw=True,  # parsed here, so that no parser error ever echoes a word (it may be a secret)
)
def _env(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    ws = workspace()
    words = args.text.split()
    action = words[0] if words else "list"
    if action not in ("list", "set", "unset"):
        raise UsageError("unknown `%halion env` action\nusage: %halion env [list | set NAME | unset NAME]")
    args = argparse.Namespace(action=action, name=words[1] if len(words) > 1 else None, value=words[2:])
    if args.action == "list":
        if args.name or args.value:
            raise UsageError("`%halion env` lists every variable; it takes no names\nusage: %halion env")
        display(EnvStatus.of(ws))
        return
    if not args.name:
        raise UsageError(f"give the variable's name\nusage: %halion env {args.action} NAME")
    shown = args.name if _CONVENTIONAL.fullmatch(args.name) else "NAME"  # a swapped call puts the value here
    if args.value:
        # never echo what follows the name: it is most likely the secret itself
        raise UsageError(
            f"refused: `%halion env {args.action}` takes only a name, never a value on the command line "
            "(it would stay in this cell, the notebook file and the IPython history). Nothing was stored. "
            f"Delete the value from this cell, then run `%halion env set {shown}` and type the value "
            "at the hidden prompt."
        )
    if not _ENV_NAME.fullmatch(args.name):
        raise UsageError("that is not a valid environment variable name: use letters, digits and _, not "
                         "starting with a digit\nusage: %halion env set NAME")
    if args.action == "unset":
        ws.env.unset(args.name)
        print(f"{args.name} removed from {ws.env.env_file}")
        return
    try:
        value = getpass.getpass(f"Value for {args.name} (hidden): ")
    except (EOFError, KeyboardInterrupt):
        print(f"halion: nothing stored for {args.name}.", file=sys.stderr)
        return
    except Exception as exc:  # a kernel that cannot ask for input (StdinNotImplementedError)
        raise UsageError(
            f"this kernel cannot ask for input ({type(exc).__name__}); in Python run "
            f"`ws.env.set('{args.name}', getpass.getpass())`, or use the env panel."
        ) from None
    if not value:
        print(f"halion: empty value; nothing stored for {args.name}.", file=sys.stderr)
        return
    ws.env.set(args.name, value)
    print(f"{args.name} is set (stored in {ws.env.env_file})")


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONVENTIONAL = re.compile(r"[A-Z_][A-Z0-9_]*")


@dataclass
class EnvStatus:
    """`%halion env`: every variable the tools read and every stored name, with set/missing."""

    rows: list[EnvVariable]
    env_file: str

    @classmethod
    def of(cls, ws: Workspace) -> EnvStatus:
        return cls(env_overview(ws), str(ws.env.env_file))

    @staticmethod
    def _where(row: EnvVariable) -> str:
        if not row.is_set:
            return "missing"
        return "set (.halion/.env)" if row.stored else "set (process environment)"

    def __repr__(self) -> str:
        if not self.rows:
            return "No environment variables: no tool reads one and none is stored. Set one with %halion env set NAME"
        width = max(len(r.name) for r in self.rows)
        lines = [f"Environment ({self.env_file}):"]
        for r in self.rows:
            used = f"  ← {', '.join(r.tools)}" if r.tools else ""
            lines.append(f"  {r.name:<{width}}  {self._where(r)}{used}")
        missing = [r.name for r in self.rows if not r.is_set]
        if missing:
            lines.append(f"Set a missing one with: %halion env set {missing[0]}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self.rows:
            return f"<p>{html.escape(repr(self))}</p>"
        body = "".join(
            f"<tr><td><code>{html.escape(r.name)}</code></td>"
            f"<td>{'<b>missing</b>' if not r.is_set else html.escape(self._where(r))}</td>"
            f"<td>{html.escape(', '.join(r.tools))}</td></tr>"
            for r in self.rows
        )
        return (f"<table><caption>Environment ({html.escape(self.env_file)})</caption>"
                f"<tr><th>name</th><th>status</th><th>used by</th></tr>{body}</table>")

