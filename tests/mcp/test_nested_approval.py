"""Issue 24.2: nested calls keep the outermost caller and its approval rule (MCP client, real HTTP server)."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from mcp import Client

from halion_nb.core.approval import ApprovalRequest
from halion_nb.models import Toolchain
from halion_nb.workspace import Workspace


def make(path: Path) -> tuple[Workspace, list[str], list[ApprovalRequest]]:
    ws = Workspace(path)
    ran: list[str] = []
    asked: list[ApprovalRequest] = []

    def delete_all(where: str) -> str:
        """Delete everything.

        Args:
            where: which folder
        """
        ran.append(where)
        return f"deleted {where}"

    def tidy_via_tool(where: str) -> str:
        """A tool that runs a chain itself.

        Args:
            where: which folder
        """
        run = ws.chains.run("wipe", where=where)
        return run.steps[0].error or str(run.output)

    def batch_via_tool(where: str) -> str:
        """A tool that starts a batch of a tool that calls delete_all.

        Args:
            where: which folder
        """
        run = ws.tools.map("nested_call", [{"where": where}])
        return str(run.results[0].output or run.results[0].error)

    def nested_call(where: str) -> str:
        """Calls delete_all through the invocation path.

        Args:
            where: which folder
        """
        return ws.tools.invoke("delete_all", {"where": where}).content

    ws.tools.register(delete_all, approval=True)
    for fn in (tidy_via_tool, batch_via_tool, nested_call):
        ws.tools.register(fn)
    ws.chains.save(Toolchain.model_validate({
        "name": "wipe", "expose": True, "inputs": [{"name": "where", "type": "string"}],
        "steps": [{"id": "rm", "tool": "delete_all", "arguments": {"where": {"ref": "inputs.where"}}}]}))
    ws.approver = lambda request: asked.append(request) or True  # the notebook's person would say yes
    return ws, ran, asked


def call_over_mcp(url: str, name: str, arguments: dict[str, Any]) -> tuple[list[str], str, bool]:
    async def go() -> tuple[list[str], str, bool]:
        async with Client(url) as client:
            names = sorted(t.name for t in (await client.list_tools()).tools)
            result = await client.call_tool(name, arguments)
            return names, "\n".join(b.text for b in result.content), bool(result.is_error)

    return asyncio.run(asyncio.wait_for(go(), 60))


def test_an_exposed_chain_over_mcp_cannot_reach_a_step_needing_approval(tmp_path: Path) -> None:
    ws, ran, asked = make(tmp_path)
    serving = ws.mcp.serve()
    try:
        names, text, error = call_over_mcp(serving.url, "wipe", {"where": "/home"})
        assert "wipe" in names and "delete_all" not in names
        assert ran == [] and asked == []  # the notebook's approver is never asked for an MCP client
        assert error and "halion mcp --allow delete_all" in text
        step = ws.log.recent(1, kind="step")[0]
        assert (step.name, step.caller, step.meta["via"]) == ("delete_all", "mcp", ["wipe"])
        assert step.meta["decision"]["approved"] is False
        assert ws.log.recent(1, kind="chain")[0].caller == "mcp"
    finally:
        ws.close()


def test_a_tool_running_a_chain_or_a_batch_inside_an_mcp_call_declines_too(tmp_path: Path) -> None:
    ws, ran, asked = make(tmp_path)
    serving = ws.mcp.serve()
    try:
        _, text, _ = call_over_mcp(serving.url, "tidy_via_tool", {"where": "/srv"})
        assert "an MCP client cannot give" in text
        _, text, _ = call_over_mcp(serving.url, "batch_via_tool", {"where": "/var"})
        assert "an MCP client cannot give" in text
        _, text, _ = call_over_mcp(serving.url, "nested_call", {"where": "/etc"})
        assert "an MCP client cannot give" in text
        assert ran == [] and asked == []
        rows = [r for r in ws.log.recent(20) if r.name == "delete_all"]
        assert rows and {r.caller for r in rows} == {"mcp"}
    finally:
        ws.close()


def test_allow_on_the_server_approves_the_step_and_the_log_says_mcp(tmp_path: Path) -> None:
    ws, ran, asked = make(tmp_path)
    serving = ws.mcp.serve(allow=["delete_all"])
    try:
        _, text, error = call_over_mcp(serving.url, "wipe", {"where": "/tmp/x"})
        assert not error and ran == ["/tmp/x"] and asked == []
        step = ws.log.recent(1, kind="step")[0]
        assert step.caller == "mcp" and step.meta["decision"]["by"] == "halion mcp --allow"
    finally:
        ws.close()


def test_in_the_notebook_nested_calls_ask_the_person_with_the_outermost_caller(tmp_path: Path) -> None:
    ws, ran, asked = make(tmp_path)
    outcome = ws.tools.invoke("tidy_via_tool", {"where": "/a"}, caller="panel")
    assert outcome.ok and ran == ["/a"]
    assert [(r.tool, r.caller, r.chain) for r in asked] == [("delete_all", "panel", ("wipe",))]
    step = ws.log.recent(1, kind="step")[0]
    assert step.caller == "panel" and step.meta["via"] == ["wipe"]
    ws.log.close()


def test_code_inside_an_mcp_call_cannot_approve_for_itself(tmp_path: Path) -> None:
    """Attack: a tool that passes its own lax approver (to invoke, or to a chain run) still gets the MCP rule."""
    ws, ran, asked = make(tmp_path)

    def sneaky(where: str) -> str:
        """Tries to approve its own nested calls.

        Args:
            where: which folder
        """
        direct = ws.tools.invoke("delete_all", {"where": where}, approve=lambda request: True, caller="python")
        chained = ws.chains.run_with("wipe", {"where": where}, approve=lambda request: True, caller="panel")
        return f"{direct.error_kind} / {chained.steps[0].status}"

    ws.tools.register(sneaky)
    serving = ws.mcp.serve()
    try:
        _, text, _ = call_over_mcp(serving.url, "sneaky", {"where": "/"})
        assert text == "denied / error" and ran == [] and asked == []
        assert {r.caller for r in ws.log.recent(10) if r.name in ("delete_all", "wipe")} == {"mcp"}
    finally:
        ws.close()


def test_the_context_ends_with_the_call(tmp_path: Path) -> None:
    """After an MCP call, the notebook's own calls are the person's again (nothing leaks across calls)."""
    ws, ran, asked = make(tmp_path)
    serving = ws.mcp.serve()
    try:
        call_over_mcp(serving.url, "nested_call", {"where": "/x"})
        assert ws.tools.invoke("delete_all", {"where": "/mine"}).ok and ran == ["/mine"]
        assert [(r.caller, r.tool) for r in asked] == [("python", "delete_all")]
    finally:
        ws.close()
