"""Function → argument model and OpenAI parameters schema (strict when the types allow it)."""
from __future__ import annotations

import ast
import copy
import inspect
import textwrap
import typing
from functools import cached_property
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from ..errors import ToolDefinitionError

_STYLE_OPTIONS = {style: {"warnings": False} for style in ("google", "numpy", "sphinx")}


class FunctionSpec:
    """What a function says about itself: description, argument model and, built on first
    use, its JSON schemas (registering many tools stays cheap; the model's request pays once)."""

    def __init__(self, name: str, description: str, args_model: type[BaseModel], field_names: dict[str, str],
                 env_defaults: Callable[[], frozenset[str]] = frozenset) -> None:
        self.name = name
        self.description = description
        self.args_model = args_model
        self.field_names = field_names
        """Parameter name → field name in `args_model` (fields are prefixed to avoid clashes)."""
        self._find_env_defaults = env_defaults

    @cached_property
    def env_defaults(self) -> frozenset[str]:
        """Parameters whose default came from the environment: never shown, never sent."""
        return self._find_env_defaults()

    @cached_property
    def loose_parameters(self) -> dict[str, Any]:
        """JSON Schema with defaults kept; used to read back nulls that strict mode forces."""
        try:
            loose = _without_titles(self.args_model.model_json_schema())
        except Exception as exc:
            raise ToolDefinitionError(
                f"Tool '{self.name}': its parameter types cannot become a JSON schema ({exc})."
            ) from exc
        loose.setdefault("properties", {})
        for param in self.env_defaults:
            prop = loose["properties"].get(param, {})
            prop.pop("default", None)
            prop["description"] = f"{prop['description']} (from the environment)" if prop.get("description") else (
                "(from the environment)")
        return loose

    @cached_property
    def _strict_form(self) -> tuple[dict[str, Any], str | None]:
        return to_strict(self.loose_parameters)

    @property
    def parameters(self) -> dict[str, Any]:
        """JSON Schema sent to the model: strict form when `strict` is true."""
        return self._strict_form[0]

    @property
    def strict(self) -> bool:
        return self._strict_form[1] is None

    @property
    def strict_reason(self) -> str | None:
        return self._strict_form[1]


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Summary text and parameter descriptions of a Google, NumPy or Sphinx docstring."""
    if not doc:
        return "", {}
    from griffe import Docstring

    text = inspect.cleandoc(doc)
    options: list[tuple[str, dict[str, Any]]] = [("auto", {"per_style_options": _STYLE_OPTIONS})]
    options += [(style, opts) for style, opts in _STYLE_OPTIONS.items()]
    summary = text
    for parser, opts in options:
        sections = Docstring(text, parser=parser, parser_options=opts).parsed
        params = {p.name: p.description for s in sections if s.kind.value == "parameters" for p in s.value}
        if params:
            texts = [s.value for s in sections if s.kind.value == "text"]
            return (texts[0].strip() if texts else ""), params
        if parser == "auto":
            texts = [s.value for s in sections if s.kind.value == "text"]
            summary = texts[0].strip() if texts else ""
    return summary, {}


def describe_function(fn: Callable[..., Any], name: str, description: str | None = None) -> FunctionSpec:
    """Build the argument model and schemas of `fn`, or raise ToolDefinitionError naming the problem."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"Tool '{name}': cannot read the function's signature ({exc}).") from exc
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # NameError for an undefined annotation, and friends
        raise ToolDefinitionError(
            f"Tool '{name}': a type hint cannot be resolved ({exc}). Import the types the hints use."
        ) from exc
    summary, param_docs = parse_docstring(fn.__doc__)
    fields: dict[str, Any] = {}
    field_names: dict[str, str] = {}
    for param in signature.parameters.values():
        _check_parameter(name, param, hints)
        annotation = hints[param.name]
        default = ... if param.default is inspect.Parameter.empty else param.default
        doc = param_docs.get(param.name)
        if doc and not _has_description(annotation):
            try:
                annotation = typing.Annotated[annotation, Field(description=doc)]
            except (TypeError, AttributeError) as exc:  # a hint that is a value, such as `x: 5`
                raise ToolDefinitionError(
                    f"Tool '{name}': the type hint of '{param.name}' is not a type ({annotation!r})."
                ) from exc
        field_name = f"p_{param.name}"
        field_names[param.name] = field_name
        fields[field_name] = (annotation, Field(default, alias=param.name))
    try:
        model = create_model(  # type: ignore[call-overload]
            f"{name}_arguments", __config__=ConfigDict(extra="forbid", populate_by_name=False), **fields
        )
    except Exception as exc:
        raise ToolDefinitionError(f"Tool '{name}': its parameter types are not supported ({exc}).") from exc
    return FunctionSpec(name, (description if description is not None else summary) or "", model, field_names,
                        lambda: _defaults_from_environment(fn, signature))


