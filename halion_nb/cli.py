"""The `halion` command line: export tool cells, run a demo notebook."""
from __future__ import annotations

import argparse
import sys

from .errors import HalionError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="halion", description="halion_nb from a shell.")
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write every %%tool cell of a notebook to tools/*.py")
    export.add_argument("notebook")
    export.add_argument("--tools-dir", help="target folder (default: tools/ beside the notebook)")
    demo = sub.add_parser("demo", help="run a demo notebook end to end in a fresh kernel")
    demo.add_argument("name", nargs="?", default="quickstart", help="notebook name (default: quickstart)")
    demo.add_argument("--output", help="where to write the executed notebook")
    args = parser.parse_args(argv)
    try:
        if args.command == "export":
            from .notebook.cells import export_tools

            for path in export_tools(args.notebook, tools_dir=args.tools_dir):
                print(f"wrote {path}")
        else:
            from .demo import run_demo

            print(run_demo(args.name, output=args.output))
    except HalionError as exc:
        print(f"halion: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
