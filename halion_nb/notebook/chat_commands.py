"""`%halion` subcommands for chatting: chat (and the `%%halion chat` cell), new, usage, conversations, resume, model, log."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
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


@command("chat", "Send a message to the model; %%halion chat sends the cell. The answer streams in. "
         "--with a,b adds previews of those variables; --image PATH sends an image (repeatable).",
         arg("message", nargs="*"), raw=True)
def _chat(shell: Any, args: argparse.Namespace, cell: str | None) -> Any:
    names, images, text = leading_options(args.text)
    message = "\n\n".join(p.strip() for p in (text, cell or "") if p and p.strip())
    if not message:
        raise UsageError("give a message: %halion chat [--with a,b] [--image PATH] MESSAGE, or a %%halion chat cell")
    ws = workspace()
    namespace = getattr(shell, "user_ns", {}) or {}
    missing = [n for n in names if n not in namespace]
    if missing:
        raise UsageError(f"--with: no variable {', '.join(map(repr, missing))} in this notebook")
    context = {n: namespace[n] for n in names} or None

    def send(**kwargs: Any) -> Any:
        return ws.conversation.send(message, context=context, images=images or None, **kwargs)

    if ws.approver is None and any(ws.tools.needs_approval(n) for n in ws.tools.names()):  # chain steps too
        from ..widgets.approval import BackgroundTurn, can_click, nobody

        if can_click(shell):  # the cell returns now, so the kernel can receive the Approve/Deny clicks
            turn = BackgroundTurn(ws, send)
            display(turn.box)
            turn.start()
            return None
        asker = ask_in_terminal if getattr(shell, "kernel", None) is None and sys.stdin.isatty() else nobody
        live = LiveAnswer(ws.env.redact)
        _run_here(live, lambda on_text: send(on_text=on_text, approve=asker))
        return None
    live = LiveAnswer(ws.env.redact)
    _run_here(live, lambda on_text: send(on_text=on_text))
    return None


def ask_in_terminal(request: Any) -> Any:
    """Terminal IPython (no kernel, a terminal on stdin): ask on the terminal; anything but y declines."""
    from ..core.approval import Decision

    args = workspace().env.redact(json.dumps(request.arguments, ensure_ascii=False, default=str))
    answer = input(f"Run {request.tool}({args})? [y/N, or a reason to decline] ").strip()
    if answer.lower() in ("y", "yes"):
        return Decision(True, None, by=request.user)
    return Decision(False, answer if answer and answer.lower() not in ("n", "no") else "declined", by=request.user)


def _run_here(live: LiveAnswer, turn: Any) -> None:
    try:
        result = turn(live.add)
    except BaseException:
        live.finish()
        raise
    live.finish(result)


def leading_options(text: str) -> tuple[list[str], list[str], str]:
    """`--with a,b` and `--image PATH` (each repeatable) at the start of a chat line, and the message after."""
    names: list[str] = []
    images: list[str] = []
    rest = text.strip()
    while rest.startswith("--with") or rest.startswith("--image"):
        flag, _, tail = rest.partition(" ")
        lexer = shlex.shlex(tail.lstrip(), posix=True)
        lexer.whitespace_split = True
        try:
            value = lexer.get_token()
        except ValueError as exc:
            raise UsageError(f"cannot parse the line ({exc}); check the quotes.") from None
        if flag not in ("--with", "--image") or not value:
            raise UsageError(f"{flag} needs a value: %halion chat --with df,cfg MESSAGE or --image PATH MESSAGE")
        rest = lexer.instream.read().strip()
        if flag == "--with":
            names += [n.strip() for n in value.split(",") if n.strip()]
        else:
            images.append(value)
    return names, images, rest


@command("new", "Start a new conversation, optionally with a system prompt.", arg("--system", metavar="TEXT"))
def _new(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    conversation = workspace().new_chat(system=args.system)
    print(f"new conversation {conversation.id[:8]}" + (" with a system prompt" if args.system else ""))


@command("usage", "Tokens and estimated cost per day and model, from the log.",
         arg("--days", type=int, default=30, metavar="N", help="only the last N days (default 30)"),
         arg("--conversation", metavar="ID", help="only this conversation"))
def _usage(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    import datetime as dt

    from ..display.usage import UsageTable
    from ..services.usage import PRICES_AS_OF, model_rows, summarize

    if args.days < 1:
        raise UsageError("--days must be 1 or more")
    ws = workspace()
    since = dt.date.today() - dt.timedelta(days=args.days - 1)
    rows = summarize(model_rows(ws.log, conversation_id=args.conversation), ws.prices, since=since)
    display(UsageTable(rows, PRICES_AS_OF))


@command("conversations", "List the stored conversations, newest first.")
def _conversations(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    from ..display.usage import ConversationsTable

    display(ConversationsTable(workspace().conversations()))


@command("resume", "Continue a stored conversation (the newest without ID; an id prefix is enough).",
         arg("id", nargs="?"))
def _resume(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    conversation = workspace().resume(args.id)
    from ..services.conversations import is_person

    turns = sum(1 for m in conversation.messages if is_person(m))
    print(f"resumed conversation {conversation.id[:8]}: {turns} turn(s), {len(conversation.messages)} messages")


@command("variables", "Let the model ask for a preview of a notebook variable by name (a tool, off by default; "
         "each call asks first unless --no-approval).", arg("switch", choices=["on", "off"]),
         arg("--no-approval", action="store_true", help="the model may read previews without asking"))
def _variables(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    from ..services.context import VARIABLE_TOOL, variable_tool

    ws = workspace()
    if args.switch == "off":
        if VARIABLE_TOOL in ws.tools:
            ws.tools.remove(VARIABLE_TOOL)
        print(f"{VARIABLE_TOOL}: off; the model cannot read notebook variables")
        return
    namespace = getattr(shell, "user_ns", None)
    if namespace is None:
        raise UsageError("%halion variables needs an IPython shell")
    ws.tools.register(variable_tool(namespace, ws.env.redact), name=VARIABLE_TOOL, active=True,
                      approval=not args.no_approval)
    print(f"{VARIABLE_TOOL}: on; " + ("each call asks you first" if not args.no_approval else "no approval asked"))


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
