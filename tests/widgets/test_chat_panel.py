"""Chat panel against the fake server: streaming answers, tool cards, Stop, errors with Retry."""
from __future__ import annotations

import re
import time
from html import unescape

import ipywidgets as W

from halion_nb.testing import FakeOpenAI, call, error, reply
from halion_nb.widgets import find, find_all, panel
from halion_nb.widgets.chat import CURSOR
from halion_nb.workspace import Workspace


def answers(view: W.Widget) -> list[str]:
    """The answers as text (markdown rendered to HTML, tags stripped)."""
    return [unescape(re.sub(r"<[^>]+>", "", w.value)) for w in find_all(view, "halion-chat-assistant")]


def test_send_shows_the_answer_and_a_tool_card(add: Workspace, live: FakeOpenAI) -> None:
    ws = add
    live.script(reply(tool_calls=[call("add", {"a": 2, "b": 3})]), reply("The sum is **5**."))
    view, logs = panel("chat", ws=ws), panel("logs", ws=ws)
    find(view, "halion-chat-input").value = "what is 2 + 3?"
    find(view, "halion-chat-send").click()
    assert view.controller.wait(20)
    history = find(view, "halion-chat-history").children
    assert ["halion-chat-user" in history[0]._dom_classes, "halion-chat-toolcall" in history[1]._dom_classes,
            "halion-chat-assistant" in history[2]._dom_classes] == [True, True, True]
    assert "what is 2 + 3?" in history[0].value
    card = find(view, "halion-chat-toolcall")
    assert card.selected_index is None  # collapsed until clicked
    assert card.titles[0].startswith("add · ok · ") and card.titles[0].endswith(" ms")
    body = unescape(card.children[0].value)
    assert '"a": 2' in body and "<b>result</b><pre>5</pre>" in body
    assert answers(view) == ["The sum is 5."]
    assert "<strong>5</strong>" in find(view, "halion-chat-assistant").value  # markdown rendered
    assert find(view, "halion-chat-input").value == ""
    assert "1 tool call(s)" in find(view, "halion-chat-status").value
    assert not find(view, "halion-chat-send").disabled and find(view, "halion-chat-stop").disabled
    assert any(r.call_id and "<div>tool</div>" in r.cells.value  # Logs followed the turn
               for r in find_all(find(logs, "halion-logs-table"), "halion-logs-row"))


def test_enter_in_the_input_sends(add: Workspace, live: FakeOpenAI) -> None:
    live.script(reply("hello back"))
    view = panel("chat", ws=add)
    box = find(view, "halion-chat-input")
    box.value = "hello"
    box._handle_custom_msg({"event": "submit"}, [])  # what the browser sends on Enter
    assert view.controller.wait(20)
    assert answers(view) == ["hello back"]
    assert live.requests[0]["messages"][-1] == {"role": "user", "content": "hello"}


def test_multiline_input(add: Workspace, live: FakeOpenAI) -> None:
    live.script(reply("two lines read"))
    view = panel("chat", ws=add)
    find(view, "halion-chat-multiline").value = True
    assert find(view, "halion-chat-input").layout.display == "none"
    find(view, "halion-chat-input-multi").value = "line one\nline two"
    find(view, "halion-chat-send").click()
    view.controller.wait(20)
    assert live.requests[0]["messages"][-1]["content"] == "line one\nline two"
    assert "line one<br>line two" in find(view, "halion-chat-user").value


def test_the_answer_streams_in_coalesced_updates(ws: Workspace, live: FakeOpenAI) -> None:
    text = " ".join(f"word{i}" for i in range(400))
    live.script(reply(text))
    view = panel("chat", ws=ws)
    painted: list[str] = []
    controller = view.controller
    original = controller._paint
    def paint(value: str) -> None:
        original(value)
        segment = controller._segment
        painted.append(segment.value if segment is not None else "")
        time.sleep(0.002)

    controller.stream._apply = paint
    started = time.perf_counter()
    controller.send("go on")
    controller.wait(20)
    elapsed = time.perf_counter() - started
    assert answers(view) == [text]
    assert 1 <= len(painted) <= elapsed * 20 + 2  # at most ~20 widget updates a second, not 400
    assert all(p.endswith(CURSOR) for p in painted)  # a cursor while it streams, gone at the end
    assert "halion-chat-cursor" not in find(view, "halion-chat-assistant").value


def test_the_kernel_stays_free_while_the_model_answers(add: Workspace, live: FakeOpenAI) -> None:
    live.script(reply("slow answer", delay=0.6))
    view = panel("chat", ws=add)
    started = time.perf_counter()
    assert view.controller.send("take your time")
    assert time.perf_counter() - started < 0.3  # send returned at once: the turn runs in a thread
    assert find(view, "halion-chat-send").disabled and not find(view, "halion-chat-stop").disabled
    assert "answering" in find(view, "halion-chat-status").value
    assert "take your time" in find(view, "halion-chat-live").children[0].value  # shown while waiting
    assert view.controller.send("again?") is False  # one turn at a time
    assert view.controller.wait(20)
    assert answers(view) == ["slow answer"]


