"""`%halion mcp ...` in a real kernel: serve a notebook tool (unsaved) to the SDK's client over HTTP, and
add the real `mcp-server-time` as a user would."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from jupyter_client.manager import start_new_kernel
from mcp import Client


class Kernel:
    def __init__(self) -> None:
        self.manager, self.client = start_new_kernel(kernel_name="python3")

    def run(self, code: str, *, fails: bool = False) -> str:
        """Run a cell; its stdout, stderr and text results joined (with `fails`, the error it must end with)."""
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                out.append(content["data"].get("text/plain", ""))
            elif kind == "error":
                out.append(f"{content['ename']}: {content['evalue']}\n" + "\n".join(content["traceback"]))

        reply = self.client.execute_interactive(code, output_hook=hook, timeout=120)
        assert reply["content"]["status"] == ("error" if fails else "ok"), "".join(out)
        return "".join(out)

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    k = Kernel()
    home = tmp_path_factory.mktemp("kernel-ws")
    k.run(f"import os\nos.environ['HALION_HOME'] = {str(home)!r}\n%load_ext halion_nb")
    yield k
    k.close()


def listed(url: str) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async with Client(url) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            answer = await client.call_tool("shout", {"text": "hi"}) if "shout" in tools else None
            return {"tools": tools, "answer": answer}

    return asyncio.run(asyncio.wait_for(run(), 60))


def test_serve_a_notebook_tool_to_an_mcp_client_and_stop(kernel: Kernel) -> None:
    kernel.run('%%tool\ndef shout(text: str) -> str:\n    """Say it loudly.\n\n    Args:\n'
               '        text: What to say.\n    """\n    return text.upper() + "!"')
    printed = kernel.run("%halion mcp serve")
    url = re.search(r"at (http://127\.0\.0\.1:\d+/mcp)", printed).group(1)
    assert '"mcpServers"' in printed and f'"url": "{url}"' in printed
    seen = listed(url)
    assert "shout" in seen["tools"] and seen["answer"].content[0].text == "HI!"
    kernel.run("%halion disable shout")
    assert "shout" not in listed(url)["tools"]  # the next list_tools sees the change
    kernel.run('%halion enable shout\n')
    kernel.run('%%tool\ndef shout(text: str) -> str:\n    """Say it very loudly."""\n    return text.upper() + "!!!"')
    again = listed(url)
    assert again["tools"]["shout"].description == "Say it very loudly." and again["answer"].content[0].text == "HI!!!"
    assert "Stopped the MCP server." in kernel.run("%halion mcp stop")
    with pytest.raises(ExceptionGroup, match="unhandled errors") as gone:
        listed(url)
    assert "ConnectError" in repr(gone.value.exceptions)  # nobody listens there any more


def test_add_list_and_remove_a_server_with_the_magics(kernel: Kernel, time_cmd: list[str]) -> None:
    added = kernel.run("%halion mcp add time -- " + " ".join(time_cmd))
    assert "Added MCP server 'time' with 2 tools" in added and "time__get_current_time" in added
    assert re.search(r"time\s+stdio\s+running\s+2/2 tools active", kernel.run("%halion mcp list"))
    answer = kernel.run("import halion_nb\nws = halion_nb.workspace()\n"
                        "print(ws.tools.invoke('time__get_current_time', {'timezone': 'UTC'}).result['timezone'])")
    assert answer.strip() == "UTC"
    assert "Disabled 2 tools of 'time'." in kernel.run("%halion mcp disable time")
    assert "Removed MCP server 'time'" in kernel.run("%halion mcp remove time")
    assert "time__" not in kernel.run("print(ws.tools.names())")


def test_a_wrong_mcp_line_is_one_clear_message(kernel: Kernel) -> None:
    out = kernel.run("%halion mcp frobnicate", fails=True)
    assert "unknown `%halion mcp` action 'frobnicate'" in out and "Traceback" not in out
    out = kernel.run("%halion mcp add nothing", fails=True)
    assert "give a command after -- or a --url" in out


def test_servers_stop_when_the_kernel_shuts_down(tmp_path: Path, faulty: list[str], gone: Any) -> None:
    k = Kernel()
    try:
        k.run(f"import os\nos.environ['HALION_HOME'] = {str(tmp_path)!r}\n%load_ext halion_nb\n"
              "import halion_nb\nws = halion_nb.workspace()")
        k.run(f"ws.mcp.add('faulty', {faulty + ['serve']!r})")
        pid = int(k.run("print(ws.tools.invoke('faulty__pid', {}).result)").strip())
    finally:
        k.client.stop_channels()
        k.manager.shutdown_kernel(now=False)  # a graceful shutdown, as the notebook's "Shut Down Kernel"
    assert gone(pid)
