"""Approval in the chat panel (the turn's worker waits on the card), the Tools panel switch, the picker."""
from __future__ import annotations

import time
from typing import Any

import ipywidgets as W

from halion_nb.testing import FakeOpenAI, call, reply
from halion_nb.widgets import find, find_all, panel
from halion_nb.workspace import Workspace


def wait_for(predicate: Any, seconds: float = 20) -> Any:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


def cards(view: W.Widget) -> list[Any]:
    return find_all(view, "halion-approval-card")


def test_two_calls_are_approved_and_denied_one_by_one_by_clicking(add: Workspace, live: FakeOpenAI) -> None:
    ws = add
    ws.tools.require_approval("add")
    live.script(reply(tool_calls=[call("add", {"a": 1, "b": 1}, id="c1"), call("add", {"a": 2, "b": 2}, id="c2")]),
                reply("1 + 1 = 2; you declined the other."))
    view = panel("chat", ws=ws)
    find(view, "halion-chat-input").value = "add twice"
    find(view, "halion-chat-send").click()
    first = wait_for(lambda: cards(view))[0]
    assert "<pre" in find(first, "halion-approval-arg-a").value and ">1</pre>" in find(first, "halion-approval-arg-a").value
    assert "Waiting for your approval to run add" in find(view, "halion-chat-status").value
    time.sleep(0.2)
    assert len(cards(view)) == 1 and len(live.requests) == 1  # the second waits for the first decision
    find(first, "halion-approval-approve").click()
    second = wait_for(lambda: len(cards(view)) == 2 and cards(view)[1])
    find(second, "halion-approval-reason").value = "not that one"
    find(second, "halion-approval-deny").click()
    assert view.controller.wait(20)
    tools = [m for m in live.requests[1]["messages"] if m["role"] == "tool"]
    assert tools[0]["content"] == "2"
    assert tools[1]["content"] == "Error: The person declined to run 'add': not that one"
    decisions = {r.meta["call_id"]: r.meta["decision"] for r in ws.log.recent(5, kind="tool")}
    assert decisions["c1"]["approved"] is True and decisions["c2"] == {
        "approved": False, "reason": "not that one", "by": decisions["c2"]["by"]}
    assert "1 + 1 = 2" in view.controller.last_result.text


def test_stop_while_a_card_waits_denies_and_the_turn_ends(add: Workspace, live: FakeOpenAI) -> None:
    ws = add
    ws.tools.require_approval("add")
    live.script(reply(tool_calls=[call("add", {"a": 1})]), reply("ok, not added"))
    view = panel("chat", ws=ws)
    view.controller.send("add one")
    wait_for(lambda: cards(view))
    find(view, "halion-chat-stop").click()
    assert view.controller.wait(20)
    tool = [m for m in ws.conversation.messages if m["role"] == "tool"][0]
    assert tool["content"].endswith("the person stopped the answer")


def test_the_tools_panel_switch_requires_approval(add: Workspace) -> None:
    view = panel("tools", ws=add)
    box = find(view, "halion-tools-approval")
    assert box.value is False
    box.value = True
    assert add.tools.needs_approval("add")
    add.tools.require_approval("add", False)
    assert find(view, "halion-tools-approval").value is False


def test_the_picker_resumes_a_stored_conversation(add: Workspace, live: FakeOpenAI) -> None:
    ws = add
    live.script(reply("first answer"), reply("second answer"))
    ws.chat("the first conversation")
    old = ws.conversation.id
    ws.new_chat()
    view = panel("chat", ws=ws)
    picker = find(view, "halion-chat-picker")
    assert picker.value == old and "the first conversation" in picker.label
    find(view, "halion-chat-resume").click()
    assert ws.conversation.id == old
    assert "the first conversation" in find_all(view, "halion-chat-user")[0].value
    view.controller.send("go on")
    assert view.controller.wait(20)
    assert [m["content"] for m in live.requests[-1]["messages"]] == ["the first conversation", "first answer", "go on"]


