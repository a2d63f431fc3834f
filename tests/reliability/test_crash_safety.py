"""A writer killed with SIGKILL in the middle of saving leaves the old file or the new one, never a broken one.

A forked child saves a tool, a chain or the status file over and over, alternating two big
versions A and B, and is killed after a random short delay. After each kill the file must
parse and be exactly A or B. Temp files a killed writer leaves behind are counted (they show
the kill landed mid-write) and must not disturb loading.
"""
from __future__ import annotations

import json
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from halion_nb.core.files import atomic_write_json
from halion_nb.core.tool_manager import ToolManager
from halion_nb.core.toolchain_registry import read_chain_file
from halion_nb.models import Toolchain, ToolchainStep
from halion_nb.workspace import Workspace

TRIALS = 200
"""Kills per kind of file (tool, chain, status)."""


def kill_during(save: Callable[[bool], None], delay: float) -> None:
    """Fork a child that saves version A, B, A, B... until it is SIGKILLed `delay` seconds later."""
    pid = os.fork()
    if pid == 0:  # the writer
        code = 0
        try:
            version = False
            while True:
                version = not version
                save(version)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, "the writer failed before the kill"


def temp_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


def hammer(path: Path, save: Callable[[bool], None], parses: Callable[[Path], bool], seed: int) -> dict[str, int]:
    """Kill the writer TRIALS times; count trials, broken files and kills that landed mid-write."""
    save(True)
    a = path.read_bytes()
    save(False)
    b = path.read_bytes()
    started = time.perf_counter()
    save(True)
    # kills spread over a few saves however slow this machine is now (a fixed 25 ms window can end
    # before a loaded machine's first save reaches its write, and then no kill lands mid-write)
    window = 3 * (time.perf_counter() - started) + 0.005
    assert a != b and len(a) > 50_000 and len(b) > 50_000
    rng = random.Random(seed)
    broken = mid_write = 0
    leftovers = len(temp_files(path.parent))
    for _ in range(TRIALS):
        kill_during(save, rng.uniform(0.0, window))
        data = path.read_bytes()
        if data not in (a, b) or not parses(path):
            broken += 1
        now = len(temp_files(path.parent))
        mid_write += now > leftovers
        leftovers = now
    return {"trials": TRIALS, "broken_files": broken, "killed_mid_write": mid_write}


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.delenv("HALION_HOME", raising=False)
    w = Workspace(tmp_path / "ws")
    yield w
    w.log.close()


def big_tool_source(letter: str, lines: int) -> str:
    """A real tool whose body carries many comment lines, so that writing it takes a while."""
    notes = "\n".join(f"    # {letter} note {i}: " + letter * 40 for i in range(lines))
    return (f"def big(text: str) -> str:\n    \"\"\"Version {letter} of a big tool.\"\"\"\n{notes}\n"
            f"    return text + {letter!r}\n")


def test_killing_a_tool_save_leaves_the_old_or_the_new_file(ws: Workspace, tally: Any) -> None:
    versions = {}
    for flag, letter, lines in ((True, "A", 1500), (False, "B", 2500)):
        namespace: dict[str, Any] = {}
        source = big_tool_source(letter, lines)
        exec(source, namespace)
        versions[flag] = (namespace["big"], source)

    def save(version: bool) -> None:
        fn, source = versions[version]
        ws.tools.register(fn, name="big", source=source)
        ws.tools.save("big")

    def parses(path: Path) -> bool:
        try:
            compile(path.read_text(), str(path), "exec")
        except (SyntaxError, ValueError, UnicodeDecodeError):
            return False
        return True

    counts = hammer(ws.tools.path_of("big"), save, parses, seed=1)
    tally.add("kill_during_write", **counts)
    fresh = Workspace(ws.path)
    report = fresh.tools.load()
    assert report.loaded == ["big"] and not report.errors, "temp files of killed writers are not tool files"
    assert fresh.tools.get("big").call({"text": "x"}) in ("xA", "xB")
    assert counts["broken_files"] == 0, counts
    assert counts["killed_mid_write"] > 0, f"no kill landed mid-write; the test proves nothing: {counts}"


def big_chain(letter: str, size: int) -> Toolchain:
    return Toolchain(name="big", description=f"{letter} " * size,
                     steps=[ToolchainStep(id=f"s{i}", tool="echo", arguments={"text": f"{letter}{i}"}) for i in range(200)])


def test_killing_a_chain_save_leaves_the_old_or_the_new_file(ws: Workspace, tally: Any) -> None:
    versions = {True: big_chain("A", 40_000), False: big_chain("B", 70_000)}

    def save(version: bool) -> None:
        ws.chains.save(versions[version])

    def parses(path: Path) -> bool:
        try:
            return read_chain_file(path) in versions.values()
        except Exception:
            return False

    counts = hammer(ws.chains.registry.path_of("big"), save, parses, seed=2)
    tally.add("kill_during_write", **counts)
    fresh = Workspace(ws.path)
    assert fresh.chains.report.loaded == ["big"] and not fresh.chains.report.errors
    assert counts["broken_files"] == 0, counts
    assert counts["killed_mid_write"] > 0, f"no kill landed mid-write; the test proves nothing: {counts}"


def test_killing_a_status_update_leaves_the_old_or_the_new_file(ws: Workspace, tally: Any) -> None:
    status = ws.tools.manager.path
    long = "x" * 20_000  # long names make a big file (2 MB): a kill often lands while it is being written
    atomic_write_json(status, {f"other_{i}_{long}": {"active": i % 2 == 0, "postprocess": i % 3 == 0} for i in range(100)})

    def echo(text: str) -> str:
        """Echo."""
        return text

    ws.tools.register(echo, name="t0")

    def save(version: bool) -> None:
        ws.tools.enable("t0") if version else ws.tools.disable("t0")

    def parses(path: Path) -> bool:
        manager = ToolManager(path)
        state = manager.state(f"other_2_{long}")
        return manager.problem is None and state.active is True and not state.postprocess

    counts = hammer(status, save, parses, seed=3)
    tally.add("kill_during_write", **counts)
    ws.tools.disable("t0")  # a writer killed while holding the lock must not leave it held
    assert ws.tools.is_active("t0") is False and ws.tools.manager.problem is None
    data = json.loads(status.read_text())
    assert len(data) == 101 and data["t0"] == {"active": False, "postprocess": True}
    assert counts["broken_files"] == 0, counts
    assert counts["killed_mid_write"] > 0, f"no kill landed mid-write; the test proves nothing: {counts}"
