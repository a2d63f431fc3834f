"""Draft a tool with the model, check the draft without running it, accept it on request.

The model answers through structured output (`DraftReply`). `check_draft` reads the code
with `ast` only: nothing of a draft is imported or executed until a person accepts it.

How the schema is built without running anything: every parameter annotation is evaluated
by a small interpreter over its AST that knows only a whitelist of objects (builtin types,
`typing` names, `Literal[...]` of constants, `X | Y`, datetime/date/time/timedelta, Decimal,
UUID, Path, `pydantic.Field(...)` with literal arguments) plus pydantic models, TypedDicts
and Enums the draft defines, rebuilt from their class bodies the same way. Imports are
read, never run: `from typing import Optional as O` only tells the interpreter what `O`
names. Defaults must be literals. With those annotations a stub function gets a signature
and the draft's docstring, and `describe_function` builds the schema exactly as it would
for the real function. An annotation outside the whitelist is a problem, not a guess.
"""
from __future__ import annotations

import ast
import builtins
import datetime as _dt
import decimal
import enum
import inspect
import linecache
import pathlib
import re
import sys
import types
import typing
import uuid
from collections import abc as _abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ..core.env_detection import DYNAMIC, env_reads_in_tree
from ..core.naming import check_name
from ..core.tool_files import decorator_name
from ..core.tool_schema import describe_function
from ..errors import HalionError, ToolDefinitionError

if TYPE_CHECKING:
    from ..core.tool import Tool
    from ..workspace import Workspace

MAX_RETRIES = 2
"""Extra requests the model gets to fix a draft's problems."""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

SYSTEM_PROMPT = """\
You write one tool for halion_nb, a notebook workbench where a chat model calls Python \
functions as tools. Answer with the tool's name, its complete code, the environment \
variables it reads and a short rationale.

The code is one notebook cell that must run on its own and follows these rules:
- exactly one public function, named exactly like the tool (a snake_case identifier); \
helpers, if any, start with an underscore;
- type hints on every parameter and on the return value, using JSON-friendly types: \
str, int, float, bool, list[...], dict[str, ...], Literal[...], Optional[...] or X | None, \
datetime/date, or a pydantic model / Enum / TypedDict defined in the cell;
- defaults are literals (numbers, strings, True/False/None);
- a docstring: a one-line summary the model reads to decide when to call the tool, then \
an "Args:" section describing every parameter (Google style);
- all imports at the top of the cell; nothing else runs when the cell runs (no prints, \
no calls at module level);
- configuration and secrets come from os.environ["NAME"]; list every such NAME in \
env_vars and never hard-code keys or tokens;
- return a JSON-serialisable value; raise ValueError with a clear message on bad input;
- avoid subprocess, eval/exec, deleting files and network access unless the task needs \
them; when it does, say why in the rationale.
"""


class DraftReply(BaseModel):
    """What the model returns (structured output): strict-mode friendly, every field required."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The tool's name: the function's name, a snake_case Python identifier.")
    code: str = Field(description="The whole cell: imports, then the one public, typed, docstringed function.")
    env_vars: list[str] = Field(description="Names of the environment variables the code reads.")
    rationale: str = Field(description="Two or three sentences: what the tool does and any choice worth knowing.")


class ToolDraft(BaseModel):
    """A tool the model wrote, checked but never run. Review it, then accept it or discard it."""

    name: str
    code: str
    env_vars: list[str] = Field(default_factory=list)
    rationale: str = ""
    warnings: list[str] = Field(default_factory=list)
    """Risky constructs a person should look at before running the code."""
    problems: list[str] = Field(default_factory=list)
    """What keeps the code from being a valid tool; empty when the check passed."""
    request: str = ""
    """The description the draft was written from."""
    parameters: dict[str, Any] | None = None
    """The parameters schema the tool will have (built without running the code), if buildable."""
    missing_env: list[str] = Field(default_factory=list)
    """Declared variables not set in the workspace when the draft was made."""
    attempts: int = 1
    """Model requests it took (1 + retries)."""

    @property
    def ok(self) -> bool:
        """True when the draft has no problems (it may still have warnings)."""
        return not self.problems

    def accept(self, ws: Workspace, *, save: bool = True, force: bool = False) -> Tool:
        """Run the code (the person's decision), register the tool and save `tools/<name>.py`."""
        return accept_draft(ws, self, save=save, force=force)

    def __repr__(self) -> str:
        status = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        lines = [f"ToolDraft {self.name} ({status}, {len(self.warnings)} warning(s))"]
        if self.rationale:
            lines.append(f"  {self.rationale}")
        if self.env_vars:
            lines.append("  env vars: " + ", ".join(self._env_label(n) for n in self.env_vars))
        lines += [f"  problem: {p}" for p in self.problems]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += ["", self.code.rstrip()]
        return "\n".join(lines)

    __str__ = __repr__

    def _env_label(self, name: str) -> str:
        return f"{name} (missing)" if name in self.missing_env else name

    def _repr_markdown_(self) -> str:
        parts = [f"### Draft tool `{self.name}`" + ("" if self.ok else " — has problems")]
        if self.rationale:
            parts.append(self.rationale)
        if self.env_vars:
            items = [f"`{n}`" + (f" — missing; set it with `%halion env set {n}`" if n in self.missing_env else "")
                     for n in self.env_vars]
            parts.append("**Environment variables:** " + ", ".join(items))
        if self.problems:
            parts.append("**Problems:**\n" + "\n".join(f"- {_md_escape(p)}" for p in self.problems))
        if self.warnings:
            parts.append("**Warnings:**\n" + "\n".join(f"- ⚠️ {_md_escape(w)}" for w in self.warnings))
        fence = "`" * max(3, _longest_backtick_run(self.code) + 1)
        parts.append(f"{fence}python\n{self.code.rstrip()}\n{fence}")
        parts.append("*Not run yet: read it, then run it as a `%%tool` cell or accept it in the Tools panel.*")
        return "\n\n".join(parts)


def _md_escape(text: str) -> str:
    return text.replace("<", "&lt;")


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)


