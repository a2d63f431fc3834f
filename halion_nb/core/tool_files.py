"""Tool ⇄ `tools/<name>.py`: a file that imports and runs without halion_nb."""
from __future__ import annotations

import ast
import builtins
import enum
import inspect
import linecache
import os
import pprint
import symtable
import sys
import textwrap
import types
from typing import TYPE_CHECKING, Any, Callable

from ..errors import ToolDefinitionError
from .env_manager import looks_secret
from .redaction import can_be_secret

if TYPE_CHECKING:
    from .tool import Tool

_DECORATORS_TO_DROP = {"tool"}


def function_source(fn: Callable[..., Any]) -> str | None:
    """The function's own source without halion's `@tool` decorator, or None if unavailable."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None
    try:
        node = ast.parse(source).body[0]
    except (SyntaxError, IndexError):  # a lambda's source is an expression fragment
        return None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    if node.decorator_list:
        kept = [d for d in node.decorator_list if decorator_name(d) not in _DECORATORS_TO_DROP]
        if len(kept) != len(node.decorator_list):
            lines = source.splitlines()
            start = node.decorator_list[0].lineno - 1
            first_def_line = node.lineno - 1
            kept_lines = [ast.get_source_segment(source, d) for d in kept]
            source = "\n".join(lines[:start] + [f"@{k}" for k in kept_lines] + lines[first_def_line:])
    return source


def tool_function_name(code: str, wanted: str | None = None) -> str:
    """The function `code` makes a tool: `wanted` if the code defines it, else its one public function."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise ToolDefinitionError(f"the code cannot be read as Python (line {exc.lineno}: {exc.msg}).") from None
    functions = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if wanted in functions:
        return wanted
    public = [f for f in functions if not f.startswith("_")]
    if len(public) == 1:
        return public[0]
    if not public:
        raise ToolDefinitionError("the code defines no public function; write one typed, docstringed function.")
    raise ToolDefinitionError(
        f"the code defines several public functions ({', '.join(public)}); "
        "name the one to use (%%tool --name), or prefix helpers with '_'."
    )


def decorator_name(node: ast.expr) -> str:
    """The last name of a decorator expression: `tool` for `@halion_nb.tool(...)`."""
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def strip_schema(source: str) -> str:
    """Source without its top-level `schema = {...}` assignment (regenerated on every save)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    for node in reversed(tree.body):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "schema" for t in node.targets):
            del lines[node.lineno - 1 : node.end_lineno]
    return "\n".join(lines).strip() + "\n"


def render_tool_file(tool: Tool) -> str:
    """Text of `tools/<name>.py`: imports the code needs, the code, and the `schema` literal."""
    if tool.source is None:
        raise ToolDefinitionError(
            f"Tool '{tool.name}' has no source code to save (it was defined where Python keeps no source). "
            "Define it in a %%tool cell or a .py file."
        )
    _check_own_code(tool)
    body = strip_schema(tool.source)
    if not any(tool.name in _bound_names(node) for node in ast.parse(body).body):  # `--name` differs from the def
        body = f"{body.rstrip()}\n\n{tool.name} = {tool.function.__name__}\n"
    preamble = _missing_definitions(body, tool.function)
    schema = pprint.pformat(tool.schema, indent=1, width=100, sort_dicts=False)
    parts = [*preamble, body.rstrip(), f"schema = {schema}"]
    text = "\n\n".join(p for p in parts if p) + "\n"
    if variable := secret_in(text):
        line = next(i for i, row in enumerate(text.splitlines(), 1) if secret_in(row) == variable)
        raise ToolDefinitionError(
            f"Tool '{tool.name}': its file would hold the value of the environment variable {variable} "
            f"(line {line}); a tool file never holds a secret. Read it in the tool with os.environ[{variable!r}]."
        )
    compile(text, f"{tool.name}.py", "exec")
    return text


def environment_variable_of(value: str) -> str | None:
    """The environment variable whose value `value` is (a secret-looking name first), if any.

    Short values are left alone unless the variable's name says it is a secret: `"1"` or
    `"en"` being some variable's value says nothing about where a constant came from.
    """
    if not value or not can_be_secret(value):
        return None
    found = sorted((not looks_secret(k), k) for k, v in os.environ.items()
                   if v == value and (looks_secret(k) or len(value) >= _MIN_PLAIN))
    return found[0][1] if found else None


def secret_in(text: str) -> str | None:
    """The secret-looking environment variable whose value appears in `text` (as is or escaped).

    Values shorter than 8 characters are only matched whole (environment_variable_of): a
    password `test` says nothing about the word "test" in a tool's code.
    """
    for key, value in sorted(os.environ.items()):
        if (looks_secret(key) and len(value) >= _MIN_PLAIN and can_be_secret(value)
                and (value in text or repr(value)[1:-1] in text)):
            return key
    return None


_MIN_PLAIN = 8


def _check_own_code(tool: Tool) -> None:
    """Refuse, in one line, code a `.py` file cannot hold: IPython syntax, a closure's variables."""
    assert tool.source is not None
    try:
        compile(tool.source, f"{tool.name}.py", "exec", dont_inherit=True)  # top-level `await` too
    except SyntaxError as exc:
        magic = next((f"line {i}: {line.strip()}" for i, line in enumerate(tool.source.splitlines(), 1)
                      if line.lstrip().startswith(("%", "!"))), None)
        if magic:
            raise ToolDefinitionError(
                f"Tool '{tool.name}': its cell holds IPython syntax ({magic}), which a plain .py file cannot run. "
                "Move those lines to another cell and save again."
            ) from None
        raise ToolDefinitionError(
            f"Tool '{tool.name}': its source cannot be a Python file (line {exc.lineno}: {exc.msg})."
        ) from None
    target = inspect.unwrap(tool.function)
    free = getattr(getattr(target, "__code__", None), "co_freevars", ())
    if free:
        raise ToolDefinitionError(
            f"Tool '{tool.name}' is made inside another function and uses its {', '.join(map(repr, free))}, "
            "which a file cannot hold. Define the tool at the top level of a cell."
        )


