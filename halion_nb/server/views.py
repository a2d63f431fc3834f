"""What the REST API sends: tools, chains, call outcomes, chain runs and log rows as plain JSON data.

Everything that may hold a secret (results, arguments, errors, source) goes through the
workspace's `redact` here, once, after JSON encoding, the way the call log does it.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.encoding import to_jsonable
from ..core.toolchain_registry import chain_to_json
from ..models import CallRecord, Toolchain, ToolState

if TYPE_CHECKING:
    from ..core.invocation import ToolOutcome
    from ..core.tool import Tool
    from ..services.chains import ChainRun

Redact = Callable[[str], str]


def redacted(value: Any, redact: Redact) -> Any:
    """`value` as plain JSON data (`to_jsonable`) with every secret replaced by ***."""
    value = to_jsonable(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return redact(value)
    cleaned = redact(json.dumps(value, ensure_ascii=False))
    try:
        return json.loads(cleaned)
    except ValueError:  # redaction keeps JSON valid; should it not, send the text, never the secret
        return cleaned


def state_json(state: ToolState) -> dict[str, bool]:
    return {"active": state.active, "postprocess": state.postprocess, "approval": state.approval}


def tool_summary(tool: Tool, state: ToolState) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, **state_json(state), "strict": tool.strict}


def tool_detail(tool: Tool, state: ToolState, redact: Redact) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description,
        "state": state_json(state),
        "parameters": tool.spec.loose_parameters,
        "schema": tool.schema,
        "strict": tool.strict,
        "strict_reason": tool.strict_reason,
        "source": redact(tool.source) if tool.source else None,
        "version": tool.version,
    }


def outcome_json(outcome: ToolOutcome, redact: Redact) -> dict[str, Any]:
    """A call's outcome: `result` is the tool's value as JSON data, redacted; `content` what a model would read."""
    return {
        "ok": outcome.ok,
        "name": outcome.name,
        "result": redacted(outcome.result, redact),
        "content": outcome.content,
        "error": outcome.error,
        "error_kind": outcome.error_kind,
        "exception": outcome.exception,
        "to_person": outcome.to_person,
        "duration_ms": outcome.duration_ms,
        "user": outcome.user,
        "caller": outcome.caller,
        "version": outcome.version,
        "log_id": outcome.log_id,
        "call_id": outcome.call_id,
    }


def chain_summary(chain: Toolchain, problems: list[str]) -> dict[str, Any]:
    return {"name": chain.name, "description": chain.description, "steps": len(chain.steps),
            "inputs": [i.name for i in chain.inputs], "parallel": chain.parallel, "expose": chain.expose,
            "problems": problems}


def chain_detail(chain: Toolchain, problems: list[str]) -> dict[str, Any]:
    return {"chain": chain_to_json(chain), "problems": problems}


def run_json(run: ChainRun, redact: Redact) -> dict[str, Any]:
    """One chain run: the output or error, the failing step, and every step's arguments and outcome."""
    return {
        "ok": run.ok,
        "chain": run.chain.name,
        "run_id": run.run_id,
        "output": redacted(run.output, redact),
        "error": redact(run.error) if run.error else None,
        "failed_step": run.failed_step,
        "duration_ms": run.duration_ms,
        "log_id": run.log_id,
        "steps": [
            {"id": s.id, "tool": s.tool, "status": s.status, "arguments": redacted(s.arguments, redact),
             "result": redacted(s.result, redact), "error": redact(s.error) if s.error else None,
             "duration_ms": s.duration_ms}
            for s in run.steps
        ],
    }


def record_json(record: CallRecord) -> dict[str, Any]:
    """One log row (already redacted when it was written)."""
    return record.model_dump(mode="json")