# -- drafting -------------------------------------------------------------------------------

class ToolAuthor:
    """Drafting and accepting for one workspace; `ws.tools.draft` / `ws.tools.accept` call it."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def draft(self, description: str, *, name: str | None = None, model: str | None = None,
              retries: int = MAX_RETRIES) -> ToolDraft:
        return draft_tool(self.ws, description, name=name, model=model, retries=retries)

    def accept(self, draft: ToolDraft, *, save: bool = True, force: bool = False) -> Tool:
        return accept_draft(self.ws, draft, save=save, force=force)


def draft_tool(ws: Workspace, description: str, *, name: str | None = None, model: str | None = None,
               retries: int = MAX_RETRIES) -> ToolDraft:
    """Ask the model for a tool doing `description`; check it, and let the model fix problems
    (at most `retries` more requests). Nothing of the draft is run."""
    from .llm import parse_structured

    description = (description or "").strip()
    if not description:
        raise HalionError("Describe the tool to draft, e.g. ws.tools.draft('convert a price between currencies').")
    retries = max(0, min(int(retries), MAX_RETRIES))
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": _request_text(ws, description, name)},
    ]
    attempts = 0
    while True:
        attempts += 1
        reply = parse_structured(ws, messages, DraftReply, model=model, purpose="draft")
        assert isinstance(reply, DraftReply)
        draft = make_draft(reply, request=description, ws=ws, attempts=attempts)
        if name and draft.name != name:
            draft.problems.append(f"the tool must be named '{name}', not '{draft.name}'")
        if draft.ok or attempts > retries:
            return draft
        shown = DraftReply(name=draft.name, code=draft.code, env_vars=draft.env_vars, rationale=draft.rationale)
        messages.append({"role": "assistant", "content": shown.model_dump_json()})  # redacted, as drafted
        messages.append({"role": "user", "content": _fix_text(draft)})


def _request_text(ws: Workspace, description: str, name: str | None) -> str:
    lines = [f"Write a tool that does this:\n{description}"]
    if name:
        lines.append(f"Name the tool (and its function) `{name}`.")
    existing = ws.tools.names()
    if existing:
        lines.append("Tools that already exist (pick another name unless asked to replace one): "
                     + ", ".join(existing) + ".")
    stored = ws.env.names()
    if stored:  # names only: values never leave the env manager
        lines.append("Environment variables already configured: " + ", ".join(stored) + ".")
    return "\n\n".join(lines)


def _fix_text(draft: ToolDraft) -> str:
    listed = "\n".join(f"- {p}" for p in draft.problems)
    return (f"The draft has these problems:\n{listed}\n\nFix them and answer again with the whole "
            "corrected tool (name, code, env_vars, rationale).")


def make_draft(reply: DraftReply, *, request: str = "", ws: Workspace | None = None,
               attempts: int = 1) -> ToolDraft:
    """A ToolDraft from the model's reply, with the static check's problems and warnings.

    With a workspace, every secret value of it is replaced by *** first: a draft (its code goes
    into a notebook cell and maybe a file) must not carry a key the model saw and hard-coded.
    """
    redact = ws.env.redact if ws is not None else (lambda text: text)
    code = redact(reply.code)
    name = redact(reply.name)
    env_vars = list(dict.fromkeys(redact(v).strip() for v in reply.env_vars if v.strip()))
    checked = check_draft(code, name, env_vars)
    problems = list(checked.problems)
    if code != reply.code:
        problems.append("the code contains a secret value of this workspace (shown as ***); never hard-code "
                        "it: read it with os.environ['NAME'] and list NAME in env_vars")
    warnings = list(checked.warnings)
    missing: list[str] = []
    if ws is not None:
        if name in ws.tools:
            warnings.append(f"a tool named '{name}' already exists; accepting this draft replaces it")
        missing = [n for n in env_vars if _ENV_NAME.fullmatch(n) and not ws.env.is_set(n)]
    return ToolDraft(name=name, code=code, env_vars=env_vars, rationale=redact(reply.rationale.strip()),
                     warnings=warnings, problems=problems, request=redact(request),
                     parameters=checked.parameters, missing_env=missing, attempts=attempts)


# -- accepting ------------------------------------------------------------------------------

def accept_draft(ws: Workspace, draft: ToolDraft, *, save: bool = True, force: bool = False) -> Tool:
    """Run the draft's code (only now, on the person's request), register it with the code as
    its source, and write `tools/<name>.py`. A draft with problems is refused unless `force`."""
    if draft.problems and not force:
        raise ToolDefinitionError(
            f"The draft '{draft.name}' still has problems:\n" + "\n".join(f"- {p}" for p in draft.problems)
            + "\nFix the code in a %%tool cell, or draft it again."
        )
    name = check_name(draft.name)
    filename = f"<tool draft {name}>"
    linecache.cache[filename] = (len(draft.code), None, draft.code.splitlines(True), filename)
    module = types.ModuleType(f"halion_tools.{name}")  # like a loaded tools/<name>.py
    previous = sys.modules.get(module.__name__)
    sys.modules[module.__name__] = module  # pydantic resolves a model's annotations through it
    try:
        exec(compile(draft.code, filename, "exec"), module.__dict__)  # noqa: S102 - the person accepted it
    except (Exception, SystemExit) as exc:
        if previous is None:
            sys.modules.pop(module.__name__, None)
        else:
            sys.modules[module.__name__] = previous
        raise ToolDefinitionError(
            f"Running the draft '{name}' failed: {type(exc).__name__}: {ws.env.redact(exc)}"
        ) from None
    fn = getattr(module, name, None)
    if not inspect.isfunction(fn):
        raise ToolDefinitionError(f"The draft's code defines no function named '{name}'.")
    tool = ws.tools.register(fn, name=name, source=draft.code)
    if save:
        ws.tools.save(name)
    return tool


# -- the static check -----------------------------------------------------------------------

@dataclass
class DraftCheck:
    """Result of `check_draft`: problems block a draft, warnings ask a person to look."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    parameters: dict[str, Any] | None = None
    description: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def check_draft(code: str, name: str, env_vars: Sequence[str] = ()) -> DraftCheck:
    """Check a draft's code with `ast` only (it is never run): structure, schema, risky constructs."""
    out = DraftCheck()
    try:
        check_name(name)
    except HalionError as exc:
        out.problems.append(str(exc))
    bad_env = [v for v in env_vars if not _ENV_NAME.fullmatch(v)]
    if bad_env:
        out.problems.append("env_vars must be environment variable names; not valid: "
                            + ", ".join(repr(v[:40]) for v in bad_env))
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        out.problems.append(f"the code does not parse: {exc.msg} (line {exc.lineno})")
        return out
    except ValueError as exc:  # null bytes
        out.problems.append(f"the code does not parse: {exc}")
        return out
    nodes = list(ast.walk(tree))  # walked once, shared by every check below
    names = _Names.of(tree, nodes)
    fn = _the_function(tree, name, out.problems)
    if fn is not None:
        _check_signature(fn, out.problems)
        if not (ast.get_docstring(fn) or "").strip():
            out.problems.append(f"function '{fn.name}' has no docstring; add a one-line summary and an "
                                "Args: section describing each parameter")
        if not out.problems:
            _build_schema(fn, names, out)
    _check_undefined(nodes, names, out.problems)
    out.warnings += _risky(tree, nodes, names, code, env_vars)
    return out


