"""Batch runs: one tool or chain over many inputs, on threads or a Dask cluster, with the same call.

`ws.chains.map(name, inputs)` / `ws.tools.map(name, inputs)` return a `BatchRun`. Inputs run on
the executor (`batch_executors`), each through `batch_worker.run_task`; this module, the driver,
collects what comes back, in input order and once per input, and writes every tool call to the
workspace log (`caller="batch"`, the batch id in `meta`). Workers never touch the log.
"""
from __future__ import annotations

import json
import logging
import os
import pickle
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from ..core import call_context
from ..core.env_detection import env_vars_in_source
from ..core.invocation import os_user
from ..errors import ChainValidationError, HalionError, ToolArgumentError
from ..models import Toolchain
from .batch_executors import INSTALL_ON_WORKERS, Seam, check_workers, is_missing_halion, resolve
from .batch_inputs import read_inputs
from .batch_views import progress_views
from .batch_worker import Secrets, Status, StepResult, Task, TaskResult, ToolPayload, clean_data, packed, run_tasks

if TYPE_CHECKING:
    from ..core.tool import Tool
    from ..workspace import Workspace

log = logging.getLogger(__name__)
RunStatus = Literal["running", "done", "cancelled", "failed"]
Listener = Callable[["BatchRun"], None]