def _defaults_from_environment(fn: Callable[..., Any], signature: inspect.Signature) -> frozenset[str]:
    """Parameters whose default reads the environment (`os.environ.get(...)`, `os.getenv(...)`)
    or is the value of an environment variable: a secret, as far as anyone can tell."""
    from .redaction import can_be_secret
    from .tool_files import environment_variable_of

    texts = [p for p in signature.parameters.values() if isinstance(p.default, str) and can_be_secret(p.default)]
    found = {p.name for p in texts if environment_variable_of(p.default)}
    if not texts or len(found) == len(texts):  # no default that could be a secret is left to look at
        return frozenset(found)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(fn))))
    except (OSError, TypeError, SyntaxError):
        return frozenset(found)
    node = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if node is None:
        return frozenset(found)
    positional = [*node.args.posonlyargs, *node.args.args]
    pairs = list(zip(positional[len(positional) - len(node.args.defaults):], node.args.defaults))
    pairs += [(a, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None]
    for arg, default in pairs:
        if any(isinstance(n, ast.Attribute) and n.attr in _ENV_READS or isinstance(n, ast.Name) and n.id in _ENV_READS
               for n in ast.walk(default)):
            found.add(arg.arg)
    return frozenset(found)


_ENV_READS = {"environ", "getenv", "getenvb", "environb"}


def _check_parameter(tool: str, param: inspect.Parameter, hints: dict[str, Any]) -> None:
    kind = param.kind
    if kind is inspect.Parameter.VAR_POSITIONAL:
        raise ToolDefinitionError(f"Tool '{tool}': parameter '*{param.name}' is not supported; name each parameter.")
    if kind is inspect.Parameter.VAR_KEYWORD:
        raise ToolDefinitionError(
            f"Tool '{tool}': parameter '**{param.name}' is not supported; name each parameter "
            "or take a typed dict."
        )
    if kind is inspect.Parameter.POSITIONAL_ONLY:
        raise ToolDefinitionError(
            f"Tool '{tool}': parameter '{param.name}' is positional-only; the model passes arguments by name. "
            "Remove the '/' from the signature."
        )
    if param.name not in hints:
        raise ToolDefinitionError(
            f"Tool '{tool}': parameter '{param.name}' has no type hint; add one, e.g. '{param.name}: str'."
        )


def _has_description(annotation: Any) -> bool:
    if typing.get_origin(annotation) is typing.Annotated:
        return any(isinstance(m, FieldInfo) and m.description for m in annotation.__metadata__)
    return False


_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_VALUES = ("items", "additionalProperties", "not")


def _children(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Sub-schemas of a schema node (not its property names or other plain values)."""
    out: list[dict[str, Any]] = []
    for key in ("properties", "$defs"):
        out += [v for v in node.get(key, {}).values() if isinstance(v, dict)]
    for key in _SCHEMA_LISTS:
        out += [v for v in node.get(key, []) if isinstance(v, dict)]
    out += [node[k] for k in _SCHEMA_VALUES if isinstance(node.get(k), dict)]
    return out


def _without_titles(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop the `title` keys pydantic adds (in place: the schema is a fresh dict)."""
    stack = [schema]
    while stack:
        node = stack.pop()
        node.pop("title", None)
        stack += _children(node)
    return schema


def to_strict(loose: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The strict-mode form of `loose`, or the reason strict mode cannot express it."""
    schema = copy.deepcopy(loose)
    defs = schema.get("$defs", {})
    for param, sub in schema.get("properties", {}).items():
        reason = _strict_problem(sub, defs, set())
        if reason:
            return loose, f"parameter '{param}' {reason}"
    stack = [schema]
    while stack:
        node = stack.pop()
        _inline_ref_with_siblings(node, defs)
        node.pop("default", None)
        if node.get("type") == "object" or "properties" in node:
            props = node.setdefault("properties", {})
            required = set(node.get("required", []))
            for key, sub in props.items():
                if key not in required and not _allows_null(sub, defs):
                    described = {"description": sub.pop("description")} if "description" in sub else {}
                    props[key] = {"anyOf": [sub, {"type": "null"}], **described}
            node["required"] = list(props)
            node["additionalProperties"] = False
        stack += _children(node)
    return schema, None


def _strict_problem(node: dict[str, Any], defs: dict[str, Any], seen: set[str]) -> str | None:
    """Why a sub-schema cannot be strict, in words a person can act on; None if it can."""
    if "$ref" in node:
        ref = node["$ref"].split("/")[-1]
        if ref in seen:
            return None
        return _strict_problem(defs.get(ref, {}), defs, seen | {ref})
    if not node:
        return "accepts any value (Any); give it a concrete type"
    if "prefixItems" in node:
        return "is a tuple; strict mode has no fixed-length arrays (use a list or a model)"
    extra = node.get("additionalProperties")
    if extra not in (None, False):
        return "is a dict with free-form keys; strict mode needs fixed fields (use a model or TypedDict)"
    if node.get("type") == "object" and "properties" not in node:
        return "is a free-form object; strict mode needs fixed fields"
    for child in _children(node):
        problem = _strict_problem(child, defs, seen)
        if problem:
            return problem
    return None


def _inline_ref_with_siblings(node: dict[str, Any], defs: dict[str, Any]) -> None:
    """Strict mode rejects keywords beside `$ref`: inline the definition instead."""
    if "$ref" in node and len(node) > 1:
        target = copy.deepcopy(defs.get(node.pop("$ref").split("/")[-1], {}))
        for key, value in target.items():
            node.setdefault(key, value)


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = defs.get(node["$ref"].split("/")[-1], {})
    return node


def _allows_null(node: dict[str, Any], defs: dict[str, Any]) -> bool:
    node = _resolve(node, defs)
    if node.get("type") == "null" or (isinstance(node.get("type"), list) and "null" in node["type"]):
        return True
    return any(_allows_null(v, defs) for v in node.get("anyOf", []))


def drop_forced_nulls(value: Any, schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """Remove nulls the model sent only because strict mode made optional fields required.

    Strict mode turns `x: int = 5` into a required `int | null`; a null there means "use the
    default", so it is dropped before validation and the default applies. In a union the
    rule holds in the variant the value matches (its keys, its `const`/`enum` tags).
    """
    schema = _resolve(schema, defs)
    if isinstance(value, dict) and "properties" in schema:
        required = set(schema.get("required", []))
        out = {}
        for key, item in value.items():
            sub = schema["properties"].get(key)
            if sub is None:
                out[key] = item
            elif item is None and key not in required and not _allows_null(sub, defs):
                continue
            else:
                out[key] = drop_forced_nulls(item, sub, defs)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [drop_forced_nulls(item, schema["items"], defs) for item in value]
    variants = [_resolve(v, defs) for key in ("anyOf", "oneOf") for v in schema.get(key, []) if isinstance(v, dict)]
    if value is not None and variants:
        matching = [v for v in variants if _could_match(value, v, defs)]
        if matching:
            return drop_forced_nulls(value, matching[0], defs)
    return value


def _could_match(value: Any, schema: dict[str, Any], defs: dict[str, Any]) -> bool:
    """Whether `value` has the shape of `schema` once its forced nulls are dropped: the JSON
    type, and for an object its keys and the values of its `const`/`enum` (tag) fields."""
    kinds = schema.get("type")
    kinds = set(kinds) if isinstance(kinds, list) else {kinds} if kinds else set()
    if isinstance(value, dict):
        if "properties" not in schema:
            return "object" in kinds or any(
                _could_match(value, _resolve(v, defs), defs) for k in ("anyOf", "oneOf") for v in schema.get(k, []))
        props = schema["properties"]
        if any(key not in props for key in value) and schema.get("additionalProperties") is False:
            return False
        present = {k for k, v in value.items() if v is not None}
        if not set(schema.get("required", [])) <= present | {k for k in value if _allows_null(props.get(k, {}), defs)}:
            return False
        for key, item in value.items():
            sub = _resolve(props.get(key, {}), defs)
            if "const" in sub and item != sub["const"] or "enum" in sub and item not in sub["enum"]:
                return False
        return True
    if isinstance(value, list):
        return "array" in kinds or any(
            _could_match(value, _resolve(v, defs), defs) for k in ("anyOf", "oneOf") for v in schema.get(k, []))
    return not kinds or bool(kinds - {"object", "array", "null"})