def _the_function(tree: ast.Module, name: str, problems: list[str]) -> ast.FunctionDef | None:
    functions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    public = [f for f in functions if not f.name.startswith("_")]
    if not public:
        problems.append(f"the code defines no public function; define one function named '{name}' "
                        "(helpers start with '_')")
        return None
    if len(public) > 1:
        problems.append(f"the code defines {len(public)} public functions ({', '.join(f.name for f in public)}); "
                        f"keep exactly one, '{name}', and prefix helpers with '_'")
    fn = next((f for f in public if f.name == name), None)
    if fn is None:
        if len(public) == 1:
            problems.append(f"the function is named '{public[0].name}' but the tool's name is '{name}'; "
                            "use the same name for both")
        else:
            problems.append(f"no public function is named '{name}'")
        return None
    if isinstance(fn, ast.AsyncFunctionDef):
        problems.append(f"'{name}' is an async function; tools are plain functions ('def', not 'async def')")
        return None
    return fn


def _check_signature(fn: ast.FunctionDef, problems: list[str]) -> None:
    a = fn.args
    for p in a.posonlyargs:
        problems.append(f"parameter '{p.arg}' is positional-only; the model passes arguments by name "
                        "(remove the '/')")
    if a.vararg:
        problems.append(f"parameter '*{a.vararg.arg}' is not supported; name each parameter")
    if a.kwarg:
        problems.append(f"parameter '**{a.kwarg.arg}' is not supported; name each parameter")
    for p in a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]:
        if p.annotation is None:
            problems.append(f"parameter '{p.arg}' has no type hint; add one, e.g. '{p.arg}: str'")


