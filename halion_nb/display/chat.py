"""Text and HTML for chat results, streaming answers and the call log: pure strings, no IPython.

Everything shown passes through the workspace's `redact`, so secrets never reach a display, and every
value is bounded (`text.clip`). The objects are duck-typed: a chat result has `text`, `tool_calls`, `usage`,
`rounds`, `stopped_reason`, `model` and `redact`; a tool call has `name`, `arguments`, `result`, `error`,
`duration_ms`, `to_person` and, when known, `call_id` and `redact`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from .markdown import render as render_markdown
from .text import Redact, icon, left_aligned, shown

_BOX = "border:1px solid #d0d7de;border-radius:6px;padding:6px 10px;margin:4px 0;font-family:sans-serif;font-size:13px"
_PRE = "white-space:pre-wrap;margin:4px 0;font-size:12px;background:#f6f8fa;padding:6px;border-radius:4px"


def markdown_html(text: str) -> str:
    """Safe HTML for a model's Markdown answer (display/markdown.py: raw HTML stays text), bounded."""
    return render_markdown(text)


def _redact_of(obj: Any, redact: Redact | None) -> Redact | None:
    return redact if redact is not None else getattr(obj, "redact", None)


def tool_call_line(r: Any, redact: Redact | None = None) -> str:
    """`🔧 name(args) → result (12 ms)` on one line (redacted with `redact`, else the call's own)."""
    redact = _redact_of(r, redact)
    args = shown(r.arguments, redact, limit=120)
    if r.error is not None:
        outcome = f"✗ {shown(r.error, redact, limit=200)}"
    else:
        outcome = ("⇒ you: " if r.to_person else "→ ") + shown(r.result, redact, limit=200)
    return f"🔧 {r.name}({args}) {outcome} ({r.duration_ms:.0f} ms)"


def tool_call_html(r: Any, redact: Redact | None = None) -> str:
    """A collapsible card: the call in the summary; arguments, result or error inside (each bounded)."""
    redact = _redact_of(r, redact)
    if r.error is not None and _denied(r):
        badge, color = "denied", "#9a6700"
    elif r.error is not None:
        badge, color = "error", "#cf222e"
    elif r.to_person:
        badge, color = "result → you", "#0969da"
    else:
        badge, color = "ok", "#1a7f37"
    body = f'<div>arguments</div><pre style="{_PRE}">{escape(shown(r.arguments, redact, indent=2))}</pre>'
    if r.error is not None:
        body += f'<div>error</div><pre style="{_PRE};color:#cf222e">{escape(shown(r.error, redact))}</pre>'
    else:
        body += f'<div>result</div><pre style="{_PRE}">{escape(shown(r.result, redact, indent=2))}</pre>'
        body += "".join(image_html(i) for i in _images(r))
    opened = " open" if _images(r) else ""  # a picture is shown at once
    return (
        f'<details class="halion-tool-call"{opened} style="{_BOX}"><summary>{icon("wrench")} <b>{escape(r.name)}</b> '
        f'<span style="color:{color}">{badge}</span> <span style="color:#6e7781">'
        f'{r.duration_ms:.0f} ms · {escape(getattr(r, "call_id", None) or "")}</span></summary>{body}</details>'
    )


def _denied(r: Any) -> bool:
    """True when the person (or nobody there) declined the call."""
    return getattr(getattr(r, "outcome", None), "error_kind", None) == "denied"


def _images(r: Any) -> list[Any]:
    """The images a tool call returned (duck-typed: `data_url()`, `scaled(side)`)."""
    return list(getattr(r, "images", None) or ())


IMAGE_SIDE = 480
"""Longest side, in CSS pixels, an image takes in a card."""


def image_html(image: Any) -> str:
    """An image shown bounded in a card (its bytes scaled to the display bound first)."""
    shown_image = image.scaled(IMAGE_SIDE * 2)
    return (f'<img class="halion-image" src="{shown_image.data_url()}" alt="{escape(repr(image))}" '
            f'style="max-width:{IMAGE_SIDE}px;max-height:{IMAGE_SIDE}px;display:block;margin:4px 0">')


def _names(arguments: Any) -> str:
    return ", ".join(map(str, arguments)) if isinstance(arguments, dict) else "…"


def outcome_line(o: Any) -> str:
    """A `ToolOutcome` on one line: its redacted `content`; arguments by name only (an outcome holds no redact)."""
    mark = "✓" if o.error is None else f"✗ {o.error_kind}:"
    return (f"🔧 {o.name}({_names(o.arguments)}) {mark} {shown(o.content, limit=200)} "
            f"({o.duration_ms:.0f} ms · {o.caller})")


def outcome_html(o: Any) -> str:
    """A `ToolOutcome` as a card: what the caller received (redacted `content`), bounded."""
    color = "#1a7f37" if o.error is None else "#cf222e"
    badge = "ok" if o.error is None else escape(str(o.error_kind))
    return (
        f'<div class="halion-tool-outcome" style="{_BOX}">{icon("wrench")} <b>{escape(o.name)}</b>'
        f'<code>({escape(_names(o.arguments))})</code> <span style="color:{color}">{badge}</span> '
        f'<span style="color:#6e7781">{o.duration_ms:.0f} ms · {escape(o.caller)}</span>'
        f'<pre style="{_PRE}">{escape(shown(o.content))}</pre></div>'
    )


