"""Bad files on disk: each is reported clearly, the rest of the workspace still works, and the bad
file is kept byte for byte (set aside at most, never overwritten blindly)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from halion_nb.errors import HalionError, StateFileError, ToolNotFoundError
from halion_nb.models import Ref, Toolchain, ToolchainStep
from halion_nb.testing import FakeOpenAI, call, reply
from halion_nb.workspace import Workspace

GOOD_TOOL = '''\
def shout(text: str) -> str:
    """Upper-case a text.

    Args:
        text: The text.
    """
    return text.upper()
'''


def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


def fresh_chain(name: str = "loud") -> Toolchain:
    return Toolchain(name=name, description="Shout.", steps=[
        ToolchainStep(id="a", tool="shout", arguments={"text": "hi"}),
        ToolchainStep(id="b", tool="shout", arguments={"text": Ref("steps.a.output")}),
    ])


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("HALION_REPLAY", "HALION_MODEL", "HALION_HOME", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "ws"


@pytest.fixture
def seeded(home: Path) -> Iterator[Workspace]:
    """A workspace on disk with one good tool file, one good chain, a status file and a log."""
    ws = Workspace(home)
    (home / "tools").mkdir(parents=True)
    (home / "tools" / "shout.py").write_text(GOOD_TOOL)
    assert ws.tools.load().loaded == ["shout"]
    ws.tools.save("shout")
    ws.chains.save(fresh_chain())
    ws.tools.set_postprocess("shout", False)
    ws.log.record("tool", name="shout", arguments={"text": "hi"}, result="HI")
    ws.log.close()
    yield ws
    ws.log.close()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, but the call log's (runs are logged: it is meant to change)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith("calls.sqlite")}


def assert_rest_works(home: Path, busy_timeout: float = 5.0) -> Workspace:
    """A fresh workspace on the folder: the good tool, the good chain, state and log all still work."""
    ws = Workspace(home)
    ws.log.busy_timeout = busy_timeout  # each write to a locked log waits this long, then is given up
    assert "shout" in ws.tools.load().loaded
    assert ws.tools.postprocess("shout") is False
    assert "loud" in ws.chains.names()
    run = ws.chains.run("loud")
    assert run.ok and run.output == "HI"
    return ws


# -- tool files ---------------------------------------------------------------------------------

def test_broken_tool_files_are_reported_by_name_kept_and_the_rest_loads(seeded: Workspace) -> None:
    tools = seeded.path / "tools"
    full = (tools / "shout.py").read_bytes()
    bad = {
        "syntax": b"def syntax(text: str) -> str:\n    return text +\n",
        "cut": full[: len(full) // 2],  # a tool file cut midway (as by a full disk)
        "raises": b"raise RuntimeError('boom at import')\n",
        "notutf8": b"def notutf8(x: int) -> int:\n    '''\xff\xfe'''\n    return x\n",
        "empty": b"",
        "nofunction": b"x = 1\n",
    }
    for name, content in bad.items():
        (tools / f"{name}.py").write_bytes(content)
    before = snapshot(seeded.path)

    ws = assert_rest_works(seeded.path)
    report = ws.tools.load()
    assert report.loaded == ["shout"]
    assert set(report.errors) == set(bad)
    assert "SyntaxError" in report.errors["syntax"] and "line 2" in report.errors["syntax"]
    assert "RuntimeError: boom at import" in report.errors["raises"]
    assert "defines no function named 'empty'" in report.errors["empty"]
    for name in bad:
        assert f"Could not load {name}: " in repr(report)
    ws.log.close()
    assert snapshot(seeded.path) == before, "loading must not change any file"


def test_saving_over_a_tool_file_that_did_not_load_keeps_the_old_file_aside(seeded: Workspace) -> None:
    broken = b"def shout(text: str) -> str:\n    return text +\n"
    path = seeded.path / "tools" / "shout.py"
    path.write_bytes(broken)
    ws = Workspace(seeded.path)
    assert "shout" in ws.tools.load().errors
    ws.tools.register(shout)
    ws.tools.save("shout")
    kept = list(path.parent.glob("shout.py.corrupt-*"))
    assert [p.read_bytes() for p in kept] == [broken]
    assert Workspace(seeded.path).tools.load().loaded == ["shout"]  # the aside copy is not a tool file
    path.write_bytes(broken)  # broken again, in the same second: the first copy must survive too
    assert "shout" in ws.tools.load().errors
    ws.tools.update_source("shout", GOOD_TOOL)
    assert sorted(p.read_bytes() for p in path.parent.glob("shout.py.corrupt-*")) == [broken, broken]
    ws.log.close()


# -- chain files --------------------------------------------------------------------------------

def test_chain_files_cut_midway_or_wrong_are_reported_kept_and_not_overwritten(seeded: Workspace,
                                                                               tmp_path: Path) -> None:
    chains = seeded.path / "chains"
    good = (chains / "loud.json").read_bytes()
    bad = {
        "cut": good[: len(good) // 2].replace(b'"loud"', b'"cut"'),
        "empty": b"",
        "notutf8": b'{"name": "notutf8", "description": "\xff"}',
        "wrongname": good.replace(b'"loud"', b'"other"'),
        "badref": good.replace(b'"loud"', b'"badref"').replace(b"steps.a.output", b"steps.a.outptu"),
        "deep": b'{"name": "deep", "steps": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        "huge": b'{"name": "huge", "inputs": [{"name": "n", "default": ' + b"9" * 5000 + b"}]}",
    }
    for name, content in bad.items():
        (chains / f"{name}.json").write_bytes(content)
    before = snapshot(seeded.path)

    ws = assert_rest_works(seeded.path)
    report = ws.chains.report
    assert report.loaded == ["loud"] and set(report.errors) == set(bad)
    assert "not valid JSON" in report.errors["cut"] and "line" in report.errors["cut"]
    assert "not valid JSON" in report.errors["empty"]
    assert "cannot be read" in report.errors["notutf8"]
    assert "holds the chain 'other'" in report.errors["wrongname"]
    assert "steps.a.outptu" in report.errors["badref"]
    assert "nested too deeply" in report.errors["deep"]
    assert "not valid JSON" in report.errors["huge"]
    with pytest.raises(ToolNotFoundError, match="could not be loaded"):
        ws.chains.get("cut")
    assert "cut" in repr(ws.chains)

    with pytest.raises(StateFileError, match="was not overwritten"):
        ws.chains.save(fresh_chain("cut"))
    for name in set(bad) - {"wrongname"}:  # importing a broken file from elsewhere: refused, nothing written
        outside = tmp_path / "shared" / f"{name}.json"
        outside.parent.mkdir(exist_ok=True)
        outside.write_bytes(bad[name])
        with pytest.raises(HalionError):
            ws.chains.import_(outside)
    assert snapshot(seeded.path) == before

    ws.chains.save(fresh_chain("cut"), overwrite=True)  # the person's decision: the old file is kept aside
    assert [p.read_bytes() for p in chains.glob("cut.json.corrupt-*")] == [bad["cut"]]
    assert ws.chains.get("cut").name == "cut" and ws.chains.load().errors.keys() == set(bad) - {"cut"}
    ws.log.close()


# -- the status file ----------------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"", b"{", b"[]", b'{"shout": {"active": "maybe"}}', b"\xff\xfe", b"[" * 5000],
                         ids=["empty", "cut", "list", "bad-value", "not-utf8", "deep"])
def test_an_unreadable_status_file_means_all_active_and_is_kept(seeded: Workspace, content: bytes) -> None:
    status = seeded.path / ".halion" / "tool_status.json"
    status.write_bytes(content)
    ws = Workspace(seeded.path)
    ws.tools.load()
    assert ws.tools.is_active("shout") is True and ws.tools.postprocess("shout") is True
    assert ws.tools.manager.problem and "could not be read" in ws.tools.manager.problem
    assert ws.chains.run("loud").ok
    assert status.read_bytes() == content
    ws.tools.disable("shout")  # the next change sets the bad file aside and starts a good one
    assert [p.read_bytes() for p in status.parent.glob("tool_status.json.corrupt-*")] == [content]
    assert json.loads(status.read_text()) == {"shout": {"active": False, "postprocess": True}}
    assert ws.tools.manager.problem is None
    ws.log.close()


def test_a_status_file_broken_twice_in_a_row_keeps_both_copies(seeded: Workspace) -> None:
    status = seeded.path / ".halion" / "tool_status.json"
    ws = Workspace(seeded.path)
    ws.tools.load()
    for content in (b"first broken", b"second broken"):
        status.write_bytes(content)
        ws.tools.enable("shout")
    kept = sorted(p.read_bytes() for p in status.parent.glob("tool_status.json.corrupt-*"))
    assert kept == [b"first broken", b"second broken"]
    ws.log.close()


# -- the call log -------------------------------------------------------------------------------

LOCKER = textwrap.dedent('''
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    if sys.argv[2] == "exclusive":
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO calls (ts, kind, name) VALUES ('2026-01-01T00:00:00+00:00', 'tool', 'from_the_locker')")
    print("locked", flush=True)
    sys.stdin.readline()
    conn.execute("COMMIT")
    conn.close()
''')


@pytest.fixture
def locker(seeded: Workspace) -> Iterator[Any]:
    procs: list[subprocess.Popen[str]] = []

    def start(mode: str = "write") -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(seeded.log.path), mode],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.wait(10) == 0


def test_a_log_locked_by_another_process_gives_a_clear_message_and_nothing_else_breaks(
        seeded: Workspace, locker: Any, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-secret-key-long")
    inode = seeded.log.path.stat().st_ino
    proc = locker("write")
    ws = assert_rest_works(seeded.path, busy_timeout=0.3)  # the chain run could not be logged: it ran anyway
    with pytest.raises(StateFileError) as caught:
        ws.log.record("tool", name="shout")
    message = str(caught.value)
    assert "locked by another process" in message and "database is locked" not in message
    assert [r.name for r in ws.log.recent(5)] == ["shout"]  # WAL: reading goes on while another writes

    fake_openai.script(reply(tool_calls=[call("shout", {"text": "hey"})]), reply("It says HEY."))
    ws.tools.set_postprocess("shout", True)
    result = ws.chat("shout hey")
    assert result.text == "It says HEY." and result.tool_calls[0].result == "HEY"

    release(proc)
    ws.log.record("tool", name="after")
    names = [r.name for r in ws.log.recent(10)]
    assert names[0] == "after" and "from_the_locker" in names and "shout" in names
    assert seeded.log.path.stat().st_ino == inode, "the log file was never replaced"
    ws.log.close()


def test_an_exclusively_locked_log_refuses_reads_clearly_too(seeded: Workspace, locker: Any) -> None:
    proc = locker("exclusive")
    ws = Workspace(seeded.path)
    ws.log.busy_timeout = 0.3
    for attempt in (lambda: ws.log.recent(5), lambda: ws.log.count(), lambda: ws.log.record("tool", name="x")):
        with pytest.raises(StateFileError, match="locked by another process"):
            attempt()
    ws.tools.load()
    assert ws.chains.run("loud").ok
    release(proc)
    assert ws.log.count(tool="from_the_locker") == 1
    ws.log.close()


@pytest.mark.parametrize("how", ["garbage", "cut", "zeroed-header"])
def test_a_corrupt_log_is_reported_kept_and_the_rest_works(seeded: Workspace, how: str) -> None:
    db = seeded.log.path
    for i in range(300):
        seeded.log.record("tool", name="shout", arguments={"i": i}, result="x" * 100)
    seeded.log.close()
    data = db.read_bytes()
    content = {"garbage": os.urandom(8192), "cut": data[: len(data) // 2],
               "zeroed-header": b"\0" * 100 + data[100:]}[how]
    db.write_bytes(content)
    for extra in db.parent.glob("calls.sqlite-*"):
        extra.unlink()
    ws = assert_rest_works(seeded.path)
    for attempt in (lambda: ws.log.recent(5), lambda: ws.log.record("tool", name="x")):
        with pytest.raises(StateFileError, match="not a readable SQLite database|could not be used") as caught:
            attempt()
        assert "Move it aside" in str(caught.value) or "could not be used" in str(caught.value)
    ws.log.close()
    assert db.read_bytes() == content


# -- the secrets file ---------------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"GOOD=1\nthis line has no equals sign\n", b"\xff\xfeA=1\n"])
def test_an_unreadable_secrets_file_is_named_and_kept(seeded: Workspace, content: bytes) -> None:
    """Secrets that cannot be read cannot be redacted either: the workspace refuses to open, saying why."""
    env = seeded.path / ".halion" / ".env"
    env.write_bytes(content)
    with pytest.raises(StateFileError, match="secrets file") as caught:
        Workspace(seeded.path)
    assert str(env) in str(caught.value)
    assert env.read_bytes() == content
