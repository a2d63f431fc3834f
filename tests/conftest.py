"""Shared by every test: the fake-server plugin, and an environment given back after each test."""
from __future__ import annotations

import os
from typing import Iterator

import pytest

pytest_plugins = ["halion_nb.testing.pytest_plugin"]


@pytest.fixture(autouse=True)
def environ_restored() -> Iterator[None]:
    """`ws.env.set` writes os.environ too: give each test back the environment it started with."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
