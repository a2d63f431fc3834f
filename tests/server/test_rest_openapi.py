"""The OpenAPI document describes exactly the routes served, and docs/rest.md is generated from it."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from tornado.web import RequestHandler

from halion_nb.server.handlers import default_handlers
from halion_nb.server.openapi import openapi_document, rest_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rest.md"
METHODS = ("get", "post", "put", "patch", "delete")


def served_routes() -> set[tuple[str, str]]:
    """(method, path template) of every handler method `default_handlers` defines."""
    routes = set()
    for pattern, handler in default_handlers:
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern).replace("\\.", ".")
        for method in METHODS:
            if getattr(handler, method) is not getattr(RequestHandler, method):
                routes.add((method, path))
    return routes


def test_the_document_lists_exactly_the_served_routes() -> None:
    doc = openapi_document()
    documented = {(m, p) for p, item in doc["paths"].items() for m in item}
    assert documented == served_routes()
    assert len(documented) == 10


def test_every_route_documents_its_auth_action_and_errors() -> None:
    for path, item in openapi_document()["paths"].items():
        for method, op in item.items():
            action = op["x-jupyter-auth"]["action"]
            expected = "execute" if path.endswith(("/call", "/run")) else "read" if method == "get" else "write"
            assert action == expected, (method, path)
            assert "403" in op["responses"]
            if "{name}" in path and method != "put":
                assert "404" in op["responses"], (method, path)
            if "requestBody" in op:
                assert {"400", "413"} <= set(op["responses"]), (method, path)


def test_every_schema_is_valid_and_every_reference_resolves() -> None:
    doc = openapi_document()
    schemas = doc["components"]["schemas"]
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
    refs = set(_refs(doc))
    assert refs and {r.removeprefix("#/components/schemas/") for r in refs} <= set(schemas)


def test_docs_rest_md_is_generated_from_the_document() -> None:
    assert DOCS.read_text(encoding="utf-8") == rest_markdown(), (
        "docs/rest.md is out of date: run python -m halion_nb.server.openapi docs/rest.md")
    for path, item in openapi_document()["paths"].items():
        for method in item:
            assert f"| {method.upper()} | `{path}` |" in rest_markdown()


async def test_the_server_serves_the_document_for_its_base_url(api, jp_base_url) -> None:
    status, body = await api("openapi.json")
    assert status == 200
    assert body == openapi_document(jp_base_url)
    assert body["servers"] == [{"url": jp_base_url.rstrip("/")}]


def _refs(value: Any) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref":
                yield item
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)

