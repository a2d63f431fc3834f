"""What a chain run produces (`ChainRun`, `StepResult`, `ChainRunError`) and how a reference reads a value."""
from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ..core.brief import brief
from ..errors import HalionError
from ..models import Ref, Toolchain

StepStatus = Literal["pending", "ok", "error", "skipped"]
_SCALARS = (str, int, float, bool, type(None))


class ChainRunError(HalionError):
    """A chain run that failed; `run` holds every step done so far, `step` the failing one."""

    def __init__(self, run: ChainRun) -> None:
        error = run.redact(run.error) if run.redact and run.error else run.error
        super().__init__(f"Chain '{run.chain.name}' failed: {error}")
        self.run = run
        self.step = run.failed_step

    def _pickled_fields(self) -> dict[str, Any]:
        """The run without its redact function (a workspace's, not data); the message is redacted already."""
        steps = [dataclasses.replace(s, redact=None) for s in self.run.steps]
        return {**self.__dict__, "run": dataclasses.replace(self.run, steps=steps, redact=None)}


@dataclass(frozen=True)
class _Who:
    """Who runs a chain: recorded in the chain's and each step's log row."""

    caller: str = "chain"
    user: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    approve: Callable[..., Any] | None = None
    """Answers the steps whose tool needs approval (default: ws.approver)."""


class _RefError(Exception):
    """A reference that does not resolve at run time."""


@dataclass(eq=False)
class StepResult:
    """What one step did: its resolved arguments, result or error, status and timing."""

    id: str
    tool: str
    status: StepStatus = "pending"
    arguments: dict[str, Any] | None = None
    result: Any = None
    error: str | None = None
    started: datetime | None = None
    ended: datetime | None = None
    duration_ms: float | None = None
    redact: Callable[[str], str] | None = field(default=None, repr=False, compare=False)
    """Hides secret values when the result is displayed (set by the run)."""

    def __repr__(self) -> str:  # the notebook's views are in display/chains.py
        if self.status == "ok":
            return f"StepResult({self.id} ({self.tool}) ok → {brief(self.result, self.redact)})"
        detail = f": {brief(self.error, self.redact, 200)}" if self.error else ""
        return f"StepResult({self.id} ({self.tool}) {self.status}{detail})"


@dataclass(eq=False)
class ChainRun:
    """One run of a chain: each step's result in chain order, the output, or the error that stopped it."""

    chain: Toolchain
    inputs: dict[str, Any]
    steps: list[StepResult]
    output: Any = None
    error: str | None = None
    failed_step: str | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: datetime | None = None
    duration_ms: float | None = None
    log_id: int | None = None
    redact: Callable[[str], str] | None = field(default=None, repr=False, compare=False)
    """Hides secret values in displays and in ChainRunError's message (the workspace's `env.redact`)."""
    who: _Who = field(default_factory=lambda: _Who(), repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def step(self, id: str) -> StepResult:
        """The result of the step with this id."""
        for result in self.steps:
            if result.id == id:
                return result
        raise KeyError(f"Chain '{self.chain.name}' has no step '{id}'.")

    def raise_for_error(self) -> ChainRun:
        """Raise ChainRunError if the run failed; return the run otherwise."""
        if self.error is not None:
            raise ChainRunError(self)
        return self

    def __repr__(self) -> str:  # the notebook's views are in display/chains.py
        outcome = f"ok → {brief(self.output, self.redact)}" if self.ok else f"failed: {brief(self.error, self.redact, 200)}"
        steps = ", ".join(f"{s.id} {s.status}" for s in self.steps)
        return f"ChainRun({self.chain.name} {outcome}; steps: {steps})"


def _resolve(ref: Ref, inputs: dict[str, Any], outputs: dict[str, Any]) -> Any:
    value = (inputs if ref.source == "inputs" else outputs)[ref.target]
    walked = f"{ref.source}.{ref.target}" + ("" if ref.source == "inputs" else ".output")
    for key in ref.path:
        value = _step_into(value, key, walked, ref)
        walked += f".{key}"
    return value


def _step_into(value: Any, key: str, walked: str, ref: Ref) -> Any:
    index = int(key) if key.lstrip("-").isdigit() else None
    if isinstance(value, Mapping):
        if key in value:
            return value[key]
        if index is not None and index in value:
            return value[index]
        keys = ", ".join(map(str, list(value)[:10])) or "none"
        raise _RefError(f"reference '{ref}': {walked} has no key '{key}' (keys: {keys})")
    if isinstance(value, (list, tuple)):
        if index is None:
            raise _RefError(f"reference '{ref}': {walked} is a list; use an index such as [0], not '{key}'")
        try:
            return value[index]
        except IndexError:
            raise _RefError(f"reference '{ref}': index {index} is out of range ({walked} has {len(value)} items)") from None
    if not isinstance(value, (str, bytes, int, float, bool, type(None))) and not key.startswith("_"):
        try:
            return getattr(value, key)
        except AttributeError:
            pass
    raise _RefError(f"reference '{ref}': {walked} is {type(value).__name__}, which has no field '{key}'")
