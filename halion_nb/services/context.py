"""Kernel variables as chat context: a compact, bounded, redacted preview of each value.

A DataFrame shows its shape, dtypes and first rows; an array its shape, dtype and summary; a
container its length and first items; anything else its truncated repr. Nothing here imports
pandas or numpy: values are recognised by their attributes.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

PREVIEW_CHARS = 2000
"""Most characters one variable's preview takes."""
ITEMS = 10
"""Most items of a container, rows of a frame, columns listed."""


def preview(name: str, value: Any, *, limit: int = PREVIEW_CHARS) -> str:
    """`name` and a short description of `value`, at most `limit` characters."""
    kind = type(value).__name__
    try:
        body = _describe(value)
    except Exception as exc:  # a value whose repr fails still gets a line
        body = f"(no preview: {type(exc).__name__}: {exc})"
    text = f"{name} ({_type_name(value)}):\n{body}" if "\n" in body else f"{name} ({kind}): {body}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def context_block(context: Mapping[str, Any], redact: Callable[[str], str] | None = None,
                  *, limit: int = PREVIEW_CHARS) -> str:
    """The previews of every variable, redacted, as one text to put after the person's message."""
    clean = redact or (lambda s: s)
    parts = [clean(preview(str(name), value, limit=limit)) for name, value in context.items()]
    return "Context: previews of variables in the person's Python session.\n\n" + "\n\n".join(parts)


def _type_name(value: Any) -> str:
    t = type(value)
    return f"{t.__module__.split('.')[0]}.{t.__name__}" if t.__module__ != "builtins" else t.__name__


def _describe(value: Any) -> str:
    if _is_frame(value):
        return _frame(value)
    if _is_array(value):
        return _array(value)
    if isinstance(value, Mapping):
        items = list(value.items())
        shown = ", ".join(f"{_short(k)}: {_short(v)}" for k, v in items[:ITEMS])
        more = f", … ({len(items) - ITEMS} more)" if len(items) > ITEMS else ""
        return f"{len(items)} key(s): {{{shown}{more}}}"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)[: ITEMS + 1]
        shown = ", ".join(_short(v) for v in items[:ITEMS])
        more = f", … ({len(value) - ITEMS} more)" if len(value) > ITEMS else ""
        return f"{len(value)} item(s): [{shown}{more}]"
    if isinstance(value, str):
        return repr(value) if len(value) <= 400 else f"{len(value)} characters: {value[:400]!r}…"
    return _short(value, 600)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_frame(value: Any) -> bool:
    return all(hasattr(value, a) for a in ("shape", "dtypes", "head", "columns"))


def _is_array(value: Any) -> bool:
    return all(hasattr(value, a) for a in ("shape", "dtype", "ndim")) and not _is_frame(value)


def _frame(df: Any) -> str:
    rows, cols = df.shape
    dtypes = ", ".join(f"{c}: {t}" for c, t in list(df.dtypes.items())[:30])
    if cols > 30:
        dtypes += f", … ({cols - 30} more)"
    head = df.head(5).to_string(max_cols=ITEMS, max_colwidth=30)
    lines = [f"DataFrame, {rows} rows × {cols} columns", f"dtypes: {dtypes}", "first rows:", head]
    nulls = getattr(df, "isna", None)
    if nulls is not None and rows:
        counts = {c: int(n) for c, n in df.isna().sum().items() if n}
        if counts:
            lines.append("missing values: " + ", ".join(f"{c}: {n}" for c, n in list(counts.items())[:ITEMS]))
    return "\n".join(lines)


def _array(a: Any) -> str:
    line = f"array, shape {tuple(a.shape)}, dtype {a.dtype}"
    try:
        if a.size and a.dtype.kind in "biuf":
            line += f", min {a.min():.6g}, max {a.max():.6g}, mean {a.mean():.6g}"
    except Exception:
        pass
    flat = a.ravel()[:ITEMS] if hasattr(a, "ravel") else []
    return line + "\nfirst values: " + ", ".join(repr(x.item() if hasattr(x, "item") else x) for x in flat)


VARIABLE_TOOL = "kernel_variable"
"""The built-in tool that lets the model ask for a variable's preview (off unless switched on)."""


def variable_tool(namespace: Mapping[str, Any], redact: Callable[[str], str] | None = None) -> Callable[[str], str]:
    """A tool function previewing a variable of `namespace` by name (bounded, redacted; `_private` names hidden)."""
    clean = redact or (lambda s: s)

    def kernel_variable(name: str) -> str:
        """Preview a variable in the person's Python session: its type, shape and first values.

        Args:
            name: The variable's name, e.g. "df".
        """
        if name.startswith("_") or name not in namespace:
            public = sorted(n for n, v in namespace.items() if not n.startswith("_") and not callable(v)
                            and type(v).__name__ != "module")[:40]
            raise KeyError(f"no variable {name!r}; some that exist: {', '.join(public) or 'none'}")
        return clean(preview(name, namespace[name]))

    return kernel_variable
