"""One IPython shell with halion_nb loaded, on a fresh workspace whose model is the fake server."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

import halion_nb.workspace as workspace_module
from halion_nb.testing import FakeOpenAI
from halion_nb.workspace import Workspace, use_workspace

KEY = "sk-fake-key-for-tests"


@pytest.fixture
def model() -> str:
    """The chat model the shell's workspace uses (a test module may override it)."""
    return "gpt-test"


@pytest.fixture
def ip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI, model: str) -> Iterator[Any]:
    from IPython.testing.globalipapp import get_ipython, start_ipython

    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("HALION_REPLAY", raising=False)
    monkeypatch.delenv("HALION_MODEL", raising=False)
    monkeypatch.setattr(workspace_module, "_current", None)
    ws = use_workspace(Workspace(tmp_path, model=model))
    ws.max_retries = 0
    shell = start_ipython() or get_ipython()  # one shell per process: started once, then reused
    shell.run_line_magic("load_ext", "halion_nb")
    yield shell
    ws.log.close()
