"""One encoder for tool results: what the model reads, what the log stores and what displays show.

`to_jsonable` turns any value into plain JSON data (dicts with string keys, lists, str,
numbers, bools, None) by its *values*, never a Python repr when a value form exists;
`dumps` gives the text a model or an outside caller receives.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import json
import math
import uuid
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel

from .images import as_image

MAX_DEPTH = 64
"""Deeper nesting is cut with a marker (a value that refers to itself would never end)."""


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """Plain JSON data for `value`: models, dataclasses, sets, dates, enums, bytes, numpy scalars and arrays.

    Dict keys become strings by the same rules (a date key is its ISO text); sets are sorted
    when their items allow it; bytes that are readable UTF-8 text become that text, others
    `{"base64": ...}`; NaN and infinities become None (JSON has no such numbers); an image
    (`core.images.as_image`) becomes `{"type": "image", "mime", "width", "height", "bytes", "sha256"}`.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if _depth >= MAX_DEPTH:
        return f"<nested deeper than {MAX_DEPTH} levels: {type(value).__name__}>"
    depth = _depth + 1
    image = as_image(value)
    if image is not None:  # an image is its type, size and sha256: the bytes never reach the log or the model's text
        return image.meta()
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, depth)
    if isinstance(value, BaseModel):
        return to_jsonable(value.model_dump(mode="json"), depth)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name), depth) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {_key(k): to_jsonable(v, depth) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, depth) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [to_jsonable(v, depth) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (decimal.Decimal,)):
        return float(value) if value.is_finite() else None
    if isinstance(value, (uuid.UUID, PurePath)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and all(c.isprintable() or c in "\n\r\t" for c in text):
            return text
        return {"base64": base64.b64encode(raw).decode("ascii")}
    if isinstance(value, complex):
        return {"real": value.real, "imag": value.imag}
    for method in ("model_dump", "tolist", "item", "to_dict"):  # pydantic v1-likes, numpy, pandas
        convert = getattr(value, method, None)
        if callable(convert):
            try:
                return to_jsonable(convert(), depth)
            except Exception:  # a half-working converter falls through to text
                break
    try:
        return str(value)
    except Exception:  # a broken __str__ must not lose the result
        return object.__repr__(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    plain = to_jsonable(key)
    return plain if isinstance(plain, str) else json.dumps(plain, ensure_ascii=False)


def dumps(value: Any) -> str:
    """A result as message text: a str as it is, anything else as compact JSON of its values."""
    if isinstance(value, str):
        return value
    return json.dumps(to_jsonable(value), ensure_ascii=False)
