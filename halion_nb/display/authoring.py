"""A tool draft as Markdown: its rationale, environment variables, problems, warnings and code (not run)."""
from __future__ import annotations

import re
from typing import Any


def _md_escape(text: str) -> str:
    return text.replace("<", "&lt;")


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)


def draft_markdown(draft: Any) -> str:
    """`ToolDraft` (duck-typed: name, ok, rationale, env_vars, missing_env, problems, warnings, code)."""
    parts = [f"### Draft tool `{draft.name}`" + ("" if draft.ok else " — has problems")]
    if draft.rationale:
        parts.append(draft.rationale)
    if draft.env_vars:
        items = [f"`{n}`" + (f" — missing; set it with `%halion env set {n}`" if n in draft.missing_env else "")
                 for n in draft.env_vars]
        parts.append("**Environment variables:** " + ", ".join(items))
    if draft.problems:
        parts.append("**Problems:**\n" + "\n".join(f"- {_md_escape(p)}" for p in draft.problems))
    if draft.warnings:
        parts.append("**Warnings:**\n" + "\n".join(f"- ⚠️ {_md_escape(w)}" for w in draft.warnings))
    fence = "`" * max(3, _longest_backtick_run(draft.code) + 1)
    parts.append(f"{fence}python\n{draft.code.rstrip()}\n{fence}")
    parts.append("*Not run yet: read it, then run it as a `%%tool` cell or accept it in the Tools panel.*")
    return "\n\n".join(parts)
