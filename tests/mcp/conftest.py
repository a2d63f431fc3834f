"""Shared by the MCP tests: the reference time server as a user adds it, and a misbehaving server."""
from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

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


@pytest.fixture
def gone() -> Callable[[int], bool]:
    """`gone(pid)`: True once process `pid` has exited (waiting up to 15 s for it to)."""
    def check(pid: int, wait: float = 15.0) -> bool:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            stat = Path(f"/proc/{pid}/stat")
            if stat.exists() and stat.read_text().split()[2] == "Z":
                return True  # exited, not yet reaped by its parent
            time.sleep(0.05)
        return False

    return check
