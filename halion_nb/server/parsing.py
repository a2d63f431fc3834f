"""Reading what a REST client sent: the JSON body and query parameters, checked field by field.

Every problem is a `RequestError` carrying the HTTP status that fits, so a handler never
turns a bad body into a 500 and never acts on half of one.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ..errors import HalionError
from ..models import Toolchain, chain_error_text

_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "true or false", int: "an integer",
               float: "a number"}


class RequestError(HalionError):
    """A request the API refuses: `status` is the HTTP status, `extra` more JSON fields for the reply."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def json_body(raw: bytes, *, limit: int, empty: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body as a JSON object; `empty` (when given) stands for an empty body."""
    if len(raw) > limit:
        raise RequestError(413, f"The request body is {len(raw)} bytes; the limit is {limit} bytes "
                                "(HalionApp.max_body_size).")
    if not raw.strip():
        if empty is not None:
            return dict(empty)
        raise RequestError(400, "The request needs a JSON object as its body.")
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique)
    except _Duplicate as exc:
        raise RequestError(400, f"The request body names {exc} more than once; send each field once.") from None
    except UnicodeDecodeError:
        raise RequestError(400, "The request body is not UTF-8 text; send JSON.") from None
    except json.JSONDecodeError as exc:
        raise RequestError(400, f"The request body is not valid JSON ({exc.msg} at line {exc.lineno}, "
                                f"column {exc.colno}).") from None
    except (ValueError, RecursionError) as exc:  # a number too long, nesting too deep
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(":")[0]
        raise RequestError(400, f"The request body is not valid JSON ({why}).") from None
    if not isinstance(data, dict):
        raise RequestError(400, f"The request body must be a JSON object, not {kind_of(data)}.")
    return data


class _Duplicate(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all distinct: parsers disagree on which duplicate wins."""
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        raise _Duplicate(repr(next(k for k, _ in pairs if k in seen or seen.add(k)))[:80])
    return data


def fields(body: Mapping[str, Any], types: Mapping[str, type], *, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The body's fields, each of its declared JSON type; unknown or missing fields are refused."""
    allowed = ", ".join(types)
    unknown = [k for k in body if k not in types]
    if unknown:
        raise RequestError(400, f"Unknown field(s) {', '.join(map(repr, unknown))}; the fields are {allowed}.")
    missing = [k for k in required if k not in body]
    if missing:
        raise RequestError(400, f"Missing field(s) {', '.join(map(repr, missing))}.")
    for key, value in body.items():
        expected = types[key]
        if not _is(value, expected):
            raise RequestError(400, f"Field '{key}' must be {_JSON_TYPES[expected]}, not {kind_of(value)}.")
    return dict(body)


def int_param(value: str | None, name: str, *, default: int, low: int, high: int) -> int:
    """A whole-number query parameter between `low` and `high`."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise RequestError(400, f"Query parameter '{name}' must be a whole number, not {value[:40]!r}.") from None
    if not low <= number <= high:
        raise RequestError(400, f"Query parameter '{name}' must be between {low} and {high}, not {number}.")
    return number


def bool_param(value: str | None, name: str) -> bool:
    """A yes/no query parameter: true/false, 1/0, yes/no (absent: false)."""
    if value is None or value == "":
        return False
    lowered = value.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise RequestError(400, f"Query parameter '{name}' must be true or false, not {value[:40]!r}.")


def choice_param(value: str | None, name: str, choices: tuple[str, ...]) -> str | None:
    """A query parameter that is one of `choices` (absent: None)."""
    if value is None or value == "":
        return None
    if value not in choices:
        raise RequestError(400, f"Query parameter '{name}' must be one of {', '.join(choices)}, not {value[:40]!r}.")
    return value


def kind_of(value: Any) -> str:
    """How JSON names the type of `value`: 'an array', 'null', ..."""
    if value is None:
        return "null"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _is(value: Any, expected: type) -> bool:
    if expected is bool or isinstance(value, bool):
        return isinstance(value, bool) and expected is bool
    if expected is float:
        return isinstance(value, (int, float))
    return isinstance(value, expected)


def chain_from_json(data: Mapping[str, Any], name: str) -> Toolchain:
    """The chain a PUT body describes (its name is the URL's when absent), or 400 listing every problem."""
    if data.get("name", name) != name:
        raise RequestError(400, f"The body names the chain {data.get('name')!r} but the URL names '{name}'; "
                                "they must agree (or leave 'name' out).")
    try:
        return Toolchain.model_validate({**data, "name": name})
    except ValidationError as exc:
        steps = data.get("steps") if isinstance(data.get("steps"), list) else []
        ids = [str(s.get("id") or "") if isinstance(s, dict) else "" for s in steps]
        problems = [chain_error_text(e, ids) for e in exc.errors()]
        raise RequestError(400, f"Not a valid chain: {'; '.join(problems)}.", problems=problems) from None
    except RecursionError:
        raise RequestError(400, "Not a valid chain: nested too deeply.") from None

