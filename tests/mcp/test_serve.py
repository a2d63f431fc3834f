"""Tools out: the SDK's own client against `halion mcp` (stdio, a subprocess) and the kernel's HTTP server."""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError, StdioServerParameters

from halion_nb.workspace import Workspace

TOOLS = {
    "add": '''def add(a: int, b: int = 2) -> int:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b
''',
    "explode": '''def explode(why: str) -> str:
    """Always fails.

    Args:
        why: The reason.
    """
    raise RuntimeError(f"exploded: {why}")
''',
    "whoami": '''import os


def whoami() -> str:
    """Which service account this is."""
    return "account " + os.environ["SERVICE_TOKEN"]
''',
    "switched_off": '''def switched_off() -> str:
    """A tool the person switched off."""
    return "should not run"
''',
    "delete_all": '''def delete_all() -> str:
    """A tool that needs the person's approval."""
    return "deleted"
''',
}
SECRET = "svc-7d1c-secret-value"


def make_workspace(path: Path) -> Workspace:
    ws = Workspace(path)
    for name, code in TOOLS.items():
        ws.tools.update_source(name, code)
    ws.tools.disable("switched_off")
    ws.tools.require_approval("delete_all")
    ws.env.set("SERVICE_TOKEN", SECRET)
    return ws


def texts(result: Any) -> str:
    return "\n".join(block.text for block in result.content)


async def exercise(client: Client) -> dict[str, Any]:
    """What an outside agent does: list the tools, call each kind."""
    listed = await client.list_tools()
    out: dict[str, Any] = {"names": sorted(t.name for t in listed.tools),
                           "add_schema": next(t.input_schema for t in listed.tools if t.name == "add")}
    for key, name, args in [("ok", "add", {"a": 40}), ("bad", "add", {"a": "forty"}),
                            ("raises", "explode", {"why": "on purpose"}), ("secret", "whoami", {}),
                            ("off", "switched_off", {}), ("approval", "delete_all", {})]:
        out[key] = await client.call_tool(name, args)
    try:
        await client.call_tool("no_such_tool", {})
    except MCPError as exc:
        out["unknown"] = exc
    return out


def check(seen: dict[str, Any]) -> None:
    assert seen["names"] == ["add", "explode", "whoami"]  # the disabled one and the one needing approval are not served
    assert seen["add_schema"]["properties"]["b"] == {"default": 2, "description": "The second number.",
                                                     "type": "integer"}  # the loose form, defaults kept
    assert not seen["ok"].is_error and texts(seen["ok"]) == "42"
    assert seen["bad"].is_error and "a: Input should be a valid integer" in texts(seen["bad"])
    assert seen["raises"].is_error and texts(seen["raises"]) == "Error: RuntimeError: exploded: on purpose"
    assert not seen["secret"].is_error and texts(seen["secret"]) == "account ***"
    assert seen["off"].is_error and "switched off" in texts(seen["off"])
    assert seen["approval"].is_error and "halion mcp --allow delete_all" in texts(seen["approval"])
    assert "Unknown tool: no_such_tool" in str(seen["unknown"])


def halion_command(workspace: Path, *extra: str) -> StdioServerParameters:
    exe = Path(sys.executable).with_name("halion")
    assert exe.exists(), "pip install -e . installs the halion console script"
    return StdioServerParameters(command=str(exe), args=["mcp", "--workspace", str(workspace), *extra])


def test_the_sdk_client_over_stdio_against_halion_mcp(tmp_path: Path) -> None:
    make_workspace(tmp_path).log.close()

    async def run() -> dict[str, Any]:
        async with Client(halion_command(tmp_path)) as client:
            return await exercise(client)

    check(asyncio.run(asyncio.wait_for(run(), 60)))
    ws = Workspace(tmp_path)
    rows = ws.log.recent(10, caller="mcp")
    assert {r.name for r in rows} == {"add", "explode", "whoami", "switched_off"}
    assert all(r.caller == "mcp" for r in rows)
    assert SECRET not in (tmp_path / ".halion" / "calls.sqlite").read_bytes().decode("latin-1")
    ws.log.close()


