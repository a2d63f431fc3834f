"""Which environment variables the workspace needs and has: every one a tool reads, every one stored."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..workspace import Workspace


@dataclass(frozen=True)
class EnvVariable:
    """One variable: whether it is set, whether `.halion/.env` holds it, and the tools that read it."""

    name: str
    tools: tuple[str, ...]
    is_set: bool
    stored: bool
    """Held in the workspace's `.halion/.env` (else only in the process environment, or nowhere)."""


def env_overview(ws: Workspace) -> list[EnvVariable]:
    """Every variable a tool of `ws` reads or `.halion/.env` stores, by name; values are never read out."""
    readers: dict[str, list[str]] = {}
    for tool in ws.tools.names():
        try:
            needs = ws.env.required(tool)
        except Exception:  # a tool whose source does not parse is reported where it is loaded
            continue
        for name in needs:
            readers.setdefault(name, []).append(tool)
    stored = set(ws.env.names())
    return [EnvVariable(n, tuple(readers.get(n, ())), ws.env.is_set(n), n in stored)
            for n in sorted(set(readers) | stored)]
