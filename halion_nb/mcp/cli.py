"""`halion mcp`: open a workspace and serve its tools over stdio or streamable HTTP."""
from __future__ import annotations

from typing import Iterable

from ..workspace import Workspace
from . import require_sdk
from .server import serve_http, serve_stdio


def run_cli(workspace: str | None, *, transport: str = "stdio", host: str = "127.0.0.1", port: int = 8765,
            allow: Iterable[str] = ()) -> None:
    """`halion mcp`: open the workspace and serve it until the client (stdio) or Ctrl-C (http) ends it."""
    require_sdk()
    ws = Workspace(workspace)
    try:
        if transport == "http":
            serve_http(ws, host=host, port=port, allow=allow)
        else:
            serve_stdio(ws, allow=allow)
    finally:
        ws.close()
