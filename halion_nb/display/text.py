"""Values as display text: redacted first, then bounded, so a view never holds a whole huge result."""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

Redact = Callable[[str], str]

MAX_CHARS = 20_000
"""Longest value (a tool result, an answer, an error) one view shows; the rest is counted, not kept."""
_SLACK = 40


def clip(text: str, limit: int = MAX_CHARS) -> str:
    """`text` if it fits in `limit` characters, else its start and a "… N more characters" mark.

    A text clipped once is not clipped again (the mark fits in the slack), so views can nest.
    """
    if len(text) <= limit + _SLACK:
        return text
    return f"{text[:limit]}… {len(text) - limit:,} more characters"


def as_text(value: Any, indent: int | None = None) -> str:
    """str as is, anything else as JSON (values JSON cannot hold as their str)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=indent, default=str)


def shown(value: Any, redact: Redact | None = None, *, limit: int | None = None, indent: int | None = None) -> str:
    """A value as display text: redacted, then cut to one line's `limit` with "…", else bounded by `clip`."""
    text = as_text(value, indent)
    if redact is not None:
        text = redact(text)
    if limit is not None:
        return text if len(text) <= limit else text[: limit - 1] + "…"
    return clip(text)


def icon(name: str) -> str:
    """A Font Awesome icon (ipywidgets ships the font to JupyterLab), for HTML: emoji need fonts many lack."""
    return f'<i class="fa fa-{name}" aria-hidden="true"></i>'


_CELL = re.compile(r"<(td|th)\b([^>]*)>")


def left_aligned(html: str) -> str:
    """Table cells aligned left inline: JupyterLab's stylesheet right-aligns output tables over `align=`."""
    def cell(m: re.Match[str]) -> str:
        tag, attrs = m.group(1), m.group(2)
        if "text-align" in attrs:
            return m.group(0)
        if 'style="' in attrs:
            return "<" + tag + attrs.replace('style="', 'style="text-align:left;', 1) + ">"
        return "<" + tag + attrs + ' style="text-align:left">'

    return _CELL.sub(cell, html)


def aligned_left(render: Callable[..., str]) -> Callable[..., str]:
    """Decorator: the HTML `render` returns, with its table cells aligned left (see `left_aligned`)."""
    @functools.wraps(render)
    def wrapped(*args: Any, **kwargs: Any) -> str:
        return left_aligned(render(*args, **kwargs))

    return wrapped
