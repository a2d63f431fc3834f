"""Chat panel: the conversation, answers streamed as markdown, tool calls as collapsible cards.

The model's text is untrusted: it is rendered by `display.chat.markdown_html`, which escapes
everything and emits a small set of tags, never passed raw to JupyterLab's (trusted) renderer.

Enter in the one-line box sends; for several lines, the ¶ button swaps in a text area
whose Enter makes a new line, and Send sends (ipywidgets' Textarea has no Enter event).
The turn runs in a thread so the kernel keeps answering clicks (Stop sets the cancel event); a
tool that needs approval shows a card there, and the turn's thread waits for Approve or Deny.
The picker above the history resumes a stored conversation.
"""
from __future__ import annotations

import json
import threading
import time
from html import escape
from typing import TYPE_CHECKING, Any, Callable

import ipywidgets as W

from ..display.chat import markdown_html
from ..display.usage import money
from .approval import ApprovalCard
from ..errors import HalionError, ModelServiceError
from ._coalesce import Coalescer
from ._controller import Controller
from ._ui import ROW, Banner, PanelView, button, css, heading, html, message, pre, show, wrap_row

from ..services.chat import IMAGE_NOTE

if TYPE_CHECKING:
    from ..services.chat import ChatResult, Conversation, ToolCallRecord
    from ..workspace import Workspace

MODELS = ("gpt-4.1-mini", "gpt-4.1", "gpt-4o-mini", "gpt-4o", "o4-mini")
"""Suggestions in the model box; any name the service knows can be typed."""
CURSOR = '<span class="halion-chat-cursor"></span>'
"""A blinking block drawn by CSS (no glyph, so no font can lack it)."""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2, default=str)


