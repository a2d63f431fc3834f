"""Toolchains: their files, checks before a run, runs (in order or in parallel), chains as tools, drafting.

Run records and reference reading are in `chain_runs`, the model's drafts in `chain_drafting`.
"""
from __future__ import annotations

import copy
import inspect
import json
import keyword
import logging
import time
import typing
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, TypeAdapter, ValidationError

from ..core import call_context
from ..core.invocation import os_user
from ..core.naming import check_name
from ..core.tool import Tool
from ..core.tool_schema import drop_forced_nulls
from ..core.toolchain_registry import ChainLoadReport, ToolchainRegistry
from ..core.versions import VersionDiff, VersionRef
from ..errors import ChainValidationError, HalionError, ToolArgumentError, ToolNameError
from ..models import Ref, Toolchain, ToolchainStep, Version, as_toolchain
from .chain_drafting import DRAFT_RETRIES, draft_chain
from .chain_editor import ChainEditor
from .chain_runs import _SCALARS, ChainRun, ChainRunError, StepResult, StepStatus, _RefError, _resolve, _Who

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .batch import BatchRun
    from .bundles import ImportReport

log = logging.getLogger(__name__)

__all__ = ["DRAFT_RETRIES", "MAX_WORKERS", "ChainRun", "ChainRunError", "Chains", "StepResult", "StepStatus"]

MAX_WORKERS = 16
"""Most steps of one parallel chain that run at the same time."""

_PY_TYPES: dict[str, Any] = {
    "string": str, "integer": int, "number": float, "boolean": bool, "array": list[Any], "object": dict[str, Any],
}


