"""Accept a tool draft: run its code (only now, on the person's request), register it and save its file."""
from __future__ import annotations

import inspect
import linecache
import sys
import types
from typing import TYPE_CHECKING

from ..core.naming import check_name
from ..errors import ToolDefinitionError

if TYPE_CHECKING:
    from ..core.tool import Tool
    from ..workspace import Workspace
    from .tool_drafts import ToolDraft


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
