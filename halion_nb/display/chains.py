"""Chains and chain runs as text, Markdown (a Mermaid flowchart and a table) and HTML: pure strings.

Chains are `halion_nb.models` data; runs and step results are duck-typed dataclasses (`chain`, `inputs`,
`steps`, `output`, `error`, `duration_ms`, `redact`; a step: `id`, `tool`, `status`, `arguments`, `result`,
`error`, `duration_ms`). Every value shown is redacted with the run's `redact` and bounded.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from html import escape
from typing import Any

from ..models import Ref, Toolchain
from .text import clip, icon

RESULT_CHARS = 80
"""Longest shown result or argument; longer ones are cut with an ellipsis."""

_ICONS = {"ok": "✓", "error": "✗", "pending": "…", "skipped": "–"}
_HTML_ICONS = {"ok": icon("check"), "error": icon("times"), "pending": icon("ellipsis-h"), "skipped": icon("minus")}
"""In HTML, Font Awesome icons (ipywidgets ships the font) instead of symbols many fonts lack."""
_CLASSES = {
    "ok": "fill:#dafbe1,stroke:#1a7f37,color:#0d1117",
    "error": "fill:#ffebe9,stroke:#cf222e,color:#0d1117",
    "pending": "fill:#f6f8fa,stroke:#8c959f,color:#57606a,stroke-dasharray:4 2",
    "skipped": "fill:#f6f8fa,stroke:#d0d7de,color:#8c959f,stroke-dasharray:2 2",
}


def short(value: Any, limit: int = RESULT_CHARS) -> str:
    """One line of at most `limit` characters: strings as they are, the rest as JSON."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=repr)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _visible(obj: Any) -> Any:
    """A run or step result to display: a copy with secret values replaced by *** (its `redact`)."""
    redact = getattr(obj, "redact", None)
    if redact is None:
        return obj

    def clean(value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value if value is None else redact(value)
        text = json.dumps(value, ensure_ascii=False, default=repr)
        cleaned = redact(text)
        return value if cleaned == text else json.loads(cleaned)

    if hasattr(obj, "steps"):  # a ChainRun
        return dataclasses.replace(obj, redact=None, inputs=clean(obj.inputs), output=clean(obj.output),
                                   error=clean(obj.error), steps=[_visible(s) for s in obj.steps])
    return dataclasses.replace(obj, redact=None, arguments=clean(obj.arguments), result=clean(obj.result),
                               error=clean(obj.error))


def _argument(value: Any) -> str:
    return value.ref if isinstance(value, Ref) else json.dumps(value, ensure_ascii=False, default=repr)


def _call(step: Any) -> str:
    args = ", ".join(f"{k}={_argument(v)}" for k, v in step.arguments.items())
    return f"{step.tool}({args})"


def _ms(value: float | None) -> str:
    if value is None:
        return ""
    if value < 10:
        return f"{value:.2f} ms"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def _inputs_line(chain: Toolchain) -> str:
    parts = []
    for item in chain.inputs:
        part = f"{item.name}: {item.type}"
        if not item.required:
            part += f" = {json.dumps(item.default, default=repr)}"
        parts.append(part)
    return ", ".join(parts) or "none"


def _flags(chain: Toolchain) -> list[str]:
    return [f for f, on in (("parallel", chain.parallel), ("exposed to the model", chain.expose)) if on]


# plain text
def chain_text(chain: Toolchain) -> str:
    head = f"Toolchain {chain.name}" + (f": {chain.description}" if chain.description else "")
    width = max((len(s.id) for s in chain.steps), default=0)
    lines = [head, f"  inputs: {_inputs_line(chain)}"]
    lines += [f"  {s.id.ljust(width)} = {short(_call(s), 200)}" for s in chain.steps] or ["  (no steps)"]
    output = chain.output.ref if chain.output else (f"steps.{chain.steps[-1].id}.output" if chain.steps else "-")
    lines.append(f"  output: {output}")
    if _flags(chain):
        lines.append(f"  ({', '.join(_flags(chain))})")
    return "\n".join(lines)


def step_text(result: Any) -> str:
    result = _visible(result)
    line = f"{_ICONS[result.status]} {result.id} ({result.tool}) {result.status}"
    if result.duration_ms is not None:
        line += f" in {_ms(result.duration_ms)}"
    if result.status == "ok":
        line += f" → {short(result.result)}"
    elif result.error:
        line += f": {short(result.error, 200)}"
    return line


def run_text(run: Any) -> str:
    run = _visible(run)
    state = "ok" if run.ok else "failed"
    head = f"ChainRun {run.chain.name}: {state} in {_ms(run.duration_ms)}"
    head += f" → {short(run.output)}" if run.ok else f": {short(run.error, 200)}"
    return "\n".join([head] + [f"  {step_text(s)}" for s in run.steps])


def chains_text(chains: list[Toolchain], broken: dict[str, str]) -> str:
    lines = [f"{len(chains)} chain(s)"]
    lines += [f"  {c.name}: {len(c.steps)} step(s)" + (f" — {c.description}" if c.description else "") for c in chains]
    lines += [f"  {name}: could not be loaded ({why})" for name, why in broken.items()]
    return "\n".join(lines)


def service_text(chains: Any) -> str:
    """`ws.chains` as text: each chain, and the files that could not be loaded."""
    return chains_text(chains.all(), chains.registry.broken)


# Mermaid
def _label(*lines: str) -> str:
    """A quoted Mermaid label; characters Mermaid or HTML would read are written as entities."""
    text = "<br/>".join(
        line.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;") for line in lines
    )
    return f'"{text}"'


def _source_node(ref: Ref) -> str:
    return f"in_{ref.target}" if ref.source == "inputs" else f"s_{ref.target}"


def _edge_label(ref: Ref, name: str | None) -> str:
    path = ".".join(ref.path)
    text = f"{path} → {name}" if path and name else path or name or ""
    return f"|{_label(text)}|" if text else ""


def chain_mermaid(chain: Toolchain, statuses: dict[str, str] | None = None,
                  notes: dict[str, str] | None = None) -> str:
    """A Mermaid flowchart: inputs → steps → output, data edges labelled with the argument they feed.

    `statuses` (step id → ok/error/pending/skipped) colours the steps; `notes` adds a line under each.
    """
    lines = ["flowchart LR"]
    lines += [f"    in_{i.name}[/{_label(i.name, i.type)}/]" for i in chain.inputs]
    for step in chain.steps:
        extra = [notes[step.id]] if notes and step.id in notes else []
        lines.append(f"    s_{step.id}[{_label(step.id, step.tool, *extra)}]")
    lines.append(f"    chain_output([{_label('output')}])")
    for index, step in enumerate(chain.steps):
        fed_by_previous = False
        for name, ref in step.refs().items():
            lines.append(f"    {_source_node(ref)} -->{_edge_label(ref, name)} s_{step.id}")
            fed_by_previous |= index > 0 and ref.source == "steps" and ref.target == chain.steps[index - 1].id
        if index and not chain.parallel and not fed_by_previous:
            lines.append(f"    s_{chain.steps[index - 1].id} -.-> s_{step.id}")
    output = chain.output or (Ref(f"steps.{chain.steps[-1].id}.output") if chain.steps else None)
    if output is not None:
        lines.append(f"    {_source_node(output)} -->{_edge_label(output, None)} chain_output")
    if statuses:
        lines += [f"    classDef {name} {style}" for name, style in _CLASSES.items()]
        for status in _CLASSES:
            ids = [f"s_{i}" for i, s in statuses.items() if s == status]
            if ids:
                lines.append(f"    class {','.join(ids)} {status}")
    return "\n".join(lines)


def _run_notes(run: Any) -> tuple[dict[str, str], dict[str, str]]:
    statuses = {s.id: s.status for s in run.steps}
    notes = {s.id: f"{_ICONS[s.status]} {s.status}" + (f" · {_ms(s.duration_ms)}" if s.duration_ms is not None else "")
             for s in run.steps}
    return statuses, notes


# Markdown
def _cell(text: str) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return f"`{text}`" if "`" not in text else escape(text)


def _table(head: list[str], rows: Iterable[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def chain_markdown(chain: Toolchain) -> str:
    """Heading, the flowchart (JupyterLab draws ```mermaid blocks) and a table of steps."""
    parts = [f"**Toolchain `{chain.name}`**" + (f" — {escape(chain.description)}" if chain.description else "")]
    parts.append(f"inputs: {_cell(_inputs_line(chain))}" + "".join(f" · {f}" for f in _flags(chain)))
    parts.append(f"```mermaid\n{chain_mermaid(chain)}\n```")
    rows = [[str(n), _cell(s.id), _cell(s.tool),
             "<br>".join(_cell(f"{k}={short(_argument(v))}") for k, v in s.arguments.items()) or "—"]
            for n, s in enumerate(chain.steps, 1)]
    parts.append(_table(["#", "step", "tool", "arguments"], rows) if rows else "*no steps*")
    return "\n\n".join(parts)


def run_markdown(run: Any) -> str:
    """The chain's flowchart coloured by step status, and each step's result or error."""
    run = _visible(run)
    statuses, notes = _run_notes(run)
    state = f"{icon('check')} ok" if run.ok else f"{icon('times')} failed"
    parts = [f"**Run of `{run.chain.name}`** — {state} in {_ms(run.duration_ms)}"]
    parts.append(f"```mermaid\n{chain_mermaid(run.chain, statuses, notes)}\n```")
    rows = [[_cell(s.id), _cell(s.tool), f"{_ICONS[s.status]} {s.status}", _ms(s.duration_ms),
             _cell(short(s.result)) if s.status == "ok" else _cell(short(s.error or "", 200)) if s.error else ""]
            for s in run.steps]
    parts.append(_table(["step", "tool", "status", "time", "result / error"], rows))
    parts.append(f"**output:** {_cell(short(run.output))}" if run.ok else f"**error:** {_cell(clip(run.error or ''))}")
    return "\n\n".join(parts)


def chains_markdown(chains: list[Toolchain], problems: dict[str, list[str]], broken: dict[str, str]) -> str:
    """The workspace's chains: steps, inputs, state, and the files that could not be loaded."""
    rows = []
    for chain in chains:
        found = problems.get(chain.name) or []
        warn = icon("exclamation-triangle")
        state = f"{icon('check')} ready" if not found else f"{warn} {len(found)} problem(s): {escape(found[0])}"
        flags = ", ".join(_flags(chain))
        rows.append([_cell(chain.name), escape(chain.description), " → ".join(s.tool for s in chain.steps),
                     _cell(_inputs_line(chain)), flags, state])
    rows += [[_cell(name), f"{icon('exclamation-triangle')} could not be loaded: {escape(why)}", "", "", "", ""]
             for name, why in broken.items()]
    if not rows:
        return "*No chains yet: draft one with `%halion chain draft \"goal\"` or save a `Toolchain`.*"
    return _table(["chain", "description", "steps", "inputs", "flags", "state"], rows)


def service_markdown(chains: Any) -> str:
    """`ws.chains` as a table, each chain checked against the workspace's tools."""
    found = chains.all()
    return chains_markdown(found, {chain.name: chains.validate(chain) for chain in found}, chains.registry.broken)


# HTML (for panels)
_STATUS_COLOURS = {"ok": "#1a7f37", "error": "#cf222e", "pending": "#8c959f", "skipped": "#8c959f"}


def chain_html(chain: Toolchain) -> str:
    """A card with the Mermaid source (for a page that loads Mermaid) and the table of steps."""
    rows = "".join(
        f"<tr><td>{n}</td><td><code>{escape(s.id)}</code></td><td><code>{escape(s.tool)}</code></td>"
        f"<td><code>{escape(short(', '.join(f'{k}={_argument(v)}' for k, v in s.arguments.items()), 200))}</code>"
        "</td></tr>"
        for n, s in enumerate(chain.steps, 1)
    )
    return (
        f'<div class="halion-chain"><div><b>⛓ {escape(chain.name)}</b> {escape(chain.description)}</div>'
        f'<pre class="mermaid">{escape(chain_mermaid(chain))}</pre>'
        '<table style="font-size:12px"><tr><th align="left">#</th><th align="left">step</th><th align="left">tool</th>'
        f'<th align="left">arguments</th></tr>{rows}</table></div>'
    )


def run_html(run: Any) -> str:
    """A run as a card: the coloured flowchart's source and each step's status and result."""
    run = _visible(run)
    statuses, notes = _run_notes(run)
    rows = "".join(
        f'<tr><td><code>{escape(s.id)}</code></td><td><code>{escape(s.tool)}</code></td>'
        f'<td style="color:{_STATUS_COLOURS[s.status]}">{_HTML_ICONS[s.status]} {s.status}</td>'
        f'<td>{_ms(s.duration_ms)}</td>'
        f"<td><code>{escape(short(s.result) if s.status == 'ok' else short(s.error or '', 200))}</code></td></tr>"
        for s in run.steps
    )
    outcome = (f"output: <code>{escape(short(run.output))}</code>" if run.ok
               else f'<span style="color:#cf222e">{escape(clip(run.error or ""))}</span>')
    return (
        f'<div class="halion-chain-run"><div><b>{icon("link")} {escape(run.chain.name)}</b> '
        f'{_ms(run.duration_ms)}</div>'
        f'<pre class="mermaid">{escape(chain_mermaid(run.chain, statuses, notes))}</pre>'
        '<table style="font-size:12px"><tr><th align="left">step</th><th align="left">tool</th>'
        '<th align="left">status</th><th align="left">time</th><th align="left">result / error</th></tr>'
        f'{rows}</table><div>{outcome}</div></div>'
    )
