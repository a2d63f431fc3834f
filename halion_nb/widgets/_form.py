"""A test-run form from a tool's JSON Schema: one field per parameter, and reading it back.

Pure data: the view turns each `FormField` into a widget, the controller reads the
widgets' values back through `collect`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["text", "int", "float", "bool", "choice", "json"]


class _Omit:
    """Leave the parameter out so that its default applies."""

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()


@dataclass
class FormField:
    name: str
    kind: Kind
    required: bool
    default: Any = OMIT
    choices: list[Any] = field(default_factory=list)
    description: str = ""
    nullable: bool = False
    loose_number: bool = False
    """An optional number with no numeric default: a text box where blank means the default."""


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while seen < 20:
        seen += 1
        if "$ref" in node:
            target = defs.get(node["$ref"].split("/")[-1], {})
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        elif "allOf" in node and len(node["allOf"]) == 1:
            node = {**_resolve(node["allOf"][0], defs), **{k: v for k, v in node.items() if k != "allOf"}}
        else:
            break
    return node


def fields_of(parameters: dict[str, Any]) -> list[FormField]:
    """One field per top-level parameter of a (loose) parameters schema."""
    defs = parameters.get("$defs", {})
    required = set(parameters.get("required", []))
    out = []
    for name, raw in parameters.get("properties", {}).items():
        node = _resolve(raw, defs)
        nullable = False
        if "anyOf" in node:
            members = [_resolve(m, defs) for m in node["anyOf"]]
            real = [m for m in members if m.get("type") != "null"]
            nullable = len(real) < len(members)
            node = {**real[0], **{k: v for k, v in node.items() if k != "anyOf"}} if len(real) == 1 else {"type": "any"}
        default = raw.get("default", node.get("default", OMIT))
        f = FormField(name=name, kind="json", required=name in required, default=default,
                      description=raw.get("description", node.get("description", "")), nullable=nullable)
        kind = node.get("type")
        if "enum" in node:
            f.kind, f.choices = "choice", list(node["enum"])
        elif "const" in node:
            f.kind, f.choices = "choice", [node["const"]]
        elif kind == "string":
            f.kind = "text"
        elif kind in ("integer", "number"):
            f.kind = "int" if kind == "integer" else "float"
            f.loose_number = not f.required and not isinstance(default, (int, float))
        elif kind == "boolean":
            if f.required or isinstance(default, bool):
                f.kind = "bool"
            else:
                f.kind, f.choices = "choice", [True, False]
        out.append(f)
    return out


def initial(f: FormField) -> Any:
    """The value a field's widget starts with."""
    has_default = f.default is not OMIT and f.default is not None
    if f.kind == "bool":
        return bool(f.default) if has_default else False
    if f.kind == "choice":
        return f.default if has_default and f.default in f.choices else (f.choices[0] if f.required else OMIT)
    if f.kind in ("int", "float") and not f.loose_number:
        return f.default if has_default else 0
    if f.kind == "json":
        return json.dumps(f.default, ensure_ascii=False) if has_default else ""
    return str(f.default) if has_default else ""


def collect(fields: list[FormField], values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Arguments from the widgets' values, and a problem per field that cannot be read."""
    args: dict[str, Any] = {}
    problems: list[str] = []
    for f in fields:
        raw = values.get(f.name, OMIT)
        if raw is OMIT:
            continue
        if f.kind == "text":
            if raw == "" and not f.required:
                continue
            args[f.name] = raw
        elif f.kind in ("int", "float") and f.loose_number:
            text = str(raw).strip()
            if not text:
                continue
            try:
                args[f.name] = int(text) if f.kind == "int" else float(text)
            except ValueError:
                problems.append(f"{f.name}: '{text}' is not {'an integer' if f.kind == 'int' else 'a number'}")
        elif f.kind == "json":
            text = str(raw).strip()
            if not text:
                if f.required:
                    problems.append(f"{f.name}: required; write a JSON value")
                continue
            try:
                args[f.name] = json.loads(text)
            except ValueError as exc:
                problems.append(f"{f.name}: not valid JSON ({exc})")
        else:
            args[f.name] = raw
    return args, problems


def blank(f: FormField) -> Any:
    """The widget value meaning "leave this argument out"."""
    if f.kind == "choice":
        return OMIT if not f.required else f.choices[0]
    if f.kind == "bool":
        return bool(f.default) if isinstance(f.default, bool) else False
    if f.kind in ("int", "float") and not f.loose_number:
        return initial(f)
    return ""


def to_raw(f: FormField, value: Any) -> Any:
    """The widget value showing the literal `value` (the inverse of `collect`)."""
    if f.kind == "json":
        return json.dumps(value, ensure_ascii=False)
    if f.kind == "text":
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if f.kind in ("int", "float") and f.loose_number:
        return "" if value is None else str(value)
    if f.kind in ("int", "float") and not isinstance(value, (int, float)):
        return initial(f)
    return value
