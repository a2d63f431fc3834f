"""The name rule shared by tools and chains: a file name and a Python identifier at once."""
from __future__ import annotations

import keyword
import re

from ..errors import ToolNameError

NAME_PATTERN = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]{0,63}", re.ASCII)
# `schema` is the literal every tool file defines; the rest are device names on Windows.
RESERVED = {"schema", "con", "prn", "aux", "nul"} | {f"{d}{i}" for d in ("com", "lpt") for i in range(10)}


def check_name(name: object, kind: str = "tool") -> str:
    """Return `name` if it is a valid tool/chain name, else raise ToolNameError saying why."""
    if not isinstance(name, str):
        raise ToolNameError(f"A {kind} name must be a string, not {type(name).__name__}.")
    shown = repr(name) if len(name) <= 80 else repr(name[:77] + "...")
    if not NAME_PATTERN.fullmatch(name):
        why = "is longer than 64 characters" if len(name) > 64 else "is not a plain identifier"
        raise ToolNameError(
            f"Invalid {kind} name {shown}: it {why}. Use ASCII letters, digits and underscores, "
            "starting with a letter or underscore, at most 64 characters (no dots, slashes or spaces)."
        )
    if keyword.iskeyword(name):
        raise ToolNameError(f"Invalid {kind} name {shown}: it is a Python keyword. Pick another name.")
    if name.lower() in RESERVED:
        raise ToolNameError(f"Invalid {kind} name {shown}: the name is reserved. Pick another name.")
    return name