def _missing_definitions(body: str, fn: Callable[..., Any]) -> list[str]:
    """Import lines and notebook-defined helpers for names the body uses but does not define.

    Helpers (functions, classes, literal constants from earlier cells) are copied in, and
    what they use in turn is resolved the same way. A notebook global wins over a builtin
    of the same name, as it did in the notebook.
    """
    imports: set[str] = set()
    helpers: dict[str, str] = {}
    needs: dict[str, list[str]] = {}
    defined: set[str] = set()
    body_bound: set[str] = set()
    pending: list[tuple[str, str, dict[str, Any]]] = [("", body, getattr(inspect.unwrap(fn), "__globals__", {}))]
    while pending:
        owner, code, scope = pending.pop()
        tree = ast.parse(code)
        bound, reads, eager, quoted, global_writes = _module_names(code, tree)
        if owner:
            defined |= bound
        else:
            body_bound = bound
        needs[owner] = [name for name in sorted(reads) if name in helpers]
        star = any(a.name == "*" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names)
        imports |= _submodule_imports(tree, scope)
        for name in sorted(reads):
            if name in defined or (name.startswith("__") and name.endswith("__")):
                continue
            if name in body_bound and not (owner and name in eager):
                # The body binds it, but helpers come first in the file: they get the modules it imports.
                if owner and name in scope and (line := _import_line(name, scope[name])):
                    imports.add(line)
                continue
            if name not in scope or scope[name] is getattr(builtins, name, _ABSENT):
                if hasattr(builtins, name) or name in global_writes or name in quoted or star:
                    continue  # a builtin; a global a function sets; a word in a string; `from x import *`
                raise ToolDefinitionError(
                    f"Tool '{fn.__name__}' uses '{name}', which is not defined where the tool was made "
                    "(an exported %%tool cell sees only the imports of earlier cells). "
                    "Define or import it in the %%tool cell."
                )
            value = scope[name]
            if line := _import_line(name, value):
                imports.add(line)
            elif (helper := _helper_source(fn.__name__, name, value, scope)) is not None:
                helpers[name] = helper
                needs[owner].append(name)
                defined.add(name)
                home = getattr(inspect.unwrap(value), "__globals__", None) or scope
                pending.append((name, helper, {**home, "os": os} if helper.startswith(f"{name} = os.environ") else home))
            else:
                raise ToolDefinitionError(
                    f"Tool '{fn.__name__}' uses '{name}', defined elsewhere in the notebook as a "
                    f"{type(value).__name__} that cannot be written to a file. Define it inside the %%tool cell."
                )
    ordered: list[str] = []  # each helper after the helpers it uses (a model's field types, a base class)

    def visit(name: str) -> None:
        if name not in ordered and name not in seen:
            seen.add(name)
            for dep in needs.get(name, []):
                visit(dep)
            ordered.append(name)

    seen: set[str] = set()
    for name in needs[""]:
        visit(name)
    code = [helpers[n] for n in ordered]
    dotted = [i.removeprefix("import ") for i in imports if i.startswith("import ") and " as " not in i and "." in i]
    imports -= {f"import {m.split('.')[0]}" for m in dotted}  # `import urllib.parse` binds urllib too
    return ["\n".join(sorted(imports))] + code if imports else code


