"""Shared by every test: the fake-server plugin, and an environment given back after each test."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from halion_nb.testing import FakeOpenAI
from halion_nb.workspace import Workspace

pytest_plugins = ["halion_nb.testing.pytest_plugin"]


@pytest.fixture(autouse=True)
def environ_restored() -> Iterator[None]:
    """`ws.env.set` writes os.environ too: give each test back the environment it started with."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def served_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> Iterator[Workspace]:
    """A fresh workspace whose model is the fake server, with the SDK's retries off."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-key-for-tests")
    monkeypatch.delenv("HALION_REPLAY", raising=False)
    monkeypatch.delenv("HALION_MODEL", raising=False)
    w = Workspace(tmp_path, model="gpt-test")
    w.max_retries = 0
    yield w
    w.log.close()
