"""Build, record and execute notebooks/mcp.ipynb with make_demos.py's machinery.

    python notebooks/make_mcp_demo.py

(The cells live here until `"mcp": (MCP, MCP_SCRIPT)` joins make_demos.DEMOS.)
"""
from __future__ import annotations

import make_demos
from make_demos import WEATHER_TOOL, call, reply, setup_cell

UNITS_SERVER = '''from mcp.server import MCPServer

server = MCPServer("units")
METRES = {"m": 1.0, "km": 1000.0, "mi": 1609.344, "ft": 0.3048}


@server.tool()
def convert_length(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a length between m, km, mi and ft."""
    return round(value * METRES[from_unit] / METRES[to_unit], 2)


if __name__ == "__main__":
    server.run()  # stdio
'''

MCP = [
    ("markdown", "# MCP both ways\n\nA tool written in this notebook is served to any MCP client (Claude Desktop, "
     "VS Code, another agent), and an MCP server's tools are used by the chat like any other tool. Needs the "
     "extra: `pip install \"halion_nb[mcp]\"`."),
    ("code", setup_cell("mcp")),
    ("markdown", "## 1. A notebook tool, called by an MCP client\n`%halion mcp serve` serves this kernel's live "
     "tools over streamable HTTP on 127.0.0.1, in the background, and prints a config snippet for MCP clients. "
     "From a shell, `halion mcp --workspace DIR` serves the saved tools over stdio."),
    ("code", WEATHER_TOOL),
    ("code", "# NBVAL_IGNORE_OUTPUT\n# (the port is picked at random)\n%halion mcp serve"),
    ("markdown", "Any MCP client can now list and call it. Here the official SDK's own client does, from this "
     "notebook: a call, a bad argument (an MCP tool error the calling model can read), and the call log."),
    ("code", '''from mcp import Client

async with Client(ws.mcp.serving.url) as client:
    listed = await client.list_tools()
    good = await client.call_tool("get_weather", {"city": "Oslo"})
    bad = await client.call_tool("get_weather", {"city": "Oslo", "unit": "kelvin"})
print([t.name for t in listed.tools])
print(good.content[0].text)
print(bad.is_error, bad.content[0].text.splitlines()[:2])
print([(r.name, r.caller, r.error is None) for r in ws.log.recent(2)])'''),
    ("code", "%halion mcp stop"),
    ("markdown", "## 2. An MCP server's tools, called by the chat\nAny MCP server works; this one is four lines "
     "of the SDK's `MCPServer`, started over stdio as a subprocess. In your own notebook: "
     "`%halion mcp add time -- mcp-server-time`. Secrets a server needs are named "
     "(`env={\"SERVER_VAR\": \"WORKSPACE_VAR\"}`), never written into `.halion/mcp.json`."),
    ("code", f'''import sys
server_py = ws.path / "units_server.py"
server_py.write_text({UNITS_SERVER!r})
tools = ws.mcp.add("units", [sys.executable, str(server_py)])
print([t.name for t in tools])
print(ws.tools.get("units__convert_length").schema["function"]["parameters"]["required"])'''),
    ("markdown", "Its tools are ordinary `ws.tools` entries, named `<server>__<tool>`: switched on and off "
     "(`ws.mcp.disable(\"units\")` for the whole server), offered to the model, usable in chains, logged."),
    ("code", 'result = ws.chat("How many feet is a 10 km run?")\n'
             'print([(c.name, c.arguments, c.result) for c in result.tool_calls])\nresult'),
    ("code", "ws.close()  # stops the servers this workspace started"),
]

MCP_SCRIPT = [
    reply(tool_calls=[call("units__convert_length", {"value": 10, "from_unit": "km", "to_unit": "ft"})],
          usage=(210, 30)),
    reply("A 10 km run is **32,808.4 ft**.", usage=(260, 14)),
]

if __name__ == "__main__":
    make_demos.DEMOS["mcp"] = (MCP, MCP_SCRIPT)
    print(f"wrote {make_demos.make('mcp')}")
