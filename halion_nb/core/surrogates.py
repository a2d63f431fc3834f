"""Lone surrogates: half of an emoji's UTF-16 pair, valid in JSON escapes but not encodable as UTF-8.

The model or a client can send `"\\ud83d"`; such text is refused as a tool argument, and every
sink (the log, files, replies) keeps it as its escape, so nothing raises `UnicodeEncodeError`.
"""
from __future__ import annotations

import re
from typing import Any

from ..errors import ToolArgumentError


_LONE = re.compile("[\ud800-\udfff]")
"""A surrogate code point on its own (half of an emoji's UTF-16 pair): text that cannot be encoded."""


def escape_lone_surrogates(text: str) -> str:
    """`text` that encodes as UTF-8: each lone surrogate written as its `\\uXXXX` escape.

    Inside JSON text that is the same string again (it round-trips); elsewhere it reads as the escape.
    """
    return _LONE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) if _LONE.search(text) else text


def lone_surrogates(value: Any, where: str = "arguments") -> list[str]:
    """One line per string (or key) in `value` holding a lone surrogate, naming where it is."""
    if isinstance(value, str):
        return [f"{where}: holds a lone surrogate ({escape_lone_surrogates(_LONE.search(value).group())}), "
                "half of a character; send whole characters (UTF-8 text)"] if _LONE.search(value) else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = escape_lone_surrogates(str(key))
            found += lone_surrogates(str(key), f"{where}: key '{name}'") + lone_surrogates(item, f"{where}.{name}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found += lone_surrogates(item, f"{where}[{i}]")
    return found


def without_lone_surrogates(value: Any) -> Any:
    """`value` with every string's lone surrogates escaped; `value` itself (not a copy) when it has none."""
    if isinstance(value, str):
        return escape_lone_surrogates(value)
    if isinstance(value, dict):
        pairs = [(without_lone_surrogates(k), without_lone_surrogates(v)) for k, v in value.items()]
        same = all(a is k and b is v for (a, b), (k, v) in zip(pairs, value.items()))
        return value if same else dict(pairs)
    if isinstance(value, (list, tuple)):
        items = [without_lone_surrogates(v) for v in value]
        return value if all(a is b for a, b in zip(items, value)) else items
    return value


def check_text(name: str, arguments: Any) -> None:
    """Refuse arguments holding a lone surrogate: no tool, log or reply could encode them."""
    problems = lone_surrogates(arguments)
    if problems:
        raise ToolArgumentError(f"Arguments for '{name}' hold broken text: " + "; ".join(problems) + ".", problems)
