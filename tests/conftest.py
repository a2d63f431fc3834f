"""Shared by every test: the fake-server plugin, and an environment given back after each test."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import settings

from halion_nb.testing import FakeOpenAI
from halion_nb.workspace import Workspace

pytest_plugins = ["halion_nb.testing.pytest_plugin"]

# Under CI every property test draws the same examples each run: a random draw never turns CI red.
# Loaded here, before the test modules build their settings on top of the current profile.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


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
