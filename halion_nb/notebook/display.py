"""What the magics return: a tool's card, its detail, the tools table (views from `halion_nb.display.tools`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..display.tools import tool_card, tool_detail_markdown, tool_detail_text, tool_text, tools_table, tools_text

if TYPE_CHECKING:
    from ..core.tool import Tool
    from ..core.tool_registry import ToolRegistry
    from ..workspace import Workspace


@dataclass
class ToolCard:
    """A tool with its active/postprocess state."""

    tool: "Tool"
    active: bool
    postprocess: bool
    saved: Path | None = None
    approval: bool = False

    @classmethod
    def of(cls, ws: "Workspace", name: str, saved: Path | None = None) -> "ToolCard":
        return cls(ws.tools.get(name), ws.tools.is_active(name), ws.tools.postprocess(name), saved,
                   ws.tools.needs_approval(name))

    def __repr__(self) -> str:
        text = tool_text(self.tool, active=self.active, postprocess=self.postprocess, approval=self.approval)
        return text + (f"\nsaved to {self.saved}" if self.saved else "")

    def _repr_html_(self) -> str:
        html = tool_card(self.tool, active=self.active, postprocess=self.postprocess, approval=self.approval)
        if self.saved:
            html += f"<div style='font-size:12px'>saved to <code>{self.saved}</code></div>"
        return html


@dataclass
class ToolDetail:
    """`%halion show NAME`: the schema and the source."""

    tool: "Tool"

    def __repr__(self) -> str:
        return tool_detail_text(self.tool)

    def _repr_markdown_(self) -> str:
        return tool_detail_markdown(self.tool)


@dataclass
class ToolsTable:
    """`%halion tools`: every tool with its state."""

    registry: "ToolRegistry"

    def __repr__(self) -> str:
        return tools_text(self.registry)

    def _repr_html_(self) -> str:
        return tools_table(self.registry)
