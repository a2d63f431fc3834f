"""The workspace's tools: definitions in memory and in `tools/*.py`, plus their runtime state."""
from __future__ import annotations

import ast
import inspect
import linecache
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from ..errors import ConfigError, HalionError, ToolDefinitionError, ToolNotFoundError
from ..models import ToolState, Version
from .files import atomic_write_text, keep_aside
from .invocation import Invoker, ToolOutcome
from .naming import check_name
from .tool import Tool
from .tool_files import render_tool_file, strip_schema, tool_function_name
from .tool_loading import load_tool_file
from .tool_manager import ToolManager
from .versions import VersionDiff, VersionRef, VersionStore

log = logging.getLogger(__name__)
Listener = Callable[[str, str], None]
"""Called with (event, tool name) after a change: registered, removed, state, saved."""


class Author(Protocol):
    """Drafts tools with the model and accepts reviewed drafts (`services.authoring.ToolAuthor`)."""

    def draft(self, description: str, **options: Any) -> Any: ...
    def accept(self, draft: Any, **options: Any) -> Tool: ...


class Mapper(Protocol):
    """Runs a tool over many inputs (`services.batch.BatchRunner`)."""

    def map_tool(self, name: str, inputs: Any, **options: Any) -> Any: ...


@dataclass
class LoadReport:
    """What `ToolRegistry.load` did: the tools loaded and each broken file with its error."""

    loaded: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        lines = [f"Loaded {len(self.loaded)} tool(s)" + (f": {', '.join(self.loaded)}" if self.loaded else ".")]
        lines += [f"Could not load {name}: {err}" for name, err in self.errors.items()]
        return "\n".join(lines)