@dataclass(eq=False)
class BatchResult:
    """One input's result: its output or error, how long it took and, for a chain, each step."""

    index: int
    input: dict[str, Any]
    status: Status = "pending"
    output: Any = None
    error: str | None = None
    duration_ms: float | None = None
    steps: list[StepResult] = field(default_factory=list)
    attempts: int = 0
    worker: str | None = None
    log_ids: list[int] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Progress:
    """How far a run is: what a progress bar shows."""

    total: int
    done: int
    failed: int
    elapsed: float
    status: RunStatus

    @property
    def rate(self) -> float:
        """Inputs finished per second."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def left(self) -> float | None:
        """Seconds until every input is done, at the current rate; None before the first one."""
        if self.status != "running":
            return 0.0
        return (self.total - self.done) / self.rate if self.rate else None


class BatchRun:
    """A tool or chain over many inputs; `results` are in input order and fill in as inputs finish."""

    def __init__(self, ws: Workspace, kind: Literal["tool", "chain"], name: str, inputs: list[dict[str, Any]], *,
                 tools: dict[str, Tool], chain: Toolchain | None, secrets: dict[str, str],
                 start: Callable[[], Seam]) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.kind, self.name, self.ws = kind, name, ws
        self._tool_objects, self._chain, self._secret_values = tools, chain, secrets
        self._payloads: dict[str, Tool | ToolPayload] | None = None
        self.results = [BatchResult(i, item) for i, item in enumerate(inputs)]
        self.status: RunStatus = "running"
        self.error: str | None = None
        """Why the whole run stopped (workers without halion_nb ...), once, instead of one error per input."""
        self.executor = ""
        self.started = datetime.now(UTC)
        self._start = start
        self._clock = time.perf_counter()
        self._elapsed: float | None = None
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._futures: dict[Future[list[TaskResult]], list[tuple[int, int]]] = {}
        self._finished = threading.Event()
        self._finished.set()

    # the results
    def failed(self) -> list[BatchResult]:
        """The inputs that ended in an error."""
        return [r for r in self.results if r.status == "error"]

    def progress(self) -> Progress:
        done = sum(r.status in ("ok", "error") for r in self.results)
        elapsed = self._elapsed if self._elapsed is not None else time.perf_counter() - self._clock
        return Progress(len(self.results), done, len(self.failed()), elapsed, self.status)

    def to_pandas(self) -> Any:
        """One row per input: the input's columns, then status, output, error and duration_ms."""
        try:
            import pandas
        except ImportError:
            raise HalionError('to_pandas needs pandas: pip install pandas') from None
        own = ("status", "output", "error", "duration_ms")
        rows = []
        for r in self.results:
            row = {(f"input_{k}" if k in own else k): v for k, v in r.input.items()}
            rows.append(row | {"status": r.status, "output": r.output, "error": r.error, "duration_ms": r.duration_ms})
        return pandas.DataFrame(rows, index=pandas.RangeIndex(len(rows), name="input"))

    # control
    def wait(self, timeout: float | None = None) -> BatchRun:
        """Block until every input is done; an interrupt (the kernel's stop button) cancels the rest and keeps
        what finished."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not self._finished.wait(0.1):
                if deadline is not None and time.monotonic() >= deadline:
                    break
        except KeyboardInterrupt:
            self.cancel()
        return self

    def cancel(self) -> None:
        """Start no more inputs; those not started are marked cancelled. Results already in are kept."""
        with self._lock:
            futures = list(self._futures)
        for future in futures:
            future.cancel()

    def retry_failed(self, *, wait: bool = True) -> BatchRun:
        """Run the failed (and cancelled) inputs again, on a fresh executor of the same kind; results update here.

        Inputs the chain refused (wrong inputs) never ran and are not retried: fix them and map them again.
        """
        if not self._finished.is_set():
            raise HalionError(f"Batch {self.id} is still running; wait for it (or cancel it) before retrying.")
        again = [r.index for r in self.results if r.status == "cancelled" or (r.status == "error" and r.attempts)]
        if again:
            self._run(again)
        return self.wait() if wait else self

    # observers (the progress bar)
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(run)` after each result and at the end (from the collecting thread)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    # display
    def summary(self) -> str:
        p = self.progress()
        what = f"{self.kind} '{self.name}'"
        counts = f"{p.done - p.failed} ok, {p.failed} failed"
        if p.total - p.done:
            counts += f", {p.total - p.done} {'not run' if self.status != 'running' else 'to go'}"
        lines = [(f"Batch {self.id} · {what} on {self.executor or '…'}: {p.total} inputs — {counts} · "
                  f"{p.elapsed:.1f} s ({p.rate:.1f}/s) · {self.status}")]
        if self.error:
            lines.append(f"Stopped: {self.error}")
        failed = self.failed()
        for r in failed[:5]:
            lines.append(f"  #{r.index} {self.ws.env.redact(_short(r.input))}: {r.error}")
        if len(failed) > 5:
            lines.append(f"  … and {len(failed) - 5} more: run.failed()")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    # the driver
    def _run(self, indexes: list[int]) -> None:
        seam = self._start()
        self.executor, self.status, self.error = seam.label, "running", None
        self._clock, self._elapsed = time.perf_counter(), None
        self._finished.clear()
        arrived: queue.SimpleQueue[Future[list[TaskResult]]] = queue.SimpleQueue()
        try:
            tasks = [self._task(i, seam) for i in indexes]
            check_workers(seam)
        except HalionError as exc:
            self._stop(seam, str(exc))
            raise
        size = seam.chunk_size(len(tasks))
        chunks = [tasks[i:i + size] for i in range(0, len(tasks), size)]
        with self._lock:
            for chunk in chunks:
                for task in chunk:
                    result = self.results[task.index]
                    result.status, result.attempts = "pending", task.attempt
                future = (seam.executor.submit(pickle.loads, packed(chunk)) if seam.remote
                          else seam.executor.submit(call_context.bound(run_tasks), chunk))
                self._futures[future] = [(task.index, task.attempt) for task in chunk]
                future.add_done_callback(arrived.put)
        threading.Thread(target=self._collect, args=(seam, arrived, len(chunks)), daemon=True,
                         name=f"halion-batch-{self.id}").start()

    def _collect(self, seam: Seam, arrived: queue.SimpleQueue[Future[list[TaskResult]]], count: int) -> None:
        for _ in range(count):
            future = arrived.get()
            with self._lock:
                keys = self._futures.pop(future)
            try:
                self._arrived(keys, future)
            except Exception:  # one bad result must never stop the others from being collected
                log.exception("batch %s: could not record inputs %s", self.id, [index for index, _ in keys])
            self._notify()
        if self.status == "running":
            cancelled = any(r.status == "cancelled" for r in self.results)
            self.status = "failed" if self.error else "cancelled" if cancelled else "done"
        self._stop(seam, self.error)

    def _arrived(self, keys: list[tuple[int, int]], future: Future[list[TaskResult]]) -> None:
        waiting = [self.results[i] for i, attempt in keys
                   if self.results[i].attempts == attempt and self.results[i].status == "pending"]
        if future.cancelled():
            for result in waiting:
                result.status = "cancelled"
            return
        error = future.exception()
        if error is not None:
            if is_missing_halion(error) and self.error is None:
                self.error = INSTALL_ON_WORKERS.format(why=error)
                self.cancel()
            stopped = isinstance(error, CancelledError) or self.error is not None
            for result in waiting:
                result.status = "cancelled" if stopped else "error"
                result.error = None if stopped else self.ws.env.redact(f"{type(error).__name__}: {error}")
            return
        for done in future.result():
            if self.results[done.index] in waiting:  # once per input, whatever ran twice
                self._record(done, self.results[done.index])

    def _record(self, done: TaskResult, result: BatchResult) -> None:
        redact = self.ws.env.redact
        result.status, result.duration_ms, result.worker = done.status, done.duration_ms, done.worker
        result.output = clean_data(done.output, redact)
        result.error = redact(done.error) if done.error else None
        for step in done.steps:
            step.redact = redact
            step.result = clean_data(step.result, redact)
            step.error = redact(step.error) if step.error else None
        result.steps = done.steps
        result.log_ids = self._log(done, result)

    def _log(self, done: TaskResult, result: BatchResult) -> list[int]:
        """The input's tool calls (and its chain run) in the workspace log; a broken log never stops the run."""
        meta = {"batch": self.id, "index": done.index, "attempt": done.attempt, "worker": done.worker}
        ids = []
        for call in done.calls:
            extra = {"chain": self.name, "step": call.step, "run": done.run_id} if call.step else {}
            ids.append(self.ws.tools.log_outcome(call.outcome, kind="step" if call.step else "tool",
                                                 meta=meta | extra))
        if self.kind == "chain":
            try:
                ids.append(self.ws.log.record(
                    "chain", name=self.name, arguments=result.input, result=result.output, error=result.error,
                    duration_ms=result.duration_ms, caller="batch", user=os_user(),
                    meta=meta | {"run": done.run_id, "steps": len(done.steps)}))
            except HalionError:
                log.warning("batch %s: could not log the chain run of input %s", self.id, done.index, exc_info=True)
        return [i for i in ids if i is not None]

    def _task(self, index: int, seam: Seam) -> Task:
        result = self.results[index]
        return Task(self.id, index, result.attempts + 1, result.input, self._tools(seam), chain=self._chain,
                    timeout=self.ws.tool_timeout, user=os_user(), secrets=self._secrets(seam))

    def _stop(self, seam: Seam, error: str | None) -> None:
        if error:
            self.error, self.status = error, "failed"
            for r in self.results:
                if r.status == "pending":
                    r.status = "cancelled"
        self._elapsed = time.perf_counter() - self._clock
        try:
            seam.close()
        finally:
            self._finished.set()
            self._notify()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener(self)
            except Exception:  # a broken progress bar must not break the run
                log.exception("a batch listener failed")

    # what travels with each input: objects on threads; pickled tools and the secrets they read elsewhere
    def _tools(self, seam: Seam) -> dict[str, Tool | ToolPayload]:
        if not seam.remote:
            return self._tool_objects
        if self._payloads is None:
            self._payloads = {n: ToolPayload.of(t) for n, t in self._tool_objects.items()}
        return self._payloads

    def _secrets(self, seam: Seam) -> Secrets:
        return Secrets(self._secret_values) if seam.remote else Secrets()