# -- names, imports and the annotation interpreter ------------------------------------------

def _typing_names(*names: str) -> dict[str, Any]:
    return {f"{mod}.{n}": getattr(typing, n) for mod in ("typing", "typing_extensions") for n in names
            if hasattr(typing, n)}


_SAFE: dict[str, Any] = {
    **{f"builtins.{t.__name__}": t for t in (str, int, float, bool, bytes, list, dict, tuple, set, frozenset)},
    **_typing_names("Any", "Optional", "Union", "Literal", "Annotated", "List", "Dict", "Tuple", "Set",
                    "FrozenSet", "Sequence", "Mapping", "Iterable", "Required", "NotRequired"),
    **{f"collections.abc.{n}": getattr(_abc, n) for n in ("Sequence", "Mapping", "Iterable")},
    **{f"datetime.{n}": getattr(_dt, n) for n in ("datetime", "date", "time", "timedelta")},
    "decimal.Decimal": decimal.Decimal,
    "uuid.UUID": uuid.UUID,
    "pathlib.Path": pathlib.Path,
    "pydantic.Field": Field,
}
_SAFE_IDS = {id(v) for v in _SAFE.values()}
_MODEL_BASES = {"pydantic.BaseModel"}
_TYPEDDICT_BASES = {"typing.TypedDict", "typing_extensions.TypedDict"}
_ENUM_BASES = {"enum.Enum": enum.Enum, "enum.IntEnum": enum.IntEnum, "enum.StrEnum": enum.StrEnum}
_MIXINS = {"builtins.str": str, "builtins.int": int}


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_NAMED = (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)


class _Unsafe(Exception):
    """An expression the interpreter will not evaluate; the message says which."""


