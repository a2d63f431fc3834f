"""The one path that runs a tool: validate, approve, run (sync or async, bounded), encode, redact, log.

Every caller — the chat loop, the chain runner, the panels, MCP, REST, batch workers —
runs tools through `ws.tools.invoke(...)`, which returns a `ToolOutcome` and never raises
for anything the tool or its arguments did. `execute` is the pure part (no state, no log)
that batch workers on other machines use.
"""
from __future__ import annotations

import asyncio
import dataclasses
import getpass
import inspect
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from ..errors import HalionError, ToolArgumentError, ToolNotFoundError
from . import call_context
from .approval import ApprovalRequest, Approver, Decision, decide
from .brief import brief
from .encoding import dumps, to_jsonable
from .surrogates import check_text, lone_surrogates, without_lone_surrogates
from .workers import WORKERS

if TYPE_CHECKING:
    from .call_log import CallLog
    from .tool import Tool
    from .tool_registry import ToolRegistry

ErrorKind = Literal["arguments", "not_found", "inactive", "raised", "timeout", "denied"]
Redact = Callable[[str], str]
log = logging.getLogger(__name__)
CALLERS = ("chat", "chain", "panel", "mcp", "rest", "batch", "python")
"""Who runs tools; stored in the log's `caller` column."""


@dataclass(frozen=True, kw_only=True)
class ToolOutcome:
    """How one tool call went: the result (or error), what the caller receives, and where it was logged."""

    name: str
    caller: str
    arguments: Any
    """The parsed JSON arguments, or the raw text when they were not JSON."""
    result: Any = None
    """The return value as plain JSON data (`core.encoding.to_jsonable`); not redacted."""
    error: str | None = None
    """A message the model or caller can read and act on; redacted."""
    error_kind: ErrorKind | None = None
    problems: tuple[str, ...] = ()
    """One line per bad argument, when `error_kind == "arguments"`."""
    exception: str | None = None
    """The class name of what the tool raised, when `error_kind == "raised"`."""
    content: str = ""
    """Exactly what the model or an outside caller receives: the result as text, or "Error: ..."; redacted."""
    duration_ms: float = 0.0
    to_person: bool = False
    """postprocess=False: the result goes to the person and the chat turn ends."""
    user: str | None = None
    version: str | None = None
    """The first 12 hex digits of the sha256 of the tool's source: the exact code that ran."""
    decision: Decision | None = None
    call_id: str | None = None
    log_id: int | None = None
    value: Any = dataclasses.field(default=None, repr=False, compare=False)
    """The raw Python value the function returned (for displays and chain references)."""

    @property
    def ok(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:  # only the redacted text: `result` and `arguments` keep real values
        what = brief(self.content, limit=120) if self.ok else f"{self.error_kind}: {brief(self.error, limit=120)}"
        return f"ToolOutcome({self.name} · {self.caller} · {'ok' if self.ok else 'error'} · {self.duration_ms:.0f} ms): {what}"


def os_user() -> str:
    """Who runs this kernel: the OS user (what the log records when no other identity is known)."""
    return _os_user()


@lru_cache(maxsize=1)
def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry, e.g. an arbitrary uid in a container
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def parse_arguments(arguments: Any) -> Any:
    """The arguments as the log keeps them: JSON text parsed, anything unparsable kept as sent."""
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, (str, bytes, bytearray)):
        try:
            return json.loads(arguments)
        except (ValueError, RecursionError):
            return arguments if isinstance(arguments, str) else bytes(arguments).decode("utf-8", "replace")
    return arguments