class BatchRunner:
    """Starts batch runs for a workspace (`ws.tools.map`, `ws.chains.map`)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def map_tool(self, name: str, inputs: Any, *, executor: Any = None, max_workers: int | None = None,
                 progress: bool = True, wait: bool = True) -> BatchRun:
        """Call tool `name` once per input (each a dict of its arguments).

        `executor`: None (a pool of `max_workers` threads, default 8), any concurrent.futures Executor,
        a dask.distributed Client or a scheduler address. `progress`: show the notebook's progress bar.
        `wait=False` returns at once; the run fills in on its own (`run.wait()`, `run.cancel()`).
        """
        tool = self.ws.tools.get(name)
        return self._start("tool", name, read_inputs(inputs), {name: tool}, None, executor, max_workers,
                           progress, wait)

    def map_chain(self, name: str, inputs: Any, *, executor: Any = None, max_workers: int | None = None,
                  progress: bool = True, wait: bool = True) -> BatchRun:
        """Run chain `name` once per input (each a dict of the chain's inputs); the chain is checked first.

        A row with wrong inputs fails alone, without running. Options as for `map_tool`.
        """
        chains = self.ws.chains
        chain = chains.check(name)
        rows = read_inputs(inputs)
        validator = chains._signature_tool(chain, lambda **kw: None)  # built once, not once per row
        checked: list[dict[str, Any]] = []
        problems: dict[int, str] = {}
        for i, row in enumerate(rows):
            try:
                checked.append(validator.validate(row))
            except ToolArgumentError:
                try:  # the chain's own check, for its messages
                    checked.append(chains._inputs(chain, row))
                except ChainValidationError as exc:
                    checked.append(row)
                    problems[i] = "inputs: " + "; ".join(exc.problems)
        tools = {t: self.ws.tools.get(t) for t in {s.tool for s in chain.steps}}
        return self._start("chain", chain.name, checked, tools, chain, executor, max_workers, progress, wait,
                           skip=problems)

    def _start(self, kind: Literal["tool", "chain"], name: str, rows: list[dict[str, Any]], tools: dict[str, Tool],
               chain: Toolchain | None, executor: Any, max_workers: int | None, progress: bool, wait: bool,
               skip: dict[int, str] | None = None) -> BatchRun:
        asks = [t for t in tools if self.ws.tools.needs_approval(t)]
        if asks:
            raise HalionError(f"Tool '{asks[0]}' asks the person before each call, which a batch cannot do; "
                              f"turn that off for the run with ws.tools.require_approval('{asks[0]}', False).")
        run = BatchRun(self.ws, kind, name, rows, tools=tools, chain=chain, secrets=self._needed_secrets(tools),
                       start=lambda: resolve(executor, max_workers))
        for index, error in (skip or {}).items():
            run.results[index].status, run.results[index].error = "error", error
        todo = [i for i in range(len(rows)) if i not in (skip or {})]
        if progress:
            for view in list(progress_views):
                view(run)
        run._run(todo)
        return run.wait() if wait else run

    def _needed_secrets(self, tools: dict[str, Tool]) -> dict[str, str]:
        """The set environment variables the tools' code reads: they travel to remote workers, in memory."""
        names: set[str] = set()
        for tool in tools.values():
            try:
                names.update(env_vars_in_source(tool.source or ""))
            except ValueError:  # source that does not parse: nothing detectable to send
                continue
        return {n: os.environ[n] for n in sorted(names) if os.environ.get(n)}


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
