"""What a person reads: help, summaries and error messages say true things, in words, correctly punctuated."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from pydantic import ValidationError

from halion_nb.errors import ConnectionLost, ServiceUnavailable, ToolDefinitionError
from halion_nb.models import Toolchain
from halion_nb.testing import FakeOpenAI, cut_stream, error
from halion_nb.workspace import Workspace


def halion(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("halion")
    assert exe, "`pip install -e .` installs the halion console script"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "HALION_"))}
    return subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_halion_help_names_the_cell_magic_as_it_is_typed(tmp_path: Path) -> None:
    shown = halion("--help", cwd=tmp_path).stdout + halion("export", "--help", cwd=tmp_path).stdout
    assert "%%tool cell" in shown and not re.search(r"(?<!%)%tool", shown)


def test_halion_demo_counts_in_the_singular_when_there_is_one(tmp_path: Path) -> None:
    cell = 'import halion_nb\nhalion_nb.workspace().log.record("tool", name="add", arguments={"a": 1}, result=1)'
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)]), tmp_path / "one.ipynb")
    done = halion("demo", str(tmp_path / "one.ipynb"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.match(r"one\.ipynb: 1 code cell ran in [\d.]+ s, 1 tool call\n", done.stdout), done.stdout


def test_a_bad_chain_name_is_explained_in_words_not_as_a_pattern() -> None:
    with pytest.raises(ValidationError) as info:
        Toolchain(name="what to wear", steps=[])
    assert "'what to wear' is not a name: use letters, digits and _, not starting with a digit" in str(info.value)
    assert "[A-Za-z" not in str(info.value) and "pattern" not in str(info.value)
    assert Toolchain.model_json_schema()["properties"]["name"]["pattern"], "the published schema keeps the rule"


def test_a_syntax_error_message_ends_its_sentence_once(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    with pytest.raises(ToolDefinitionError) as info:
        ws.tools.update_source(None, "def add(a: int, b: int) -> int:\n    return max(a b)\n")
    assert "Perhaps you forgot a comma? Nothing was changed." in str(info.value) and "?." not in str(info.value)


@pytest.mark.parametrize("fault", [error(500, "boom"), cut_stream()], ids=["server error", "cut stream"])
def test_service_errors_name_the_call_that_exists(served_ws: Workspace, fake_openai: FakeOpenAI, fault) -> None:
    fake_openai.script(fault)
    with pytest.raises((ServiceUnavailable, ConnectionLost)) as info:
        served_ws.chat("hi", stream=True)
    assert "ws.conversation.retry()" in str(info.value)
    assert not re.search(r"(?<!ws\.)conversation\.retry\(\)", str(info.value))
