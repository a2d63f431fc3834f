"""How many tools one model request may carry: say so before sending more than the service accepts."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

from ..core.tool import Tool
from ..errors import HalionError

MAX_TOOLS = 128
"""Tools OpenAI's Chat Completions accepts in one request."""


class TooManyTools(HalionError):
    """More tools are offered than the model service accepts in one request; nothing was sent."""


def check_tool_count(tools: Sequence[Tool], limit: int = MAX_TOOLS) -> None:
    """Raise TooManyTools, saying where the tools come from and how to cut them, when over `limit`."""
    if len(tools) <= limit:
        return
    sources = Counter(getattr(t, "server", "") or "workspace" for t in tools)
    by_source = ", ".join(f"{n} {'tools' if s == 'workspace' else 'from ' + s}" for s, n in sources.most_common())
    raise TooManyTools(
        f"{len(tools)} tools are active, but the model service accepts at most {limit} in one request; nothing "
        f"was sent ({by_source}). Switch a server's tools off as one group with ws.mcp.disable('NAME') "
        "(or %halion disable TOOL), or add a big server with ws.mcp.add(..., deferred=True) so the model "
        "loads the tools it needs with find_tools."
    )
