"""MCP both ways: the workspace's tools served to any MCP client, any MCP server's tools used here.

`server.py` serves tools out; `client.py` (`ws.mcp`) brings a server's tools in. Importing this
package imports nothing of the `mcp` SDK: each module that needs it calls `require_sdk()` first.
"""
from __future__ import annotations

from ..errors import ConfigError, HalionError

INSTALL_HINT = 'MCP support needs the mcp extra: pip install "halion_nb[mcp]"'


class McpServerError(HalionError):
    """An MCP server that could not start, crashed, hung, or sent something unusable."""


def require_sdk() -> None:
    """Import the `mcp` SDK, or raise ConfigError with the one line saying which extra to install."""
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None


__all__ = ["INSTALL_HINT", "McpServerError", "require_sdk"]
