"""Find the environment variables a piece of Python code reads, with `ast` (never by running it)."""
from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass, field
from functools import lru_cache

DYNAMIC = "<dynamic>"

_READ_METHODS = frozenset({"get", "setdefault", "pop"})
_WRITE_METHODS = frozenset({"update", "clear", "putenv", "unsetenv"})


@dataclass
class _Scan:
    names: set[str] = field(default_factory=set)
    dynamic: bool = False


def env_vars_in_source(source: str) -> list[str]:
    """Sorted unique names the code reads through `os.environ[...]`, `.get`, `.setdefault`, `os.getenv`.

    Only string-literal names count; aliases (`import os as o`, `from os import environ as E`,
    `from os import getenv`) are followed. Raises ValueError naming the line on a syntax error.
    """
    return list(_scan(source)[0])


def env_reads_outside(source: str, declared: set[str]) -> list[str]:
    """Names the code reads that are not in `declared`, sorted, then `"<dynamic>"` if it reads
    variables by computed name or uses the whole environment (copy, iteration, `env=os.environ`)."""
    names, dynamic = _scan(source)
    out = [n for n in names if n not in declared]
    return out + [DYNAMIC] if dynamic else out


def env_reads_in_tree(tree: ast.AST, declared: set[str]) -> list[str]:
    """`env_reads_outside` for code the caller has already parsed (so it is not parsed twice)."""
    names, dynamic = _scan_tree(tree)
    out = [n for n in names if n not in declared]
    return out + [DYNAMIC] if dynamic else out


@lru_cache(maxsize=256)
def _scan(source: str) -> tuple[tuple[str, ...], bool]:
    return _scan_tree(_parse(source))


def _scan_tree(tree: ast.AST) -> tuple[tuple[str, ...], bool]:
    visitor = _EnvVisitor(_aliases(tree))
    visitor.visit(tree)
    return tuple(sorted(visitor.scan.names)), visitor.scan.dynamic


def _parse(source: str) -> ast.Module:
    try:
        return ast.parse(textwrap.dedent(source))
    except SyntaxError as e:
        raise ValueError(
            f"cannot scan the code for environment variables: syntax error on line {e.lineno}: {e.msg}"
        ) from None
    except ValueError as e:  # null bytes in the source (Python 3.11)
        raise ValueError(f"cannot scan the code for environment variables: {e}") from None


@dataclass(frozen=True)
class _Aliases:
    os: frozenset[str]
    environ: frozenset[str]
    getenv: frozenset[str]


def _aliases(tree: ast.AST) -> _Aliases:
    """Local names bound to `os`, `os.environ` and `os.getenv` anywhere in the code."""
    mods, environ, getenv = {"os"}, set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "os" or (a.name.startswith("os.") and a.asname is None):
                    mods.add(a.asname or "os")
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and not node.level:
            for a in node.names:
                if a.name == "environ":
                    environ.add(a.asname or a.name)
                elif a.name == "getenv":
                    getenv.add(a.asname or a.name)
    return _Aliases(frozenset(mods), frozenset(environ), frozenset(getenv))


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


class _EnvVisitor(ast.NodeVisitor):
    """Records literal reads; anything else touching `os.environ` marks the code dynamic."""

    def __init__(self, aliases: _Aliases) -> None:
        self.a = aliases
        self.scan = _Scan()

    def _is_environ(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.a.environ
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "environ"
            and isinstance(node.value, ast.Name)
            and node.value.id in self.a.os
        )

    def _is_getenv(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.a.getenv
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "getenv"
            and isinstance(node.value, ast.Name)
            and node.value.id in self.a.os
        )

    def _read(self, key: ast.AST | None) -> None:
        name = _literal(key)
        if name is None:
            self.scan.dynamic = True
        else:
            self.scan.names.add(name)

    @staticmethod
    def _key_arg(call: ast.Call) -> ast.AST | None:
        if call.args:
            return call.args[0]
        return next((k.value for k in call.keywords if k.arg == "key"), None)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if self._is_getenv(func):
            self._read(self._key_arg(node))
            self._visit_all(node.args, node.keywords)
            return
        if isinstance(func, ast.Attribute) and self._is_environ(func.value):
            if func.attr in _READ_METHODS:
                self._read(self._key_arg(node))
            elif func.attr not in _WRITE_METHODS:
                self.scan.dynamic = True  # keys(), items(), copy(), ...
            self._visit_all(node.args, node.keywords)
            return
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if self._is_environ(node.value):
            if isinstance(node.ctx, ast.Load):
                self._read(node.slice)
            self.visit(node.slice)
            return
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        # `"X" in os.environ` checks presence: neither a read nor a dynamic use.
        if (
            len(node.ops) == 1
            and isinstance(node.ops[0], (ast.In, ast.NotIn))
            and self._is_environ(node.comparators[0])
        ):
            if _literal(node.left) is None:
                self.scan.dynamic = True
            self.visit(node.left)
            return
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if self._is_environ(node) or self._is_getenv(node):
            self.scan.dynamic = isinstance(node.ctx, ast.Load) or self.scan.dynamic
            return  # the whole environment (or getenv itself) used as a value
        if self._is_environ(node.value):
            self.scan.dynamic = True  # e.g. `g = os.environ.get` then `g(name)`
            return
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and (
            node.id in self.a.environ or node.id in self.a.getenv
        ):
            self.scan.dynamic = True

    def _visit_all(self, args: list[ast.expr], keywords: list[ast.keyword]) -> None:
        for arg in args:
            self.visit(arg)
        for kw in keywords:
            self.visit(kw.value)
