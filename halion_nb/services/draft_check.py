"""Check a tool draft without running it: one typed, documented function, its schema, names it uses, risks.

`check_draft` reads the code with `ast` only. The schema is built the way `describe_function`
builds it for a real function, from a stub whose signature holds the annotations that
`draft_annotations` evaluates (a whitelist interpreter); risky constructs come from `draft_risks`.
"""
from __future__ import annotations

import ast
import builtins
import inspect
import re
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.naming import check_name
from ..core.tool_schema import describe_function
from ..errors import HalionError, ToolDefinitionError
from .draft_annotations import Annotations, Names, Unsafe
from .draft_risks import risks

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What an environment variable's name may be."""


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
    bad_env = [v for v in env_vars if not ENV_NAME.fullmatch(v)]
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
    names = Names.of(tree, nodes)
    fn = _the_function(tree, name, out.problems)
    if fn is not None:
        _check_signature(fn, out.problems)
        if not (ast.get_docstring(fn) or "").strip():
            out.problems.append(f"function '{fn.name}' has no docstring; add a one-line summary and an "
                                "Args: section describing each parameter")
        if not out.problems:
            _build_schema(fn, names, out)
    _check_undefined(nodes, names, out.problems)
    out.warnings += risks(tree, nodes, names, code, env_vars)
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


def _stub() -> None:
    """Stands in for the draft's function: a signature and a docstring, no body."""


def _build_schema(fn: ast.FunctionDef, names: Names, out: DraftCheck) -> None:
    interp = Annotations(names)
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
        except Unsafe as exc:
            out.problems.append(
                f"parameter '{param.arg}': its type {exc} cannot be read without running the code; use builtin "
                "types, typing names (Literal, Optional, list, dict), datetime/date, or a pydantic model, "
                "Enum or TypedDict defined in the cell")
            continue
        default: Any = inspect.Parameter.empty
        if default_node is not None:
            try:
                default = interp.default(default_node)
            except Unsafe as exc:
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


def _check_undefined(nodes: list[ast.AST], names: Names, problems: list[str]) -> None:
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
