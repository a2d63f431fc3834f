"""A small MCP server over stdio that misbehaves on request (run as a subprocess by the tests).

    python faulty_server.py serve        tools: echo, crash (the process exits), hang (never answers),
                                         bad_schema (an input schema that is not JSON Schema)
    python faulty_server.py exit         writes a line to stderr and exits before serving
    python faulty_server.py stall        never answers the handshake
"""
from __future__ import annotations

import os
import sys
import time

import anyio
from mcp.server import Server
from mcp.server.stdio import stdio_server
from mcp.types import CallToolResult, ListToolsResult, TextContent, Tool

TOOLS = [
    Tool(name="echo", description="Say the text back.",
         input_schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
    Tool(name="crash", description="Exit the server process.", input_schema={"type": "object", "properties": {}}),
    Tool(name="hang", description="Never answer.", input_schema={"type": "object", "properties": {}}),
    Tool(name="bad_schema", description="A broken schema.",
         input_schema={"type": "object", "properties": {"x": {"type": 12}}}),
    Tool(name="pid", description="The server's process id.", input_schema={"type": "object", "properties": {}}),
    Tool(name="env-var", description="The value of a variable.",
         input_schema={"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}),
]


async def list_tools(ctx, params) -> ListToolsResult:
    return ListToolsResult(tools=TOOLS)


async def call_tool(ctx, params) -> CallToolResult:
    args = params.arguments or {}
    if params.name == "crash":
        print("crashing on purpose", file=sys.stderr, flush=True)
        os._exit(3)
    if params.name == "hang":
        await anyio.sleep(3600)
    if params.name == "pid":
        return CallToolResult(content=[TextContent(type="text", text=str(os.getpid()))])
    if params.name == "env-var":
        return CallToolResult(content=[TextContent(type="text", text=os.environ.get(args["name"], "(unset)"))])
    return CallToolResult(content=[TextContent(type="text", text=str(args.get("text", "")))])


async def main() -> None:
    server = Server("faulty", on_list_tools=list_tools, on_call_tool=call_tool)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if mode == "exit":
        print("faulty: no configuration found, giving up", file=sys.stderr, flush=True)
        sys.exit(2)
    if mode == "stall":
        time.sleep(3600)
    anyio.run(main)