_ABSENT = object()


def _module_names(code: str, tree: ast.Module) -> tuple[set[str], set[str], set[str], set[str], set[str]]:
    """What `code` binds at module level; the module globals it reads (from any scope, its
    annotations included); those it reads while the module runs (decorators, base classes,
    defaults); those only a string annotation names (needed if they exist); and the globals
    its functions assign (`global x; x = ...`)."""
    table = symtable.symtable(code, "<tool file>", "exec")
    bound = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    eager = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    reads = set(eager)
    quoted: set[str] = set()
    global_writes: set[str] = set()
    stack = list(table.get_children())
    while stack:
        scope = stack.pop()
        stack += scope.get_children()
        for symbol in scope.get_symbols():
            if symbol.is_global() and symbol.is_referenced():
                reads.add(symbol.get_name())
            if symbol.is_declared_global() and symbol.is_assigned():
                global_writes.add(symbol.get_name())
    for node in ast.walk(tree):  # `from __future__ import annotations` hides these from symtable
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            annotations = [a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs,
                                                  args.vararg, args.kwarg] if a and a.annotation]
            annotations += [node.returns] if node.returns else []
        elif isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        for annotation in annotations:
            found, only_quoted = _names_in_annotation(annotation)
            eager |= found
            quoted |= only_quoted
    return bound, (reads | eager | quoted) - bound, eager, quoted - eager - reads, global_writes


def _names_in_annotation(node: ast.expr) -> tuple[set[str], set[str]]:
    """Names an annotation uses, and those only its strings name (`"Route"`, `list["Point"]`)."""
    names: set[str] = set()
    quoted: set[str] = set()
    stack = [node]
    while stack:
        sub = stack.pop()
        if isinstance(sub, ast.Name):
            names.add(sub.id)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            try:
                found, more = _names_in_annotation(ast.parse(sub.value.strip(), mode="eval").body)
            except SyntaxError:
                continue
            quoted |= found | more
        elif isinstance(sub, ast.Subscript):
            stack.append(sub.value)
            kind = sub.value.attr if isinstance(sub.value, ast.Attribute) else getattr(sub.value, "id", "")
            items = sub.slice.elts if isinstance(sub.slice, ast.Tuple) else [sub.slice]
            if kind == "Literal":
                continue  # values, not types
            stack += items[:1] if kind == "Annotated" else items
            if kind == "Annotated":
                stack += [n for item in items[1:] for n in ast.walk(item) if isinstance(n, ast.Name)]
        elif isinstance(sub, ast.Call):  # Field(description="..."): its strings are text
            stack += [n for n in ast.walk(sub) if isinstance(n, ast.Name)]
        else:
            stack += list(ast.iter_child_nodes(sub))
    return names, quoted - names


def _bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    return set()


