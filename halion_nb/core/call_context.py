"""Who a tool call is really for: the outermost caller, its approval rule, and the chains in between.

A call made while another runs (a chain's step, a tool that calls a tool, a chain exposed over
MCP) belongs to the outermost call: its approver is asked, with its caller, and the log row says
that caller, with the chains it went through. The context crosses the threads halion starts
(`bound`), so no nested path falls back to a laxer approver.
"""
from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from .approval import Approver

T = TypeVar("T")


@dataclass(frozen=True)
class CallContext:
    """The outermost call: its caller and user, its approval rule (None: ws.approver), the chains since."""

    caller: str
    user: str | None = None
    approve: Approver | None = None
    chain: tuple[str, ...] = ()


_CURRENT: contextvars.ContextVar[CallContext | None] = contextvars.ContextVar("halion_call", default=None)


def current() -> CallContext | None:
    """The outermost call under way on this thread (or the thread that started this one), if any."""
    return _CURRENT.get()


@contextmanager
def entered(caller: str, user: str | None = None, approve: Approver | None = None,
            chain: str | None = None) -> Iterator[CallContext]:
    """Enter a call: the outermost one keeps its caller, user and approver; `chain` is added to the path."""
    outer = _CURRENT.get()
    context = CallContext(caller, user, approve) if outer is None else outer
    if chain is not None:
        context = replace(context, chain=(*context.chain, chain))
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def bound(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn` to run on another thread inside this thread's call context."""
    context = contextvars.copy_context()

    def run(*args: Any, **kwargs: Any) -> T:
        return context.copy().run(fn, *args, **kwargs)  # a copy each time: one context runs on one thread

    return run
