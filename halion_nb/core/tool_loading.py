"""Load `tools/<name>.py` as a tool: import the file on a daemon thread, bounded in time, and build the Tool."""
from __future__ import annotations

import importlib.util
import inspect
import sys
import threading
from pathlib import Path

from ..errors import ToolLoadError
from .tool import Tool
from .tool_files import strip_schema

LOAD_TIMEOUT = 10.0
"""Seconds a tool file may take to import before it is reported as a problem."""


def load_tool_file(path: Path, *, timeout: float | None = None) -> Tool:
    """Import `tools/<name>.py` and build the tool named like the file.

    The import runs on a daemon thread: a file that sleeps or loops at import is reported
    after `timeout` seconds (default LOAD_TIMEOUT) and never keeps the caller waiting longer.
    """
    name = path.stem
    text = path.read_text(encoding="utf-8")
    module_name = f"halion_tools.{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ToolLoadError(f"{path.name}: not a Python file Python can import.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    limit = LOAD_TIMEOUT if timeout is None else timeout
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        except BaseException as exc:  # reported by the caller's thread
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=run, name=f"halion load {path.name}", daemon=True)
    worker.start()
    worker.join(limit)
    failure = outcome[0] if outcome else TimeoutError(f"did not finish loading within {limit:g} s")
    if failure is not None:
        if sys.modules.get(module_name) is module:
            del sys.modules[module_name]
        if isinstance(failure, TimeoutError) and not outcome:
            raise ToolLoadError(f"{path.name}: {failure} (it sleeps or loops at import).")
        if not isinstance(failure, (Exception, SystemExit)):
            raise failure
        raise ToolLoadError(f"{path.name}: {type(failure).__name__}: {failure}") from failure
    fn = getattr(module, name, None)
    if not (callable(fn) and inspect.isfunction(inspect.unwrap(fn))):  # @functools.lru_cache keeps __wrapped__
        raise ToolLoadError(f"{path.name}: defines no function named '{name}' (file name must equal the tool name).")
    schema = getattr(module, "schema", None)
    function = schema.get("function") if isinstance(schema, dict) else None
    description = function.get("description") if isinstance(function, dict) else None  # `--description` lives here
    return Tool.from_function(
        fn, name, description=description if isinstance(description, str) else None, source=strip_schema(text)
    )