def _submodule_imports(tree: ast.Module, scope: dict[str, Any]) -> set[str]:
    """`import urllib.parse` for `urllib.parse.quote(...)`: submodules the code reaches through a
    module it names that the package does not import by itself (the notebook had imported them)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        chain: list[str] = []
        while isinstance(node, ast.Attribute):
            chain.insert(0, node.attr)
            node = node.value
        module = scope.get(node.id) if chain and isinstance(node, ast.Name) else None
        if not isinstance(module, types.ModuleType):
            continue
        for depth in range(len(chain), 0, -1):
            dotted = ".".join([module.__name__, *chain[:depth]])
            if isinstance(sys.modules.get(dotted), types.ModuleType):
                found.add(f"import {dotted}")
                break
    return found


def _import_line(name: str, value: Any) -> str | None:
    """An import statement that binds `name` to `value`, if `value` comes from an importable module."""
    if isinstance(value, types.ModuleType):
        module = value.__name__
        if module == name:
            return f"import {module}"
        parent, _, last = module.rpartition(".")
        if not parent:
            return f"import {module} as {name}"
        return f"from {parent} import {last}" + ("" if last == name else f" as {name}")
    module = getattr(value, "__module__", None)
    if not module or module in ("__main__", "builtins") or module.startswith("halion_tools"):
        return None
    parts = module.split(".")
    for home in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):  # shortest public path first
        for attr in (name, getattr(value, "__name__", None)):
            if attr and getattr(sys.modules.get(home), attr, None) is value:
                return f"from {home} import {attr}" + ("" if attr == name else f" as {name}")
    return None


def _helper_source(tool: str, name: str, value: Any, scope: dict[str, Any]) -> str | None:
    """Source that binds `name` to `value` as the notebook did: a function or class the person
    defined (decorators kept), a type alias (`Unit = Literal["c", "f"]`), or a literal constant.
    None when no source can."""
    if type(value).__module__ in ("typing", "types") and not isinstance(value, types.ModuleType):
        return _alias_source(name, value, scope)
    target = inspect.unwrap(value) if callable(value) else value  # @functools.lru_cache, @wraps-style
    if isinstance(target, types.FunctionType):
        if target.__code__.co_freevars:
            raise ToolDefinitionError(
                f"Tool '{tool}' uses '{name}', a function made inside another function (it keeps "
                f"{', '.join(target.__code__.co_freevars)} from there), which a file cannot hold. "
                "Define it at the top level of a cell."
            )
        try:
            source = textwrap.dedent(inspect.getsource(value)).rstrip()
        except (OSError, TypeError):
            return None
        return _binding(name, source)
    if isinstance(value, type):
        try:
            source = textwrap.dedent(inspect.getsource(value)).rstrip()
        except (OSError, TypeError):
            source = _cell_class_source(value)
        return _binding(name, source) if source is not None else None
    if isinstance(value, str) and (variable := environment_variable_of(value)):
        return f"{name} = os.environ.get({variable!r})"  # a tool file never holds a secret
    if isinstance(value, enum.Enum) and scope.get(type(value).__name__) is type(value):
        return f"{name} = {type(value).__name__}.{value.name}"  # its class is copied in turn
    if isinstance(value, (str, bytes, int, float, complex, bool, type(None), list, tuple, dict, set)):
        text = repr(value)
        if variable := secret_in(text):
            raise ToolDefinitionError(
                f"Tool '{tool}' uses '{name}', which holds the value of the environment variable {variable}; "
                f"a tool file never holds a secret. Build it inside the tool from os.environ[{variable!r}]."
            )
        try:
            if ast.literal_eval(text) == value:
                return f"{name} = {text}"
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
    return None


def _alias_source(name: str, value: Any, scope: dict[str, Any]) -> str | None:
    """`name = <expression>` from the latest notebook cell that assigned `name`, if that
    expression still gives `value` (type aliases keep no source of their own)."""
    for entry in reversed(list(linecache.cache.values())):
        if len(entry) != 4 or entry[1] is not None or name not in "".join(entry[2]):
            continue
        text = "".join(entry[2])
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in reversed(tree.body):
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else (
                node.target if isinstance(node, ast.AnnAssign) and node.value is not None else None)
            if not (isinstance(target, ast.Name) and target.id == name):
                continue
            expression = ast.get_source_segment(text, node.value)  # type: ignore[union-attr, arg-type]
            try:
                same = eval(compile(ast.Expression(node.value), "<alias>", "eval"), dict(scope)) == value  # type: ignore[union-attr, arg-type]
            except Exception:  # the expression no longer evaluates where the tool lives
                same = False
            if same and expression:
                return f"{name} = {expression}"
            break
    return None


def _binding(name: str, source: str) -> str | None:
    """`source` (one def, class or `name = lambda ...`) made to bind `name`: `alias = helper`."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    if len(tree.body) != 1:
        return None
    node = tree.body[0]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return source if node.name == name else f"{source}\n\n{name} = {node.name}"
    if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda)
            and [t.id for t in node.targets if isinstance(t, ast.Name)] == [name]):
        return source
    return None


def _cell_class_source(cls: type) -> str | None:
    """Source of a class defined in a notebook cell, which `inspect` cannot find on Python < 3.13.

    IPython keeps each cell's code in `linecache` (with no mtime); the latest cell defining
    a class of that name is the one that made it.
    """
    for entry in reversed(list(linecache.cache.values())):
        if len(entry) != 4 or entry[1] is not None:
            continue
        text = "".join(entry[2])
        if f"class {cls.__name__}" not in text:
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in reversed(tree.body):
            if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                return textwrap.dedent("".join(entry[2][start - 1 : node.end_lineno])).rstrip()
    return None