class Chains:
    """`ws.chains`: save, load, check, run, offer as tools and draft toolchains."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.registry = ToolchainRegistry(ws.path / "chains", versions=ws.versions)
        self.report: ChainLoadReport = self.registry.load()
        """What reading `chains/` found when the workspace first used its chains."""
        self.last_draft: Toolchain | None = None
        """The last chain `draft` returned (not saved until `save` is called)."""
        self._warned: set[str] = set()

    # files
    def save(self, chain: Toolchain | Mapping[str, Any] | str, *, overwrite: bool = False,
             message: str | None = None, user: str | None = None) -> Path:
        """Write `chains/<name>.json` from a Toolchain, its dict or its JSON text (ChainValidationError if invalid).

        A file that could not be read is replaced only with `overwrite`. A changed chain gets a new
        version, with `message` and `user` (who saved; default the OS user).
        """
        return self.registry.save(as_toolchain(chain), overwrite=overwrite, message=message, user=user)

    # versions (core/versions.py) and bundles (services/bundles.py)
    def history(self, name: str) -> list[Version]:
        """Every saved version of the chain, oldest first (numbered from 1)."""
        return self.ws.versions.history("chain", check_name(name, kind="chain"))

    def source_at(self, name: str, version: VersionRef) -> str:
        """The chain's JSON text at `version` (a number from `history` or a hash prefix)."""
        return self.ws.versions.find("chain", check_name(name, kind="chain"), version).content

    def diff(self, name: str, a: VersionRef | None = None, b: VersionRef | None = None) -> VersionDiff:
        """Unified diff of the chain's JSON from version `a` to `b` (default: the newest, and the one before it)."""
        return self.ws.versions.diff("chain", check_name(name, kind="chain"), a, b)

    def revert(self, name: str, version: VersionRef, *, user: str | None = None) -> Toolchain:
        """Save `version`'s chain again (recorded as a new version) and return it."""
        old = self.ws.versions.find("chain", check_name(name, kind="chain"), version)
        chain = as_toolchain(old.content)
        self.save(chain, message=f"revert to v{old.number} ({old.hash})", user=user)
        return chain

    def export_bundle(self, name: str, path: str | Path) -> Path:
        """Write one JSON file with the chain and the source of every tool it uses (a file, or into a folder)."""
        from .bundles import export_bundle

        return export_bundle(self.ws, name, path)

    def import_bundle(self, path: str | Path, *, overwrite: bool = False, accept: bool = False,
                      user: str | None = None) -> ImportReport:
        """Read a bundle and say what it would add, skip as identical, or conflicts with; nothing is written yet.

        Its tool code is checked like a drafted tool and runs only once accepted: `report.accept()`, or
        `accept=True` here for code the checks found nothing to warn about. Conflicts need `overwrite`.
        """
        from .bundles import import_bundle

        return import_bundle(self.ws, path, overwrite=overwrite, accept=accept, user=user)

    def get(self, name: str) -> Toolchain:
        return self.registry.get(name)

    def names(self) -> list[str]:
        return self.registry.names()

    def all(self) -> list[Toolchain]:
        return self.registry.all()

    def remove(self, name: str) -> None:
        """Forget the chain and delete its file."""
        self.registry.remove(name)

    def load(self) -> ChainLoadReport:
        """Read `chains/*.json` again; broken files are reported by name and left untouched."""
        self.report = self.registry.load()
        return self.report

    def export(self, name: str, path: str | Path) -> Path:
        """Write one chain to a file (or into a folder) to share it."""
        return self.registry.export(name, path)

    def import_(self, path: str | Path, *, overwrite: bool = False) -> Toolchain:
        """Save a shared chain file into this workspace; same-named chains are replaced only with `overwrite`."""
        return self.registry.import_(path, overwrite=overwrite)

    def __contains__(self, name: object) -> bool:
        return name in self.registry

    def __len__(self) -> int:
        return len(self.registry)

    def edit(self, chain: Toolchain | str | None = None) -> ChainEditor:
        """A `ChainEditor` over a new chain, or over this chain (or the saved chain of that name)."""
        editor = ChainEditor(self)
        if chain is not None:
            editor.load(chain)
        return editor

    # checks
    def validate(self, chain: Toolchain | str) -> list[str]:
        """Every problem that would stop the chain from running, each naming its step; [] when none."""
        chain = self._chain(chain)
        problems: list[str] = []
        try:
            check_name(chain.name, kind="chain")
        except ToolNameError as exc:
            problems.append(f"chain: {exc}")
        inputs: set[str] = set()
        for item in chain.inputs:
            problems += [f"input '{item.name}': {p}" for p in _input_problems(item, inputs)]
            inputs.add(item.name)
        if not chain.steps:
            problems.append("chain: it has no steps; add at least one")
        all_ids = {step.id for step in chain.steps}
        done: dict[str, int] = {}
        for index, step in enumerate(chain.steps, 1):
            where = f"step '{step.id}'"
            if step.id in done:
                problems.append(f"{where}: duplicate step id (step {done[step.id]} has it too); give each step its own id")
            for arg, ref in step.refs().items():
                problem = _ref_problem(ref, inputs, done, all_ids, step.id)
                if problem:
                    problems.append(f"{where}: argument '{arg}' {problem}")
            problems += [f"{where}: {p}" for p in self._tool_problems(step)]
            done.setdefault(step.id, index)
        if chain.output is not None:
            problem = _ref_problem(chain.output, inputs, done, all_ids, None)
            if problem:
                problems.append(f"output: {problem}")
        return problems

    def check(self, chain: Toolchain | str) -> Toolchain:
        """The chain, or ChainValidationError listing every problem."""
        chain = self._chain(chain)
        problems = self.validate(chain)
        if problems:
            raise ChainValidationError(
                f"Chain '{chain.name}' cannot run; fix these first:\n" + "\n".join(f"- {p}" for p in problems),
                problems,
            )
        return chain

    def _tool_problems(self, step: ToolchainStep) -> list[str]:
        tools = self.ws.tools
        if step.tool not in tools:
            known = ", ".join(tools.names()) or "none yet"
            return [f"unknown tool '{step.tool}'. Known tools: {known}"]
        tool = tools.get(step.tool)
        problems = []
        if not tools.is_active(step.tool):
            problems.append(f"tool '{step.tool}' is inactive; enable it with ws.tools.enable('{step.tool}') "
                            f"or %halion enable {step.tool}")
        params = tool.spec.field_names
        listed = ", ".join(params) or "(none)"
        problems += [f"unexpected argument '{a}'; the parameters of '{tool.name}' are {listed}"
                     for a in step.arguments if a not in params]
        problems += [f"missing required argument '{p}'"
                     for p in tool.spec.loose_parameters.get("required", []) if p not in step.arguments]
        literals = {k: v for k, v in step.literals().items() if k in params}
        if tool.spec.strict:
            loose = tool.spec.loose_parameters
            literals = drop_forced_nulls(literals, loose, loose.get("$defs", {}))
        try:
            tool.spec.args_model.model_validate(literals)
        except ValidationError as exc:
            problems += [f"argument {tool._describe_error(err)}" for err in exc.errors()
                         # missing and unknown arguments are reported above, knowing which are references
                         if not (err["type"] in ("missing", "extra_forbidden") and len(err["loc"]) == 1)]
        return problems

    # runs
    def run(self, chain: Toolchain | str, /, **inputs: Any) -> ChainRun:
        """Run a chain (by name or object) with its inputs as keywords.

        The chain is checked first (ChainValidationError lists every problem) and the inputs
        are checked against its declared inputs. A failing step does not raise: the run keeps
        what was done, the error, and which step failed (`run.ok`, `run.error`, `run.steps`).
        """
        return self.run_with(chain, inputs)

    def run_with(self, chain: Toolchain | str, inputs: Mapping[str, Any] | None = None, *, caller: str = "chain",
                 user: str | None = None, meta: Mapping[str, Any] | None = None,
                 approve: Callable[..., Any] | None = None) -> ChainRun:
        """`run` with the inputs as a dict, saying who runs it: `caller` and `user` go into every log row;
        `approve(request) -> bool | Decision` answers steps whose tool needs approval (default ws.approver).
        Run inside another call (an exposed chain called over MCP, a tool running a chain), the outermost
        call's caller, user and approver stand instead (`core.call_context`)."""
        chain = self.check(chain)
        values = self._inputs(chain, dict(inputs or {}))
        with call_context.entered(caller, user or os_user(), approve, chain=chain.name) as context:
            via = {"via": list(context.chain[:-1])} if len(context.chain) > 1 else {}
            return self._execute(chain, values, _Who(context.caller, context.user, {**dict(meta or {}), **via},
                                                     context.approve))

    def _inputs(self, chain: Toolchain, inputs: dict[str, Any]) -> dict[str, Any]:
        declared = {item.name: item for item in chain.inputs}
        listed = ", ".join(declared) or "none"
        problems = [f"input '{k}': unknown input; the chain's inputs are {listed}" for k in inputs if k not in declared]
        problems += [f"input '{n}': required input is missing" for n, i in declared.items()
                     if i.required and n not in inputs]
        values: dict[str, Any] = {}
        if not problems and declared:
            try:
                values = self._signature_tool(chain, lambda **kw: None).validate(inputs)
            except ToolArgumentError as exc:
                problems = [f"input {self.ws.env.redact(p)}" for p in exc.problems]  # they echo the values
        if problems:
            raise ChainValidationError(
                f"Chain '{chain.name}' got wrong inputs:\n" + "\n".join(f"- {p}" for p in problems), problems
            )
        return values

    def _execute(self, chain: Toolchain, inputs: dict[str, Any], who: _Who) -> ChainRun:
        redact = self.ws.env.redact
        run = ChainRun(chain=chain, inputs=inputs, steps=[StepResult(s.id, s.tool, redact=redact) for s in chain.steps],
                       redact=redact, who=who)
        run.started = datetime.now(UTC)
        start = time.perf_counter()
        outputs: dict[str, Any] = {}
        tools = {name: self.ws.tools.get(name) for name in {s.tool for s in chain.steps}}
        if chain.parallel and len(chain.steps) > 1:
            self._run_parallel(run, tools, outputs)
        else:
            for step, result in zip(chain.steps, run.steps):
                if run.error is not None:
                    result.status = "skipped"
                    continue
                self._run_step(run, step, result, tools[step.tool], outputs)
                self._finished(run, step, result, outputs)
        if run.error is None:
            target = chain.output or Ref(f"steps.{chain.steps[-1].id}.output")
            try:
                run.output = _resolve(target, inputs, outputs)
            except _RefError as exc:
                run.error = f"output: {exc}"
        run.duration_ms = (time.perf_counter() - start) * 1000
        run.log_id = self._record(
            "chain", name=chain.name, arguments=inputs, result=run.output, error=run.error,
            duration_ms=run.duration_ms, caller=who.caller, user=who.user or os_user(),
            meta={"run": run.run_id, "steps": len(chain.steps), "parallel": chain.parallel,
                  "failed_step": run.failed_step, **who.meta},
        )
        return run

    def _run_parallel(self, run: ChainRun, tools: dict[str, Tool], outputs: dict[str, Any]) -> None:
        """Start each step as soon as the steps it refers to are done; stop starting new ones after a failure."""
        steps = run.chain.steps
        needs = {s.id: {r.target for r in s.refs().values() if r.source == "steps"} for s in steps}
        waiting = list(zip(steps, run.steps))
        running: dict[Future[None], tuple[ToolchainStep, StepResult]] = {}
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(steps)), thread_name_prefix="halion-chain") as pool:
            while waiting or running:
                if run.error is None:
                    for pair in [p for p in waiting if needs[p[0].id] <= outputs.keys()]:
                        waiting.remove(pair)
                        step, result = pair
                        future = pool.submit(call_context.bound(self._run_step), run, step, result, tools[step.tool],
                                             outputs)
                        running[future] = pair
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    step, result = running.pop(future)
                    self._finished(run, step, result, outputs)
        for _, result in waiting:
            result.status = "skipped"

    def _run_step(self, run: ChainRun, step: ToolchainStep, result: StepResult, tool: Tool,
                  outputs: dict[str, Any]) -> None:
        """Resolve the step's arguments and run its tool through the invocation path (one log row); never raises."""
        result.started = datetime.now(UTC)
        start = time.perf_counter()
        try:
            arguments = {
                name: _resolve(value, run.inputs, outputs) if isinstance(value, Ref)
                else value if isinstance(value, _SCALARS) else copy.deepcopy(value)
                for name, value in step.arguments.items()
            }
        except _RefError as exc:
            result.status, result.error = "error", str(exc)
        else:
            result.arguments = arguments
            who = run.who
            outcome = self.ws.tools.invoke(
                step.tool, arguments, caller=who.caller, user=who.user, tool=tool, log_kind="step", approve=who.approve,
                meta={"chain": run.chain.name, "step": step.id, "run": run.run_id, **who.meta})
            if outcome.ok:
                result.status, result.result = "ok", outcome.value
            elif outcome.error_kind == "arguments":
                result.status, result.error = "error", "invalid arguments: " + "; ".join(outcome.problems)
            else:
                result.status, result.error = "error", outcome.error
        result.duration_ms = (time.perf_counter() - start) * 1000
        result.ended = datetime.now(UTC)

    def _finished(self, run: ChainRun, step: ToolchainStep, result: StepResult, outputs: dict[str, Any]) -> None:
        if result.status == "ok":
            outputs[step.id] = result.result
        elif run.error is None:
            run.error = f"step '{step.id}' ({step.tool}) failed: {result.error}"
            run.failed_step = step.id

    def _record(self, kind: str, **fields: Any) -> int | None:
        """Write a log row; a broken log is reported once and never stops a run."""
        try:
            return self.ws.log.record(kind, **fields)
        except HalionError as exc:
            self._warn_once(f"The call log could not record a {kind}: {exc}")
            return None

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.warning(message)

    def map(self, name: str, inputs: Any, **options: Any) -> BatchRun:
        """Run the chain once per input (a list of dicts, a DataFrame, a CSV/JSONL path) on threads or Dask.

        Options: executor (None: threads; a dask Client or scheduler address), max_workers, progress, wait.
        """
        from .batch import BatchRunner

        return BatchRunner(self.ws).map_chain(name, inputs, **options)

    # chains as tools
    def as_tool(self, chain: Toolchain | str, *, approve: Callable[..., Any] | None = None) -> Tool:
        """The chain as a tool: its inputs are the parameters; calling it runs the chain and returns the output.

        A failed run raises ChainRunError naming the failing step (the chat loop reports it to the model);
        `approve` answers its steps that need approval (default ws.approver).
        """
        chain = self.check(chain)

        def run_chain(**inputs: Any) -> Any:
            return self.run_with(chain, inputs, approve=approve).raise_for_error().output

        summary = " → ".join(s.tool for s in chain.steps)
        return self._signature_tool(chain, run_chain, chain.description or f"Toolchain: {summary}.")

    def _signature_tool(self, chain: Toolchain, body: Callable[..., Any], description: str = "") -> Tool:
        """A Tool whose parameters are the chain's inputs, calling `body(**inputs)`."""
        params, annotations = [], {}
        for item in chain.inputs:
            kind = _PY_TYPES[item.type]
            if not item.required and item.default is None:
                kind = kind | None
            if item.description:
                kind = typing.Annotated[kind, Field(description=item.description)]
            default = inspect.Parameter.empty if item.required else item.default
            params.append(inspect.Parameter(item.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind))
            annotations[item.name] = kind

        def function(**inputs: Any) -> Any:
            return body(**inputs)

        function.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        function.__annotations__ = annotations
        function.__name__ = function.__qualname__ = chain.name
        function.__doc__ = description
        return Tool.from_function(function, chain.name, description=description)

    def exposed_tools(self, *, approve: Callable[..., Any] | None = None) -> list[Tool]:
        """Chains marked `expose: true`, as tools for the chat model (`approve` answers their steps).

        A chain named like a tool, or one that does not pass its checks, is left out with a logged warning.
        """
        out = []
        for chain in self.registry.all():
            if not chain.expose:
                continue
            if chain.name in self.ws.tools:
                self._warn_once(f"Exposed chain '{chain.name}' is not offered to the model: a tool has that name. "
                                "Rename the chain.")
                continue
            try:
                out.append(self.as_tool(chain, approve=approve))
            except ChainValidationError as exc:
                self._warn_once(f"Exposed chain '{chain.name}' is not offered to the model: {exc}")
        return out

    # drafting
    def draft(self, goal: str, *, model: str | None = None, retries: int = DRAFT_RETRIES) -> Toolchain:
        """Ask the model for a chain over the active tools that reaches `goal`; nothing is saved.

        The model answers in the strict `ToolchainDraft` form. A chain with problems goes back
        to the model with the problems listed, up to `retries` times; then ChainValidationError.
        """
        chain = draft_chain(self, goal, model=model, retries=retries)
        self.last_draft = chain
        return chain

    # display
    def _chain(self, chain: Toolchain | str) -> Toolchain:
        if isinstance(chain, Toolchain):
            return chain
        if isinstance(chain, str):
            return self.registry.get(chain)
        raise TypeError(f"Expected a Toolchain or a chain name, not {type(chain).__name__}.")

    def __repr__(self) -> str:  # the notebook's views are in display/chains.py
        broken = "".join(f"; {name} could not be loaded ({why})" for name, why in self.registry.broken.items())
        return f"Chains({len(self)} saved: {', '.join(self.names()) or 'none'}{broken})"


def _input_problems(item: Any, seen: set[str]) -> list[str]:
    problems = []
    if item.name in seen:
        problems.append("declared twice")
    if keyword.iskeyword(item.name):
        problems.append("a Python keyword cannot be an input name; pick another")
    if not item.required and item.default is not None:
        try:
            TypeAdapter(_PY_TYPES[item.type]).validate_python(item.default, strict=item.type != "number")
        except ValidationError:
            problems.append(f"default {json.dumps(item.default, default=repr)[:80]} is not of type {item.type}")
    return problems


def _ref_problem(ref: Ref, inputs: set[str], done: Mapping[str, int], all_ids: set[str], own: str | None) -> str | None:
    """Why `ref` cannot be read at this point of the chain, or None."""
    if ref.source == "inputs":
        if ref.target in inputs:
            return None
        declared = ", ".join(sorted(inputs)) or "none"
        return f"refers to unknown input '{ref.target}' ({ref}); the chain's inputs are {declared}"
    if ref.target == own:
        return f"refers to the step's own output ({ref})"
    if ref.target in done:
        return None
    if ref.target in all_ids:
        return f"refers to step '{ref.target}', which runs later ({ref}); a step can only use earlier steps"
    return f"refers to unknown step '{ref.target}' ({ref})"
