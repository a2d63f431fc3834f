"""Attach halion's views to IPython's display formatters from outside the classes they show.

`attach(shell)` registers one printer per (type, MIME type) with `for_type_by_name`, so no class
is imported to register it and no view module is imported until a printer runs. `detach(shell)`
puts back whatever was registered before. `formats(obj)` gives the same views without IPython.
This module imports nothing of halion's: `import halion_nb` calls `attach` cheaply.
"""
from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

PLAIN, HTML, MARKDOWN = "text/plain", "text/html", "text/markdown"

VIEWS: dict[tuple[str, str], dict[str, str]] = {
    ("halion_nb.core.tool", "Tool"): {HTML: "tools:tool_card"},
    ("halion_nb.core.tool_registry", "ToolRegistry"): {HTML: "tools:tools_table"},
    ("halion_nb.core.invocation", "ToolOutcome"): {PLAIN: "chat:outcome_line", HTML: "chat:outcome_html"},
    ("halion_nb.services.chat", "ChatResult"): {PLAIN: "chat:chat_result_text", HTML: "chat:chat_result_html"},
    ("halion_nb.services.chat", "ToolCallRecord"): {PLAIN: "chat:tool_call_line", HTML: "chat:tool_call_html"},
    ("halion_nb.models", "Toolchain"): {PLAIN: "chains:chain_text", MARKDOWN: "chains:chain_markdown"},
    ("halion_nb.services.chain_runs", "StepResult"): {PLAIN: "chains:step_text"},
    ("halion_nb.services.chain_runs", "ChainRun"): {PLAIN: "chains:run_text", MARKDOWN: "chains:run_markdown"},
    ("halion_nb.services.chains", "Chains"): {PLAIN: "chains:service_text", MARKDOWN: "chains:service_markdown"},
    ("halion_nb.services.batch", "BatchRun"): {HTML: "batch:batch_html"},
    ("halion_nb.services.tool_drafts", "ToolDraft"): {MARKDOWN: "authoring:draft_markdown"},
    ("halion_nb.core.versions", "VersionDiff"): {PLAIN: "versions:diff_text", HTML: "versions:diff_html"},
    ("halion_nb.models", "Version"): {PLAIN: "versions:version_text", HTML: "versions:version_html"},
    ("halion_nb.services.bundles", "ImportReport"): {PLAIN: "versions:report_text", HTML: "versions:report_html"},
}
"""(module, class) → MIME type → `view_module:function` under `halion_nb.display`, each `function(obj) -> str`."""


def view(spec: str) -> Callable[[Any], str]:
    """The view function a `module:function` spec names (imported now)."""
    module, _, name = spec.partition(":")
    return getattr(import_module(f"{__package__}.{module}"), name)


def formats(obj: Any) -> dict[str, str]:
    """Every view of `obj` by MIME type (what a notebook would store), without IPython."""
    for cls in type(obj).__mro__:
        specs = VIEWS.get((cls.__module__, cls.__qualname__))
        if specs is not None:
            return {mime: _left_aligned(view(spec)(obj)) if mime == HTML else view(spec)(obj)
                    for mime, spec in specs.items()}
    return {PLAIN: repr(obj)}


def _printer(mime: str, spec: str) -> Callable[..., Any]:
    def rich(obj: Any) -> str:
        text = view(spec)(obj)
        return _left_aligned(text) if mime == HTML else text

    def pretty(obj: Any, p: Any, cycle: bool) -> None:  # IPython's pretty-printer signature
        p.text(view(spec)(obj))

    printer = pretty if mime == PLAIN else rich
    printer.halion_view = spec  # type: ignore[attr-defined]
    return printer


_SAVED: dict[int, dict[tuple[str, str, str], Any]] = {}
"""Per display formatter: the printer each of ours replaced (None when there was none)."""


def attach(shell: Any) -> None:
    """Register the views with `shell`'s formatters; harmless when they are registered already."""
    formatters = shell.display_formatter.formatters
    saved = _SAVED.setdefault(id(shell.display_formatter), {})
    for (module, name), specs in VIEWS.items():
        for mime, spec in specs.items():
            formatter = formatters[mime]
            old = formatter.for_type_by_name(module, name)
            if getattr(old, "halion_view", None) == spec:
                continue
            formatter.pop(f"{module}.{name}", None)  # a cached printer would win over a deferred one
            saved[(mime, module, name)] = old
            formatter.for_type_by_name(module, name, _printer(mime, spec))


def detach(shell: Any) -> None:
    """Put back the printers `attach` replaced."""
    formatters = shell.display_formatter.formatters
    for (mime, module, name), old in _SAVED.pop(id(shell.display_formatter), {}).items():
        formatter = formatters[mime]
        formatter.pop(f"{module}.{name}", None)
        if old is not None:
            formatter.for_type_by_name(module, name, old)


def _left_aligned(html: str) -> str:
    from .text import left_aligned  # loaded with the first view shown, not when printers attach

    return left_aligned(html)
