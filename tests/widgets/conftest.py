"""Fixtures for driving the panels headless: a workspace, the fake model server, widget lookup."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from halion_nb.testing import FakeOpenAI
from halion_nb.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    for name in ("HALION_REPLAY", "HALION_MODEL", "HALION_HOME", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    w = Workspace(tmp_path / "ws", model="gpt-test")
    w.max_retries = 0
    yield w
    w.log.close()


@pytest.fixture
def live(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    """The fake server, with the SDK pointed at it."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-key-for-widget-tests")
    return fake_openai


ADD_SOURCE = (
    'def add(a: int, b: int = 2) -> int:\n    """Add two integers.\n\n'
    '    Args:\n        a: first number\n        b: second number\n    """\n    return a + b\n'
)


@pytest.fixture
def add(ws: Workspace) -> Workspace:
    """The workspace with an `add(a, b=2)` tool registered (source known, not saved)."""
    namespace: dict[str, Any] = {}
    exec(ADD_SOURCE, namespace)
    ws.tools.register(namespace["add"], source=ADD_SOURCE)
    return ws