class ToolRegistry:
    """Register, look up, switch on and off, save and load tools."""

    def __init__(self, tools_dir: Path, manager: ToolManager, author: Callable[[], Author] | None = None,
                 batch: Callable[[], Mapper] | None = None) -> None:
        self.dir = Path(tools_dir)
        self.manager = manager
        self._author_factory = author
        self._batch_factory = batch
        self._author: Author | None = None
        self._tools: dict[str, Tool] = {}
        self._listeners: list[Listener] = []
        self.invoker = Invoker(self)
        """Runs every tool call (`invoke`); the Workspace gives it the log, redaction and settings."""
        self.broken: dict[str, str] = {}
        """Files the last `load` could not read, by tool name, with the reason; kept aside when saved over."""
        self.versions: VersionStore | None = None
        """Where every save is recorded (`core/versions.py`); the Workspace gives it. None: no history."""

    # definitions
    def register(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        source: str | None = None,
        active: bool | None = None,
        postprocess: bool | None = None,
        approval: bool | None = None,
    ) -> Tool:
        """Make `fn` a tool (replacing one of the same name) and return it."""
        if isinstance(fn, Tool):
            fn = fn.function
        name = check_name(name or getattr(fn, "__name__", None))
        tool = Tool.from_function(fn, name, description=description, source=source)
        self._tools[name] = tool
        given = (("active", active), ("postprocess", postprocess), ("approval", approval))
        changes = {k: v for k, v in given if v is not None}
        if changes and any(getattr(self.manager.state(name), k) != v for k, v in changes.items()):
            self.manager.update(name, **changes)
        self._emit("registered", name)
        return tool

    def add(self, tool: Tool) -> Tool:
        """Register a ready-made Tool object (an MCP server's tool, a built-in), replacing one of that name."""
        check_name(tool.name)
        self._tools[tool.name] = tool
        self._emit("registered", tool.name)
        return tool

    def update_source(self, name: str | None, code: str, *, save: bool = True, message: str | None = None,
                      user: str | None = None) -> Tool:
        """Replace (or create) a tool from edited source code and write `tools/<name>.py`.

        The code runs in a namespace of its own, seeded with the old tool's globals so the
        helpers it used still resolve. `name=None` takes the code's one public function.
        Any error raises ToolDefinitionError and changes nothing: the old tool and file stay.
        """
        try:
            tree = ast.parse(code)
        except SyntaxError as exc:
            where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
            said = exc.msg if exc.msg.endswith((".", "?", "!")) else f"{exc.msg}."  # "... forgot a comma?"
            raise ToolDefinitionError(f"Syntax error at {where}: {said} Nothing was changed.") from None
        functions = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        functions += [t.id for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Name)
                      and n.value.id in functions for t in n.targets if isinstance(t, ast.Name)]  # `x = y` (--name x)
        name = check_name(tool_function_name(code) if name is None else name)
        if name not in functions:
            raise ToolDefinitionError(
                f"The code defines no function named '{name}'; a tool's function keeps the tool's name. Nothing was changed."
            )
        old = self._tools.get(name)
        home = getattr(inspect.unwrap(old.function), "__globals__", {}) if old is not None else {}  # lru_cache etc.
        namespace: dict[str, Any] = dict(home)
        namespace.setdefault("__name__", f"halion_tools.{name}")
        namespace.pop(name, None)
        filename = f"<tool {name}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)  # tracebacks show the code
        try:
            exec(compile(tree, filename, "exec"), namespace)
        except (Exception, SystemExit) as exc:
            raise ToolDefinitionError(
                f"Running the code raised {type(exc).__name__}: {exc}. Nothing was changed."
            ) from exc
        fn = namespace.get(name)
        if not callable(fn):
            raise ToolDefinitionError(f"After running the code, '{name}' is not a function. Nothing was changed.")
        tool = Tool.from_function(fn, name, source=code)
        if save:
            text = render_tool_file(tool)  # raises before anything changes
            self._write(name, text, message=message, user=user)
        self._tools[name] = tool
        self._emit("registered", name)
        if save:
            self._emit("saved", name)
        return tool

    def get(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            known = ", ".join(sorted(self._tools)) or "none yet"
            raise ToolNotFoundError(f"No tool named '{name}'. Known tools: {known}.") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def names(self) -> list[str]:
        return sorted(self._tools)

    def all(self) -> list[Tool]:
        return [self._tools[n] for n in self.names()]

    def remove(self, name: str, *, delete_file: bool = False) -> None:
        """Forget a tool (and its state); with `delete_file`, also delete `tools/<name>.py`."""
        self.get(name)
        del self._tools[name]
        self.manager.forget(name)
        if delete_file:
            self.path_of(name).unlink(missing_ok=True)
        self._emit("removed", name)

    # drafting (services/authoring.py, injected by the Workspace: core does not import services)
    def draft(self, description: str, **options: Any) -> Any:
        """Ask the model to write a tool; returns a `ToolDraft` to review. Nothing of it is run."""
        return self._authoring().draft(description, **options)

    def accept(self, draft: Any, **options: Any) -> Tool:
        """Run a reviewed draft (the person's decision), register it and save `tools/<name>.py`."""
        return self._authoring().accept(draft, **options)

    def _authoring(self) -> Author:
        if self._author is None:
            if self._author_factory is None:
                raise ConfigError("drafting tools needs a Workspace: use ws.tools.draft(...) on a Workspace.")
            self._author = self._author_factory()
        return self._author

    # running
    def invoke(self, name: str, arguments: Any = None, *, caller: str = "python", **options: Any) -> ToolOutcome:
        """Run a tool the way every caller does: validate, approve, run bounded, encode, redact, log.

        Returns a `ToolOutcome`; a bad argument, a refused or failing call is an outcome, never an exception.
        Options: user, conversation_id, call_id, timeout, approve, log_kind, meta, log, tool, only_active.
        """
        self._remember(name, options.get("tool"))
        return self.invoker.invoke(name, arguments, caller=caller, **options)

    def log_outcome(self, outcome: ToolOutcome, **options: Any) -> int | None:
        """Write an outcome produced elsewhere (a batch worker) to this workspace's log."""
        known = self._tools.get(outcome.name)
        if known is not None and known.version == outcome.version:
            self._remember(outcome.name)
        return self.invoker.log_outcome(outcome, **options)

    def _remember(self, name: str, given: Any = None) -> None:
        """Keep the source of a registered tool about to run (once per version), so its log rows can open it."""
        tool = self._tools.get(name)
        if self.versions is not None and tool is not None and given in (None, tool):
            self.versions.remember(name, tool.source, tool.version)

    def map(self, name: str, inputs: Any, **options: Any) -> Any:
        """Call the tool once per input, on threads or a Dask cluster; returns a `BatchRun` (services/batch.py).

        Options: executor, max_workers, progress, wait.
        """
        if self._batch_factory is None:
            raise ConfigError("batch runs need a Workspace: use ws.tools.map(...) on a Workspace.")
        return self._batch_factory().map_tool(name, inputs, **options)

    # runtime state
    def require_approval(self, name: str, on: bool = True) -> None:
        """Make each call of the tool wait for the person's approval (or stop requiring it)."""
        self._set(name, approval=bool(on))

    def needs_approval(self, name: str) -> bool:
        self.get(name)
        return self.manager.state(name).approval

    def enable(self, name: str) -> None:
        self._set(name, active=True, deferred=False)

    def disable(self, name: str) -> None:
        """Switch the tool off: the model no longer sees it, and `find_tools` never switches it back on."""
        self._set(name, active=False, deferred=False)

    def set_postprocess(self, name: str, postprocess: bool) -> None:
        self._set(name, postprocess=bool(postprocess))

    def is_active(self, name: str) -> bool:
        self.get(name)
        return self.manager.state(name).active

    def postprocess(self, name: str) -> bool:
        """True when the tool's result goes back to the model; False when it goes to the person."""
        self.get(name)
        return self.manager.state(name).postprocess

    def with_states(self) -> list[tuple[Tool, ToolState]]:
        """Every tool with its state; a tool never switched is active with postprocess on."""
        states = self.manager.states()
        return [(t, states.get(t.name, ToolState())) for t in self.all()]

    def active(self) -> list[Tool]:
        return [t for t, state in self.with_states() if state.active]

    def _set(self, name: str, **changes: bool) -> None:
        self.get(name)
        self.manager.update(name, **changes)
        self._emit("state", name)

    # files
    def path_of(self, name: str) -> Path:
        return self.dir / f"{check_name(name)}.py"

    def save(self, name: str, *, message: str | None = None, user: str | None = None) -> Path:
        """Write `tools/<name>.py` atomically and return its path; a changed tool gets a new version.

        `message` is kept with the version; `user` says who saved (default: the OS user).
        """
        path = self._write(name, render_tool_file(self.get(name)), message=message, user=user)
        self._emit("saved", name)
        return path

    def _write(self, name: str, text: str, *, message: str | None = None, user: str | None = None) -> Path:
        """Write `tools/<name>.py` and record the version; an unreadable file of that name is kept aside first."""
        path = self.path_of(name)
        if name in self.broken and path.exists():
            aside = keep_aside(path)
            log.warning("Kept the unreadable tools/%s as %s.", path.name, aside.name)
        written = atomic_write_text(path, text)
        self.broken.pop(name, None)
        if self.versions is not None:
            try:  # what loading the file will run: the file without its schema literal
                self.versions.record("tool", name, strip_schema(text), who=user, message=message)
            except HalionError as exc:  # the file is saved; a broken history must not undo that
                log.warning("tools/%s was saved, but its version could not be recorded: %s", path.name, exc)
        return written

    # versions (core/versions.py)
    def history(self, name: str) -> list[Version]:
        """Every saved version of the tool, oldest first (numbered from 1)."""
        return self._store().history("tool", check_name(name))

    def source_at(self, name: str, version: VersionRef) -> str:
        """The tool's source at `version`: a number from `history`, or a hash such as a log row's `version`."""
        return self._store().find("tool", check_name(name), version).content

    def diff(self, name: str, a: VersionRef | None = None, b: VersionRef | None = None) -> VersionDiff:
        """Unified diff of the tool from version `a` to `b` (default: the newest, and the one before it)."""
        return self._store().diff("tool", check_name(name), a, b)

    def revert(self, name: str, version: VersionRef, *, user: str | None = None) -> Tool:
        """Make `version`'s source the tool again: it is run, saved, and recorded as a new version."""
        old = self._store().find("tool", check_name(name), version)
        label = f"v{old.number}" if old.number is not None else "the live source"
        return self.update_source(name, old.content, message=f"revert to {label} ({old.hash})", user=user)

    def _store(self) -> VersionStore:
        if self.versions is None:
            raise ConfigError("tool history needs a Workspace: use ws.tools.history(...) on a Workspace.")
        return self.versions

    def load(self) -> LoadReport:
        """Load every `tools/*.py`; broken files are reported by name and the rest still load."""
        report = LoadReport()
        for path in sorted(self.dir.glob("*.py")) if self.dir.is_dir() else []:
            try:
                check_name(path.stem)
                tool = load_tool_file(path)
            except Exception as exc:  # one broken file must not stop the others
                message = str(exc).removeprefix(f"{path.name}: ")
                report.errors[path.stem] = message
                log.warning("Could not load tools/%s: %s", path.name, message)
                continue
            self._tools[tool.name] = tool
            report.loaded.append(tool.name)
        self.broken = dict(report.errors)
        if report.loaded:
            self._emit("loaded", "")
        return report

    # observers (panels keep in sync through these)
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(event, name)` after every change; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: str, name: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(event, name)
            except Exception:  # a broken panel must not break the registry
                log.exception("A tool listener failed on %s %s", event, name)

    def __repr__(self) -> str:
        return f"<ToolRegistry {len(self)} tools: {', '.join(self.names())}>"

