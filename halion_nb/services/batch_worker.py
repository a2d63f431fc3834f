"""The worker side of a batch: one input of a tool or chain, run without a Workspace, sent back as data.

`run_task(task)` runs wherever the executor puts it (a thread here, a Dask worker process on
another machine). It writes no log and no file: its tool calls come back as outcomes that the
driver logs. Secrets the tools need are set in this process's environment only while the task
runs; what comes back is redacted.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import pickle
import socket
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ..core.encoding import to_jsonable
from ..core.invocation import ToolOutcome, execute
from ..core.redaction import Redactor
from ..core.tool import Tool
from ..errors import ConfigError
from .batch_executors import DASK_HINT
from ..models import Ref, Toolchain
from .chain_runs import _SCALARS, StepResult, _RefError, _resolve

Status = Literal["pending", "ok", "error", "cancelled"]
Redact = Callable[[str], str]


@dataclass(frozen=True)
class ToolPayload:
    """A tool as it travels to another process: its function cloudpickled, or a `tools/*.py` file's code.

    The source travels either way, so the worker's outcomes carry the same `version` as the driver's tool.
    """

    name: str
    description: str
    source: str | None
    pickled: bytes | None = None

    @classmethod
    def of(cls, tool: Tool) -> ToolPayload:
        """`%%tool` functions travel by value (cloudpickle); tools loaded from files travel as their source."""
        if tool.function.__module__.startswith("halion_tools.") and tool.source:
            return cls(tool.name, tool.description, tool.source)
        try:
            import cloudpickle
        except ImportError:
            raise ConfigError(DASK_HINT) from None
        try:
            pickled = cloudpickle.dumps(tool.function)
        except Exception as exc:  # noqa: BLE001 - cloudpickle raises whatever the closure's objects raise
            raise ConfigError(f"Tool '{tool.name}' cannot be sent to the workers ({type(exc).__name__}: {exc}); "
                              "keep what it needs inside the function or save it to tools/ first.") from None
        return cls(tool.name, tool.description, tool.source, pickled)

    @property
    def digest(self) -> str:
        data = self.pickled if self.pickled is not None else (self.source or "").encode()
        return hashlib.sha256(self.name.encode() + b"\0" + data).hexdigest()

    def build(self) -> Tool:
        """The tool again, on this side (built once per process)."""
        with _BUILT_LOCK:
            built = _BUILT.get(self.digest)
            if built is None:
                built = _BUILT[self.digest] = self._build()
            return built

    def _build(self) -> Tool:
        if self.pickled is not None:
            return Tool.from_function(pickle.loads(self.pickled), self.name, description=self.description,
                                      source=self.source)
        module = types.ModuleType(f"halion_tools.{self.name}")
        sys.modules.setdefault(module.__name__, module)  # as loading tools/<name>.py does (never replacing one)
        code = compile(self.source or "", f"<tool {self.name}>", "exec")
        exec(code, module.__dict__)  # noqa: S102 - the workspace's own tools/ file
        return Tool.from_function(module.__dict__[self.name], self.name, description=self.description,
                                  source=self.source)


_BUILT: dict[str, Tool] = {}
_BUILT_LOCK = threading.Lock()


@dataclass(frozen=True)
class Secrets:
    """Environment values the tools read, sent along in memory; never shown (its repr hides the values)."""

    values: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Secrets({', '.join(f'{k}=***' for k in self.values)})"


@dataclass(frozen=True)
class Task:
    """One input of a batch, with everything a worker needs to run it."""

    batch_id: str
    index: int
    attempt: int
    input: dict[str, Any]
    tools: Mapping[str, Tool | ToolPayload]
    chain: Toolchain | None = None
    timeout: float | None = None
    user: str | None = None
    secrets: Secrets = field(default_factory=Secrets)


@dataclass(frozen=True)
class StepCall:
    """One tool call of an input, for the driver's log: the outcome and the chain step it was (if any)."""

    outcome: ToolOutcome
    step: str | None = None


@dataclass
class TaskResult:
    """What one input did, as plain data: output or error, each step, and the tool calls to log."""

    index: int
    attempt: int
    status: Status
    output: Any = None
    error: str | None = None
    duration_ms: float = 0.0
    steps: list[StepResult] = field(default_factory=list)
    calls: list[StepCall] = field(default_factory=list)
    run_id: str | None = None
    worker: str = ""


class _Deferred:
    """Tasks whose unpickling runs them (see `packed`)."""

    def __init__(self, tasks: list[Task]) -> None:
        self.tasks = tasks

    def __reduce__(self) -> tuple[Any, ...]:
        return run_tasks, (self.tasks,)


def packed(tasks: list[Task]) -> bytes:
    """The tasks as bytes for `pickle.loads` on a worker, which runs them and returns their `TaskResult`s.

    Submitting `pickle.loads(packed(tasks))` rather than `run_tasks(tasks)` means a worker without
    halion_nb can still read the message: the ImportError comes from running this one task,
    and the driver turns it into one error for the whole run.
    """
    return pickle.dumps(_Deferred(tasks), protocol=pickle.HIGHEST_PROTOCOL)


