"""One-line, redacted summaries of values for plain `repr()` (the full views live in `halion_nb.display`)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .encoding import dumps


def brief(value: Any, redact: Callable[[str], str] | None = None, limit: int = 80) -> str:
    """`value` as one line of at most `limit` characters: JSON (str as is), redacted before it is cut."""
    text = dumps(value)
    if redact is not None:
        text = redact(text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
