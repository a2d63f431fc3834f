"""The workspace's tools served as MCP tools, through the one invocation path.

A low-level `Server` lists halion's own schemas as they are (the loose form: MCP has no strict
mode) and runs each call with `ws.tools.invoke(name, args, caller="mcp", only_active=True)`:
validated, approved, timed out, redacted and logged like every other call. A failed outcome is
an `isError` result the calling model can read; only an unknown tool is a protocol error.
Tools that need approval are served only when the person names them (`allow`).
"""
from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from functools import partial
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import ConfigError
from . import require_sdk

if TYPE_CHECKING:
    from ..core.tool import Tool
    from ..workspace import Workspace

SERVER_NAME = "halion"


def served_tools(ws: "Workspace", allow: Iterable[str] = ()) -> dict[str, "Tool"]:
    """What a client sees: the tools the model is offered (active tools, exposed chains), less those
    needing approval that the person did not name in `allow`."""
    allowed = set(allow)
    return {t.name: t for t in ws.offered_tools() if t.name in allowed or not needs_approval(ws, t.name)}


def needs_approval(ws: "Workspace", name: str) -> bool:
    check = getattr(ws.tools, "needs_approval", None)
    return bool(check is not None and name in ws.tools and check(name))


def build_server(ws: "Workspace", *, allow: Iterable[str] = ()) -> Any:
    """A low-level MCP `Server` over `ws`'s live tools: every `list_tools` reads them anew."""
    require_sdk()
    import anyio.to_thread
    from mcp import MCPError
    from mcp.server import Server
    from mcp.types import INVALID_PARAMS, CallToolResult, ListToolsResult, TextContent
    from mcp.types import Tool as Listed

    allowed = frozenset(allow)

    async def list_tools(ctx: Any, params: Any) -> Any:
        tools = await anyio.to_thread.run_sync(served_tools, ws, allowed)
        return ListToolsResult(tools=[Listed(name=t.name, description=t.description or None,
                                             input_schema=t.spec.loose_parameters) for t in tools.values()])

    async def call_tool(ctx: Any, params: Any) -> Any:
        name = params.name
        tools = await anyio.to_thread.run_sync(served_tools, ws, allowed)
        tool = tools.get(name)
        if tool is None and name not in ws.tools:
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown tool: {name}")
        if tool is None and needs_approval(ws, name) and name not in allowed:
            text = (f"Error: tool '{name}' needs approval and is not served over MCP; the person can serve it "
                    f"with `halion mcp --allow {name}`.")
            return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        invoke = partial(ws.tools.invoke, name, params.arguments, caller="mcp", only_active=True,
                         tool=tool if tool is not None and name not in ws.tools else None,
                         approve=partial(_allowed, allowed))  # nested steps too: never the notebook's approver
        outcome = await anyio.to_thread.run_sync(invoke)
        if not outcome.ok:
            return CallToolResult(content=[TextContent(type="text", text=outcome.content)], is_error=True)
        image = image_content(outcome.value)
        return CallToolResult(content=[image] if image is not None else [TextContent(type="text",
                                                                                     text=outcome.content)])

    return Server(SERVER_NAME, version=_version(), instructions=f"Tools of the halion_nb workspace {ws.path.name}.",
                  on_list_tools=list_tools, on_call_tool=call_tool)


def _allowed(allowed: frozenset[str], request: Any) -> Any:
    """An MCP client cannot be asked: a tool the person named with --allow is approved, any other declined."""
    from ..core.approval import Decision

    if request.tool in allowed:
        return Decision(True, "served with --allow", by="halion mcp --allow")
    return Decision(False, f"'{request.tool}' needs approval, which an MCP client cannot give; the person can "
                           f"allow it with `halion mcp --allow {request.tool}`", by="halion mcp")


def image_content(value: Any) -> Any:
    """MCP image content for a PIL image, a matplotlib figure or PNG/JPEG/GIF/WebP bytes; else None."""
    from mcp.types import ImageContent

    data, mime = None, "image/png"
    if isinstance(value, (bytes, bytearray)):
        for magic, kind in ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif")):
            if value.startswith(magic):
                data, mime = bytes(value), kind
        if value[:4] == b"RIFF" and value[8:12] == b"WEBP":
            data, mime = bytes(value), "image/webp"
    elif type(value).__module__.startswith("PIL.") and hasattr(value, "save"):
        buffer = io.BytesIO()
        value.save(buffer, format="PNG")
        data = buffer.getvalue()
    elif hasattr(value, "savefig") and type(value).__module__.startswith("matplotlib."):
        buffer = io.BytesIO()
        value.savefig(buffer, format="png")
        data = buffer.getvalue()
    if data is None:
        return None
    return ImageContent(type="image", data=base64.b64encode(data).decode("ascii"), mime_type=mime)


def serve_stdio(ws: "Workspace", *, allow: Iterable[str] = ()) -> None:
    """Serve over this process's stdin/stdout until the client closes them (`halion mcp`)."""
    import anyio
    from mcp.server.stdio import stdio_server

    server = build_server(ws, allow=allow)

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)


def http_app(ws: "Workspace", *, host: str, allow: Iterable[str] = ()) -> Any:
    """The Starlette app serving the MCP endpoint at `/mcp` (DNS-rebinding protection on loopback)."""
    return build_server(ws, allow=allow).streamable_http_app(host=host)


def serve_http(ws: "Workspace", *, host: str = "127.0.0.1", port: int = 8765, allow: Iterable[str] = ()) -> None:
    """Serve over streamable HTTP in the foreground (`halion mcp --transport http`)."""
    import uvicorn

    uvicorn.Server(uvicorn.Config(http_app(ws, host=host, allow=allow), host=host, port=port,
                                  log_level="warning")).run()


class HttpServing:
    """A streamable HTTP MCP server on a background thread of the kernel (`%halion mcp serve`).

    The socket is bound before the thread starts, so `url` is right at once and a taken port
    fails here with a clear ConfigError.
    """

    def __init__(self, ws: "Workspace", *, host: str = "127.0.0.1", port: int = 0, allow: Iterable[str] = ()) -> None:
        require_sdk()
        import uvicorn

        self.host = host
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise ConfigError(f"cannot serve MCP on {host}:{port}: {exc.strerror}; pick another --port.") from None
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(http_app(ws, host=host, allow=allow), log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name=f"halion-mcp-serve-{self.port}", daemon=True)
        self._thread.start()
        if not self.wait_started():
            self.stop()
            raise ConfigError(f"the MCP server on {self.url} did not start; see the kernel's log.")

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/mcp"

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait_started(self, timeout: float = 10.0) -> bool:
        """True once the server accepts connections (uvicorn's startup finished)."""
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        return bool(self._server.started)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        self._socket.close()

    def client_config(self, name: str = "halion") -> str:
        """A config snippet for MCP clients (Claude Desktop / VS Code style) pointing at this server."""
        return client_config(name, url=self.url)

    def __repr__(self) -> str:
        state = "serving" if self.running else "stopped"
        return f"MCP server {state} at {self.url}\n{self.client_config()}" if self.running else f"MCP server {state}"


def client_config(name: str = "halion", *, url: str | None = None, workspace: str | None = None) -> str:
    """JSON for an MCP client's config file: an HTTP `url`, or `halion mcp` over stdio for `workspace`."""
    if url is not None:
        entry: dict[str, Any] = {"type": "http", "url": url}
    else:
        entry = {"command": "halion", "args": ["mcp", "--workspace", workspace or "."]}
    return json.dumps({"mcpServers": {name: entry}}, indent=2)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("halion_nb")
    except PackageNotFoundError:
        return ""
