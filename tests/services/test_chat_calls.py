"""Issue 24.4 and 24.17: approval decisions are bound to the exact call shown; a limit at a round boundary stops."""
from __future__ import annotations

import pytest

from halion_nb.core.approval import ApprovalRequest, Decision
from halion_nb.testing import FakeOpenAI, call, reply
from halion_nb.workspace import Workspace
from tests.services.test_chat_people import ws  # noqa: F401  (served_ws with delete_file, which needs approval)


def test_two_calls_sharing_an_id_are_decided_one_by_one(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply(tool_calls=[call("delete_file", {"path": "precious.txt"}, id="same"),
                                         call("delete_file", {"path": "tmp.txt"}, id="same")]),
                       reply("done"))
    asked: list[ApprovalRequest] = []

    def approve(request: ApprovalRequest) -> Decision:
        asked.append(request)
        keep = request.arguments["path"] == "precious.txt"
        return Decision(not keep, "keep it" if keep else None, by="ann")

    result = ws.chat("tidy", approve=approve)
    assert [r.arguments["path"] for r in asked] == ["precious.txt", "tmp.txt"]
    assert ws.ran == ["tmp.txt"]  # the later Approve never overrides the earlier Deny
    assert [r.ok for r in result.tool_calls] == [False, True]
    assert "keep it" in result.tool_calls[0].error


def test_identical_calls_are_each_asked(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply(tool_calls=[call("delete_file", {"path": "a"}, id="x"),
                                         call("delete_file", {"path": "a"}, id="x")]), reply("done"))
    answers = iter([True, False])
    asked: list[ApprovalRequest] = []
    ws.chat("twice", approve=lambda request: asked.append(request) or next(answers))
    assert len(asked) == 2 and ws.ran == ["a"]


def test_a_decision_never_covers_a_call_it_was_not_shown(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    """A decision is used only for the tool and arguments it was asked about."""
    from halion_nb.services.call_decisions import decided_for

    shown = ApprovalRequest(tool="delete_file", arguments={"path": "a"}, caller="chat", call_id="x")
    decision = Decision(True, by="ann")
    approve = decided_for(shown, decision)
    assert approve(shown) == decision
    other = ApprovalRequest(tool="delete_file", arguments={"path": "b"}, caller="chat", call_id="x")
    assert approve(other).approved is False


def test_max_tool_calls_reached_exactly_at_a_round_boundary_stops_with_limit(
        ws: Workspace, fake_openai: FakeOpenAI) -> None:
    ws.approver = lambda request: True
    ws.limits.max_tool_calls = 1
    fake_openai.script(reply(tool_calls=[call("delete_file", {"path": "a"}, id="c1")]),
                       reply(tool_calls=[call("delete_file", {"path": "b"}, id="c2")]),
                       reply("next turn works"))
    result = ws.chat("delete both")
    assert result.stopped_reason == "limit" and "max_tool_calls = 1" in result.text
    assert ws.ran == ["a"]
    tools = [m for m in ws.conversation.messages if m["role"] == "tool"]
    assert [t["tool_call_id"] for t in tools] == ["c1", "c2"] and tools[1]["content"].startswith("Error: not run")
    assert ws.chat("and now?").text == "next turn works"


@pytest.mark.parametrize("count", [1, 2])
def test_a_chat_inside_an_mcp_call_asks_the_mcp_rule_not_the_notebook(ws: Workspace, fake_openai: FakeOpenAI,
                                                                     count: int) -> None:
    """Attack on 24.2: a served tool that chats; its model's calls (one, or several on pool threads) keep the rule."""
    asked: list[ApprovalRequest] = []
    ws.approver = lambda request: asked.append(request) or True  # the notebook's person would say yes

    def ask_the_model(question: str) -> str:
        """Asks the chat model.

        Args:
            question: what to ask
        """
        return ws.new_chat().send(question).text

    ws.tools.register(ask_the_model)
    fake_openai.script(reply(tool_calls=[call("delete_file", {"path": f"f{i}"}, id=f"c{i}") for i in range(count)]),
                       reply("could not"))
    mcp_rule = lambda request: False  # noqa: E731 - what an MCP client without --allow gets
    outcome = ws.tools.invoke("ask_the_model", {"question": "wipe"}, caller="mcp", approve=mcp_rule)
    assert outcome.ok and ws.ran == [] and asked == []
    rows = [r for r in ws.log.recent(10, kind="tool") if r.name == "delete_file"]
    assert len(rows) == count and {r.caller for r in rows} == {"mcp"}
