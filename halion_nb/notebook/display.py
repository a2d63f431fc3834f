"""Display objects for the magics: HTML in a notebook, plain text in a terminal."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..display.tools import parameter_rows, tool_card

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

    @classmethod
    def of(cls, ws: "Workspace", name: str, saved: Path | None = None) -> "ToolCard":
        return cls(ws.tools.get(name), ws.tools.is_active(name), ws.tools.postprocess(name), saved)

    def __repr__(self) -> str:
        state = "active" if self.active else "inactive"
        target = "result → model" if self.postprocess else "result → you"
        lines = [f"tool {self.tool.name} ({state}, {target}): {self.tool.description}"]
        for name, kind, required, doc in parameter_rows(self.tool.spec.loose_parameters):
            lines.append(f"  {name}: {kind}{'' if required else ' (optional)'}" + (f" — {doc}" if doc else ""))
        if self.saved:
            lines.append(f"saved to {self.saved}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        html = tool_card(self.tool, active=self.active, postprocess=self.postprocess)
        if self.saved:
            html += f"<div style='font-size:12px'>saved to <code>{self.saved}</code></div>"
        return html


@dataclass
class ToolDetail:
    """`%halion show NAME`: the schema and the source."""

    tool: "Tool"

    def __repr__(self) -> str:
        return f"{json.dumps(self.tool.schema, indent=2)}\n\n{self.tool.source or '(no source)'}"

    def _repr_markdown_(self) -> str:
        source = self.tool.source or "(no source)"
        return (f"### {self.tool.name}\n\n```json\n{json.dumps(self.tool.schema, indent=2)}\n```\n\n"
                f"```python\n{source.rstrip()}\n```")


@dataclass
class ToolsTable:
    """`%halion tools`: every tool with its state."""

    registry: "ToolRegistry"

    def __repr__(self) -> str:
        lines = []
        for tool, state in self.registry.with_states():
            active = "active" if state.active else "inactive"
            target = "model" if state.postprocess else "you"
            lines.append(f"{tool.name:<24} {active:<8} result→{target:<5} ({', '.join(tool.spec.field_names)})"
                         f"  {tool.description}")
        return "\n".join(lines) or "no tools yet: write a %%tool cell"

    def _repr_html_(self) -> str:
        return self.registry._repr_html_()
