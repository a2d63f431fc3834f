"""What in a draft a person should look at before running it: other programs, eval, deletes, network, env reads."""
from __future__ import annotations

import ast
from collections.abc import Sequence

from ..core.env_detection import DYNAMIC, env_reads_in_tree
from ..core.tool_files import decorator_name
from .draft_annotations import NOT_LITERAL, Names, literal

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


def risks(tree: ast.Module, nodes: list[ast.AST], names: Names, code: str, env_vars: Sequence[str]) -> list[str]:
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
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Pass)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring or a bare literal
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and (node.value is None or literal(node.value) is not NOT_LITERAL):
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
