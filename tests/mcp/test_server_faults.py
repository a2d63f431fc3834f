"""A server that fails to start, crashes, hangs or lists a bad schema: a clear error, and the rest carries on."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from halion_nb.mcp import McpServerError
from halion_nb.workspace import Workspace

Gone = Callable[[int], bool]


def test_a_server_that_exits_at_start_says_so_with_its_last_words(ws: Workspace, faulty: list[str]) -> None:
    with pytest.raises(McpServerError, match="could not start.*no configuration found, giving up"):
        ws.mcp.add("broken", [*faulty, "exit"])
    assert "broken" not in ws.mcp.servers()  # nothing saved


def test_a_command_that_does_not_exist_is_named(ws: Workspace) -> None:
    with pytest.raises(McpServerError, match="could not start: .*no-such-mcp-server"):
        ws.mcp.add("ghost", ["no-such-mcp-server"])


def test_a_server_that_never_answers_the_handshake_times_out(ws: Workspace, faulty: list[str]) -> None:
    ws.tool_timeout = 2
    with pytest.raises(McpServerError, match="did not finish starting within 2 s and was stopped"):
        ws.mcp.add("stalled", [*faulty, "stall"])


def test_a_tool_with_a_bad_schema_is_skipped_and_the_others_register(ws: Workspace, faulty: list[str]) -> None:
    tools = {t.name for t in ws.mcp.add("faulty", [*faulty, "serve"])}
    assert tools == {"faulty__echo", "faulty__crash", "faulty__hang", "faulty__env_var", "faulty__pid"}
    assert "tool 'bad_schema' skipped: its input schema is not valid JSON Schema" in ws.mcp.problems["faulty"]


def test_a_crash_is_an_error_for_that_call_and_the_next_call_starts_the_server_again(
        ws: Workspace, faulty: list[str]) -> None:
    ws.mcp.add("faulty", [*faulty, "serve"])
    crashed = ws.tools.invoke("faulty__crash", {})
    assert crashed.error_kind == "raised"
    assert "MCP server 'faulty' stopped answering" in crashed.error and "crashing on purpose" in crashed.error
    again = ws.tools.invoke("faulty__echo", {"text": "still here"})
    assert again.ok and again.result == "still here"


def test_a_hung_call_times_out_and_the_server_keeps_serving(ws: Workspace, faulty: list[str]) -> None:
    ws.mcp.add("faulty", [*faulty, "serve"])
    ws.tool_timeout = 1.5
    hung = ws.tools.invoke("faulty__hang", {}, timeout=5)
    assert hung.error_kind == "raised" and "did not answer a call to 'hang' within 1.5 s" in hung.error
    assert ws.tools.invoke("faulty__echo", {"text": "ok"}).result == "ok"


def test_one_broken_server_does_not_stop_the_rest(ws: Workspace, faulty: list[str], time_cmd: list[str]) -> None:
    ws.mcp.add("faulty", [*faulty, "serve"])
    ws.mcp.add("time", time_cmd)
    assert not ws.tools.invoke("faulty__crash", {}).ok
    assert ws.tools.invoke("time__get_current_time", {"timezone": "UTC"}).ok
    local = ws.tools.register(lambda_free_tool)
    assert ws.tools.invoke(local.name, {"x": 2}).result == 4


def lambda_free_tool(x: int) -> int:
    """Double it.

    Args:
        x: A number.
    """
    return 2 * x


def test_closing_the_workspace_stops_its_servers(ws: Workspace, faulty: list[str], gone: Gone) -> None:
    ws.mcp.add("faulty", [*faulty, "serve"])
    pid = ws.tools.invoke("faulty__pid", {}).result
    ws.close()
    assert gone(pid)


def test_servers_stop_when_the_process_exits(tmp_path: Path, faulty: list[str], gone: Gone) -> None:
    code = ("import sys\nfrom halion_nb.workspace import Workspace\nw = Workspace(sys.argv[1])\n"
            f"w.mcp.add('faulty', {faulty + ['serve']!r})\nprint(w.tools.invoke('faulty__pid', {{}}).result)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert gone(int(out.stdout.strip()))


def test_a_url_nobody_answers_at_is_a_clear_start_error(ws: Workspace) -> None:
    with pytest.raises(McpServerError, match=r"MCP server 'away' could not start: ConnectError: All connection"):
        ws.mcp.add("away", url="http://127.0.0.1:9/mcp")
    assert ws.mcp.servers() == {}
