"""MCP both ways, medians of one run.

1. Tools in: one `get_current_time` call on the real `mcp-server-time` (stdio), through halion's MCP
   client (`ws.tools.invoke`: validate, run on the client's loop thread, encode, redact, log) vs the
   SDK's own `Client` in an asyncio loop, on the same server process kind.
2. Tools out: one call of a notebook tool through `halion mcp` (the SDK client over stdio, a
   subprocess) vs the same tool called in-process with `ws.tools.invoke`.

Run: python benchmarks/mcp.py [calls]
"""
from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

# this file is named mcp.py: run as a script, its folder must not shadow the `mcp` SDK
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from mcp import Client, StdioServerParameters  # noqa: E402

from halion_nb.workspace import Workspace  # noqa: E402

TIME_SERVER = [str(Path(sys.executable).with_name("mcp-server-time")), "--local-timezone", "UTC"]
ADD = '''def add(a: int, b: int = 2) -> int:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b
'''


def median_ms(fn: Callable[[], Any], calls: int) -> float:
    fn()  # warm: the server is started, the schema built
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def median_ms_async(fn: Callable[[], Awaitable[Any]], calls: int) -> float:
    await fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def sdk_client(params: StdioServerParameters, tool: str, arguments: dict[str, Any], calls: int) -> float:
    async def run() -> float:
        async with Client(params) as client:
            return await median_ms_async(lambda: client.call_tool(tool, arguments), calls)

    return asyncio.run(run())


def main(calls: int = 200) -> None:
    with tempfile.TemporaryDirectory() as folder:
        ws = Workspace(Path(folder) / "in")
        ws.mcp.add("time", TIME_SERVER)
        halion_client = median_ms(lambda: ws.tools.invoke("time__get_current_time", {"timezone": "UTC"}), calls)
        raw_client = median_ms(lambda: ws.mcp.call("time", "get_current_time", {"timezone": "UTC"}), calls)
        ws.close()
        sdk = sdk_client(StdioServerParameters(command=TIME_SERVER[0], args=TIME_SERVER[1:]),
                         "get_current_time", {"timezone": "UTC"}, calls)

        out = Workspace(Path(folder) / "out")
        out.tools.update_source("add", ADD)
        in_process = median_ms(lambda: out.tools.invoke("add", {"a": 1}, caller="python"), calls)
        halion_exe = str(Path(sys.executable).with_name("halion"))
        over_mcp = sdk_client(StdioServerParameters(command=halion_exe, args=["mcp", "--workspace", str(out.path)]),
                              "add", {"a": 1}, calls)
        out.log.close()
    print(f"median of {calls} calls each, ms")
    print(f"tools in  · mcp-server-time get_current_time · halion ws.tools.invoke (logged)  {halion_client:7.2f}")
    print(f"                                               halion ws.mcp.call (no log)       {raw_client:7.2f}")
    print(f"                                               SDK Client (asyncio)              {sdk:7.2f}")
    print(f"tools out · notebook tool add                  halion mcp over stdio (SDK client){over_mcp:7.2f}")
    print(f"                                               ws.tools.invoke in-process        {in_process:7.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
