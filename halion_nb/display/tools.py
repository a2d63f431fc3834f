"""Tools as text and HTML: pure strings, no IPython, no widgets.

A tool is duck-typed: `name`, `description`, `strict`, `strict_reason`, `schema`, `source` and
`spec.loose_parameters` / `spec.field_names`; a registry has `with_states()` → (tool, state) pairs.
"""
from __future__ import annotations

import json
from html import escape
from typing import Any

from .text import aligned_left, clip, icon

_CARD = "border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:4px 0;font-family:sans-serif;font-size:13px"



_ON, _OFF = icon("check") + " on", icon("ban") + " off"

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


@aligned_left
def tool_card(tool: Any, *, active: bool | None = None, postprocess: bool | None = None,
              approval: bool = False) -> str:
    """A compact card: name, description, parameters, and state when known."""
    badges = []
    if active is not None:
        badges.append(("active" if active else "inactive", "#1a7f37" if active else "#8c959f"))
    if postprocess is not None:
        badges.append(("result → model" if postprocess else "result → you", "#0969da"))
    if approval:
        badges.append(("asks first", "#9a6700"))
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
        f"<div><b>{icon('wrench')} {escape(tool.name)}</b> {badge_html}</div>"
        f'<div style="margin:4px 0">{escape(tool.description) or "<i>no description</i>"}</div>'
        '<table style="font-size:12px"><tr><th align="left">parameter</th><th align="left">type</th>'
        f'<th align="left">required</th><th align="left">description</th></tr>{rows}</table>{reason}</div>'
    )


@aligned_left
def tools_table(registry: Any) -> str:
    """Every tool with its state, one row each."""
    rows = []
    for tool, state in registry.with_states():
        params = ", ".join(tool.spec.field_names)
        rows.append(
            f"<tr><td><code>{escape(tool.name)}</code></td><td>{_ON if state.active else _OFF}</td>"
            f"<td>{'model' if state.postprocess else 'you'}</td><td><code>{escape(params)}</code></td>"
            f"<td>{escape(tool.description)}</td></tr>"
        )
    body = "".join(rows) or '<tr><td colspan="5"><i>no tools yet: write a %%tool cell</i></td></tr>'
    return (
        '<table class="halion-tools"><tr><th align="left">tool</th><th align="left">active</th>'
        '<th align="left">result to</th>'
        f'<th align="left">parameters</th><th align="left">description</th></tr>{body}</table>'
    )


def tool_text(tool: Any, *, active: bool, postprocess: bool, approval: bool = False) -> str:
    """A tool, its state and its parameters as lines of text."""
    state = ("active" if active else "inactive") + (", asks first" if approval else "")
    target = "result → model" if postprocess else "result → you"
    lines = [f"tool {tool.name} ({state}, {target}): {tool.description}"]
    for name, kind, required, doc in parameter_rows(tool.spec.loose_parameters):
        lines.append(f"  {name}: {kind}{'' if required else ' (optional)'}" + (f" — {doc}" if doc else ""))
    if tool.strict_reason:
        lines.append(f"  not strict: {tool.strict_reason}")
    return "\n".join(lines)


def tool_detail_text(tool: Any) -> str:
    """`%halion show NAME` as text: why it is not strict (if so), the schema and the source."""
    reason = f"Not strict: {tool.strict_reason}\n\n" if tool.strict_reason else ""
    return f"{reason}{json.dumps(tool.schema, indent=2)}\n\n{clip(tool.source or '(no source)')}"


def tool_detail_markdown(tool: Any) -> str:
    """`%halion show NAME` as Markdown: heading, strictness, the schema and the source."""
    source = clip(tool.source or "(no source)")
    reason = f"*Not strict: {tool.strict_reason}*\n\n" if tool.strict_reason else ""
    return (f"### {tool.name}\n\n{reason}```json\n{json.dumps(tool.schema, indent=2)}\n```\n\n"
            f"```python\n{source.rstrip()}\n```")


def tools_text(registry: Any) -> str:
    """Every tool with its state, one line each."""
    lines = []
    for tool, state in registry.with_states():
        active = "active" if state.active else "inactive"
        target = "model" if state.postprocess else "you"
        lines.append(f"{tool.name:<24} {active:<8} result→{target:<5} ({', '.join(tool.spec.field_names)})"
                     f"  {tool.description}")
    return "\n".join(lines) or "no tools yet: write a %%tool cell"