@dataclass
class _Names:
    """What the draft's top-level imports bind, and the names it defines anywhere."""

    aliases: dict[str, str]
    """local name → qualified name, from every import in the code (read, not run)."""
    top_aliases: dict[str, str]
    """The same for top-level imports only: what an annotation can see."""
    classes: dict[str, ast.ClassDef]
    bound: set[str]
    """Every name the code binds anywhere (imports, definitions, assignments, parameters)."""
    top_bound: set[str]
    """Names bound at module level: what could shadow a builtin in an annotation."""
    star_import: bool

    @classmethod
    def of(cls, tree: ast.Module, nodes: list[ast.AST]) -> _Names:
        aliases: dict[str, str] = {}
        top: dict[str, str] = {}
        bound: set[str] = set()
        star = False
        top_nodes = set(map(id, tree.body))
        for node in nodes:
            kind = type(node)
            if kind is ast.Name:  # the commonest node first: this loop is most of the check's time
                if type(node.ctx) is not ast.Load:  # type: ignore[attr-defined]
                    bound.add(node.id)  # type: ignore[attr-defined]
            elif kind is ast.arg:
                bound.add(node.arg)  # type: ignore[attr-defined]
            elif kind is ast.Import or kind is ast.ImportFrom:
                found = _import_aliases(node)  # type: ignore[arg-type]
                if found is None:
                    star = True
                    continue
                aliases.update(found)
                bound.update(found)
                if id(node) in top_nodes:
                    top.update(found)
            elif kind in _DEFINITIONS or kind in _NAMED and getattr(node, "name", None):
                bound.add(node.name)  # type: ignore[attr-defined]
            elif kind is ast.Global or kind is ast.Nonlocal:
                bound.update(node.names)  # type: ignore[attr-defined]
            elif kind is ast.MatchMapping and node.rest:  # type: ignore[attr-defined]
                bound.add(node.rest)  # type: ignore[attr-defined]
        classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
        top_bound = set(top) | {n.name for n in tree.body
                                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        for stmt in tree.body:
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                top_bound |= {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        return cls(aliases, top, classes, bound, top_bound, star)

    def qualify(self, node: ast.AST, *, top_level: bool = False) -> str | None:
        """The dotted name an expression like `sp.run` or `Path` refers to, or None."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        table, bound = (self.top_aliases, self.top_bound) if top_level else (self.aliases, self.bound)
        if node.id in table:
            head = table[node.id]
        elif node.id in bound:
            return None  # a local variable, parameter, function or class of the draft
        elif hasattr(builtins, node.id):
            head = f"builtins.{node.id}"
        else:
            return None
        return ".".join([head, *reversed(parts)])


def _import_aliases(node: ast.Import | ast.ImportFrom) -> dict[str, str] | None:
    out: dict[str, str] = {}
    if isinstance(node, ast.Import):
        for a in node.names:
            if a.asname:
                out[a.asname] = a.name
            else:  # `import os.path` binds `os`
                head = a.name.split(".")[0]
                out[head] = head
        return out
    if node.level:  # relative imports name nothing we know
        return {a.asname or a.name: f".{a.name}" for a in node.names}
    for a in node.names:
        if a.name == "*":
            return None
        out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


class _Annotations:
    """Evaluates annotation expressions over the whitelist and the draft's own classes."""

    def __init__(self, names: _Names) -> None:
        self.names = names
        self.built: dict[str, Any] = {}
        self.building: set[str] = set()

    def type(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            if node.value is None:
                return None
            if isinstance(node.value, str):  # a forward reference / PEP 563 string
                try:
                    return self.type(ast.parse(node.value.strip(), mode="eval").body)
                except SyntaxError:
                    raise _Unsafe(repr(node.value)) from None
            raise _Unsafe(repr(node.value))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            left, right = self._none(self.type(node.left)), self._none(self.type(node.right))
            try:
                return left | right
            except TypeError:
                return typing.Union[left, right]
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.Name) and node.id in self.names.classes and node.id not in self.names.top_aliases:
            return self._class(self.names.classes[node.id])
        qualified = self.names.qualify(node, top_level=True)
        if qualified in _SAFE and qualified != "pydantic.Field":
            return _SAFE[qualified]
        raise _Unsafe(ast.unparse(node))

    @staticmethod
    def _none(value: Any) -> Any:
        return type(None) if value is None else value

    def _subscript(self, node: ast.Subscript) -> Any:
        base = self.type(node.value)
        items = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base is typing.Literal:
            return typing.Literal[tuple(self._literal_value(i) for i in items)]
        if base is typing.Annotated:
            if len(items) < 2:
                raise _Unsafe(ast.unparse(node))
            return typing.Annotated[(self.type(items[0]), *map(self._metadata, items[1:]))]
        if not (isinstance(base, type) or id(base) in _SAFE_IDS):
            raise _Unsafe(ast.unparse(node))
        args = tuple(... if isinstance(i, ast.Constant) and i.value is Ellipsis else self._none(self.type(i))
                     for i in items)
        try:
            return base[args if len(args) > 1 else args[0]]
        except TypeError as exc:
            raise _Unsafe(f"{ast.unparse(node)} ({exc})") from None

    def _literal_value(self, node: ast.expr) -> Any:
        value = _literal(node)
        if value is _NOT_LITERAL or not isinstance(value, (str, int, float, bool, type(None), bytes)):
            raise _Unsafe(f"Literal[...] item {ast.unparse(node)} (use constants)")
        return value

    def _metadata(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Call) and self.names.qualify(node.func, top_level=True) == "pydantic.Field":
            return self._field(node)
        raise _Unsafe(f"Annotated metadata {ast.unparse(node)}")

    def _field(self, node: ast.Call) -> Any:
        args = [_literal(a) for a in node.args]
        kwargs = {k.arg: _literal(k.value) for k in node.keywords if k.arg}
        if _NOT_LITERAL in args or _NOT_LITERAL in kwargs.values() or any(k.arg is None for k in node.keywords):
            raise _Unsafe(f"{ast.unparse(node)} (Field arguments must be literals)")
        try:
            return Field(*args, **kwargs)
        except TypeError as exc:
            raise _Unsafe(f"{ast.unparse(node)} ({exc})") from None

    def default(self, node: ast.expr) -> Any:
        value = _literal(node)
        if value is not _NOT_LITERAL:
            return value
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in self.names.classes:
            cls = self._class(self.names.classes[node.value.id])
            if isinstance(cls, type) and issubclass(cls, enum.Enum) and node.attr in cls.__members__:
                return cls[node.attr]
        raise _Unsafe(ast.unparse(node))

    def _class(self, node: ast.ClassDef) -> Any:
        if node.name in self.built:
            return self.built[node.name]
        if node.name in self.building:
            raise _Unsafe(f"{node.name} (a class that refers to itself)")
        self.building.add(node.name)
        try:
            bases = [self.names.qualify(b, top_level=True) for b in node.bases]
            if node.decorator_list:
                raise _Unsafe(f"{node.name} (a decorated class)")
            if any(b in _MODEL_BASES for b in bases):
                built = self._model(node)
            elif any(b in _TYPEDDICT_BASES for b in bases):
                built = self._typeddict(node, "typing_extensions.TypedDict" in bases)
            elif any(b in _ENUM_BASES for b in bases):
                built = self._enum(node, bases)
            else:
                raise _Unsafe(f"{node.name} (only pydantic models, TypedDicts and Enums defined in the cell "
                              "can be read without running it)")
        finally:
            self.building.discard(node.name)
        self.built[node.name] = built
        return built

    def _fields(self, node: ast.ClassDef) -> list[tuple[str, Any, Any]]:
        fields: list[tuple[str, Any, Any]] = []
        for stmt in node.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                if isinstance(stmt.annotation, ast.Name) and stmt.annotation.id == "ClassVar":
                    continue
                if stmt.value is None:
                    default: Any = ...
                elif isinstance(stmt.value, ast.Call) and self.names.qualify(stmt.value.func, top_level=True) == "pydantic.Field":
                    default = self._field(stmt.value)
                else:
                    default = self.default(stmt.value)
                fields.append((stmt.target.id, self.type(stmt.annotation), default))
            elif isinstance(stmt, (ast.Expr, ast.Pass)) and (isinstance(stmt, ast.Pass) or isinstance(stmt.value, ast.Constant)):
                continue  # docstring, `...`, pass
            elif isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "model_config" for t in stmt.targets):
                continue
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue  # methods do not change the schema of a plain data class
            else:
                raise _Unsafe(f"{node.name} (line {stmt.lineno}: only annotated fields can be read)")
        return fields

    def _model(self, node: ast.ClassDef) -> Any:
        from pydantic import create_model

        spec = {n: (t, d) for n, t, d in self._fields(node)}
        try:
            return create_model(node.name, __doc__=ast.get_docstring(node), **spec)  # type: ignore[call-overload]
        except Exception as exc:
            raise _Unsafe(f"{node.name} ({exc})") from None

    def _typeddict(self, node: ast.ClassDef, extensions: bool) -> Any:
        total = True
        for kw in node.keywords:
            if kw.arg == "total" and isinstance(kw.value, ast.Constant):
                total = bool(kw.value.value)
        fields = {n: t for n, t, d in self._fields(node)}
        if extensions:
            import typing_extensions

            built = typing_extensions.TypedDict(node.name, fields, total=total)  # type: ignore[operator]
        else:  # as the draft says, even where pydantic will refuse it (Python < 3.12)
            built = typing.TypedDict(node.name, fields, total=total)  # type: ignore[operator]
        built.__doc__ = ast.get_docstring(node)
        return built

    def _enum(self, node: ast.ClassDef, bases: list[str | None]) -> Any:
        members: dict[str, Any] = {}
        for stmt in node.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                value = _literal(stmt.value)
                if value is _NOT_LITERAL:
                    raise _Unsafe(f"{node.name}.{stmt.targets[0].id} (enum values must be literals)")
                members[stmt.targets[0].id] = value
            elif not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)) and not isinstance(stmt, ast.Pass):
                raise _Unsafe(f"{node.name} (line {stmt.lineno}: only NAME = literal members can be read)")
        kind = next((_ENUM_BASES[b] for b in bases if b in _ENUM_BASES), enum.Enum)
        mixin = next((_MIXINS[b] for b in bases if b in _MIXINS), None)
        try:
            if mixin is not None and kind is enum.Enum:
                return enum.Enum(node.name, members, type=mixin)  # type: ignore[call-overload]
            return kind(node.name, members)  # type: ignore[call-overload]
        except Exception as exc:
            raise _Unsafe(f"{node.name} ({exc})") from None


