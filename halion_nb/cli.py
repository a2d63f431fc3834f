"""The `halion` command line: export tool cells, run a demo notebook."""
from __future__ import annotations

import argparse
import sys
import warnings

from .errors import HalionError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="halion", description="halion_nb from a shell.")
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write every %%%%tool cell of a notebook to tools/*.py",  # argparse: %% is %
                            description="Write every %%tool cell of a notebook to tools/*.py.")
    export.add_argument("notebook")
    export.add_argument("--tools-dir", help="target folder (default: tools/ beside the notebook)")
    demo = sub.add_parser("demo", help="run a demo notebook end to end in a fresh kernel")
    demo.add_argument("name", nargs="?", default="quickstart", help="notebook name (default: quickstart)")
    demo.add_argument("--output", help="where to write the executed notebook")
    mcp = sub.add_parser("mcp", help="serve the workspace's active tools to MCP clients (extra [mcp])")
    mcp.add_argument("--workspace", help="workspace folder (default: $HALION_HOME, else the current directory)")
    mcp.add_argument("--transport", choices=("stdio", "http"), default="stdio", help="default: stdio")
    mcp.add_argument("--host", default="127.0.0.1", help="HTTP address to listen on (default: 127.0.0.1)")
    mcp.add_argument("--port", type=int, default=8765, help="HTTP port (default: 8765)")
    mcp.add_argument("--allow", action="append", default=[], metavar="NAME",
                     help="also serve this tool, which needs approval (repeatable)")
    args = parser.parse_args(argv)
    try:
        if args.command == "export":
            from .notebook.cells import export_tools

            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    written = export_tools(args.notebook, tools_dir=args.tools_dir)
                finally:
                    for warning in caught:
                        print(f"halion: warning: {warning.message}", file=sys.stderr)
            for path in written:
                print(f"wrote {path}")
        elif args.command == "mcp":
            from .mcp.cli import run_cli

            run_cli(args.workspace, transport=args.transport, host=args.host, port=args.port, allow=args.allow)
        else:
            from .demo import run_demo

            print(run_demo(args.name, output=args.output))
    except HalionError as exc:
        print(f"halion: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
