"""Many tools: `find_tools`, so the model loads the tools of big servers on demand.

`find_tools` is a built-in tool the model calls to search the tools of deferred servers
(`ws.mcp.add(..., deferred=True)`) by name and description; the ones it finds are switched on,
so their definitions are sent from the next model request on, instead of all of them always.
It only loads tools that are off because their server is deferred: what the person switched off
(`ws.tools.disable`, `ws.mcp.disable`) stays off and is not even listed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.tool import Tool

if TYPE_CHECKING:
    from ..workspace import Workspace

FINDER = "find_tools"


@dataclass(eq=False)
class BuiltinTool(Tool):
    """A tool halion provides (never saved to `tools/`: it has no file of its own)."""

    @property
    def source(self) -> str | None:
        return None


def install_finder(ws: "Workspace") -> Tool:
    """Register `find_tools` (once) in `ws.tools`."""
    if FINDER in ws.tools:
        return ws.tools.get(FINDER)

    def find_tools(query: str, limit: int = 5) -> list[dict[str, Any]]:
        """Search the tools not loaded yet by name and description, and load the best matches.

        Loaded tools can be called from your next step on.

        Args:
            query: Words describing what the tool should do, e.g. "convert time zone".
            limit: How many tools to load at most.
        """
        return find(ws, query, limit)

    tool = BuiltinTool.from_function(find_tools, FINDER)
    ws.tools.add(tool)
    return tool


def find(ws: "Workspace", query: str, limit: int = 5) -> list[dict[str, Any]]:
    """The best matches among the deferred servers' tools, switched on; each with its description and schema."""
    from .remote_tool import McpTool

    deferred = {n for n, c in ws.mcp.servers().items() if c.deferred}
    words = {w for w in re.findall(r"[a-z0-9]+", query.lower()) if len(w) > 1}
    states = ws.tools.manager.states()
    scored = []
    for tool in ws.tools.all():
        if not isinstance(tool, McpTool) or tool.server not in deferred:
            continue
        state = states.get(tool.name)
        if state is not None and not state.active and not state.deferred:  # the person switched it off
            continue
        text = f"{tool.name.replace('_', ' ')} {tool.description}".lower()
        hits = sum(1 for w in words if w in text)
        if hits:
            scored.append((-hits, tool.name, tool))
    found = [tool for _, _, tool in sorted(scored)[:max(1, min(int(limit), 20))]]
    for tool in found:
        if not ws.tools.is_active(tool.name):
            ws.tools.enable(tool.name)
    return [{"name": t.name, "description": t.description, "parameters": t.spec.loose_parameters} for t in found]