_NOT_LITERAL: Any = object()


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOT_LITERAL


def _stub() -> None:
    """Stands in for the draft's function: a signature and a docstring, no body."""


def _build_schema(fn: ast.FunctionDef, names: _Names, out: DraftCheck) -> None:
    interp = _Annotations(names)
    a = fn.args
    positional = a.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    params: list[inspect.Parameter] = []
    annotations: dict[str, Any] = {}
    entries = [(p, d, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p, d in zip(positional, defaults)]
    entries += [(p, d, inspect.Parameter.KEYWORD_ONLY) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    for param, default_node, kind in entries:
        assert param.annotation is not None
        try:
            annotation = interp.type(param.annotation)
        except _Unsafe as exc:
            out.problems.append(
                f"parameter '{param.arg}': its type {exc} cannot be read without running the code; use builtin "
                "types, typing names (Literal, Optional, list, dict), datetime/date, or a pydantic model, "
                "Enum or TypedDict defined in the cell")
            continue
        default: Any = inspect.Parameter.empty
        if default_node is not None:
            try:
                default = interp.default(default_node)
            except _Unsafe as exc:
                out.problems.append(f"parameter '{param.arg}': default {exc} is not a literal; use a number, "
                                    "string, True/False/None or a list/dict of those")
                continue
        annotations[param.arg] = annotation
        params.append(inspect.Parameter(param.arg, kind, default=default, annotation=annotation))
    if out.problems:
        return
    stub = types.FunctionType(_stub.__code__, {}, fn.name)
    stub.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    stub.__annotations__ = annotations
    stub.__doc__ = ast.get_docstring(fn)
    try:
        spec = describe_function(stub, fn.name)
    except ToolDefinitionError as exc:
        out.problems.append(str(exc).removeprefix(f"Tool '{fn.name}': "))
        return
    except Exception as exc:  # pydantic refusing an odd but whitelisted combination
        out.problems.append(f"the parameters cannot become a JSON schema ({type(exc).__name__}: {exc})")
        return
    out.parameters = spec.parameters
    out.description = spec.description
    if not spec.description:
        out.problems.append(f"the docstring of '{fn.name}' has no summary line; start it with one sentence "
                            "saying what the tool does")


def _check_undefined(nodes: list[ast.AST], names: _Names, problems: list[str]) -> None:
    """Names the code reads that nothing in the cell binds and builtins do not have."""
    if names.star_import:
        return
    missing: dict[str, int] = {}
    for node in nodes:
        if (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in names.bound
                and not hasattr(builtins, node.id) and node.id not in ("__name__", "__file__", "__doc__")):
            missing.setdefault(node.id, node.lineno)
    for name, line in missing.items():
        problems.append(f"'{name}' is used (line {line}) but never imported or defined in the cell; "
                        "put the imports the tool needs at the top of the code")


# -- risky constructs -----------------------------------------------------------------------

_RISK_LABELS = {
    "subprocess": "runs other programs",
    "eval": "evaluates code built at run time",
    "delete": "deletes files",
    "network": "reaches the network",
}
_MODULE_RISKS: dict[str, str | None] = {
    "subprocess": "subprocess", "pty": "subprocess", "multiprocessing": "subprocess",
    "socket": "network", "urllib": "network", "urllib.parse": None, "urllib3": "network",
    "requests": "network", "httpx": "network", "httpx2": "network", "http.client": "network",
    "aiohttp": "network", "ftplib": "network", "smtplib": "network", "telnetlib": "network",
    "websocket": "network", "websockets": "network", "paramiko": "network", "xmlrpc": "network",
}
_CALL_RISKS = {
    "os.system": "subprocess", "os.popen": "subprocess", "os.fork": "subprocess", "os.forkpty": "subprocess",
    "os.posix_spawn": "subprocess", "os.posix_spawnp": "subprocess", "os.startfile": "subprocess",
    "builtins.eval": "eval", "builtins.exec": "eval", "builtins.compile": "eval", "builtins.__import__": "eval",
    "importlib.import_module": "eval", "importlib.__import__": "eval",
    "os.remove": "delete", "os.unlink": "delete", "os.rmdir": "delete", "os.removedirs": "delete",
    "shutil.rmtree": "delete", "os.truncate": "delete",
}
_CALL_PREFIX_RISKS = {"os.exec": "subprocess", "os.spawn": "subprocess"}
_DELETE_METHODS = {"unlink", "rmdir", "rmtree"}


def _risk_of(qualified: str) -> str | None:
    if qualified in _CALL_RISKS:
        return _CALL_RISKS[qualified]
    for prefix, risk in _CALL_PREFIX_RISKS.items():
        if qualified.startswith(prefix) and qualified.count(".") == 1:
            return risk
    parts = qualified.split(".")
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i])
        if key in _MODULE_RISKS:
            return _MODULE_RISKS[key]
    return None


