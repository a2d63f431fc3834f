"""`%%tool`: run the cell as usual, then register its public function as a tool."""
from __future__ import annotations

import shlex
from typing import Any

from ..core.tool_files import tool_function_name
from ..errors import HalionError
from .command_spec import UsageError, _Parser, fail
from .display import ToolCard

TOOL_PARSER = _Parser(prog="%%tool", add_help=False,
                      description="Run the cell and register its public function as a tool.")
TOOL_PARSER.add_argument("--name", help="tool name (default: the function's name)")
TOOL_PARSER.add_argument("--description", help="description (default: the docstring's summary)")
TOOL_PARSER.add_argument("--save", action="store_true", help="also write tools/<name>.py")
TOOL_PARSER.add_argument("--inactive", action="store_true", help="register switched off")
TOOL_PARSER.add_argument("--no-postprocess", action="store_true", help="results go to you, not back to the model")
TOOL_PARSER.add_argument("--approve", action="store_true", help="each call waits for the person's approval")


def run_tool_cell(shell: Any, line: str, cell: str) -> None:
    try:
        args = TOOL_PARSER.parse_args(shlex.split(line))
    except (UsageError, ValueError) as exc:
        fail(str(exc))
    result = shell.run_cell(cell, store_history=False)
    if not result.success:  # its traceback is already shown; the cell fails so that a notebook run stops
        fail("the cell raised an error (shown above), so no tool was registered.")
    from ..workspace import workspace

    ws = workspace()
    try:
        fn_name = tool_function_name(shell.transform_cell(cell), args.name)  # `!cmd` and `%magic` lines too
        tool = ws.tools.register(
            shell.user_ns[fn_name],
            name=args.name or fn_name,
            description=args.description,
            source=cell,
            active=False if args.inactive else None,  # no flag: keep the stored state
            postprocess=False if args.no_postprocess else None,
            approval=True if args.approve else None,
        )
        saved = ws.tools.save(tool.name) if args.save else None
    except HalionError as exc:
        fail(str(exc))
    from IPython.display import display

    display(ToolCard.of(ws, tool.name, saved=saved))