def run_tasks(tasks: list[Task]) -> list[TaskResult]:
    """Several inputs one after another: one task of the executor carries a few, so less scheduling per input."""
    return [run_task(task) for task in tasks]


def run_task(task: Task) -> TaskResult:
    """Run one input; never raises for what a tool does (a tool failing is an `error` result)."""
    started = time.perf_counter()
    redact = Redactor(task.secrets.values.values()).redact if task.secrets.values else None
    with environment(task.secrets.values):
        tools = {name: t if isinstance(t, Tool) else t.build() for name, t in task.tools.items()}
        if task.chain is None:
            result = _run_tool(task, next(iter(tools.values())), redact)
        else:
            result = _run_chain(task, task.chain, tools, redact)
    result.duration_ms = (time.perf_counter() - started) * 1000
    result.worker = f"{socket.gethostname()}:{os.getpid()}"
    return result


def _run_tool(task: Task, tool: Tool, redact: Redact | None) -> TaskResult:
    outcome = _sent(execute(tool, task.input, timeout=task.timeout, redact=redact, caller="batch", user=task.user),
                    redact)
    return TaskResult(task.index, task.attempt, "ok" if outcome.ok else "error", output=outcome.result,
                      error=outcome.error, calls=[StepCall(outcome)])


def _run_chain(task: Task, chain: Toolchain, tools: dict[str, Tool], redact: Redact | None) -> TaskResult:
    """The chain's steps in order, as `Chains.run` does them; after a failing step the rest are skipped."""
    result = TaskResult(task.index, task.attempt, "ok", run_id=f"{task.batch_id}-{task.index}-{task.attempt}")
    outputs: dict[str, Any] = {}
    for step in chain.steps:
        done = StepResult(step.id, step.tool)
        result.steps.append(done)
        if result.error is not None:
            done.status = "skipped"
            continue
        done.started = datetime.now(UTC)
        begun = time.perf_counter()
        try:
            arguments = {name: _resolve(value, task.input, outputs) if isinstance(value, Ref)
                         else value if isinstance(value, _SCALARS) else copy.deepcopy(value)
                         for name, value in step.arguments.items()}
        except _RefError as exc:
            done.status, done.error = "error", _clean(str(exc), redact)
        else:
            done.arguments = clean_data(arguments, redact)
            outcome = execute(tools[step.tool], arguments, timeout=task.timeout, redact=redact, caller="batch",
                              user=task.user)
            if outcome.ok:
                outputs[step.id] = outcome.value
                done.status = "ok"
            else:
                done.status = "error"
                done.error = ("invalid arguments: " + "; ".join(outcome.problems)
                              if outcome.error_kind == "arguments" else outcome.error)
            outcome = _sent(outcome, redact)
            done.result = outcome.result
            result.calls.append(StepCall(outcome, step.id))
        done.duration_ms = (time.perf_counter() - begun) * 1000
        done.ended = datetime.now(UTC)
        if done.status == "error":
            result.status, result.error = "error", f"step '{step.id}' ({step.tool}) failed: {done.error}"
    if result.error is None:
        target = chain.output or Ref(f"steps.{chain.steps[-1].id}.output")
        try:
            result.output = clean_data(_resolve(target, task.input, outputs), redact)
        except _RefError as exc:
            result.status, result.error = "error", _clean(f"output: {exc}", redact)
    return result


def _sent(outcome: ToolOutcome, redact: Redact | None) -> ToolOutcome:
    """The outcome as it leaves the worker: no raw value (it may not pickle), the result redacted."""
    return dataclasses.replace(outcome, value=None, result=clean_data(outcome.result, redact),
                               arguments=clean_data(outcome.arguments, redact))


def clean_data(value: Any, redact: Redact | None) -> Any:
    """`value` as plain JSON data with every secret replaced by ***, still JSON data."""
    value = to_jsonable(value)
    if redact is None or value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return redact(value)
    text = json.dumps(value, ensure_ascii=False)
    cleaned = redact(text)
    return value if cleaned == text else json.loads(cleaned)


def _clean(text: str, redact: Redact | None) -> str:
    return redact(text) if redact else text


_ENV_LOCK = threading.Lock()
_ENV_SET: dict[str, tuple[int, str | None]] = {}
"""Variables this module set: how many running tasks use each, and the value it had before."""


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set `values` in `os.environ` while tasks that need them run; afterwards the environment is as it was.

    A variable that already holds the value is left alone (on threads the driver's own environment).
    """
    mine = []
    with _ENV_LOCK:
        for name, value in values.items():
            if name in _ENV_SET:
                users, before = _ENV_SET[name]
                _ENV_SET[name] = (users + 1, before)
            elif os.environ.get(name) == value:
                continue
            else:
                _ENV_SET[name] = (1, os.environ.get(name))
            os.environ[name] = value
            mine.append(name)
    try:
        yield
    finally:
        with _ENV_LOCK:
            for name in mine:
                users, before = _ENV_SET[name]
                if users > 1:
                    _ENV_SET[name] = (users - 1, before)
                    continue
                del _ENV_SET[name]
                if before is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = before