def _risky(tree: ast.Module, nodes: list[ast.AST], names: _Names, code: str, env_vars: Sequence[str]) -> list[str]:
    found: dict[str, dict[str, int]] = {}

    def note(risk: str, what: str, line: int) -> None:
        found.setdefault(risk, {}).setdefault(what, line)

    inner: set[int] = set()  # `a.b` inside `a.b.c`: only the whole chain is looked at
    called: set[int] = set()
    chains: list[ast.Name | ast.Attribute] = []
    for node in nodes:
        kind = type(node)
        if kind is ast.Attribute:
            inner.add(id(node.value))  # type: ignore[attr-defined]
            chains.append(node)  # type: ignore[arg-type]
        elif kind is ast.Name:
            chains.append(node)  # type: ignore[arg-type]
        elif kind is ast.Call:
            called.add(id(node.func))  # type: ignore[attr-defined]
            if len(node.args) >= 2 and names.qualify(node.func) == "builtins.getattr":  # type: ignore[attr-defined]
                target, attr = names.qualify(node.args[0]), node.args[1]  # type: ignore[attr-defined]
                if target and isinstance(attr, ast.Constant) and isinstance(attr.value, str):
                    if risk := _risk_of(f"{target}.{attr.value}"):
                        note(risk, f"getattr({target}, {attr.value!r})", node.lineno)  # type: ignore[attr-defined]
        elif kind is ast.Import:
            for a in node.names:  # type: ignore[attr-defined]
                if risk := _risk_of(a.name):
                    note(risk, f"import {a.name}", node.lineno)  # type: ignore[attr-defined]
        elif kind is ast.ImportFrom and node.module and not node.level:  # type: ignore[attr-defined]
            for a in node.names:  # type: ignore[attr-defined]
                if risk := _risk_of(f"{node.module}.{a.name}"):  # type: ignore[attr-defined]
                    note(risk, f"from {node.module} import {a.name}", node.lineno)  # type: ignore[attr-defined]
    for node in chains:
        if id(node) in inner or type(node.ctx) is not ast.Load:
            continue
        qualified = names.qualify(node)
        if qualified and (risk := _risk_of(qualified)):
            note(risk, qualified.removeprefix("builtins.") + ("()" if id(node) in called else ""), node.lineno)
        elif type(node) is ast.Attribute and node.attr in _DELETE_METHODS and id(node) in called:
            note("delete", f".{node.attr}()", node.lineno)
    warnings = []
    for risk, label in _RISK_LABELS.items():
        if risk in found:
            items = sorted(found[risk].items(), key=lambda x: x[1])
            warnings.append(f"{label}: " + ", ".join(f"{what} (line {line})" for what, line in items))
    outside = env_reads_in_tree(tree, set(env_vars)) if "environ" in code or "getenv" in code else []
    named = [n for n in outside if n != DYNAMIC]
    if named:
        warnings.append("reads environment variables it does not declare: " + ", ".join(named))
    if DYNAMIC in outside:
        warnings.append("reads the environment by a computed name or as a whole (os.environ copied or "
                        "iterated); it may see every secret of the workspace")
    warnings += _runs_on_import(tree)
    return warnings


def _runs_on_import(tree: ast.Module) -> list[str]:
    """Top-level statements that do something when the cell runs (beyond imports and definitions)."""
    lines = []
    for i, node in enumerate(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Pass)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring or a bare literal
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and (node.value is None or _literal(node.value) is not _NOT_LITERAL):
            continue  # a constant
        lines.append(node.lineno)
    decorated = [f"@{ast.unparse(d)} (line {d.lineno})" for n in tree.body
                 if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                 for d in n.decorator_list if decorator_name(d) != "tool"]
    out = []
    if lines:
        out.append("runs code as soon as the cell runs, not only when the tool is called: line "
                   + ", ".join(map(str, lines)))
    if decorated:
        out.append("decorators run when the cell runs and may change the function: " + ", ".join(decorated))
    return out

