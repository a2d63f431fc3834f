"""Lone surrogates: half of an emoji's UTF-16 pair, valid in JSON escapes but not encodable as UTF-8.

The model or a client can send `"\\ud83d"`; such text is refused as a tool argument, and every
sink (the log, files, replies) keeps it as its escape, so nothing raises `UnicodeEncodeError`.
"""
from __future__ import annotations

import json
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


def json_text(value: Any, **options: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, **options)` that encodes as UTF-8: what every sink writes."""
    return escape_lone_surrogates(json.dumps(value, ensure_ascii=False, **options))


def lone_surrogates(value: Any, where: str = "arguments") -> list[str]:
    """One line per string (or key) in `value` holding a lone surrogate, naming where it is (any depth)."""
    found: list[str] = []
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:  # iterative: arguments may nest deeper than Python's recursion limit
        item, path = stack.pop()
        if isinstance(item, str):
            match = _LONE.search(item)
            if match:
                found.append(f"{path}: holds a lone surrogate ({escape_lone_surrogates(match.group())}), "
                             "half of a character; send whole characters (UTF-8 text)")
        elif isinstance(item, dict):
            for key, inner in reversed(list(item.items())):
                name = escape_lone_surrogates(str(key))
                stack.append((inner, f"{path}.{name}"))
                stack.append((str(key), f"{path}: key '{name}'"))
        elif isinstance(item, (list, tuple)):
            stack.extend((inner, f"{path}[{n}]") for n, inner in reversed(list(enumerate(item))))
    return found


def without_lone_surrogates(value: Any) -> Any:
    """`value` with every string's lone surrogates escaped; `value` itself (not a copy) when it has none."""
    if not _holds_lone(value):
        return value
    try:
        return _escaped(value)
    except RecursionError:  # half an emoji deeper than Python recurses: kept as text that says so
        return "[text nested too deeply to keep, holding a lone surrogate]"


def _holds_lone(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _LONE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return escape_lone_surrogates(value)
    if isinstance(value, dict):
        return {_escaped(k): _escaped(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escaped(v) for v in value]
    return value


def check_text(name: str, arguments: Any) -> None:
    """Refuse arguments holding a lone surrogate: no tool, log or reply could encode them."""
    problems = lone_surrogates(arguments)
    if problems:
        raise ToolArgumentError(f"Arguments for '{name}' hold broken text: " + "; ".join(problems) + ".", problems)
