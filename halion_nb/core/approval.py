"""Approval before a tool runs: what the person is asked, and what they answered."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Union


@dataclass(frozen=True, kw_only=True)
class ApprovalRequest:
    """A call waiting for the person: which tool, with which arguments, from which caller."""

    tool: str
    arguments: Any
    caller: str
    user: str | None = None
    call_id: str | None = None
    conversation_id: str | None = None
    chain: tuple[str, ...] = ()
    """The chains this call runs inside, outermost first (empty for a direct call)."""


@dataclass(frozen=True)
class Decision:
    """The person's answer; `reason` is read by the model when the call is declined."""

    approved: bool
    reason: str | None = None
    by: str | None = None


Approver = Callable[[ApprovalRequest], Union[bool, Decision]]
"""`fn(request) -> bool | Decision`: `ws.approver`, or `approve=` on a call."""

NOBODY = "nobody was there to approve it (set ws.approver, or pass approve= to the call)"


def decide(approver: Approver | None, request: ApprovalRequest) -> Decision:
    """Ask `approver`; no approver, or one that fails, declines the call with the reason."""
    if approver is None:
        return Decision(False, NOBODY, by="halion")
    try:
        answer = approver(request)
    except Exception as exc:  # a broken prompt must not run the tool
        return Decision(False, f"the approval prompt failed ({type(exc).__name__}: {exc})", by="halion")
    if isinstance(answer, Decision):
        return answer
    return Decision(bool(answer), None if answer else "declined", by=request.user)
