"""Pydantic models for what crosses an edge: files on disk, log rows, the model's JSON."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class ToolState(BaseModel):
    """Runtime state of one tool, as stored in `.halion/tool_status.json`."""

    model_config = ConfigDict(extra="ignore")

    active: bool = True
    postprocess: bool = True


CallKind = Literal["model", "tool", "chain", "step"]


class CallRecord(BaseModel):
    """One row of the call log."""

    id: int
    ts: datetime
    kind: CallKind
    conversation_id: str | None = None
    name: str | None = None
    """Tool name, chain name or model name."""
    arguments: Any = None
    result: Any = None
    error: str | None = None
    duration_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    meta: dict[str, Any] = {}
