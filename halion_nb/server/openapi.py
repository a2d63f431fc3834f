"""The OpenAPI 3.1 document of `/halion/api/`, and `docs/rest.md` generated from it.

`python -m halion_nb.server.openapi docs/rest.md` rewrites the docs; a test checks they agree.
Importing this module imports no Jupyter code.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import __version__
from ..core.toolchain_registry import chain_json_schema
from ..models import CallRecord

PREFIX = "/halion/api"
AUTH_RESOURCE = "halion"
"""The resource the server's authorizer is asked about, with the action read, write or execute."""


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str
    action: str
    responses: dict[int, str]
    body: str | None = None
    result: str | None = None
    query: tuple[tuple[str, str, dict[str, Any]], ...] = ()
    description: str = ""
    example: Any = None
    """An example request body."""


_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_ERRORS = {403: "Not allowed: no valid token, or the authorizer refuses this action."}

ROUTES: tuple[Route, ...] = (
    Route("get", "/tools", "List the tools with their state.", "read", {200: "The tools."}, result="ToolList"),
    Route("get", "/tools/{name}", "One tool: its schema, state and source.", "read",
          {200: "The tool.", 404: "No tool of that name."}, result="ToolDetail"),
    Route("patch", "/tools/{name}", "Switch a tool on or off, set postprocess, require approval.", "write",
          {200: "The tool, changed.", 400: "Not a JSON object, an unknown or repeated field, or a value that is "
                                            "not true/false.",
           403: "`approval` other than true: approval is switched off only in the notebook, by its owner.",
           404: "No tool of that name.", 413: "The body is larger than HalionApp.max_body_size."},
          body="ToolPatch", result="ToolDetail", example={"active": False}),
    Route("post", "/tools/{name}/call", "Call a tool through the one invocation path (caller 'rest').", "execute",
          {200: "The call ran: `ok` says whether the tool returned or raised (or timed out).",
           400: "Not a JSON object, or arguments that do not match the tool's parameters.",
           403: "The tool needs approval and is not in HalionApp.allow_approval.",
           404: "No tool of that name.", 409: "The tool is switched off.",
           413: "The body is larger than HalionApp.max_body_size."},
          body="CallBody", result="Outcome", example={"arguments": {"city": "Paris"}},
          description="The call is logged with the caller `rest` and the Jupyter user who made it. It runs on a "
                      "worker thread, so a slow tool never holds up other requests."),
    Route("get", "/chains", "List the chains, each with the problems that would stop it running.", "read",
          {200: "The chains."}, result="ChainList"),
    Route("get", "/chains/{name}", "One chain as stored in chains/NAME.json.", "read",
          {200: "The chain.", 404: "No chain of that name."}, result="ChainDetail"),
    Route("put", "/chains/{name}", "Create or replace a chain; it is checked before it is saved.", "write",
          {200: "Replaced.", 201: "Created.",
           400: "Not a valid chain, or one that could not run (the problems are listed); nothing was saved.",
           409: "chains/NAME.json exists but could not be read; it is left as it is.",
           413: "The body is larger than HalionApp.max_body_size."},
          body="Chain", result="ChainDetail"),
    Route("post", "/chains/{name}/run", "Run a chain with its inputs.", "execute",
          {200: "The run finished: `ok` says whether every step succeeded; `steps` has each one.",
           400: "Not a JSON object, or inputs the chain does not take.",
           403: "A step's tool needs approval and is not in HalionApp.allow_approval.",
           404: "No chain of that name.", 409: "The chain cannot run now (problems listed).",
           413: "The body is larger than HalionApp.max_body_size."},
          body="RunBody", result="Run", example={"inputs": {"city": "Paris"}},
          description="The run and each step are logged with the caller `rest` and the Jupyter user."),
    Route("get", "/log", "The newest rows of the call log, newest first.", "read",
          {200: "The rows.", 400: "A query parameter out of range or of the wrong kind."}, result="LogRows",
          query=(("n", "How many rows (0-1000; default 20).", {"type": "integer", "minimum": 0, "maximum": 1000}),
                 ("offset", "Skip this many matching rows (paging).", {"type": "integer", "minimum": 0}),
                 ("kind", "Only this kind of row.", {"enum": ["model", "tool", "chain", "step"]}),
                 ("tool", "Only calls and chain steps of this tool.", {"type": "string"}),
                 ("errors", "Only rows with an error (true/false).", {"type": "boolean"}),
                 ("caller", "Only rows from this caller (rest, chat, chain, ...).", {"type": "string"}),
                 ("user", "Only rows from this user.", {"type": "string"}))),
    Route("get", "/openapi.json", "This document.", "read", {200: "The OpenAPI document."}),
)

_STATE = {"type": "object", "properties": {k: {"type": "boolean"} for k in ("active", "postprocess", "approval")}}


