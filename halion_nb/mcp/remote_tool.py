"""A tool of an MCP server as a halion `Tool`: the server's own schema, validated here, run there."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict

from ..core.tool import Tool
from ..errors import HalionError, ToolArgumentError
from .config import SEPARATOR


class McpToolError(HalionError):
    """The MCP server answered the call with an error result (`isError`); the message is its text."""


class _AnyArguments(BaseModel):
    """Chain checks validate literals with `args_model`; the server's JSON Schema is applied at call time."""

    model_config = ConfigDict(extra="allow")


class RemoteSpec:
    """What `FunctionSpec` offers, from an MCP tool listing: the server's schema, as is (MCP has no strict mode)."""

    strict = False
    strict_reason: str | None = "the schema comes from an MCP server (MCP has no strict mode)"
    args_model = _AnyArguments

    def __init__(self, name: str, description: str, input_schema: dict[str, Any]) -> None:
        self.name = name
        self.description = description
        self.parameters = dict(input_schema)
        self.parameters.setdefault("properties", {})
        self.loose_parameters = self.parameters
        self.field_names = {p: p for p in self.parameters["properties"]}


def local_name(server: str, remote: str) -> str:
    """`<server>__<tool>` as a valid halion tool name (other characters become `_`, long names get a hash)."""
    clean = re.sub(r"[^A-Za-z0-9_]", "_", remote) or "tool"
    name = f"{server}{SEPARATOR}{clean}"
    if len(name) > 64:
        name = name[:55] + "_" + hashlib.sha256(remote.encode()).hexdigest()[:8]
    return name


def check_input_schema(schema: Any) -> str | None:
    """Why a listed input schema cannot be offered to a model, or None when it can."""
    from jsonschema import SchemaError
    from jsonschema.validators import validator_for

    if not isinstance(schema, dict) or schema.get("type") != "object":
        return 'its input schema is not a JSON Schema object ("type": "object")'
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        return f"its input schema is not valid JSON Schema ({exc.message[:120]})"
    return None


@dataclass(frozen=True)
class Listing:
    """One tool as a server lists it (from the SDK's `Tool`, or the cached JSON of one: no SDK needed)."""

    name: str
    input_schema: dict[str, Any]
    description: str = ""

    @classmethod
    def of(cls, item: Any) -> "Listing":
        if isinstance(item, dict):
            name, schema = item.get("name"), item.get("inputSchema")
            text = item.get("description") or item.get("title") or ""
        else:
            name, schema, text = item.name, item.input_schema, item.description or item.title or ""
        if not isinstance(name, str) or not isinstance(schema, dict):
            raise ValueError("a tool listing needs a name and an input schema")
        return cls(name=name, input_schema=dict(schema), description=str(text))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "inputSchema": self.input_schema}


@dataclass(eq=False)
class McpTool(Tool):
    """A tool of MCP server `server`, registered in `ws.tools` as `<server>__<remote_name>`."""

    server: str = ""
    remote_name: str = ""
    _validator: Any = field(default=None, repr=False)

    @classmethod
    def from_listing(cls, server: str, listed: Listing, call: Callable[[str, str, dict[str, Any]], Any]) -> "McpTool":
        """From a listing; `call(server, remote_name, arguments)` runs it on the server."""
        name = local_name(server, listed.name)
        spec = RemoteSpec(name, listed.description, listed.input_schema)

        def run(**arguments: Any) -> Any:
            return call(server, listed.name, arguments)

        run.__name__ = run.__qualname__ = name
        run.__doc__ = spec.description
        return cls(name=name, function=run, spec=spec, server=server, remote_name=listed.name)  # type: ignore[arg-type]

    @property
    def source(self) -> str | None:
        """None: the code runs in the MCP server, not here."""
        return None

    @property
    def version(self) -> str | None:
        """sha256 (12 hex) of the server, the tool's name and its schema: what the log can tell apart."""
        text = json.dumps([self.server, self.remote_name, self.spec.parameters], sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    def validate(self, arguments: dict[str, Any] | str | bytes | None) -> dict[str, Any]:
        """The arguments as a dict, checked against the server's JSON Schema (every problem listed)."""
        if arguments is None or arguments == "":
            arguments = {}
        if isinstance(arguments, (str, bytes)):
            try:
                arguments = json.loads(arguments)
            except (ValueError, RecursionError) as exc:
                why = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
                raise ToolArgumentError(f"Arguments for '{self.name}' are not valid JSON ({why}). Send one JSON "
                                        f"object with the parameters {self._param_list()}.",
                                        [f"arguments: not valid JSON ({why})"]) from None
        if not isinstance(arguments, dict):
            raise ToolArgumentError(f"Arguments for '{self.name}' must be a JSON object with the parameters "
                                    f"{self._param_list()}, not {type(arguments).__name__}.",
                                    ["arguments: not a JSON object"])
        if self._validator is None:  # built on first use: opening a workspace never imports jsonschema
            from jsonschema.validators import validator_for

            self._validator = validator_for(self.spec.parameters)(self.spec.parameters)
        problems = [f"{'.'.join(str(p) for p in e.absolute_path) or 'arguments'}: {e.message[:200]}"
                    for e in sorted(self._validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))]
        if problems:
            raise ToolArgumentError(f"Invalid arguments for '{self.name}':\n" + "\n".join(f"- {p}" for p in problems)
                                    + "\nFix these fields and call the tool again.", problems)
        return arguments


def result_value(result: Any) -> Any:
    """An SDK `CallToolResult` as plain data: structured content when given, else its text; isError raises."""
    parts = []
    for block in result.content:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            parts.append(f"[{block.mime_type} {kind}, {len(block.data) * 3 // 4} bytes]")
        elif kind == "resource_link":
            parts.append(f"[resource {block.uri}]")
        elif kind == "resource":
            parts.append(getattr(block.resource, "text", None) or f"[resource {block.resource.uri}]")
    text = "\n".join(parts)
    if result.is_error:
        raise McpToolError(text or "the MCP server reported an error without a message")
    if result.structured_content is not None:
        return result.structured_content
    if len(parts) == 1:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text
