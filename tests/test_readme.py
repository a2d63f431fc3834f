"""The README's promises: the two set-up commands first, and a magics reference that matches `%halion help`."""
from __future__ import annotations

import re
from pathlib import Path

from halion_nb.notebook.commands import help_text

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_magics_reference_matches_the_magics_own_help() -> None:
    block = re.search(r"<!-- magics:start -->\n```text\n(.*?)\n```\n<!-- magics:end -->", README, re.S)
    assert block, "README lost its magics reference markers"
    assert block.group(1) == help_text(), (
        "README's magics reference is out of date: paste the output of "
        "python -c 'from halion_nb.notebook.commands import help_text; print(help_text())'"
    )


def test_readme_opens_with_the_two_setup_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)\n```", README, re.S)
    assert first_block and README.index("```bash") < README.index("## ")
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert len(commands) == 2
    assert commands[0].endswith("halion demo")
    assert "pytest" in commands[1]
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "pip install -q -e \".[test]\"" in ci and "pytest" in ci


def test_the_help_lists_commands_in_one_order_whatever_was_imported_first() -> None:
    import subprocess
    import sys

    code = "import {first}; from halion_nb.notebook.commands import help_text; print(help_text())"
    outputs = {subprocess.run([sys.executable, "-c", code.format(first=first)], capture_output=True, text=True,
                              check=True, timeout=120).stdout
               for first in ("halion_nb.notebook.chain_commands", "halion_nb.notebook.version_commands",
                             "halion_nb.notebook.tool_commands")}
    assert len(outputs) == 1
