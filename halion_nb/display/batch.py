"""A batch run as HTML: counts, rate, the run-wide error, the first failures. Pure strings.

A run is duck-typed (`id`, `kind`, `name`, `executor`, `status`, `error`, `progress()`, `failed()`,
`ws.env.redact`); its errors arrive redacted, inputs are redacted here.
"""
from __future__ import annotations

import json
from html import escape
from typing import Any

from .text import clip

SHOWN_FAILURES = 5
_COLORS = {"running": "#0969da", "done": "#1a7f37", "cancelled": "#9a6700", "failed": "#cf222e"}


def counts_line(progress: Any) -> str:
    """`412 / 1,000 done · 3 failed · 85.2/s · 7 s left` (what the progress bar's label says)."""
    parts = [f"{progress.done:,} / {progress.total:,} done", f"{progress.failed:,} failed", f"{progress.rate:.1f}/s"]
    left = progress.left
    if progress.status == "running":
        parts.append("…" if left is None else f"{_seconds(left)} left")
    else:
        parts.append(f"{progress.status} in {_seconds(progress.elapsed)}")
    return " · ".join(parts)


def batch_html(run: Any) -> str:
    """The run's summary: a header line, the stop reason if any, and a table of the first failures."""
    progress = run.progress()
    color = _COLORS.get(run.status, "#57606a")
    counts = f"<span style='color:{color}'>{escape(counts_line(progress))}</span>"
    head = (f"<div><b>Batch {escape(run.id)}</b> · {escape(run.kind)} <code>{escape(run.name)}</code> on "
            f"{escape(run.executor or '…')} · {counts}</div>")
    parts = [head]
    if run.error:
        parts.append(f"<div style='color:#cf222e'>Stopped: {escape(clip(run.error, 500))}</div>")
    failed = run.failed()
    if failed:
        redact = run.ws.env.redact
        rows = "".join(
            f"<tr><td>{r.index}</td><td><code>{escape(clip(redact(_json(r.input)), 120))}</code></td>"
            f"<td>{escape(clip(r.error or '', 300))}</td></tr>" for r in failed[:SHOWN_FAILURES])
        more = (f"<div style='color:#6e7781'>… and {len(failed) - SHOWN_FAILURES:,} more: "
                "<code>run.failed()</code></div>" if len(failed) > SHOWN_FAILURES else "")
        parts.append("<table class='halion-table'><tr><th>#</th><th>input</th><th>error</th></tr>"
                     f"{rows}</table>{more}")
    return "<div class='halion-batch'>" + "".join(parts) + "</div>"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
