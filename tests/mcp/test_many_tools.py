"""Many tools: a clear message before a request carries too many, group switches, and find_tools."""
from __future__ import annotations

import pytest

from halion_nb.services.tool_limit import TooManyTools, check_tool_count
from halion_nb.testing import FakeOpenAI, call, reply
from halion_nb.workspace import Workspace


def echo(text: str) -> str:
    """Say it back.

    Args:
        text: What to say.
    """
    return text


def test_more_tools_than_the_service_accepts_is_said_before_sending(ws: Workspace, time_cmd: list[str]) -> None:
    for i in range(127):
        ws.tools.register(echo, name=f"echo_{i}")
    ws.mcp.add("time", time_cmd)
    with pytest.raises(TooManyTools) as caught:
        check_tool_count(ws.offered_tools())
    message = str(caught.value)
    assert message.startswith("129 tools are active, but the model service accepts at most 128 in one request")
    assert "127 tools, 2 from time" in message and "ws.mcp.disable('NAME')" in message
    ws.mcp.disable("time")  # one switch for the whole server
    check_tool_count(ws.offered_tools())


def test_a_deferred_server_is_loaded_by_the_model_with_find_tools(served_ws: Workspace, fake_openai: FakeOpenAI,
                                                                 time_cmd: list[str]) -> None:
    ws = served_ws
    try:
        tools = ws.mcp.add("time", time_cmd, deferred=True)
        assert [ws.tools.is_active(t.name) for t in tools] == [False, False]
        offered = [t.name for t in ws.offered_tools()]
        assert "find_tools" in offered and not [n for n in offered if n.startswith("time__")]
        fake_openai.script(
            reply(tool_calls=[call("find_tools", {"query": "convert a time between timezones", "limit": 1})]),
            reply("I loaded time__convert_time."),
            reply(tool_calls=[call("time__convert_time", {"source_timezone": "UTC", "time": "08:00",
                                                          "target_timezone": "Asia/Tokyo"})]),
            reply("08:00 UTC is 17:00 in Tokyo."),
        )
        first = ws.chat("What is 08:00 UTC in Tokyo?")
        found = first.tool_calls[0].result
        assert [f["name"] for f in found] == ["time__convert_time"]
        assert found[0]["parameters"]["required"] == ["source_timezone", "time", "target_timezone"]
        assert ws.tools.is_active("time__convert_time") and not ws.tools.is_active("time__get_current_time")
        second = ws.chat("Go on.")
        assert second.text == "08:00 UTC is 17:00 in Tokyo."
        sent = [t["function"]["name"] for t in fake_openai.requests[2]["tools"]]
        assert "time__convert_time" in sent and "time__get_current_time" not in sent
    finally:
        ws.close()


def test_save_all_skips_tools_without_code_of_their_own(tmp_path: Path) -> None:
    from halion_nb.mcp.many_tools import install_finder
    from halion_nb.notebook.commands import run_command
    from halion_nb.workspace import use_workspace

    ws = use_workspace(Workspace(tmp_path / "ws"))

    def shout(text: str) -> str:
        """Shout."""
        return text.upper()

    ws.tools.register(shout, source='def shout(text: str) -> str:\n    """Shout."""\n    return text.upper()\n')
    install_finder(ws)
    run_command(None, "save --all", None)
    assert sorted(p.name for p in ws.tools.dir.glob("*.py")) == ["shout.py"]


@pytest.mark.parametrize("switch", ["tool", "server"])
def test_find_tools_never_switches_on_what_the_person_switched_off(served_ws: Workspace, fake_openai: FakeOpenAI,
                                                                  time_cmd: list[str], switch: str) -> None:
    """Issue 24.3: the model can load definitions, never change what the person switched off."""
    ws = served_ws
    try:
        ws.mcp.add("time", time_cmd, deferred=True)
        if switch == "tool":
            ws.tools.disable("time__convert_time")
        else:
            ws.mcp.disable("time")
        fake_openai.script(reply(tool_calls=[call("find_tools", {"query": "convert time timezones current"})]),
                           reply("nothing to load"))
        result = ws.chat("What is 08:00 UTC in Tokyo?")
        found = [f["name"] for f in result.tool_calls[0].result]
        assert "time__convert_time" not in found
        assert not ws.tools.is_active("time__convert_time")
        if switch == "server":
            assert found == [] and not ws.tools.is_active("time__get_current_time")
        else:
            assert found == ["time__get_current_time"]  # still deferred, so the model may load it
        reopened = Workspace(ws.path)  # the person's switch survives a restart
        assert not reopened.tools.is_active("time__convert_time")
        reopened.close()
    finally:
        ws.close()
