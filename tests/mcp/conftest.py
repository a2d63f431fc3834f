"""Shared by the MCP tests: the reference time server as a user adds it, and a misbehaving server."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Iterator

import pytest

from halion_nb.workspace import Workspace

HERE = Path(__file__).resolve().parent
FAULTY = [sys.executable, str(HERE / "faulty_server.py")]


@pytest.fixture
def time_cmd() -> list[str]:
    """`mcp-server-time`, the console script `pip install mcp-server-time` puts beside python."""
    script = Path(sys.executable).with_name("mcp-server-time")
    found = str(script) if script.exists() else shutil.which("mcp-server-time")
    assert found, "pip install mcp-server-time"
    return [found, "--local-timezone", "Europe/Madrid"]


@pytest.fixture
def faulty() -> list[str]:
    """The command of tests/mcp/faulty_server.py; add its mode: serve, exit or stall."""
    return list(FAULTY)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    w = Workspace(tmp_path / "ws", model="gpt-test")
    yield w
    w.close()
    w.log.close()