def execute(tool: "Tool", arguments: Any = None, *, timeout: float | None = None, redact: Redact | None = None,
            caller: str = "python", user: str | None = None, call_id: str | None = None) -> ToolOutcome:
    """Validate `arguments`, run the tool within `timeout` seconds, encode and redact; never raises for the tool."""
    clean = redact or _same
    base = dict(name=tool.name, caller=caller, arguments=parse_arguments(arguments), user=user,
                version=tool.version, call_id=call_id)
    started = time.perf_counter()
    try:
        check_text(tool.name, base["arguments"])
        kwargs = tool.validate(arguments)
    except ToolArgumentError as exc:
        if lone_surrogates(base["arguments"]):
            base["arguments"] = without_lone_surrogates(base["arguments"])  # what the log can keep
        return _failed(base, started, clean(str(exc)), "arguments", tuple(clean(p) for p in exc.problems))
    try:
        value = run_bounded(tool.function, kwargs, timeout)
    except _TimedOut:
        return _failed(base, started, f"Tool '{tool.name}' timed out after {timeout:g} s and was abandoned. "
                                      "Try smaller inputs or another approach.", "timeout")
    except _Raised as raised:
        exc = raised.error
        return dataclasses.replace(_failed(base, started, clean(f"{type(exc).__name__}: {exc}"), "raised"),
                                   exception=type(exc).__name__)
    result = to_jsonable(value)
    return ToolOutcome(**base, result=result, content=clean(dumps(result)),
                       duration_ms=(time.perf_counter() - started) * 1000, value=value)


class Invoker:
    """`ws.tools.invoke`: looks the tool up, checks its state, asks for approval, executes, logs."""

    def __init__(self, registry: "ToolRegistry", *, log: "CallLog | None" = None, redact: Redact | None = None,
                 timeout: Callable[[], float] = lambda: 60.0,
                 approver: Callable[[], Approver | None] = lambda: None) -> None:
        self.registry = registry
        self.log = log
        self.redact = redact or _same
        self._timeout = timeout
        self._approver = approver

    def invoke(self, name: str, arguments: Any = None, *, caller: str = "python", user: str | None = None,
               conversation_id: str | None = None, call_id: str | None = None, timeout: float | None = None,
               approve: Approver | None = None, log_kind: str = "tool", meta: Mapping[str, Any] | None = None,
               log: bool = True, tool: "Tool | None" = None, only_active: bool = False) -> ToolOutcome:
        """Run one tool call from `caller` and return its outcome; the log row is written here.

        Inside another call (a chain step, a tool calling a tool), the outermost call's caller, user
        and approver stand instead of these, and the log row names the chains in between (`via`).
        """
        with call_context.entered(caller, user or os_user(), approve) as context:
            caller, user, approve = context.caller, context.user or os_user(), context.approve
            if context.chain:
                meta = {**(meta or {}), "via": list(context.chain)}
            outcome = self._run(name, arguments, caller=caller, user=user, conversation_id=conversation_id,
                                call_id=call_id, timeout=timeout, approve=approve, tool=tool, only_active=only_active,
                                chain=context.chain)
        if log:
            outcome = dataclasses.replace(outcome, log_id=self.log_outcome(
                outcome, kind=log_kind, conversation_id=conversation_id, meta=meta))
        return outcome

    def _run(self, name: str, arguments: Any, *, caller: str, user: str, conversation_id: str | None,
             call_id: str | None, timeout: float | None, approve: Approver | None, tool: "Tool | None",
             only_active: bool, chain: tuple[str, ...] = ()) -> ToolOutcome:
        base = dict(name=str(name), caller=caller, arguments=parse_arguments(arguments), user=user, call_id=call_id)
        registered = tool is None or tool.name in self.registry
        try:
            tool = tool or self.registry.get(name)
        except ToolNotFoundError:
            known = self.registry.active() if only_active else self.registry.all()
            listing = ", ".join(t.name for t in known) or "none"
            return _failed(base, time.perf_counter(), self.redact(f"Unknown tool '{name}'. Available tools: {listing}."),
                           "not_found")
        state = self.registry.manager.state(tool.name) if registered else None
        if state is not None and only_active and not state.active:
            return _failed(base | {"version": tool.version}, time.perf_counter(),
                           f"Tool '{tool.name}' is switched off; the person can enable it "
                           f"(ws.tools.enable('{tool.name}')).", "inactive")
        try:
            check_text(tool.name, base["arguments"])  # before the approver is shown them
        except ToolArgumentError as exc:
            return _failed(base | {"version": tool.version, "arguments": without_lone_surrogates(base["arguments"])},
                           time.perf_counter(), self.redact(str(exc)), "arguments", tuple(exc.problems))
        decision = None
        if state is not None and state.approval:
            request = ApprovalRequest(tool=tool.name, arguments=base["arguments"], caller=caller, user=user,
                                      call_id=call_id, conversation_id=conversation_id, chain=chain)
            decision = decide(approve or self._approver(), request)
            if not decision.approved:
                why = f": {decision.reason}" if decision.reason else "."
                return dataclasses.replace(
                    _failed(base | {"version": tool.version}, time.perf_counter(),
                            self.redact(f"The person declined to run '{tool.name}'{why}"), "denied"),
                    decision=decision)
        outcome = execute(tool, arguments, timeout=self._timeout() if timeout is None else timeout,
                          redact=self.redact, caller=caller, user=user, call_id=call_id)
        to_person = bool(state is not None and not state.postprocess and outcome.ok)
        return dataclasses.replace(outcome, to_person=to_person, decision=decision)

    def log_outcome(self, outcome: ToolOutcome, *, kind: str = "tool", conversation_id: str | None = None,
                    meta: Mapping[str, Any] | None = None) -> int | None:
        """Write the outcome's log row (the driver does this for batch workers); a broken log never breaks a call."""
        if self.log is None:
            return None
        extra: dict[str, Any] = {"call_id": outcome.call_id} if outcome.call_id else {}
        if outcome.to_person:
            extra["to_person"] = True
        if outcome.error_kind:
            extra["error_kind"] = outcome.error_kind
        if outcome.decision is not None:
            extra["decision"] = dataclasses.asdict(outcome.decision)
        try:
            return self.log.record(kind, name=outcome.name, conversation_id=conversation_id,
                                   arguments=outcome.arguments, result=outcome.result if outcome.ok else None,
                                   error=outcome.error, duration_ms=outcome.duration_ms, caller=outcome.caller,
                                   user=outcome.user, version=outcome.version, meta={**extra, **(meta or {})})
        except HalionError:
            log.warning("could not write the %s call %s to the log", kind, outcome.name, exc_info=True)
            return None


