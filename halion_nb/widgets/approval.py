"""Approve or Deny a tool call from a card, and a `%halion chat` turn that can wait for one.

The kernel handles no widget message while a cell runs, so a card is only ever waited on from a
thread other than the kernel's main one: the chat panel's worker, or the background turn that
`%halion chat` starts when a tool needs approval (the cell returns at once; the turn fills its
output box as it goes). The waiting thread blocks on a `threading.Event` that a button sets.
"""
from __future__ import annotations

import re
import threading
from html import escape
from typing import TYPE_CHECKING, Any, Callable

import ipywidgets as W

from ..core.approval import ApprovalRequest, Decision
from ..display.chat import StreamingText, chat_result_html
from ._coalesce import Coalescer
from ._ui import button, css, icon, message, style_widget

if TYPE_CHECKING:
    from ..services.chat import ChatResult
    from ..workspace import Workspace

Redact = Callable[[str], str]
ARGUMENT_CHARS = 2000
"""How much of each argument a card shows before "Show all N characters"."""
ARGUMENT_ROWS = 40
"""How many arguments a card shows before "Show N more arguments"."""
NOBODY_HERE = ("nobody can answer here: this kernel has no interactive frontend to click Approve in "
               "(no stdin, no widget messages), as under nbclient or CI; set ws.approver to decide in code")


class ApprovalCard(W.VBox):
    """The tool, its arguments (redacted, bounded), a reason box, Approve and Deny."""

    def __init__(self, request: ApprovalRequest, redact: Redact | None = None) -> None:
        clean = redact or (lambda s: s)
        self.request = request
        self.decision: Decision | None = None
        self._answered = threading.Event()
        via = f" (in chain {escape(' › '.join(request.chain))})" if request.chain else ""
        title = css(W.HTML(f"{icon('lock')} <b>{escape(request.tool)}</b>{via} wants to run — approve this call?"),
                    "halion-approval-title")
        arguments = request.arguments if isinstance(request.arguments, dict) else {"arguments": request.arguments}
        self.arguments = css(W.VBox(_argument_rows(list(arguments.items()), clean)), "halion-approval-args")
        self.reason = css(W.Text(placeholder="Reason (optional; the model reads it)",
                                 layout=W.Layout(flex="1 1 200px", width="auto")), "halion-approval-reason")
        self.approve_button = button("Approve", "halion-approval-approve", icon="check", style="success")
        self.deny_button = button("Deny", "halion-approval-deny", icon="times", style="danger")
        self.status = css(W.HTML(), "halion-approval-status")
        self.approve_button.on_click(lambda _: self.answer(True))
        self.deny_button.on_click(lambda _: self.answer(False))
        row = W.HBox([self.reason, self.approve_button, self.deny_button],
                     layout=W.Layout(flex_flow="row wrap", align_items="center"))
        super().__init__([title, self.arguments, row, self.status], layout=W.Layout(
            border="1px solid #d4a72c", padding="4px 8px", margin="4px 0"))
        css(self, "halion-approval-card", f"halion-approval-{request.call_id or request.tool}")

    def answer(self, approved: bool, reason: str | None = None, by: str | None = None) -> None:
        """Decide (a button does this); the waiting turn goes on."""
        if self._answered.is_set():
            return
        reason = (reason if reason is not None else self.reason.value).strip() or None
        self.decision = Decision(approved, reason if reason or approved else "declined",
                                 by=by or self.request.user)
        self.approve_button.disabled = self.deny_button.disabled = self.reason.disabled = True
        said = "Approved" if approved else "Denied" + (f": {reason}" if reason else "")
        self.status.value = message(said, "ok" if approved else "error")
        self._answered.set()

    def wait(self, cancel: threading.Event | None = None) -> Decision:
        """Block this (non-main) thread until a button is clicked, or `cancel` is set."""
        while not self._answered.wait(0.1):
            if cancel is not None and cancel.is_set():
                self.answer(False, "the person stopped the answer", by="halion")
        assert self.decision is not None
        return self.decision


def _text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _argument_rows(items: list[tuple[Any, Any]], clean: Redact) -> list[W.Widget]:
    """A row per argument; past ARGUMENT_ROWS, the rest one click away (built only then)."""
    rows = [_argument_row(str(k), v, clean) for k, v in items[:ARGUMENT_ROWS]]
    rest = items[ARGUMENT_ROWS:]
    if rest:
        more = button(f"Show {len(rest):,} more arguments", "halion-approval-more-args", icon="expand")
        box = W.VBox([more])
        more.on_click(lambda _: setattr(box, "children", [_argument_row(str(k), v, clean) for k, v in rest]))
        rows.append(box)
    return rows


