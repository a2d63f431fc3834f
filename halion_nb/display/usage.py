"""Tables of usage (tokens and estimated cost per day and model) and of stored conversations."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from .text import left_aligned


def money(cost: float | None) -> str:
    if cost is None:
        return "unknown"
    return f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"


def _table(head: Sequence[str], rows: list[tuple[str, ...]], cls: str, empty: str) -> tuple[str, str]:
    if not rows:
        return f"({empty})", f"<i>{escape(empty)}</i>"
    widths = [max(len(r[i]) for r in [tuple(head), *rows]) for i in range(len(head))]
    text = "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [tuple(head), *rows])
    cells = "".join(f'<th align="left">{escape(h)}</th>' for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return text, left_aligned(f'<table class="{cls}" style="font-size:12px"><tr>{cells}</tr>{body}</table>')


@dataclass
class UsageTable:
    """Rows with `day`, `model`, `calls`, `prompt_tokens`, `completion_tokens`, `cost`; a total line."""

    rows: Sequence[Any]
    prices_as_of: str = ""

    def _rows(self) -> list[tuple[str, ...]]:
        out = [(str(r.day), r.model, str(r.calls), str(r.prompt_tokens), str(r.completion_tokens), money(r.cost))
               for r in self.rows]
        if len(self.rows) > 1:
            costs = [r.cost for r in self.rows]
            out.append(("total", "", str(sum(r.calls for r in self.rows)), str(sum(r.prompt_tokens for r in self.rows)),
                        str(sum(r.completion_tokens for r in self.rows)),
                        money(None if None in costs else sum(costs))))
        return out

    _HEAD = ("day", "model", "calls", "tokens in", "tokens out", "est. cost")

    def _note(self) -> str:
        return f"estimated from ws.prices (defaults as of {self.prices_as_of})" if self.prices_as_of else ""

    def __repr__(self) -> str:
        text, _ = _table(self._HEAD, self._rows(), "halion-usage", "no model calls logged")
        return text + (f"\n{self._note()}" if self.rows and self._note() else "")

    def _repr_html_(self) -> str:
        _, html = _table(self._HEAD, self._rows(), "halion-usage", "no model calls logged")
        note = f'<div style="color:#6e7781;font-size:11px">{escape(self._note())}</div>' if self.rows else ""
        return html + note


@dataclass
class ConversationsTable:
    """Stored conversations (`ws.conversations()`), newest first."""

    items: Sequence[Any]

    _HEAD = ("id", "started", "turns", "tokens", "est. cost", "first message")

    def _rows(self) -> list[tuple[str, ...]]:
        return [(c.id[:8], c.started.astimezone().strftime("%Y-%m-%d %H:%M"), str(c.turns), str(c.tokens),
                 money(c.cost), c.first_message if len(c.first_message) <= 60 else c.first_message[:59] + "…")
                for c in self.items]

    def __repr__(self) -> str:
        return _table(self._HEAD, self._rows(), "halion-conversations", "no stored conversations")[0]

    def _repr_html_(self) -> str:
        return _table(self._HEAD, self._rows(), "halion-conversations", "no stored conversations")[1]