def _schemas() -> dict[str, Any]:
    chain = chain_json_schema()
    defs = chain.pop("$defs", {})
    chain.pop("$schema", None)
    record = CallRecord.model_json_schema(ref_template="#/components/schemas/{model}")
    defs.update(record.pop("$defs", {}))
    obj: dict[str, Any] = {"type": "object"}
    return _rebase({
        **defs,
        "Error": {"type": "object", "required": ["message", "status"], "properties": {
            "message": {"type": "string"}, "status": {"type": "integer"},
            "problems": {"type": "array", "items": {"type": "string"},
                         "description": "One line per problem: bad arguments, inputs or chain fields."},
            "error_kind": {"type": "string", "description": "For a call that did not run: arguments, denied, "
                                                            "not_found or inactive."},
            "log_id": {"type": ["integer", "null"], "description": "The log row of a refused call."},
            "refused": {"type": "array", "items": {"type": "string"},
                        "description": "Tools needing approval that stopped a chain run."}}},
        "ToolState": _STATE,
        "ToolSummary": {"type": "object", "properties": {
            "name": {"type": "string"}, "description": {"type": "string"}, **_STATE["properties"],
            "strict": {"type": "boolean"}}},
        "ToolList": {"type": "object", "properties": {
            "tools": {"type": "array", "items": {"$ref": "#/components/schemas/ToolSummary"}},
            "broken": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "tools/*.py files that could not be loaded, with the reason."}}},
        "ToolDetail": {"type": "object", "properties": {
            "name": {"type": "string"}, "description": {"type": "string"},
            "state": {"$ref": "#/components/schemas/ToolState"},
            "parameters": {**obj, "description": "JSON Schema of the arguments."},
            "schema": {**obj, "description": "The OpenAI tool definition sent to a model."},
            "strict": {"type": "boolean"}, "strict_reason": {"type": ["string", "null"]},
            "source": {"type": ["string", "null"]}, "version": {"type": ["string", "null"]}}},
        "ToolPatch": {"type": "object", "additionalProperties": False, "minProperties": 1,
                      "properties": _STATE["properties"]},
        "CallBody": {"type": "object", "additionalProperties": False,
                     "properties": {"arguments": {**obj, "description": "The tool's arguments (default {})."}}},
        "Outcome": {"type": "object", "properties": {
            "ok": {"type": "boolean"}, "name": {"type": "string"},
            "result": {"description": "What the tool returned, as JSON, secrets redacted."},
            "content": {"type": "string", "description": "The result as a model would read it (or 'Error: ...')."},
            "error": {"type": ["string", "null"]},
            "error_kind": {"type": ["string", "null"], "enum": ["raised", "timeout", None]},
            "exception": {"type": ["string", "null"], "description": "The class of what the tool raised."},
            "to_person": {"type": "boolean"}, "duration_ms": {"type": "number"},
            "user": {"type": ["string", "null"]}, "caller": {"type": "string"},
            "version": {"type": ["string", "null"]}, "log_id": {"type": ["integer", "null"]},
            "call_id": {"type": ["string", "null"]}}},
        "ChainSummary": {"type": "object", "properties": {
            "name": {"type": "string"}, "description": {"type": "string"}, "steps": {"type": "integer"},
            "inputs": {"type": "array", "items": {"type": "string"}}, "parallel": {"type": "boolean"},
            "expose": {"type": "boolean"}, "problems": {"type": "array", "items": {"type": "string"}}}},
        "ChainList": {"type": "object", "properties": {
            "chains": {"type": "array", "items": {"$ref": "#/components/schemas/ChainSummary"}},
            "broken": {"type": "object", "additionalProperties": {"type": "string"}}}},
        "Chain": chain,
        "ChainDetail": {"type": "object", "properties": {
            "chain": {"$ref": "#/components/schemas/Chain"},
            "problems": {"type": "array", "items": {"type": "string"}}}},
        "RunBody": {"type": "object", "additionalProperties": False,
                    "properties": {"inputs": {**obj, "description": "The chain's inputs by name (default {})."}}},
        "Run": {"type": "object", "properties": {
            "ok": {"type": "boolean"}, "chain": {"type": "string"}, "run_id": {"type": "string"},
            "output": {}, "error": {"type": ["string", "null"]}, "failed_step": {"type": ["string", "null"]},
            "duration_ms": {"type": "number"}, "log_id": {"type": ["integer", "null"]},
            "steps": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "string"}, "tool": {"type": "string"},
                "status": {"enum": ["pending", "ok", "error", "skipped"]}, "arguments": {}, "result": {},
                "error": {"type": ["string", "null"]}, "duration_ms": {"type": ["number", "null"]}}}}}},
        "LogRow": record,
        "LogRows": {"type": "object", "properties": {
            "rows": {"type": "array", "items": {"$ref": "#/components/schemas/LogRow"}}}},
    })


