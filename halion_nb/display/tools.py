"""HTML for rich display in a notebook: pure strings, no IPython, no widgets."""
from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.tool import Tool
    from ..core.tool_registry import ToolRegistry

_CARD = "border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:4px 0;font-family:sans-serif;font-size:13px"


def type_label(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    """A short human type for a JSON Schema node: `string`, `'c' | 'f'`, `list[integer]`, `Loc`."""
    if "$ref" in schema:
        return schema["$ref"].split("/")[-1]
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " | ".join(type_label(s, defs) for s in schema["anyOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list[{type_label(schema.get('items', {}), defs)}]"
    if kind == "null":
        return "null"
    return str(kind)


def parameter_rows(parameters: dict[str, Any]) -> list[tuple[str, str, bool, str]]:
    """(name, type, required, description) for each top-level parameter of a loose schema."""
    defs = parameters.get("$defs", {})
    required = set(parameters.get("required", []))
    rows = []
    for name, sub in parameters.get("properties", {}).items():
        label = type_label(sub, defs)
        if "default" in sub:
            label += f" = {json.dumps(sub['default'], default=str)}"
        rows.append((name, label, name in required, sub.get("description", "")))
    return rows


def tool_card(tool: "Tool", *, active: bool | None = None, postprocess: bool | None = None) -> str:
    """A compact card: name, description, parameters, and state when known."""
    badges = []
    if active is not None:
        badges.append(("active" if active else "inactive", "#1a7f37" if active else "#8c959f"))
    if postprocess is not None:
        badges.append(("result → model" if postprocess else "result → you", "#0969da"))
    badges.append(("strict" if tool.strict else "not strict", "#6e7781"))
    badge_html = " ".join(
        f'<span style="background:{c};color:white;border-radius:8px;padding:1px 7px;font-size:11px">{escape(t)}</span>'
        for t, c in badges
    )
    rows = "".join(
        f"<tr><td><code>{escape(n)}</code></td><td><code>{escape(t)}</code></td>"
        f"<td>{'yes' if r else 'no'}</td><td>{escape(d)}</td></tr>"
        for n, t, r, d in parameter_rows(tool.spec.loose_parameters)
    ) or '<tr><td colspan="4"><i>no parameters</i></td></tr>'
    reason = f'<div style="color:#9a6700">Not strict: {escape(tool.strict_reason)}</div>' if tool.strict_reason else ""
    return (
        f'<div class="halion-tool-card" style="{_CARD}">'
        f"<div><b>🔧 {escape(tool.name)}</b> {badge_html}</div>"
        f'<div style="margin:4px 0">{escape(tool.description) or "<i>no description</i>"}</div>'
        '<table style="font-size:12px"><tr><th align="left">parameter</th><th align="left">type</th>'
        f'<th align="left">required</th><th align="left">description</th></tr>{rows}</table>{reason}</div>'
    )


def tools_table(registry: "ToolRegistry") -> str:
    """Every tool with its state, one row each."""
    rows = []
    for tool, state in registry.with_states():
        params = ", ".join(tool.spec.field_names)
        rows.append(
            f"<tr><td><code>{escape(tool.name)}</code></td><td>{'✅' if state.active else '⛔'}</td>"
            f"<td>{'model' if state.postprocess else 'you'}</td><td><code>{escape(params)}</code></td>"
            f"<td>{escape(tool.description)}</td></tr>"
        )
    body = "".join(rows) or '<tr><td colspan="5"><i>no tools yet: write a %%tool cell</i></td></tr>'
    return (
        '<table class="halion-tools"><tr><th align="left">tool</th><th>active</th><th>result to</th>'
        f'<th align="left">parameters</th><th align="left">description</th></tr>{body}</table>'
    )