def test_allow_serves_a_tool_that_needs_approval(tmp_path: Path) -> None:
    make_workspace(tmp_path).log.close()

    async def run() -> tuple[list[str], str]:
        async with Client(halion_command(tmp_path, "--allow", "delete_all")) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            return names, texts(await client.call_tool("delete_all", {}))

    names, answer = asyncio.run(asyncio.wait_for(run(), 60))
    assert "delete_all" in names and answer == "deleted"


def test_the_sdk_client_over_http_against_the_workspace_server(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    serving = ws.mcp.serve()
    try:
        assert serving.url.startswith("http://127.0.0.1:") and serving.url.endswith("/mcp")
        assert '"url": "' + serving.url + '"' in serving.client_config()

        async def run() -> dict[str, Any]:
            async with Client(serving.url) as client:
                return await exercise(client)

        check(asyncio.run(asyncio.wait_for(run(), 60)))
        ws.tools.enable("switched_off")  # live: the next list_tools sees the change

        async def names() -> list[str]:
            async with Client(serving.url) as client:
                return sorted(t.name for t in (await client.list_tools()).tools)

        assert "switched_off" in asyncio.run(names())
    finally:
        ws.close()
    assert not serving.running


def test_an_image_result_is_mcp_image_content(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    ws = Workspace(tmp_path)
    ws.tools.update_source("red_square", '''from PIL import Image


def red_square(size: int = 8) -> Image.Image:
    """A red square.

    Args:
        size: Side in pixels.
    """
    return Image.new("RGB", (size, size), "red")
''', save=False)
    from halion_nb.mcp.server import build_server

    async def run() -> Any:
        async with Client(build_server(ws)) as client:
            return await client.call_tool("red_square", {"size": 4})

    result = asyncio.run(run())
    assert result.content[0].type == "image" and result.content[0].mime_type == "image/png"
    ws.log.close()


def test_two_workspaces_talk_mcp_both_ways_over_http(tmp_path: Path) -> None:
    """A workspace's served tools are an MCP server another workspace can add by URL."""
    notebook = make_workspace(tmp_path / "notebook")
    serving = notebook.mcp.serve()
    other = Workspace(tmp_path / "other")
    try:
        tools = {t.name for t in other.mcp.add("nb", url=serving.url)}
        assert tools == {"nb__add", "nb__explode", "nb__whoami"}
        assert other.tools.invoke("nb__add", {"a": 1, "b": 1}).result == 2
        assert other.tools.invoke("nb__whoami", {}).result == "account ***"
        assert notebook.log.recent(1)[0].caller == "mcp"
    finally:
        other.close()
        notebook.close()


def test_halion_mcp_over_http_in_a_subprocess(tmp_path: Path) -> None:
    import socket
    import subprocess
    import time

    make_workspace(tmp_path).log.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    exe = str(Path(sys.executable).with_name("halion"))
    server = subprocess.Popen([exe, "mcp", "--workspace", str(tmp_path), "--transport", "http", "--port", str(port)],
                              stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        for _ in range(300):  # until it listens
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)

        async def run() -> dict[str, Any]:
            async with Client(url) as client:
                return await exercise(client)

        check(asyncio.run(asyncio.wait_for(run(), 60)))
    finally:
        server.terminate()
        server.wait(20)


def test_a_chain_exposed_to_the_model_is_served_as_a_tool(tmp_path: Path) -> None:
    from halion_nb.mcp.server import build_server
    from halion_nb.models import ChainInput, Ref, Toolchain, ToolchainStep

    ws = make_workspace(tmp_path)
    ws.chains.save(Toolchain(name="add_twice", description="Add 2, twice.", expose=True,
                             inputs=[ChainInput(name="start", type="integer")],
                             steps=[ToolchainStep(id="one", tool="add", arguments={"a": Ref("inputs.start")}),
                                    ToolchainStep(id="two", tool="add", arguments={"a": Ref("steps.one.output")})]))

    async def run() -> tuple[dict[str, Any], Any]:
        async with Client(build_server(ws)) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            return tools, await client.call_tool("add_twice", {"start": 1})

    tools, result = asyncio.run(run())
    assert tools["add_twice"].description == "Add 2, twice."
    assert tools["add_twice"].input_schema["required"] == ["start"]
    assert not result.is_error and texts(result) == "5"
    assert ws.log.recent(1, kind="tool")[0].caller == "mcp"
    ws.log.close()
