"""Issue 24.16: a lone surrogate (half an emoji) is refused before the tool runs; nothing raises, nothing is lost."""
from __future__ import annotations

import json
from pathlib import Path

from halion_nb.errors import ToolArgumentError
from halion_nb.models import Toolchain
from halion_nb.testing import FakeOpenAI, call, reply
from halion_nb.workspace import Workspace

HALF = "\ud83d"


def add_note(ws: Workspace) -> list[str]:
    """Register the tool `note` in `ws`; the list it returns holds the text of each call that ran."""
    ran: list[str] = []

    def note(text: str) -> str:
        """Keep a note.

        Args:
            text: the note
        """
        ran.append(text)
        return "kept"

    ws.tools.register(note)
    return ran


def make(path: Path) -> tuple[Workspace, list[str]]:
    ws = Workspace(path, model="gpt-test")
    return ws, add_note(ws)


def test_invoke_refuses_it_before_the_tool_runs_and_logs_the_call(tmp_path: Path) -> None:
    ws, ran = make(tmp_path)
    for arguments in ({"text": f"smile {HALF}"}, json.dumps({"text": HALF}), {"text": ["ok"], HALF: 1}):
        outcome = ws.tools.invoke("note", arguments)
        assert outcome.error_kind == "arguments" and "lone surrogate" in outcome.error
        assert outcome.log_id is not None and ws.log.get(outcome.log_id).error
    assert ran == []
    assert ws.tools.invoke("note", {"text": "smile 😀"}).ok  # a whole emoji is fine, as a pair escape too
    assert ws.tools.invoke("note", '{"text": "\\ud83d\\ude00"}').ok and ran == ["smile 😀", "😀"]


def test_validate_raises_tool_argument_error(tmp_path: Path) -> None:
    ws, _ = make(tmp_path)
    try:
        ws.tools.get("note").validate({"text": HALF})
    except ToolArgumentError as exc:
        assert exc.problems and "arguments.text" in exc.problems[0]
    else:
        raise AssertionError("a lone surrogate passed validation")


def test_a_chat_turn_survives_it_and_the_model_reads_the_error(served_ws: Workspace, fake_openai: FakeOpenAI) -> None:
    ran = add_note(served_ws)
    fake_openai.script(reply(tool_calls=[call("note", '{"text": "half \\ud83d"}', id="c1")]), reply("sorry"))
    result = served_ws.chat("note it")
    assert result.text == "sorry" and ran == []
    tool = [m for m in fake_openai.requests[1]["messages"] if m["role"] == "tool"][0]
    assert "lone surrogate" in tool["content"]
    row = served_ws.log.recent(1, kind="tool")[0]
    assert row.error and row.name == "note"


def test_a_tool_returning_one_is_logged_not_raised(tmp_path: Path) -> None:
    ws, _ = make(tmp_path)
    def broken() -> str:
        """Returns half an emoji."""
        return "broken " + HALF

    ws.tools.register(broken)
    outcome = ws.tools.invoke("broken", {})
    assert outcome.ok and outcome.log_id is not None
    assert ws.log.get(outcome.log_id).result == "broken " + HALF  # kept as its escape: the same string


def test_a_chain_literal_with_one_round_trips(tmp_path: Path) -> None:
    ws, _ = make(tmp_path)
    chain = Toolchain.model_validate({"name": "odd", "steps": [{"id": "n", "tool": "note",
                                                                "arguments": {"text": f"x{HALF}"}}]})
    ws.chains.save(chain)
    assert json.loads((tmp_path / "chains" / "odd.json").read_text())["steps"][0]["arguments"]["text"] == f"x{HALF}"
    reopened = Workspace(tmp_path)
    assert reopened.chains.get("odd").steps[0].arguments["text"] == f"x{HALF}"
    reopened.log.close()


def test_half_an_emoji_in_the_model_s_text_keeps_the_conversation_going(
        served_ws: Workspace, fake_openai: FakeOpenAI) -> None:
    """Attack: the model's own text with a lone surrogate must not break the store or the next request."""
    fake_openai.script(reply(f"half {HALF}"), reply("still here"))
    assert served_ws.chat("hi").text == f"half {HALF}"
    assert served_ws.chat("and?").text == "still here"
    resumed = served_ws.resume(served_ws.conversation.id)
    assert resumed.messages[1]["content"] == f"half {HALF}"  # stored as its escape: read back the same
