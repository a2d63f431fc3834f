"""Versions, diffs and bundle import reports as text and HTML: pure strings.

A version is a `halion_nb.models.Version`; a diff is duck-typed (`name`, `a`, `b`, `text`); an import
report has `lines()`, `bundle`, `chain`, `added`, `identical`, `conflicts`, `blocked`, `warnings`, `code`,
`applied`, `ok`, `overwrite`. Diff lines are coloured like a code review: removed red, added green.
"""
from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from .text import aligned_left, clip

_BOX = "border:1px solid #d0d7de;border-radius:6px;padding:6px 10px;margin:4px 0;font-size:12px"
_LINE_STYLES = (
    ("+++", "color:#57606a;font-weight:bold"), ("---", "color:#57606a;font-weight:bold"),
    ("@@", "color:#8250df"), ("+", "background:#dafbe1;color:#116329"), ("-", "background:#ffebe9;color:#82071e"),
)


def version_label(v: Any) -> str:
    """`v3 1a2b3c4d5e6f` for a saved version, `live 1a2b3c4d5e6f` for a notebook tool's unsaved source."""
    return f"v{v.number} {v.hash}" if v.number is not None else f"live {v.hash}"


def version_line(v: Any) -> str:
    """One line: number and hash, when (UTC, to the second), who, and the message."""
    when = v.time.strftime("%Y-%m-%d %H:%M:%S")
    return f"{version_label(v)}  {when}  {v.who or '?'}" + (f"  {v.message}" if v.message else "")


def history_text(name: str, versions: Sequence[Any]) -> str:
    """`%halion history NAME`: every saved version, newest first."""
    if not versions:
        return f"{name}: no saved versions yet."
    return "\n".join([f"{name}: {len(versions)} version(s), newest first"]
                     + [f"  {version_line(v)}" for v in reversed(versions)])


@aligned_left
def history_html(name: str, versions: Sequence[Any]) -> str:
    """The history as a table, newest first."""
    if not versions:
        return f"<div><i>{escape(name)}: no saved versions yet.</i></div>"
    rows = "".join(
        f"<tr><td><code>v{v.number}</code></td><td><code>{escape(v.hash)}</code></td>"
        f"<td>{escape(v.time.strftime('%Y-%m-%d %H:%M:%S'))}</td><td>{escape(v.who or '')}</td>"
        f"<td>{escape(v.message or '')}</td></tr>" for v in reversed(versions))
    return (f'<table class="halion-history"><tr><th>version</th><th>hash</th><th align="left">saved (UTC)</th>'
            f'<th align="left">by</th><th align="left">message</th></tr>{rows}</table>')


def diff_text(diff: Any) -> str:
    """The unified diff, or a line saying the two versions are the same."""
    return diff.text or f"{diff.name}: no differences."


def diff_html(diff: Any) -> str:
    """The unified diff in a <pre>, one coloured span a line."""
    if not diff.text:
        return f"<div><i>{escape(diff.name)}: no differences.</i></div>"
    lines = []
    for line in clip(diff.text).splitlines():
        style = next((s for prefix, s in _LINE_STYLES if line.startswith(prefix)), "")
        lines.append(f'<span style="{style}">{escape(line) or " "}</span>' if style else escape(line))
    return f'<pre class="halion-diff" style="{_BOX};line-height:1.35">' + "\n".join(lines) + "</pre>"


def version_html(v: Any) -> str:
    """A version: its line, then its content."""
    return (f'<div class="halion-version" style="{_BOX}"><div><b>{escape(v.name)}</b> '
            f"{escape(version_line(v))}</div><pre>{escape(clip(v.content))}</pre></div>")


def report_text(report: Any) -> str:
    return "\n".join(report.lines())


def report_html(report: Any) -> str:
    """An import report: the state, what is added / identical / in conflict, problems, warnings, and the code."""
    colour = "#1a7f37" if report.applied else "#cf222e" if not report.ok else "#9a6700"
    head, *rest = report.lines()
    items = "".join(f"<li>{escape(line)}</li>" for line in rest)
    code = "".join(f"<details><summary>code of <code>{escape(name)}</code></summary><pre>{escape(clip(text))}</pre>"
                   "</details>" for name, text in report.code.items()) if not report.applied else ""
    return (f'<div class="halion-import-report" style="{_BOX};border-left:4px solid {colour}">'
            f"<div><b>{escape(head)}</b></div><ul>{items}</ul>{code}</div>")


def version_text(v: Any) -> str:
    """A version: its line, then its content."""
    return f"{v.name} {version_line(v)}\n\n{clip(v.content)}"


class HistoryView:
    """`%halion history NAME`: the saved versions of one tool or chain."""

    def __init__(self, name: str, versions: Sequence[Any]) -> None:
        self.name, self.versions = name, list(versions)

    def __repr__(self) -> str:
        return history_text(self.name, self.versions)

    def _repr_html_(self) -> str:
        return history_html(self.name, self.versions)
