"""Evaluate a draft's annotations without running it: a small interpreter over their AST.

It knows only a whitelist of objects (builtin types, `typing` names, `Literal[...]` of constants,
`X | Y`, datetime/date/time/timedelta, Decimal, UUID, Path, `pydantic.Field(...)` with literal
arguments) plus pydantic models, TypedDicts and Enums the draft defines, rebuilt from their class
bodies the same way. Imports are read, never run: `from typing import Optional as O` only tells
the interpreter what `O` names. Defaults must be literals. An annotation outside the whitelist is
`Unsafe`: a problem, not a guess.
"""
from __future__ import annotations

import ast
import builtins
import datetime as _dt
import decimal
import enum
import pathlib
import typing
import uuid
from collections import abc as _abc
from dataclasses import dataclass
from typing import Any

from pydantic import Field


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


class Unsafe(Exception):
    """An expression the interpreter will not evaluate; the message says which."""


@dataclass
class Names:
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
    def of(cls, tree: ast.Module, nodes: list[ast.AST]) -> Names:
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


class Annotations:
    """Evaluates annotation expressions over the whitelist and the draft's own classes."""

    def __init__(self, names: Names) -> None:
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
                    raise Unsafe(repr(node.value)) from None
            raise Unsafe(repr(node.value))
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
        raise Unsafe(ast.unparse(node))

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
                raise Unsafe(ast.unparse(node))
            return typing.Annotated[(self.type(items[0]), *map(self._metadata, items[1:]))]
        if not (isinstance(base, type) or id(base) in _SAFE_IDS):
            raise Unsafe(ast.unparse(node))
        args = tuple(... if isinstance(i, ast.Constant) and i.value is Ellipsis else self._none(self.type(i))
                     for i in items)
        try:
            return base[args if len(args) > 1 else args[0]]
        except TypeError as exc:
            raise Unsafe(f"{ast.unparse(node)} ({exc})") from None

    def _literal_value(self, node: ast.expr) -> Any:
        value = literal(node)
        if value is NOT_LITERAL or not isinstance(value, (str, int, float, bool, type(None), bytes)):
            raise Unsafe(f"Literal[...] item {ast.unparse(node)} (use constants)")
        return value

    def _metadata(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Call) and self.names.qualify(node.func, top_level=True) == "pydantic.Field":
            return self._field(node)
        raise Unsafe(f"Annotated metadata {ast.unparse(node)}")

    def _field(self, node: ast.Call) -> Any:
        args = [literal(a) for a in node.args]
        kwargs = {k.arg: literal(k.value) for k in node.keywords if k.arg}
        if NOT_LITERAL in args or NOT_LITERAL in kwargs.values() or any(k.arg is None for k in node.keywords):
            raise Unsafe(f"{ast.unparse(node)} (Field arguments must be literals)")
        try:
            return Field(*args, **kwargs)
        except TypeError as exc:
            raise Unsafe(f"{ast.unparse(node)} ({exc})") from None

    def default(self, node: ast.expr) -> Any:
        value = literal(node)
        if value is not NOT_LITERAL:
            return value
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in self.names.classes:
            cls = self._class(self.names.classes[node.value.id])
            if isinstance(cls, type) and issubclass(cls, enum.Enum) and node.attr in cls.__members__:
                return cls[node.attr]
        raise Unsafe(ast.unparse(node))

    def _class(self, node: ast.ClassDef) -> Any:
        if node.name in self.built:
            return self.built[node.name]
        if node.name in self.building:
            raise Unsafe(f"{node.name} (a class that refers to itself)")
        self.building.add(node.name)
        try:
            bases = [self.names.qualify(b, top_level=True) for b in node.bases]
            if node.decorator_list:
                raise Unsafe(f"{node.name} (a decorated class)")
            if any(b in _MODEL_BASES for b in bases):
                built = self._model(node)
            elif any(b in _TYPEDDICT_BASES for b in bases):
                built = self._typeddict(node, "typing_extensions.TypedDict" in bases)
            elif any(b in _ENUM_BASES for b in bases):
                built = self._enum(node, bases)
            else:
                raise Unsafe(f"{node.name} (only pydantic models, TypedDicts and Enums defined in the cell "
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
                raise Unsafe(f"{node.name} (line {stmt.lineno}: only annotated fields can be read)")
        return fields

    def _model(self, node: ast.ClassDef) -> Any:
        from pydantic import create_model

        spec = {n: (t, d) for n, t, d in self._fields(node)}
        try:
            return create_model(node.name, __doc__=ast.get_docstring(node), **spec)  # type: ignore[call-overload]
        except Exception as exc:
            raise Unsafe(f"{node.name} ({exc})") from None

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
                value = literal(stmt.value)
                if value is NOT_LITERAL:
                    raise Unsafe(f"{node.name}.{stmt.targets[0].id} (enum values must be literals)")
                members[stmt.targets[0].id] = value
            elif not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)) and not isinstance(stmt, ast.Pass):
                raise Unsafe(f"{node.name} (line {stmt.lineno}: only NAME = literal members can be read)")
        kind = next((_ENUM_BASES[b] for b in bases if b in _ENUM_BASES), enum.Enum)
        mixin = next((_MIXINS[b] for b in bases if b in _MIXINS), None)
        try:
            if mixin is not None and kind is enum.Enum:
                return enum.Enum(node.name, members, type=mixin)  # type: ignore[call-overload]
            return kind(node.name, members)  # type: ignore[call-overload]
        except Exception as exc:
            raise Unsafe(f"{node.name} ({exc})") from None


NOT_LITERAL: Any = object()


def literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return NOT_LITERAL