def _failed(base: dict[str, Any], started: float, error: str, kind: ErrorKind,
            problems: tuple[str, ...] = ()) -> ToolOutcome:
    return ToolOutcome(**base, error=error, error_kind=kind, problems=problems, content=f"Error: {error}",
                       duration_ms=(time.perf_counter() - started) * 1000)


def _same(text: str) -> str:
    return text



class _TimedOut(Exception):
    pass


class _Raised(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


def run_bounded(fn: Callable[..., Any], kwargs: dict[str, Any], timeout: float | None) -> Any:
    """`fn(**kwargs)` on a daemon worker, awaited or consumed there; `_TimedOut` after `timeout` seconds.

    A worker that times out is abandoned (it ends on its own, or never) and, being a daemon,
    never keeps the interpreter from exiting.
    """
    future = WORKERS.submit(call_context.bound(lambda: _complete(fn(**kwargs))))  # nested calls keep the caller
    try:
        return future.result(timeout=None if timeout is None else max(0.0, float(timeout)))
    except FutureTimeout:
        raise _TimedOut() from None
    except BaseException as exc:
        if future.done() and future.exception() is exc:
            raise _Raised(exc) from None
        raise  # KeyboardInterrupt while waiting: the person stopped the cell


def complete(value: Any) -> Any:
    """`value` made final: awaited (on a worker's loop, as this thread may run one, like Jupyter's) or drained."""
    if inspect.isawaitable(value) or inspect.isasyncgen(value):
        return WORKERS.submit(call_context.bound(lambda: _complete(value))).result()
    return _complete(value)


def _complete(value: Any) -> Any:
    """Await a coroutine on this worker's own event loop; drain a generator into a list."""
    if inspect.isawaitable(value):
        return _loop().run_until_complete(_awaited(value))
    if inspect.isasyncgen(value):
        return _loop().run_until_complete(_drained(value))
    if inspect.isgenerator(value):
        return list(value)
    return value


async def _awaited(value: Any) -> Any:
    return _complete_sync(await value)


async def _drained(agen: Any) -> list[Any]:
    return [item async for item in agen]


def _complete_sync(value: Any) -> Any:
    return list(value) if inspect.isgenerator(value) else value


_local = threading.local()


def _loop() -> asyncio.AbstractEventLoop:
    loop = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
    return loop