def _rebase(schema: Any) -> Any:
    """Point `#/$defs/X` references at `#/components/schemas/X`."""
    if isinstance(schema, dict):
        return {k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" and isinstance(v, str)
                    else _rebase(v)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_rebase(v) for v in schema]
    return schema


def _operation(route: Route) -> dict[str, Any]:
    params: list[dict[str, Any]] = [_NAME] if "{name}" in route.path else []
    params += [{"name": n, "in": "query", "required": False, "description": d, "schema": s} for n, d, s in route.query]
    responses: dict[str, Any] = {}
    for status, text in sorted({**route.responses, **_ERRORS}.items()):
        ref = "Error" if status >= 400 else route.result
        schema = {"$ref": f"#/components/schemas/{ref}"} if ref else {"type": "object"}
        content = {"application/json": {"schema": schema}}
        responses[str(status)] = {"description": text, "content": content}
    op: dict[str, Any] = {
        "operationId": f"{route.method}_{route.path.strip('/').replace('/', '_').replace('{', '').replace('}', '').replace('.', '_')}",
        "summary": route.summary,
        "x-jupyter-auth": {"resource": AUTH_RESOURCE, "action": route.action},
        "responses": responses,
    }
    if route.description:
        op["description"] = route.description
    if params:
        op["parameters"] = params
    if route.body:
        media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{route.body}"}}
        if route.example is not None:
            media["example"] = route.example
        op["requestBody"] = {"required": route.body in ("Chain", "ToolPatch"), "content": {"application/json": media}}
    return op


def openapi_document(base_url: str = "/") -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API served under `base_url` (the Jupyter server's)."""
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(PREFIX + route.path, {})[route.method] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "halion_nb REST API",
            "version": __version__,
            "description": (
                "The tools, chains and call log of one halion_nb workspace, served by a Jupyter server "
                "extension. Authenticate as with any Jupyter API: `Authorization: token <TOKEN>` (or the "
                "server's identity provider). The server's authorizer is asked about the resource "
                f"`{AUTH_RESOURCE}` with the action read (GET), write (PATCH, PUT) or execute (call, run). "
                "Errors are JSON: {\"message\": ..., \"status\": ...}. Every call and run is logged with the "
                "caller `rest` and the Jupyter user's name; with a bare token that user is Jupyter's anonymous "
                "one (a client that keeps the login cookie keeps one name), while JupyterHub or a configured "
                "identity provider gives real names. Server config: `c.HalionApp.home` (the workspace; default "
                "$HALION_HOME, else the root directory), `c.HalionApp.allow_approval` (tools needing approval "
                "that REST callers may run), `c.HalionApp.max_body_size` (bytes), `c.HalionApp.workers` "
                "(threads for calls and runs)."
            ),
        },
        "servers": [{"url": base_url.rstrip("/") or "/"}],
        "security": [{"token": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "Authorization",
                                          "description": "`token <TOKEN>`: the Jupyter server's token."}},
            "schemas": _schemas(),
        },
    }


def rest_markdown(doc: dict[str, Any] | None = None) -> str:
    """`docs/rest.md`: the routes of `doc` (default: this API's document) as Markdown."""
    doc = doc or openapi_document()
    lines = [
        "# REST API",
        "",
        ("<!-- Generated from the OpenAPI document by `python -m halion_nb.server.openapi docs/rest.md`; "
         "do not edit. -->"),
        "",
        doc["info"]["description"],
        "",
        "The document itself is served at `GET /halion/api/openapi.json`.",
        "",
        "| method | path | action | what it does |",
        "| --- | --- | --- | --- |",
    ]
    ops = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    lines += [f"| {m.upper()} | `{p}` | {op['x-jupyter-auth']['action']} | {op['summary']} |" for p, m, op in ops]
    for path, method, op in ops:
        lines += ["", f"## {method.upper()} `{path}`", "", op["summary"]]
        if "description" in op:
            lines += ["", op["description"]]
        query = [p for p in op.get("parameters", []) if p["in"] == "query"]
        if query:
            lines += ["", "Query parameters:", ""]
            lines += [f"- `{p['name']}`: {p['description']}" for p in query]
        if "requestBody" in op:
            media = op["requestBody"]["content"]["application/json"]
            lines += ["", f"Body: `{media['schema']['$ref'].rsplit('/', 1)[-1]}` (JSON)"
                      + (f", for example `{json.dumps(media['example'])}`." if "example" in media else ".")]
        lines += ["", "Responses:", ""]
        lines += [f"- {status}: {r['description']}" for status, r in op["responses"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/rest.md (or the path given) from the OpenAPI document."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0] if args else "docs/rest.md")
    from ..core.files import atomic_write_text

    atomic_write_text(target, rest_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