def test_the_background_turn_of_a_chat_cell_fills_its_box(add: Workspace, live: FakeOpenAI) -> None:
    from halion_nb.widgets.approval import BackgroundTurn

    ws = add
    ws.tools.require_approval("add")
    live.script(reply(tool_calls=[call("add", {"a": 4, "b": 4})]), reply("It is **8**."))
    turn = BackgroundTurn(ws, lambda **kw: ws.conversation.send("4 + 4?", **kw)).start()
    card = wait_for(lambda: cards(turn.box))[0]
    find(card, "halion-approval-approve").click()
    assert turn.join(20)
    result = find(turn.box, "halion-chat-result-box").value
    assert "It is <strong>8</strong>." in result and "Approved" in find(card, "halion-approval-status").value
    assert turn.result is not None and turn.result.tool_calls[0].result == 8


def test_a_failed_background_turn_says_why_in_its_box(ws: Workspace) -> None:
    from halion_nb.widgets.approval import BackgroundTurn

    ws.env.set("OPENAI_API_KEY", "sk-key-1234567890abcdefgh")

    def fail(**kw: Any) -> Any:
        raise RuntimeError("boom sk-key-1234567890abcdefgh")

    turn = BackgroundTurn(ws, fail).start()
    assert turn.join(20)
    text = find(turn.box, "halion-chat-error").value
    assert "RuntimeError: boom ***" in text and "sk-key" not in text


def test_a_chain_step_that_needs_approval_shows_a_card_in_the_chains_panel(add: Workspace) -> None:
    from halion_nb.models import Toolchain

    ws = add
    ws.tools.require_approval("add")
    ws.chains.save(Toolchain.model_validate({
        "name": "twice", "inputs": [{"name": "x", "type": "integer"}],
        "steps": [{"id": "one", "tool": "add", "arguments": {"a": {"ref": "inputs.x"}, "b": 1}},
                  {"id": "two", "tool": "add", "arguments": {"a": {"ref": "steps.one.output"}, "b": 1}}]}))
    view = panel("chains", ws=ws)
    find(view, "halion-chains-select").value = "twice"
    find(view, "halion-chains-load").click()
    find(view, "halion-chains-run-input-x").value = 5
    find(view, "halion-chains-run").click()
    first = wait_for(lambda: cards(view))[0]
    assert ">5</pre>" in find(first, "halion-approval-arg-a").value
    find(first, "halion-approval-approve").click()
    second = wait_for(lambda: len(cards(view)) == 2 and cards(view)[1])
    find(second, "halion-approval-deny").click()
    assert view.controller.wait(20)
    run = view.controller.last_run
    assert run.steps[0].result == 6 and run.steps[1].error == "The person declined to run 'add': declined"
    step = ws.log.recent(1, kind="step")[0]
    assert step.meta["decision"]["approved"] is False and step.caller == "chain"


def test_stop_in_a_chat_cell_denies_the_waiting_card_and_frees_the_conversation(add: Workspace,
                                                                                live: FakeOpenAI) -> None:
    from halion_nb.widgets.approval import BackgroundTurn

    ws = add
    ws.tools.require_approval("add")
    live.script(reply(tool_calls=[call("add", {"a": 1})]), reply("not added"), reply("free again"))
    turn = BackgroundTurn(ws, lambda **kw: ws.conversation.send("add 1", **kw)).start()
    wait_for(lambda: cards(turn.box))
    find(turn.box, "halion-chat-cell-stop").click()
    assert turn.join(20) and turn.result is not None
    assert [m["content"] for m in ws.conversation.messages if m["role"] == "tool"] == [
        "Error: The person declined to run 'add': the person stopped the answer"]
    assert find_all(turn.box, "halion-chat-cell-stop") == []


def test_two_calls_sharing_an_id_each_show_their_own_outcome(add: Workspace, live: FakeOpenAI) -> None:
    """Issue 24.4 in the panel: deny the first, approve the second; each card shows what happened to it."""
    ws = add
    ws.tools.require_approval("add")
    live.script(reply(tool_calls=[call("add", {"a": 1, "b": 1}, id="same"), call("add", {"a": 2, "b": 2}, id="same")]),
                reply("done"))
    view = panel("chat", ws=ws)
    view.controller.send("add twice")
    find(wait_for(lambda: cards(view))[0], "halion-approval-deny").click()
    find(wait_for(lambda: len(cards(view)) == 2 and cards(view)[1]), "halion-approval-approve").click()
    assert view.controller.wait(20)
    shown = find_all(view, "halion-chat-toolcall")
    assert [c.titles[0].split(" · ")[1] for c in shown] == ["denied", "ok"]
    assert [r.ok for r in view.controller.last_result.tool_calls] == [False, True]