class ChatView(PanelView):
    name = "chat"

    def __init__(self) -> None:
        self.model = css(W.Combobox(options=MODELS, ensure_option=False, continuous_update=False,
                                    description="model", layout=W.Layout(width="260px"),
                                    style={"description_width": "44px"}), "halion-chat-model")
        self.new_button = button("New conversation", "halion-chat-new", icon="plus")
        self.picker = css(W.Dropdown(options=[], description="past", layout=W.Layout(width="220px"),
                                     style={"description_width": "34px"}), "halion-chat-picker")
        self.resume_button = button("Resume", "halion-chat-resume", icon="history",
                                    tooltip="Continue the chosen stored conversation")
        self.history = css(W.VBox(layout=W.Layout(min_height="60px")), "halion-chat-history")
        self.empty = html("<i class='halion-muted'>Ask something; the model may call the active tools.</i>",
                          "halion-chat-empty")
        self.live = css(W.VBox(), "halion-chat-live")
        self.banner = Banner("halion-chat-error", action="Retry", action_cls="halion-chat-retry")
        self.retry = self.banner.action
        self.status = html(cls="halion-chat-status")
        self.input = css(W.Text(placeholder="Message (Enter sends)", layout=W.Layout(flex="1 1 240px", width="auto")),
                         "halion-chat-input")
        self.input_multi = css(W.Textarea(placeholder="Message (several lines; Send sends)",
                                          layout=W.Layout(flex="1 1 240px", width="auto", height="80px")),
                               "halion-chat-input-multi")
        show(self.input_multi, False)
        self.multiline = css(W.ToggleButton(value=False, icon="paragraph", tooltip="Several lines",
                                            layout=W.Layout(width="36px", flex="0 0 auto")), "halion-chat-multiline")
        self.send_button = button("Send", "halion-chat-send", icon="paper-plane", style="primary")
        self.stop_button = button("Stop", "halion-chat-stop", icon="stop", style="warning",
                                  tooltip="Stop this answer (the conversation stays)")
        self.stop_button.disabled = True
        toolbar = wrap_row([html(heading("comments", "Chat")), self.model, self.new_button, self.picker,
                            self.resume_button])
        # the scroll box holds one column that never shrinks, laid out from the bottom up
        # (column-reverse): the box starts scrolled to its end and stays there as messages and
        # streamed text arrive, without any JavaScript
        column = W.VBox([self.empty, self.history, self.live], layout=W.Layout(flex="0 0 auto"))
        box = css(W.VBox([column], layout=W.Layout(flex_flow="column-reverse", overflow="auto", max_height="520px")),
                  "halion-chat-history-box")
        inputs = W.HBox([self.input, self.input_multi, self.multiline, self.send_button, self.stop_button],
                        layout=W.Layout(**{**ROW, "align_items": "flex-start"}))
        super().__init__([toolbar, box, self.banner, self.status, inputs])

    # input
    def message_text(self) -> str:
        return (self.input_multi if self.multiline.value else self.input).value

    def clear_input(self) -> None:
        self.input.value = ""
        self.input_multi.value = ""

    def use_multiline(self, on: bool) -> None:
        if on:
            self.input_multi.value = self.input.value
        else:
            self.input.value = self.input_multi.value.replace("\n", " ")
        show(self.input_multi, on)
        show(self.input, not on)

    def set_running(self, running: bool) -> None:
        self.send_button.disabled = running
        self.stop_button.disabled = not running
        self.input.disabled = running
        self.input_multi.disabled = running
        self.retry.disabled = running

    # history pieces
    @staticmethod
    def user_bubble(text: str) -> W.Widget:
        body = escape(text).replace("\n", "<br>")
        return css(W.HTML(f"<div>{body}</div>", layout=W.Layout(align_self="flex-end")), "halion-chat-user")

    @staticmethod
    def answer(text: str, streaming: bool = False) -> W.HTML:
        out = css(W.HTML(), "halion-chat-assistant")
        ChatView.set_answer(out, text, streaming)
        return out

    @staticmethod
    def set_answer(out: W.HTML, text: str, streaming: bool = False) -> None:
        out.value = markdown_html(text) + (CURSOR if streaming else "")

    @staticmethod
    def tool_card(name: str, arguments: Any, result: Any, error: str | None, duration_ms: float | None,
                  to_person: bool = False, images: Any = (), denied: bool = False) -> W.Widget:
        # an Accordion title is plain text (no icon markup), so the outcome is a word
        state = ("denied" if denied else "error") if error is not None else ("result → you" if to_person else "ok")
        took = f" · {duration_ms:.0f} ms" if duration_ms is not None else ""
        parts = [f"<b>arguments</b>{pre(arguments)}"]
        parts.append(f"<b class='halion-err'>error</b>{pre(error)}" if error is not None
                     else f"<b>result</b>{pre(result)}")
        body: W.Widget = css(W.HTML("".join(parts)), "halion-chat-toolcall-body")
        if images:
            pictures = [css(W.Image(value=i.scaled(960).data, format=i.mime.split("/")[-1],
                                    layout=W.Layout(max_width="480px", max_height="480px")), "halion-chat-image")
                        for i in images]
            body = W.VBox([body, *pictures])
        card = W.Accordion(children=[body], titles=(f"{name} · {state}{took}",),
                           selected_index=0 if images else None)
        outcome = "halion-chat-toolcall-error" if error is not None else "halion-chat-toolcall-ok"
        css(card, "halion-chat-toolcall", outcome)
        return card

    @staticmethod
    def direct_result(text: str) -> W.HTML:
        return css(W.HTML(markdown_html(text)), "halion-chat-assistant", "halion-chat-direct")

    @staticmethod
    def note(text: str, kind: str = "info") -> W.Widget:
        return css(W.HTML(message(text, kind)), "halion-chat-note")

    def show_history(self, widgets: list[W.Widget]) -> None:
        self.history.children = widgets
        show(self.empty, not widgets and not self.live.children)

    def show_live(self, widgets: list[W.Widget]) -> None:
        old = self.live.children
        self.live.children = widgets
        for w in old:
            if w not in widgets:
                w.close()
        show(self.empty, not widgets and not self.history.children)