def _money(cost: Any) -> str:
    if cost is None:
        return "cost unknown"
    return f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"


def _footer(result: Any) -> str:
    u = result.usage
    line = (f"{result.stopped_reason} · {result.rounds} round(s) · {u.total_tokens} tokens "
            f"({u.prompt_tokens} in, {u.completion_tokens} out)")
    line += _about(getattr(result, "cost", None))
    totals = getattr(result, "totals", None)
    if totals is not None:
        line += (f" · conversation {totals.conversation_tokens} tokens{_about(totals.conversation_cost)}"
                 f" · today {totals.day_tokens} tokens{_about(totals.day_cost)}")
    if hasattr(result, "cost") and result.cost is None:
        line += f" · no price for {result.model} (ws.prices)"
        return line
    return f"{line} · {result.model}"


def _about(cost: Any) -> str:
    return "" if cost is None else f" ≈ {_money(cost)}"


def chat_result_text(result: Any) -> str:
    """Plain text: the answer, one line per tool call, then how the turn ended."""
    redact = result.redact
    lines = [shown(result.text, redact)] if result.text else []
    lines += [tool_call_line(r, redact) for r in result.tool_calls]
    lines.append(f"[{_footer(result)}]")
    return "\n".join(lines)


def chat_result_html(result: Any) -> str:
    """The tool calls as cards, then the answer as HTML, then a small footer."""
    redact = result.redact
    cards = "".join(tool_call_html(r, redact) for r in result.tool_calls)
    if result.stopped_reason == "direct_result":
        answer = f'<pre style="{_PRE}">{escape(shown(result.text, redact))}</pre>'
    else:
        answer = markdown_html(shown(result.text, redact)) if result.text else ""
    note = ""
    if result.stopped_reason in ("max_rounds", "cancelled", "length", "content_filter", "limit"):
        note = f'<div style="color:#9a6700">⚠ stopped: {escape(result.stopped_reason)}</div>'
    return (f'<div class="halion-chat-result" style="font-family:sans-serif;font-size:14px">{cards}'
            f'<div class="halion-answer">{answer}</div>{note}'
            f'<div style="color:#6e7781;font-size:11px">{escape(_footer(result))}</div></div>')


@dataclass
class StreamingText:
    """An answer still arriving: what has come so far."""

    text: str
    redact: Redact | None = field(default=None, repr=False)
    done: bool = False

    def __repr__(self) -> str:
        return shown(self.text, self.redact) + ("" if self.done else " ▌")

    def _repr_html_(self) -> str:
        cursor = "" if self.done else '<span style="color:#6e7781"> ▌</span>'
        return f'<div class="halion-streaming">{markdown_html(shown(self.text, self.redact))}{cursor}</div>'


@dataclass
class LogTable:
    """Rows of the call log, newest first."""

    records: Sequence[Any]
    redact: Redact | None = field(default=None, repr=False)

    def _cells(self, r: Any) -> tuple[str, ...]:
        tokens = "" if r.prompt_tokens is None else f"{r.prompt_tokens}+{r.completion_tokens or 0}"
        cost = (getattr(r, "meta", None) or {}).get("cost_usd")
        if tokens and isinstance(cost, (int, float)):
            tokens += f" ≈ {_money(cost)}"
        outcome = f"✗ {r.error}" if r.error else shown(r.result if r.result is not None else "", self.redact)
        return (str(r.id), r.ts.strftime("%H:%M:%S"), r.kind, r.name or "", getattr(r, "caller", None) or "",
                getattr(r, "user", None) or "", getattr(r, "version", None) or "", (r.conversation_id or "")[:8],
                "" if r.duration_ms is None else f"{r.duration_ms:.0f} ms", tokens,
                shown(r.arguments if r.arguments is not None else "", self.redact, limit=60),
                shown(outcome, self.redact, limit=80))

    _HEAD = ("id", "time", "kind", "name", "caller", "user", "version", "conv", "duration", "tokens", "arguments",
             "result / error")

    def __repr__(self) -> str:
        if not self.records:
            return "(no calls logged)"
        rows = [self._HEAD, *(self._cells(r) for r in self.records)]
        widths = [min(max(len(row[i]) for row in rows), 60) for i in range(len(self._HEAD))]
        return "\n".join("  ".join(c[:w].ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)

    def _repr_html_(self) -> str:
        head = "".join(f'<th align="left">{h}</th>' for h in self._HEAD)
        rows = []
        for r in self.records:
            cells = self._cells(r)
            style = ' style="color:#cf222e"' if r.error else ""
            rows.append(f"<tr{style}>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
        body = "".join(rows) or f'<tr><td colspan="{len(self._HEAD)}"><i>no calls logged</i></td></tr>'
        return left_aligned(f'<table class="halion-log" style="font-size:12px"><tr>{head}</tr>{body}</table>')