def test_stop_cancels_cleanly_and_the_conversation_goes_on(ws: Workspace, live: FakeOpenAI) -> None:
    live.script(reply(" ".join(f"w{i}" for i in range(3000))), reply("still here"))
    view = panel("chat", ws=ws)
    controller = view.controller
    original = controller._on_text
    stop = find(view, "halion-chat-stop")

    def on_text(delta: str) -> None:  # press Stop as soon as the answer starts to stream
        original(delta)
        if not controller.cancel.is_set():
            stop.click()

    controller._on_text = on_text
    controller.send("tell me everything")
    assert controller.wait(20)
    assert controller.last_result.stopped_reason == "cancelled"
    assert "Stopped." in find(view, "halion-chat-status").value
    assert find(view, "halion-chat-error").layout.display == "none"
    partial = answers(view)
    assert len(partial) == 1 and partial[0].startswith("w0") and "w2999" not in partial[0]
    controller._on_text = original
    find(view, "halion-chat-input").value = "are you there?"
    find(view, "halion-chat-send").click()
    controller.wait(20)
    assert answers(view)[-1] == "still here"
    users = [m for m in ws.conversation.messages if m["role"] == "user"]
    assert [m["content"] for m in users] == ["tell me everything", "are you there?"]


def test_a_service_error_shows_a_banner_and_retry_works(ws: Workspace, live: FakeOpenAI) -> None:
    live.script(error(401, "invalid api key"), reply("now it works"))
    view = panel("chat", ws=ws)
    find(view, "halion-chat-input").value = "hello"
    find(view, "halion-chat-send").click()
    view.controller.wait(20)
    banner = find(view, "halion-chat-error")
    assert banner.layout.display != "none"
    assert "refused the API key" in unescape(banner.text.value)
    retry = find(view, "halion-chat-retry")
    assert retry.layout.display != "none" and not retry.disabled
    assert [w.value for w in find_all(view, "halion-chat-user")] == ["<div>hello</div>"]  # history intact
    retry.click()
    view.controller.wait(20)
    assert banner.layout.display == "none"
    assert answers(view) == ["now it works"]
    assert len(find_all(view, "halion-chat-user")) == 1  # the message was not repeated
    assert [m["role"] for m in live.requests[1]["messages"]] == ["user"]


def test_no_service_configured_is_explained(ws: Workspace) -> None:
    view = panel("chat", ws=ws)
    view.controller.send("hi")
    view.controller.wait(20)
    assert "no model service is configured" in find(view, "halion-chat-error").text.value


def test_a_tool_error_shows_in_its_card(add: Workspace, live: FakeOpenAI) -> None:
    live.script(reply(tool_calls=[call("add", {"a": "two"})]), reply("Sorry, a must be a number."))
    view = panel("chat", ws=add)
    view.controller.send("add two")
    view.controller.wait(20)
    card = find(view, "halion-chat-toolcall")
    assert "halion-chat-toolcall-error" in card._dom_classes and card.titles[0].startswith("add · error")
    assert "Invalid arguments" in unescape(card.children[0].value)


def test_a_direct_result_goes_to_the_person(add: Workspace, live: FakeOpenAI) -> None:
    add.tools.set_postprocess("add", False)
    live.script(reply(tool_calls=[call("add", {"a": 40, "b": 2})]))
    view = panel("chat", ws=add)
    view.controller.send("add 40 and 2")
    view.controller.wait(20)
    assert "result → you" in find(view, "halion-chat-toolcall").titles[0]
    assert find(view, "halion-chat-direct").value == "<p>42</p>"


def test_new_conversation_and_a_second_panel(ws: Workspace, live: FakeOpenAI) -> None:
    live.script(reply("first answer"))
    view, other = panel("chat", ws=ws), panel("chat", ws=ws)
    view.controller.send("first")
    view.controller.wait(20)
    assert answers(other) == ["first answer"]  # the other panel shows the same conversation
    old = ws.conversation
    find(view, "halion-chat-new").click()
    assert ws.conversation is not old
    assert find(view, "halion-chat-history").children == () and find(other, "halion-chat-history").children == ()


def test_the_model_selector_sets_the_workspace_model(ws: Workspace, live: FakeOpenAI) -> None:
    live.script(reply("ok"))
    view, other = panel("chat", ws=ws), panel("chat", ws=ws)
    assert find(view, "halion-chat-model").value == "gpt-test"
    find(view, "halion-chat-model").value = "my-local-model"
    assert ws.model == "my-local-model" and find(other, "halion-chat-model").value == "my-local-model"
    view.controller.send("hi")
    view.controller.wait(20)
    assert live.requests[0]["model"] == "my-local-model"


def test_the_model_text_is_escaped_not_run(ws: Workspace, live: FakeOpenAI) -> None:
    live.script(reply("Look: <img src=x onerror=alert(1)> and `<b>code</b>`\n\n```\n<script>bad()</script>\n```"))
    view = panel("chat", ws=ws)
    view.controller.send("<i>hi</i>")
    view.controller.wait(20)
    shown = find(view, "halion-chat-assistant").value
    assert "<img" not in shown and "<script" not in shown and "&lt;img src=x" in shown
    assert "<i>hi</i>" not in find(view, "halion-chat-user").value


def test_secrets_in_answers_are_redacted(ws: Workspace, live: FakeOpenAI) -> None:
    ws.env.set("DEMO_TOKEN", "tok-abcdef-123456")
    live.script(reply("your token is tok-abcdef-123456"))
    view = panel("chat", ws=ws)
    view.controller.send("what is my token?")
    view.controller.wait(20)
    assert answers(view)[0].startswith("your token is *")
    assert "tok-abcdef" not in find(view, "halion-chat-assistant").value
