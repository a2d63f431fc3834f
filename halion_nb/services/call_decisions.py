"""Approval of the model's tool calls, bound to the exact call the person was shown.

The calls of one answer are asked one by one, in order, and each decision belongs to its
position: two calls sharing an id (or identical calls) are decided each on its own, and a
decision is only ever used for the tool and arguments it was asked about.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ..core import call_context
from ..core.approval import ApprovalRequest, Approver, Decision, decide
from ..core.invocation import os_user, parse_arguments

if TYPE_CHECKING:
    from ..workspace import Workspace


def decide_calls(ws: "Workspace", calls: list[dict[str, Any]], conversation_id: str | None, asker: Approver | None,
                 cancel: threading.Event | None = None) -> list[Approver | None]:
    """For each call, in order: the approver that answers it (its decision, bound to it), or None when it asks nothing.

    A chat run inside another call (a tool served over MCP that chats) asks that call's approver, with its caller.
    """
    outer = call_context.current()
    caller, user = ("chat", os_user()) if outer is None else (outer.caller, outer.user or os_user())
    if outer is not None:
        asker = outer.approve or ws.approver
    bound: list[Approver | None] = []
    for c in calls:
        if not _asks(ws, c["name"]):
            bound.append(None)
            continue
        request = ApprovalRequest(tool=c["name"], arguments=parse_arguments(c["arguments"]), caller=caller,
                                  user=user, call_id=c["id"], conversation_id=conversation_id,
                                  chain=outer.chain if outer is not None else ())
        if cancel is not None and cancel.is_set():
            decision = Decision(False, "the person stopped the answer", by="halion")
        else:
            decision = decide(asker, request)
        bound.append(decided_for(request, decision))
    return bound


def decided_for(shown: ApprovalRequest, decision: Decision) -> Approver:
    """An approver that gives `decision` for the call `shown` only; any other call is declined."""

    def answer(request: ApprovalRequest) -> Decision:
        if request.tool == shown.tool and request.arguments == shown.arguments:
            return decision
        return Decision(False, "this is not the call the person was shown", by="halion")

    return answer


def _asks(ws: "Workspace", name: str) -> bool:
    """True when a call of `name` would reach the approval step (a known, active tool that needs approval)."""
    return name in ws.tools and ws.tools.is_active(name) and ws.tools.needs_approval(name)
