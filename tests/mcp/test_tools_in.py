"""Tools in: the real `mcp-server-time` over stdio, added as a user would, used like any other tool."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from halion_nb.errors import ConfigError
from halion_nb.models import Ref, Toolchain, ToolchainStep
from halion_nb.testing import FakeOpenAI, call, reply
from halion_nb.workspace import Workspace



def test_a_server_added_from_python_brings_its_tools_with_their_schemas(ws: Workspace, time_cmd: list[str]) -> None:
    tools = ws.mcp.add("time", time_cmd)
    assert sorted(t.name for t in tools) == ["time__convert_time", "time__get_current_time"]
    schema = ws.tools.get("time__get_current_time").schema["function"]
    assert schema["parameters"]["required"] == ["timezone"] and schema["strict"] is False
    assert "Europe/Madrid" in schema["parameters"]["properties"]["timezone"]["description"]
    saved = json.loads((ws.path / ".halion" / "mcp.json").read_text())
    assert saved["servers"]["time"]["command"] == time_cmd


def test_a_call_through_the_one_path_is_validated_run_and_logged(ws: Workspace, time_cmd: list[str]) -> None:
    ws.mcp.add("time", time_cmd)
    outcome = ws.tools.invoke("time__convert_time", {"source_timezone": "UTC", "time": "12:00",
                                                     "target_timezone": "Asia/Tokyo"}, caller="python")
    assert outcome.ok, outcome.error
    assert outcome.result["target"]["datetime"].endswith("T21:00:00+09:00")
    bad = ws.tools.invoke("time__get_current_time", {"timezone": 3})
    assert bad.error_kind == "arguments" and "timezone: 3 is not of type 'string'" in bad.error
    refused = ws.tools.invoke("time__get_current_time", {"timezone": "Nowhere/Foo"})
    assert refused.error_kind == "raised" and "Invalid timezone" in refused.error
    rows = ws.log.recent(10)
    assert [r.name for r in rows][:3] == ["time__get_current_time"] * 2 + ["time__convert_time"]
    assert rows[2].result["time_difference"] == "+9.0h" and rows[2].version


def test_the_tools_register_from_the_last_listing_when_the_workspace_opens_again(
        ws: Workspace, time_cmd: list[str]) -> None:
    ws.mcp.add("time", time_cmd)
    ws.tools.disable("time__convert_time")
    ws.close()
    again = Workspace(ws.path)
    try:
        assert "time__get_current_time" in again.tools and not again.tools.is_active("time__convert_time")
        assert not any(r["running"] for r in again.mcp.status())  # nothing started yet
        outcome = again.tools.invoke("time__get_current_time", {"timezone": "UTC"})
        assert outcome.ok and outcome.result["timezone"] == "UTC"  # started on first use
        assert again.mcp.status()[0]["running"]
    finally:
        again.close()


def test_a_server_is_switched_on_and_off_as_one_group(ws: Workspace, time_cmd: list[str]) -> None:
    ws.mcp.add("time", time_cmd)
    assert sorted(ws.mcp.disable("time")) == ["time__convert_time", "time__get_current_time"]
    assert not [t for t in ws.offered_tools() if t.name.startswith("time__")]
    off = ws.tools.invoke("time__get_current_time", {"timezone": "UTC"}, only_active=True)
    assert off.error_kind == "inactive"
    ws.mcp.enable("time")
    assert {"time__convert_time", "time__get_current_time"} <= {t.name for t in ws.offered_tools()}


def test_an_mcp_tool_can_need_approval_like_any_tool(ws: Workspace, time_cmd: list[str]) -> None:
    ws.mcp.add("time", time_cmd)
    ws.tools.require_approval("time__get_current_time")
    denied = ws.tools.invoke("time__get_current_time", {"timezone": "UTC"}, approve=lambda request: False)
    assert denied.error_kind == "denied"
    assert ws.tools.invoke("time__get_current_time", {"timezone": "UTC"}, approve=lambda request: True).ok


def test_the_chat_model_calls_an_mcp_tool(served_ws: Workspace, fake_openai: FakeOpenAI, time_cmd: list[str]) -> None:
    try:
        served_ws.mcp.add("time", time_cmd)
        fake_openai.script(reply(tool_calls=[call("time__convert_time", {"source_timezone": "Europe/Madrid",
                                                                          "time": "09:30",
                                                                          "target_timezone": "America/Lima"})]),
                           reply("09:30 in Madrid is 03:30 in Lima."))
        result = served_ws.chat("What time is it in Lima when it is 09:30 in Madrid?")
        assert result.text == "09:30 in Madrid is 03:30 in Lima."
        sent = fake_openai.requests[0]["tools"]
        assert "time__convert_time" in [t["function"]["name"] for t in sent]
        tool_message = fake_openai.requests[1]["messages"][-1]
        assert tool_message["role"] == "tool" and "T03:30:00-05:00" in tool_message["content"]
        row = served_ws.log.recent(5, kind="tool")[0]
        assert row.name == "time__convert_time" and row.caller == "chat" and row.error is None
    finally:
        served_ws.close()


def test_an_mcp_tool_is_a_chain_step(ws: Workspace, time_cmd: list[str]) -> None:
    ws.mcp.add("time", time_cmd)

    def weekday_note(day: str) -> str:
        """A note about the day.

        Args:
            day: Day of the week.
        """
        return f"It is {day} there."

    ws.tools.register(weekday_note)
    chain = Toolchain(name="day_in_tokyo", steps=[
        ToolchainStep(id="now", tool="time__convert_time",
                      arguments={"source_timezone": "UTC", "time": "23:00", "target_timezone": "Asia/Tokyo"}),
        ToolchainStep(id="note", tool="weekday_note", arguments={"day": Ref("steps.now.output.target.day_of_week")}),
    ])
    assert ws.chains.validate(chain) == []
    run = ws.chains.run(chain)
    assert run.ok, run
    assert run.output.startswith("It is ") and run.output.endswith(" there.")
    step_rows = [r for r in ws.log.recent(10) if r.name == "time__convert_time"]
    assert step_rows and step_rows[0].caller == "chain" and step_rows[0].kind == "step"


def test_secrets_are_named_in_mcp_json_and_given_to_the_server_at_start(ws: Workspace, faulty: list[str]) -> None:
    ws.env.set("faulty_TOKEN", "tok-4f9a-very-secret")
    ws.mcp.add("faulty", [*faulty, "serve"], env={"SERVER_TOKEN": "faulty_TOKEN"})
    text = (ws.path / ".halion" / "mcp.json").read_text()
    assert "tok-4f9a-very-secret" not in text and '"SERVER_TOKEN": "${faulty_TOKEN}"' in text
    outcome = ws.tools.invoke("faulty__env_var", {"name": "SERVER_TOKEN"})
    assert outcome.ok and outcome.result == "tok-4f9a-very-secret"
    assert outcome.content == "***"  # what a model would read is redacted
    assert "tok-4f9a" not in (ws.path / ".halion" / "calls.sqlite").read_bytes().decode("latin-1")


def test_a_secret_value_is_never_written_into_mcp_json(ws: Workspace, faulty: list[str]) -> None:
    ws.env.set("faulty_TOKEN", "tok-4f9a-very-secret")
    with pytest.raises(ConfigError, match="give the NAME of a workspace variable"):
        ws.mcp.add("faulty", [*faulty, "serve"], env={"SERVER_TOKEN": "tok-4f9a-very-secret"})
    with pytest.raises(ConfigError, match="a secret value appears"):
        ws.mcp.add("faulty", [*faulty, "serve", "--token", "tok-4f9a-very-secret"])
    assert not (ws.path / ".halion" / "mcp.json").exists()


def test_a_missing_secret_is_named_when_the_server_starts(ws: Workspace, faulty: list[str]) -> None:
    with pytest.raises(ConfigError, match="needs the variable NOT_SET_ANYWHERE.*%halion env set NOT_SET_ANYWHERE"):
        ws.mcp.add("faulty", [*faulty, "serve"], env=["NOT_SET_ANYWHERE"])


def test_removing_a_server_removes_its_tools(ws: Workspace, time_cmd: list[str]) -> None:
    ws.mcp.add("time", time_cmd)
    ws.mcp.remove("time")
    assert not [n for n in ws.tools.names() if n.startswith("time__")]
    assert json.loads((ws.path / ".halion" / "mcp.json").read_text()) == {"servers": {}}


def test_mcp_json_written_by_hand_with_a_literal_secret_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / ".halion").mkdir()
    (tmp_path / ".halion" / "mcp.json").write_text(json.dumps(
        {"servers": {"gh": {"command": ["gh-mcp"], "env": {"GITHUB_TOKEN": "ghp_literal"}}}}))
    w = Workspace(tmp_path)
    try:
        assert "secrets are never written into mcp.json" in w.mcp.problems["mcp.json"]
        with pytest.raises(ConfigError, match="server 'gh': env: env GITHUB_TOKEN: the value must name"):
            w.mcp.servers()
    finally:
        w.close()


def test_the_tools_panel_marks_mcp_tools_with_their_server(ws: Workspace, time_cmd: list[str]) -> None:
    from halion_nb.widgets import find, panel

    ws.tools.register(weekday_note_tool)
    ws.mcp.add("time", time_cmd)
    view = panel("tools", ws=ws)
    assert "MCP · time" in find(find(view, "halion-tool-row-time__convert_time"), "halion-tools-summary").value
    assert "MCP" not in find(find(view, "halion-tool-row-weekday_note_tool"), "halion-tools-summary").value


def weekday_note_tool(day: str) -> str:
    """A note about the day.

    Args:
        day: Day of the week.
    """
    return f"It is {day}."


def test_opening_a_workspace_with_mcp_servers_imports_no_sdk(ws: Workspace, time_cmd: list[str]) -> None:
    import subprocess
    import sys

    ws.mcp.add("time", time_cmd)
    code = ("import sys\nfrom halion_nb.workspace import Workspace\nfrom IPython.testing.globalipapp import "
            "start_ipython\nip = start_ipython()\nip.run_line_magic('load_ext', 'halion_nb')\n"
            f"w = Workspace({str(ws.path)!r})\nprint(sorted(n for n in w.tools.names()), "
            "[m for m in ('mcp', 'jsonschema', 'anyio') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().endswith("['time__convert_time', 'time__get_current_time'] []"), out.stderr


def test_without_the_mcp_extra_each_entry_point_says_which_extra_to_install(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys\nsys.modules['mcp'] = None  # as if the extra were not installed\n"
            "from halion_nb.cli import main\nfrom halion_nb.workspace import Workspace\n"
            f"w = Workspace({str(tmp_path)!r})\n"
            "try:\n    w.mcp.add('time', ['mcp-server-time'])\nexcept Exception as exc:\n    print(exc)\n"
            "try:\n    w.mcp.serve()\nexcept Exception as exc:\n    print(exc)\n"
            "sys.exit(main(['mcp', '--workspace', sys.argv[1]]))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
    hint = 'MCP support needs the mcp extra: pip install "halion_nb[mcp]"'
    assert out.stdout.splitlines() == [hint, hint]
    assert out.returncode == 1 and out.stderr.strip() == f"halion: {hint}"