class ChatController(Controller):
    """Runs turns in a worker thread; the history view follows `ws.conversation.messages`."""

    view: ChatView

    def __init__(self, ws: "Workspace", view: ChatView) -> None:
        super().__init__(ws, view)
        self.cancel = threading.Event()
        self.last_result: "ChatResult | None" = None
        self.last_error: BaseException | None = None
        self._records: dict[int, "ToolCallRecord"] = self.hub.chat_records
        """Each turn's records by the identity of the call they answer (ids can repeat)."""
        self._turn_lock = self.hub.chat_lock
        self._shown: list[tuple[int, list[W.Widget]]] = []  # (id of message dict, its widgets)
        self._conversation: "Conversation | None" = None
        self._segment: W.HTML | None = None
        self._segment_text = ""
        self._seen = 0
        self._turn_from = 0
        self._started = 0.0
        self.cards: list[ApprovalCard] = []
        """Every approval card this panel showed (the newest last)."""
        self.stream = Coalescer(self._paint, per_second=20)
        v = view
        v.model.value = ws.model
        v.model.observe(lambda ch: self.set_model(ch["new"]), "value")
        v.input.on_msg(self._on_input_msg)
        v.send_button.on_click(lambda _: self.send())
        v.stop_button.on_click(lambda _: self.stop())
        v.retry.on_click(lambda _: self.retry())
        v.new_button.on_click(lambda _: self.new_conversation())
        v.resume_button.on_click(lambda _: self.resume(v.picker.value))
        v.multiline.observe(lambda ch: v.use_multiline(ch["new"]), "value")
        self.on("model", lambda _: self._model_changed())
        self.on("conversation", lambda _: None if self.worker.busy else self._conversation_changed())
        self.sync_history()
        self.refresh_picker()

    def _conversation_changed(self) -> None:
        self.sync_history()
        self.refresh_picker()

    # stored conversations
    def refresh_picker(self) -> None:
        """List the stored conversations, newest first (the current one is not offered)."""
        current = self.ws.conversation.id
        redact = self.ws.env.redact
        options = []
        for c in self.ws.conversations()[:50]:
            if c.id == current:
                continue
            first = redact(c.first_message.replace("\n", " "))
            label = f"{c.started.astimezone():%m-%d %H:%M} · {c.turns} turn(s) · {first[:40]}"
            options.append((label, c.id))
        self.view.picker.options = options
        self.view.picker.value = options[0][1] if options else None
        self.view.resume_button.disabled = not options

    def resume(self, conversation_id: str | None) -> bool:
        """Make the stored conversation current and show it; False while an answer runs."""
        if not conversation_id:
            return False
        if self.worker.busy:
            self.view.status.value = message("Stop the running answer first.", "error")
            return False
        try:
            conversation = self.ws.resume(conversation_id)
        except HalionError as exc:
            self.view.status.value = message(str(exc), "error")
            return False
        self._records.clear()
        self.view.banner.hide()
        self.sync_history()
        self.view.status.value = message(f"Resumed conversation {conversation.id[:8]}.")
        self.hub.emit("conversation")
        return True

    # approval (the worker thread waits here; the click arrives on the kernel's main thread)
    def _approver(self) -> Any:
        return self.ws.approver or self.ask

    def ask(self, request: Any) -> Any:
        """Show an Approve/Deny card for `request` under the live answer and wait for a click (or Stop)."""
        self.stream.flush()
        card = ApprovalCard(request, self.ws.env.redact)
        self.cards.append(card)
        self.view.show_live([*self.view.live.children, card])
        before = self.view.status.value
        self.view.status.value = message(f"Waiting for your approval to run {request.tool}…")
        try:
            return card.wait(self.cancel)
        finally:
            self.view.status.value = before

    # model
    def set_model(self, name: str) -> None:
        name = (name or "").strip()
        if name and name != self.ws.model:
            self.ws.model = name
            self.hub.emit("model")

    def _model_changed(self) -> None:
        if self.view.model.value != self.ws.model:
            self.view.model.value = self.ws.model

    # sending
    def _on_input_msg(self, _: Any, content: dict[str, Any], buffers: Any) -> None:
        if content.get("event") == "submit":
            self.send()

    def send(self, text: str | None = None) -> bool:
        """Send the typed message (or `text`) in a thread; False when nothing was sent."""
        text = self.view.message_text() if text is None else text
        if not text.strip():
            return False
        conversation = self.ws.conversation
        started = self._start(lambda on_text: conversation.send(text, on_text=on_text, cancel=self.cancel,
                                                                approve=self._approver()), pending=text)
        if started:
            self.view.clear_input()
        return started

    def retry(self) -> bool:
        """Ask again after a failed turn (Conversation.retry); the person's message is not repeated."""
        conversation = self.ws.conversation
        return self._start(lambda on_text: conversation.retry(on_text=on_text, cancel=self.cancel,
                                                              approve=self._approver()), pending=None)

    def stop(self) -> None:
        """Cancel the running turn: it ends at the next streamed piece, the history stays."""
        if self.worker.busy:
            self.cancel.set()
            self.view.status.value = message("Stopping…")

    def new_conversation(self) -> None:
        if self.worker.busy:
            self.view.status.value = message("Stop the running answer first.", "error")
            return
        self.ws.new_chat()
        self._records.clear()
        self.view.banner.hide()
        self.view.status.value = ""
        self.sync_history()
        self.hub.emit("conversation")

    def _start(self, turn: Callable[[Callable[[str], None]], "ChatResult"], pending: str | None) -> bool:
        if self.worker.busy or not self._turn_lock.acquire(blocking=False):
            self.view.status.value = message("An answer is already running (here or in another chat panel).",
                                             "error")
            return False
        self.cancel = threading.Event()
        self.last_error = None
        self._conversation = self.ws.conversation
        self._seen = len(self._conversation.messages)
        self._turn_from = len([m for m in self._conversation.messages if m.get("role") != "system"])
        self._started = time.perf_counter()
        self.view.banner.hide()
        self.view.set_running(True)
        self.view.status.value = message(f"{self.ws.model} is answering…")
        live: list[W.Widget] = [self.view.user_bubble(self.ws.env.redact(pending))] if pending is not None else []
        self._segment, self._segment_text = self.view.answer("", streaming=True), ""
        self.view.show_live([*live, self._segment])

        def finish() -> None:
            self._turn_lock.release()
            self.view.set_running(False)
            self.hub.emit("log")
            self.hub.emit("conversation")

        started = self.worker.start(lambda: turn(self._on_text), on_done=self._done, on_error=self._failed,
                                    on_finally=finish)
        if not started:
            self._turn_lock.release()
            self.view.set_running(False)
        return started

    # streaming (worker thread)
    def _on_text(self, delta: str) -> None:
        conversation = self._conversation
        if conversation is not None and len(conversation.messages) != self._seen:
            # a new round after tool calls: show what the last rounds added, start a new segment
            self.stream.flush()
            self._seen = len(conversation.messages)
            self.sync_history()
            self._segment, self._segment_text = self.view.answer("", streaming=True), ""
            self.view.show_live([self._segment])
        self._segment_text += delta
        self.stream.push(self._segment_text)

    def _paint(self, text: str) -> None:
        if self._segment is not None:
            self.view.set_answer(self._segment, self.ws.env.redact(text), streaming=True)

    def _done(self, result: "ChatResult") -> None:
        self.stream.cancel()
        self.last_result = result
        calls = [c for m in result.messages if m.get("role") == "assistant" for c in m.get("tool_calls") or []]
        for call, record in zip(calls, result.tool_calls):  # by position: ids can repeat (24.4)
            self._records[id(call)] = record
        self.view.show_live([])
        self._segment = None
        self.sync_history(rebuild_from=self._turn_from)
        seconds = time.perf_counter() - self._started
        u = result.usage
        calls = len(result.tool_calls)
        totals = result.totals
        summary = (f"{result.model} · {result.rounds} round(s) · {calls} tool call(s) · "
                   f"{u.prompt_tokens}+{u.completion_tokens} tokens{_about(result.cost)} · {seconds:.1f} s · "
                   f"conversation {totals.conversation_tokens} tokens{_about(totals.conversation_cost)}")
        summary += f" · today{_about(totals.day_cost)}" if totals.day_cost is not None else \
            f" · no price for {result.model} (ws.prices)"
        if result.stopped_reason == "cancelled":
            self.view.status.value = message(f"Stopped. {summary}")
        elif result.stopped_reason == "limit":
            self.view.status.value = message(f"{result.text} {summary}", "error")
        elif result.stopped_reason == "max_rounds":
            self.view.status.value = message(result.text, "error")
        else:
            self.view.status.value = message(summary)

    def _failed(self, exc: BaseException) -> None:
        self.stream.cancel()
        self.last_error = exc
        self.view.show_live([])
        self._segment = None
        self.sync_history()
        self.view.status.value = ""
        if isinstance(exc, HalionError):
            text = str(exc)
            kind = "The model service failed" if isinstance(exc, ModelServiceError) else "Could not answer"
        else:
            text, kind = f"{type(exc).__name__}: {exc}", "Unexpected error"
        self.view.banner.show_message(f"{kind}: {self.ws.env.redact(text)}", "error", action=True)

    # history
    def sync_history(self, rebuild_from: int | None = None) -> None:
        """Make the history show the current conversation's messages (only new ones are built).

        `rebuild_from` rebuilds from that message on (the turn's tool cards once their
        durations are known).
        """
        conversation = self.ws.conversation
        messages = [m for m in conversation.messages if m.get("role") != "system"]
        keep = 0
        limit = len(self._shown) if rebuild_from is None else min(rebuild_from, len(self._shown))
        while keep < limit and keep < len(messages) and self._shown[keep][0] == id(messages[keep]):
            keep += 1
        for _, widgets in self._shown[keep:]:
            for w in widgets:
                w.close()
        self._shown = self._shown[:keep]
        answers = {m.get("tool_call_id"): m.get("content") for m in messages if m.get("role") == "tool"}
        for m in messages[keep:]:
            self._shown.append((id(m), self._widgets_for(m, answers)))
        self.view.show_history([w for _, ws in self._shown for w in ws])

    def _widgets_for(self, m: dict[str, Any], answers: dict[Any, Any]) -> list[W.Widget]:
        role = m.get("role")
        redact = self.ws.env.redact
        if role == "user":
            content = m.get("content") or ""
            if isinstance(content, list):
                texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
                if texts and texts[0].startswith(IMAGE_NOTE):
                    return []  # the images a tool returned: shown in its card
                pictures = sum(1 for p in content if isinstance(p, dict) and p.get("type") != "text")
                content = " ".join(texts) + (f" [{pictures} image(s)]" if pictures else "")
            return [self.view.user_bubble(redact(_text(content)))]
        if role != "assistant":
            return []
        out: list[W.Widget] = []
        if m.get("content"):
            out.append(self.view.answer(redact(m["content"])))
        for call in m.get("tool_calls") or []:
            fn = call.get("function", {})
            record = self._records.get(id(call))
            if record is not None:
                out.append(self.view.tool_card(record.name, _redacted(record.arguments, redact),
                                               _redacted(record.result, redact),
                                               redact(record.error) if record.error is not None else None,
                                               record.duration_ms, record.to_person, record.images,
                                               getattr(record.outcome, "error_kind", None) == "denied"))
                if record.to_person and record.error is None:
                    out.append(self.view.direct_result(redact(_text(record.result))))
                continue
            answer = answers.get(call.get("id"))
            error = answer[len("Error: "):] if isinstance(answer, str) and answer.startswith("Error: ") else None
            try:
                arguments = json.loads(fn.get("arguments") or "{}")
            except ValueError:
                arguments = fn.get("arguments")
            out.append(self.view.tool_card(fn.get("name", "?"), _redacted(arguments, redact),
                                           redact(answer) if error is None and answer is not None else None,
                                           redact(error) if error is not None else None, None))
        return out


def _about(cost: float | None) -> str:
    return "" if cost is None else f" ≈ {money(cost)}"


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    if value is None:
        return None
    text = _text(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


def chat_panel(ws: "Workspace") -> ChatView:
    view = ChatView()
    ChatController(ws, view)
    return view
