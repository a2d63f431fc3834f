"""`%halion` subcommands for chatting: chat (and the `%%halion chat` cell), new, model, log."""
from __future__ import annotations

import argparse
import time
from typing import Any

from IPython.display import display

from ..display.chat import LogTable, StreamingText
from ..workspace import workspace
from .command_spec import UsageError, arg, command

UPDATE_INTERVAL = 0.1
"""Seconds between two refreshes of a streaming answer (about 10 a second at most)."""


class LiveAnswer:
    """Shows an answer while it streams: one display, refreshed at most every UPDATE_INTERVAL."""

    def __init__(self, redact: Any = None) -> None:
        self.parts: list[str] = []
        self.redact = redact
        self.handle: Any = None
        self.updates = 0
        self._last = 0.0

    def add(self, delta: str) -> None:
        self.parts.append(delta)
        now = time.monotonic()
        if self.handle is None:
            # Start blank and end blank (see finish): the saved notebook then holds the same
            # outputs whatever the stream's timing was, which keeps nbval comparisons stable.
            self.handle = display(_BLANK, display_id=True)
            self._last = 0.0
        if now - self._last >= UPDATE_INTERVAL:
            self.handle.update(self._view())
            self.updates += 1
            self._last = now

    def _view(self, done: bool = False) -> StreamingText:
        return StreamingText("".join(self.parts), self.redact, done=done)

    def finish(self, final: Any = None) -> None:
        """Replace the streaming view with `final` (or freeze it when the turn failed)."""
        if final is None:
            if self.handle is not None:
                self.handle.update(self._view(done=True))
        else:
            if self.handle is not None:
                self.handle.update(_BLANK)
            display(final)


class _Blank:
    """An empty output: what a streaming view starts and ends as."""

    def __repr__(self) -> str:
        return ""

    def _repr_html_(self) -> str:
        return ""


_BLANK = _Blank()


@command("chat", "Send a message to the model; %%halion chat sends the cell. The answer streams in.",
         arg("message", nargs="*"), raw=True)
def _chat(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    message = "\n\n".join(p.strip() for p in (args.text, cell or "") if p and p.strip())
    if not message:
        raise UsageError("give a message: %halion chat MESSAGE, or a %%halion chat cell")
    ws = workspace()
    live = LiveAnswer(ws.env.redact)
    try:
        result = ws.chat(message, on_text=live.add)
    except BaseException:
        live.finish()
        raise
    live.finish(result)


@command("new", "Start a new conversation, optionally with a system prompt.", arg("--system", metavar="TEXT"))
def _new(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    conversation = workspace().new_chat(system=args.system)
    print(f"new conversation {conversation.id[:8]}" + (" with a system prompt" if args.system else ""))


@command("model", "Show the chat model, or set it to NAME.", arg("name", nargs="?"))
def _model(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    ws = workspace()
    if args.name:
        ws.model = args.name
    print(f"model: {ws.model}")


@command("log", "Show the newest calls in the log.",
         arg("-n", type=int, default=20, metavar="N"), arg("--kind", choices=["model", "tool", "chain", "step"]),
         arg("--tool", metavar="T"), arg("--errors", action="store_true"),
         arg("--user", metavar="U", help="only calls made by this user (a Jupyter user over REST)"),
         arg("--caller", metavar="C", help="only calls from this caller: chat, chain, panel, mcp, rest, batch, python"),
         arg("--open", type=int, metavar="ID", help="show the source of the tool code that ran in call ID"))
def _log(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    if args.n < 0:
        raise UsageError("-n must be 0 or more")
    ws = workspace()
    if args.open is not None:
        from .version_commands import call_source

        display(call_source(ws, args.open))
        return
    records = ws.log.recent(args.n, kind=args.kind, tool=args.tool, errors_only=args.errors, user=args.user,
                            caller=args.caller)
    display(LogTable(records, ws.env.redact))
