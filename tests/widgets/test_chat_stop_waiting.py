"""Stop in the chat panel while the model service has not said a word: the request is closed, the panel is idle."""
from __future__ import annotations

import time

from halion_nb.testing import FakeOpenAI, hang, reply
from halion_nb.widgets import find, panel
from halion_nb.workspace import Workspace


def test_stop_while_the_server_is_silent_closes_the_request(ws: Workspace, live: FakeOpenAI) -> None:
    live.script(hang(120), reply("Here now."))  # the old panel showed "Stopping…" until the server gave up
    view = panel("chat", ws=ws)
    controller = view.controller
    controller.send("slow question")
    deadline = time.monotonic() + 20
    while not live.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    find(view, "halion-chat-stop").click()
    assert controller.wait(30), "the turn ends once Stop closes the request, long before the server would answer"
    assert controller.last_result.stopped_reason == "cancelled"
    assert "Stopped." in find(view, "halion-chat-status").value
    assert find(view, "halion-chat-error").layout.display == "none"
    deadline = time.monotonic() + 20
    while not live.closed_by_client and time.monotonic() < deadline:
        time.sleep(0.01)
    assert live.closed_by_client == 1, "the server saw the request closed"
    controller.send("and now?")
    assert controller.wait(30)
    assert controller.last_result.text == "Here now."
    assert [m["content"] for m in ws.conversation.messages if m["role"] == "user"] == ["slow question", "and now?"]
