"""Versions of tools and chains: recorded on every changed save, kept apart from the call log, found by a log row's hash."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from halion_nb.core.versions import VersionNotFound, VersionStore
from halion_nb.display.printers import formats
from halion_nb.errors import StateFileError
from halion_nb.workspace import Workspace

CODE = '''def greet(name: str) -> str:
    """Say hello.

    Args:
        name: who to greet
    """
    return "Hello, " + name
'''


def _run(code: str, cwd: Path) -> str:
    """Run `code` in a fresh Python process (a kernel restarted), return its stdout."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_changed_save_is_a_version_and_an_unchanged_one_is_not(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.tools.update_source(None, CODE)
    ws.tools.save("greet")  # same content: no new version
    ws.tools.update_source("greet", CODE.replace("Hello", "Hi"), message="shorter")
    history = ws.tools.history("greet")
    assert [(v.number, v.kind, v.message) for v in history] == [(1, "tool", None), (2, "tool", "shorter")]
    assert history[0].who and history[0].hash == history[0].sha256[:12]
    assert 'return "Hi, " + name' in ws.tools.source_at("greet", 2)
    assert 'return "Hello, " + name' in ws.tools.source_at("greet", history[0].hash[:6])


def test_history_survives_a_restart_and_a_log_clear(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.tools.update_source(None, CODE)
    ws.tools.update_source("greet", CODE.replace("Hello", "Hi"))
    ws.chains.save({"name": "hello", "steps": [{"id": "g", "tool": "greet", "arguments": {"name": "Ada"}}]})
    ws.tools.invoke("greet", {"name": "Ada"})
    assert ws.log.clear() == 1
    ws.log.close()
    out = _run(f"""
        from halion_nb.workspace import Workspace
        ws = Workspace({str(tmp_path)!r})
        print(len(ws.tools.history("greet")), len(ws.chains.history("hello")), ws.log.count())
    """, tmp_path)
    assert out.split() == ["2", "1", "0"]


def test_a_call_logged_last_week_opens_the_exact_source_that_ran(tmp_path: Path) -> None:
    """A saved tool and a live notebook tool never saved: each log row's version opens the code that ran."""
    _run(f"""
        from halion_nb.workspace import Workspace
        ws = Workspace({str(tmp_path)!r})
        ws.tools.update_source(None, {CODE!r})
        ws.tools.invoke("greet", {{"name": "Ada"}})
        ns = {{}}
        live = {CODE.replace("greet", "shout").replace('"Hello, " + name', 'name.upper()')!r}
        exec(live, ns)
        ws.tools.register(ns["shout"], source=live)  # what a %%tool cell without --save does
        ws.tools.invoke("shout", {{"name": "Ada"}})
    """, tmp_path)
    with sqlite3.connect(tmp_path / ".halion" / "calls.sqlite") as db:  # the rows are a week old
        db.execute("UPDATE calls SET ts = '2026-11-24T09:00:00+00:00'")
    ws = Workspace(tmp_path)
    ws.tools.update_source("greet", CODE.replace("Hello", "Goodbye"))  # the tool changed since
    rows = {r.name: r for r in ws.log.recent(kind="tool")}
    assert rows["greet"].ts.day == 24 and rows["greet"].version
    ran = ws.tools.source_at("greet", rows["greet"].version)
    assert '"Hello, " + name' in ran and "Goodbye" not in ran
    assert ws.tools.source_at("shout", rows["shout"].version).rstrip() == (
        CODE.replace("greet", "shout").replace('"Hello, " + name', "name.upper()").rstrip())
    assert ws.tools.history("shout") == []  # a live source is not a saved version


def test_diff_and_revert(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.tools.update_source(None, CODE)
    ws.tools.update_source("greet", CODE.replace("Hello", "Hi"))
    diff = ws.tools.diff("greet")
    assert str(diff).startswith("--- greet v1 ") and '-    return "Hello, " + name' in str(diff)
    assert '+    return "Hi, " + name' in str(diff)
    html = formats(diff)["text/html"]
    assert '<span style="background:#ffebe9;color:#82071e">-    return &quot;Hello, &quot; + name</span>' in html
    assert formats(diff)["text/plain"] == str(diff)
    assert str(ws.tools.diff("greet", 2, 1)).count('+    return "Hello') == 1
    tool = ws.tools.revert("greet", 1)
    assert tool(name="Ada") == "Hello, Ada"
    history = ws.tools.history("greet")
    assert len(history) == 3 and history[2].content == history[0].content
    assert history[2].message == f"revert to v1 ({history[0].hash})"
    assert (tmp_path / "tools" / "greet.py").read_text().count("Hello, ") == 1


def test_chain_history_diff_revert(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.tools.update_source(None, CODE)
    chain = {"name": "hello", "steps": [{"id": "g", "tool": "greet", "arguments": {"name": "Ada"}}]}
    ws.chains.save(chain)
    ws.chains.save(chain)  # unchanged
    ws.chains.save({**chain, "description": "Greets Ada."}, message="describe")
    assert [v.message for v in ws.chains.history("hello")] == [None, "describe"]
    assert '+  "description": "Greets Ada."' in str(ws.chains.diff("hello"))
    assert json.loads(ws.chains.source_at("hello", 1))["description"] == ""
    ws.chains.revert("hello", 1)
    assert ws.chains.get("hello").description == ""
    assert json.loads((tmp_path / "chains" / "hello.json").read_text())["description"] == ""
    assert len(ws.chains.history("hello")) == 3


def test_unknown_versions_say_what_exists(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    with pytest.raises(VersionNotFound, match="No saved version of tool 'greet' yet"):
        ws.tools.diff("greet")
    ws.tools.update_source(None, CODE)
    with pytest.raises(VersionNotFound, match="has 1 saved version"):
        ws.tools.source_at("greet", 5)
    with pytest.raises(VersionNotFound, match=r"No version abcdef.*Recent versions: 1 \("):
        ws.tools.source_at("greet", "abcdef")
    with pytest.raises(VersionNotFound, match="is not a version"):
        ws.tools.source_at("greet", "../etc")


def _save_many(args: tuple[str, str]) -> None:
    folder, name = args
    store = VersionStore(Path(folder) / "versions.sqlite")
    for i in range(15):
        store.record("tool", name, f"def {name}(): return {i}\n")


def test_two_processes_record_at_once_and_lose_nothing(tmp_path: Path) -> None:
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_save_many, [(str(tmp_path), "a"), (str(tmp_path), "b")]))
    store = VersionStore(tmp_path / "versions.sqlite")
    assert [len(store.history("tool", n)) for n in ("a", "b")] == [15, 15]


def test_a_broken_history_never_stops_a_save(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ws = Workspace(tmp_path)
    (tmp_path / ".halion").mkdir(exist_ok=True)
    (tmp_path / ".halion" / "versions.sqlite").write_bytes(b"not a database" * 100)
    ws.tools.update_source(None, CODE)
    assert (tmp_path / "tools" / "greet.py").exists()
    assert "its version could not be recorded" in caplog.text
    with pytest.raises(StateFileError, match="move it aside"):
        ws.tools.history("greet")


def test_a_newer_history_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "versions.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StateFileError, match="newer than this halion_nb understands"):
        VersionStore(path).record("tool", "x", "def x(): pass\n")


def test_a_tool_named_apart_from_its_function_reverts(tmp_path: Path) -> None:
    """`%%tool --name shout_loud` over `def shout`: the file binds the name with `shout_loud = shout`."""
    ws = Workspace(tmp_path)
    code = CODE.replace("greet", "shout")
    namespace: dict = {}
    exec(code, namespace)
    ws.tools.register(namespace["shout"], name="shout_loud", source=code)
    ws.tools.save("shout_loud")
    ws.tools.update_source("shout_loud", ws.tools.source_at("shout_loud", 1).replace("Hello", "HEY"))
    assert ws.tools.get("shout_loud")(name="x") == "HEY, x"
    assert ws.tools.revert("shout_loud", 1)(name="x") == "Hello, x"
    assert Workspace(tmp_path).tools.get("shout_loud")(name="x") == "Hello, x"


def test_a_live_source_holding_a_secret_is_kept_masked(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.env.set("SHOUT_TOKEN", "tok-9f8e7d6c5b4a3928")
    code = CODE.replace("greet", "shout").replace('"Hello, "', '"tok-9f8e7d6c5b4a3928" + '
                                                  '"Hello, "')
    namespace: dict = {}
    exec(code, namespace)
    ws.tools.register(namespace["shout"], source=code)
    outcome = ws.tools.invoke("shout", {"name": "x"})
    shown = ws.tools.source_at("shout", outcome.version)
    assert "tok-9f8e7d6c5b4a3928" not in shown and 'return "' in shown
    assert b"tok-9f8e7d6c5b4a3928" not in b"".join(p.read_bytes() for p in (tmp_path / ".halion").glob("versions*"))