def _argument_row(name: str, value: Any, clean: Redact) -> W.Widget:
    """One argument on its own line: redacted, bounded at ARGUMENT_CHARS, the whole value a click away."""
    text = clean(_text(value))  # redacted before the cut: no secret is split across it
    shown = css(W.HTML(_argument_html(name, text[:ARGUMENT_CHARS], len(text) > ARGUMENT_CHARS)),
                "halion-approval-arg", "halion-approval-arg-" + re.sub(r"[^A-Za-z0-9_-]", "-", name))
    if len(text) <= ARGUMENT_CHARS:
        return shown
    more = button(f"Show all {len(text):,} characters", "halion-approval-show-all", icon="expand")

    def show_all(_: Any) -> None:
        shown.value = _argument_html(name, text, False)
        more.layout.display = "none"

    more.on_click(show_all)
    return W.VBox([shown, more])


def _argument_html(name: str, text: str, cut: bool) -> str:
    tail = " …" if cut else ""
    return (f"<div><b>{escape(name)}</b>:<pre style='margin:0 0 0 1em;white-space:pre-wrap;"
            f"overflow-wrap:anywhere'>{escape(text)}{tail}</pre></div>")


def can_click(shell: Any) -> bool:
    """True when this kernel's current request comes from a frontend a person sits at (stdin allowed)."""
    kernel = getattr(shell, "kernel", None)
    return kernel is not None and bool(getattr(kernel, "_allow_stdin", False))


def nobody(request: ApprovalRequest) -> Decision:
    return Decision(False, NOBODY_HERE, by="halion")


class BackgroundTurn:
    """`%halion chat` when a tool needs approval: the turn runs in a thread, its output box fills in.

    The box holds the streaming answer, then each approval card, then the finished result;
    the cell returns at once so the kernel can receive the clicks. Stop ends the turn (a waiting
    card is denied), so a card nobody answers never holds the conversation.
    """

    def __init__(self, ws: "Workspace", send: Callable[..., "ChatResult"]) -> None:
        self.ws = ws
        self.redact = ws.env.redact
        self.answer = css(W.HTML(), "halion-chat-live-answer")
        self.cancel = threading.Event()
        self.stop_button = button("Stop", "halion-chat-cell-stop", icon="stop", style="warning",
                                  tooltip="Stop this answer (the conversation stays)")
        self.stop_button.layout.width, self.stop_button.layout.align_self = "auto", "flex-start"
        self.stop_button.on_click(lambda _: self.stop())
        self.box = css(W.VBox([style_widget(), self.answer, self.stop_button]), "halion-chat-background")
        self.result: "ChatResult | None" = None
        self.error: BaseException | None = None
        self._send = send
        self._text: list[str] = []
        self._stream = Coalescer(self._paint, per_second=10)
        self._thread = threading.Thread(target=self._run, name="halion-chat-cell", daemon=True)

    def start(self) -> "BackgroundTurn":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.cancel.set()
        self.stop_button.disabled = True

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def ask(self, request: ApprovalRequest) -> Decision:
        self._stream.flush()
        card = ApprovalCard(request, self.redact)
        self.box.children = [c for c in self.box.children if c is not self.stop_button] + [card, self.stop_button]
        return card.wait(self.cancel)

    def _on_text(self, delta: str) -> None:
        self._text.append(delta)
        self._stream.push("".join(self._text))

    def _paint(self, text: str) -> None:
        self.answer.value = StreamingText(text, self.redact)._repr_html_()

    def _run(self) -> None:
        try:
            self.result = self._send(on_text=self._on_text, approve=self.ask, cancel=self.cancel)
        except BaseException as exc:  # shown in the box; a thread has nobody to raise to
            self.error = exc
            self._stream.cancel()
            self.box.children = [c for c in self.box.children if c is not self.stop_button] + [css(W.HTML(message(
                f"{type(exc).__name__}: {self.redact(str(exc))}", "error")), "halion-chat-error")]
            return
        self._stream.cancel()
        done = css(W.HTML(chat_result_html(self.result)), "halion-chat-result-box")
        self.box.children = [c for c in self.box.children if c not in (self.answer, self.stop_button)] + [done]
