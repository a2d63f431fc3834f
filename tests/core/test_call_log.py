"""The call log on real SQLite files: what is written, what comes back, and what
happens when the file is shared, locked, old or broken."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import BaseModel

from halion_nb.core import call_log as call_log_module
from halion_nb.core.call_log import MIGRATIONS, CallLog
from halion_nb.errors import HalionError, StateFileError

SECRET = "sk-live-9f8e7d6c5b4a"


def redact(text: str) -> str:
    return text.replace(SECRET, "[redacted]")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "ws" / ".halion" / "calls.sqlite"


@pytest.fixture
def log(db: Path):
    with CallLog(db, redact=redact) as log:
        yield log


def _all_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))


def test_a_missing_log_reads_empty_and_is_not_created(db: Path) -> None:
    log = CallLog(db)
    assert log.recent() == []
    assert log.count() == 0
    assert log.get(1) is None
    assert log.clear() == 0
    assert not db.parent.exists()


def test_the_first_record_creates_folder_and_file_in_wal_mode(log: CallLog, db: Path) -> None:
    log.record("tool", name="add")
    assert db.is_file()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_each_kind_round_trips(log: CallLog) -> None:
    before = datetime.now(timezone.utc)
    model_id = log.record("model", name="gpt-4o-mini", conversation_id="c1", duration_ms=412.5,
                          prompt_tokens=120, completion_tokens=33, meta={"finish_reason": "stop"})
    tool_id = log.record("tool", name="get_weather", conversation_id="c1",
                         arguments={"city": "Lisbon", "days": [1, 2]}, result={"temp": 21.5},
                         duration_ms=3.0)
    chain_id = log.record("chain", name="report", arguments={"city": "Porto"}, result="done")
    step_id = log.record("step", name="get_weather", arguments={"city": "Porto"},
                         error="ValueError: no such city", meta={"chain": "report", "step": 0})
    assert len({model_id, tool_id, chain_id, step_id}) == 4

    model = log.get(model_id)
    assert model is not None and model.kind == "model" and model.name == "gpt-4o-mini"
    assert (model.prompt_tokens, model.completion_tokens, model.duration_ms) == (120, 33, 412.5)
    assert model.conversation_id == "c1" and model.meta == {"finish_reason": "stop"}
    assert model.ts.tzinfo is not None and before <= model.ts <= datetime.now(timezone.utc)

    tool = log.get(tool_id)
    assert tool is not None and tool.arguments == {"city": "Lisbon", "days": [1, 2]}
    assert tool.result == {"temp": 21.5} and tool.error is None and tool.meta == {}

    chain = log.get(chain_id)
    assert chain is not None and chain.kind == "chain" and chain.result == "done"

    step = log.get(step_id)
    assert step is not None and step.error == "ValueError: no such city"
    assert step.result is None and step.meta == {"chain": "report", "step": 0}
    assert log.get(999) is None


def test_an_exception_is_logged_as_type_and_message(log: CallLog) -> None:
    rec = log.get(log.record("tool", name="div", error=ZeroDivisionError("division by zero")))
    assert rec is not None and rec.error == "ZeroDivisionError: division by zero"


def test_results_that_are_not_json_are_stored_readably(log: CallLog) -> None:
    class Point(BaseModel):
        x: int
        y: int

    @dataclass
    class Span:
        start: int
        end: int

    class Opaque:
        def __str__(self) -> str:
            return "<opaque thing>"

    cyclic: list = []
    cyclic.append(cyclic)
    result = {"when": datetime(2026, 1, 2, tzinfo=timezone.utc), "tags": {"b", "a"},
              "point": Point(x=1, y=2), "thing": Opaque(), "bytes": b"\x00\x01", 3: "int key",
              "span": Span(1, 4)}
    rec = log.get(log.record("tool", name="odd", result=result))
    assert rec is not None
    assert rec.result == {"when": "2026-01-02T00:00:00+00:00", "tags": ["a", "b"],
                          "point": {"x": 1, "y": 2}, "thing": "<opaque thing>",
                          "bytes": {"base64": "AAE="}, "3": "int key",
                          "span": {"start": 1, "end": 4}}
    deep = log.get(log.record("tool", name="cyclic", result=cyclic))
    assert deep is not None and "nested deeper" in json.dumps(deep.result)


def test_a_huge_result_is_truncated_and_marked(tmp_path: Path) -> None:
    db = tmp_path / "calls.sqlite"
    log = CallLog(db, max_field_chars=1000)
    rec = log.get(log.record("tool", name="dump", arguments={"q": "x"}, result={"blob": "y" * 50_000},
                             error="E" * 5000))
    assert rec is not None
    assert rec.arguments == {"q": "x"}
    assert isinstance(rec.result, str) and rec.result.startswith('{"blob": "yyy')
    assert "truncated" in rec.result and len(rec.result) < 1100
    assert rec.error is not None and len(rec.error) < 1100 and rec.error.startswith("EEE")
    assert rec.meta["truncated"] == ["result", "error"]
    log.close()
    assert len(_all_bytes(db)) < 50_000


def test_an_unknown_kind_is_refused(log: CallLog) -> None:
    with pytest.raises(ValueError, match="unknown call kind 'toolz'"):
        log.record("toolz", name="x")
    with pytest.raises(ValueError, match="unknown call kind"):
        log.recent(kind="toolz")


def _fill(log: CallLog) -> dict[str, int]:
    ids = {}
    ids["m1"] = log.record("model", name="gpt", conversation_id="a")
    ids["t1"] = log.record("tool", name="add", conversation_id="a", arguments={"a": 1, "b": 2}, result=3)
    ids["t2"] = log.record("tool", name="search", conversation_id="a",
                           arguments={"q": "50% off_sale"}, result=["Hit"])
    ids["t3"] = log.record("tool", name="add", conversation_id="b", arguments={"a": 1},
                           error="ToolArgumentError: b is required")
    ids["s1"] = log.record("step", name="add", arguments={"a": 5, "b": 5}, result=10)
    ids["c1"] = log.record("chain", name="add", error="ChainValidationError: step 2")
    ids["m2"] = log.record("model", name="add", conversation_id="b", error="RateLimited: slow down")
    return ids


def test_recent_is_newest_first_and_limited(log: CallLog) -> None:
    ids = _fill(log)
    assert [r.id for r in log.recent()] == sorted(ids.values(), reverse=True)
    assert [r.id for r in log.recent(2)] == [ids["m2"], ids["c1"]]
    assert log.recent(0) == []
    with pytest.raises(ValueError):
        log.recent(-1)


def test_filters(log: CallLog) -> None:
    ids = _fill(log)

    def got(**kw: object) -> list[int]:
        return [r.id for r in log.recent(50, **kw)]  # type: ignore[arg-type]

    assert got(kind="tool") == [ids["t3"], ids["t2"], ids["t1"]]
    assert got(kind="model") == [ids["m2"], ids["m1"]]
    # tool= looks at tool calls and chain steps, not models or chains of the same name
    assert got(tool="add") == [ids["s1"], ids["t3"], ids["t1"]]
    assert got(tool="add", kind="tool") == [ids["t3"], ids["t1"]]
    assert got(errors_only=True) == [ids["m2"], ids["c1"], ids["t3"]]
    assert got(errors_only=True, kind="tool") == [ids["t3"]]
    assert got(text="HIT") == [ids["t2"]]  # case-insensitive, in the result
    assert got(text="required") == [ids["t3"]]  # in the error
    assert got(text="search") == [ids["t2"]]  # in the name
    assert got(text="50%") == [ids["t2"]] and got(text="%") == [ids["t2"]]  # % is literal
    assert got(text="f_s") == [ids["t2"]] and got(text="_") == [ids["t2"]]  # so is _
    assert got(text="nowhere") == []
    assert got(conversation_id="b") == [ids["m2"], ids["t3"]]
    assert log.count() == 7
    assert log.count(kind="tool") == 3
    assert log.count(tool="add") == 3
    assert log.count(errors_only=True) == 3
    assert log.count(text="hit") == 1


def test_paging(log: CallLog) -> None:
    ids = [log.record("tool", name=f"t{i % 2}") for i in range(25)]
    pages = [[r.id for r in log.recent(10, offset=o)] for o in (0, 10, 20, 30)]
    assert pages == [ids[::-1][0:10], ids[::-1][10:20], ids[::-1][20:25], []]
    t0 = [i for n, i in enumerate(ids) if n % 2 == 0][::-1]
    assert [r.id for r in log.recent(5, tool="t0", offset=5)] == t0[5:10]


def test_clear_empties_the_log_and_ids_are_not_reused(log: CallLog) -> None:
    _fill(log)
    last = log.recent(1)[0].id
    assert log.clear() == 7
    assert log.count() == 0 and log.recent() == []
    assert log.record("tool", name="add") > last
    assert log.clear() == 1


def test_secrets_are_never_written(log: CallLog, db: Path) -> None:
    class Holder:
        def __str__(self) -> str:
            return f"Holder(token={SECRET})"

    log.record("tool", name="call_api", conversation_id="c",
               arguments={"headers": {"Authorization": f"Bearer {SECRET}"}, SECRET: "as a key"},
               result={"echo": [SECRET], "obj": Holder()},
               error=f"HTTPError: 401 for key {SECRET}", meta={"env": {"KEY": SECRET}})
    log.record("model", name="gpt", error=RuntimeError(f"bad key {SECRET}"))
    log.record("tool", name="big", result="z" * 200_000 + SECRET)  # cut after redaction
    log.record("step", name="s", arguments=[f"{SECRET[:6]}", "é" + SECRET + "ü"])

    assert (db.parent / (db.name + "-wal")).exists()
    assert SECRET.encode() not in _all_bytes(db)
    rec = log.recent(4)[-1]
    assert rec.arguments["headers"]["Authorization"] == "Bearer [redacted]"
    assert rec.arguments["[redacted]"] == "as a key"
    assert rec.result == {"echo": ["[redacted]"], "obj": "Holder(token=[redacted])"}
    assert rec.error == "HTTPError: 401 for key [redacted]"
    assert rec.meta == {"env": {"KEY": "[redacted]"}}
    log.close()  # checkpoint the WAL into the main file: still nowhere
    assert SECRET.encode() not in _all_bytes(db)


V1_SCHEMA = """
CREATE TABLE calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, kind TEXT NOT NULL,
    conversation_id TEXT, name TEXT, arguments TEXT, result TEXT, error TEXT,
    duration_ms REAL, prompt_tokens INTEGER, completion_tokens INTEGER, meta TEXT
);
PRAGMA user_version = 1;
INSERT INTO calls (ts, kind, name, arguments, result) VALUES
    ('2026-01-01T10:00:00.000000+00:00', 'tool', 'add', '{"a": 1, "b": 2}', '3'),
    ('2026-01-01T10:00:01.000000+00:00', 'model', 'gpt', NULL, NULL);
"""


def _index_names(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_a_version_1_log_is_upgraded_and_keeps_its_rows(db: Path) -> None:
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:
        conn.executescript(V1_SCHEMA)
    log = CallLog(db)
    rows = log.recent()
    assert [(r.kind, r.name) for r in rows] == [("model", "gpt"), ("tool", "add")]
    assert rows[1].arguments == {"a": 1, "b": 2} and rows[1].result == 3
    assert rows[1].ts == datetime(2026, 1, 1, 10, tzinfo=timezone.utc)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert {"calls_kind_id", "calls_name_id", "calls_errors"} <= _index_names(db)
    assert log.record("tool", name="add") == 3


def test_a_version_0_database_gets_the_table_and_keeps_what_it_had(db: Path) -> None:
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    log = CallLog(db)
    assert log.recent() == []
    log.record("chain", name="c")
    log.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT body FROM notes").fetchall() == [("keep me",)]
        assert conn.execute("SELECT count(*) FROM calls").fetchone()[0] == 1


def test_an_empty_file_is_a_new_log(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.touch()
    log = CallLog(db)
    assert log.record("tool", name="x") == 1
    assert log.count() == 1


def test_a_new_migration_applies_once_on_open(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    CallLog(db).record("tool", name="add")
    monkeypatch.setattr(call_log_module, "MIGRATIONS",
                        [*MIGRATIONS, "ALTER TABLE calls ADD COLUMN extra TEXT;"])
    log = CallLog(db)
    assert [r.name for r in log.recent()] == ["add"]
    log.record("tool", name="sub")
    assert CallLog(db).count() == 2  # a second open does not apply it again
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
        assert "extra" in [r[1] for r in conn.execute("PRAGMA table_info(calls)")]


def test_a_failing_migration_leaves_the_file_as_it_was(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    CallLog(db).record("tool", name="add")
    monkeypatch.setattr(call_log_module, "MIGRATIONS", [
        *MIGRATIONS,
        "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);",
    ])
    with pytest.raises(StateFileError, match=f"could not upgrade the call log .* to schema version {len(MIGRATIONS) + 1}"):
        CallLog(db).recent()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchall() == []
        assert conn.execute("SELECT count(*) FROM calls").fetchone()[0] == 1


def test_a_log_from_a_newer_version_is_refused_clearly(db: Path) -> None:
    CallLog(db).record("tool", name="add")
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StateFileError, match="schema version 99, newer than"):
        CallLog(db).recent()


def test_a_corrupt_file_gives_a_clear_error_and_is_left_untouched(db: Path) -> None:
    db.parent.mkdir(parents=True)
    junk = b"this is not a database, just some text someone saved here\n" * 100
    db.write_bytes(junk)
    log = CallLog(db)
    for call in (log.recent, log.count, lambda: log.record("tool", name="x"), log.clear):
        with pytest.raises(StateFileError) as err:
            call()
        message = str(err.value)
        assert str(db) in message and "Move it aside" in message
    assert db.read_bytes() == junk
    assert sorted(p.name for p in db.parent.iterdir()) == ["calls.sqlite"]
    db.rename(db.with_name("calls.sqlite.broken"))  # what the message says to do
    assert log.record("tool", name="x") == 1


def test_a_log_moved_aside_while_open_starts_a_new_file(log: CallLog, db: Path) -> None:
    log.record("tool", name="old")
    for p in db.parent.iterdir():
        p.rename(p.with_name(p.name.replace("calls.sqlite", "old.sqlite")))
    assert log.recent() == []
    log.record("tool", name="new")
    assert [r.name for r in log.recent()] == ["new"]


def test_a_locked_log_gives_a_clear_message_after_the_timeout(db: Path) -> None:
    log = CallLog(db, busy_timeout=0.3)
    log.record("tool", name="before")
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    other.execute("INSERT INTO calls (ts, kind) VALUES ('2026-01-01T00:00:00+00:00', 'tool')")
    try:
        t0 = time.monotonic()
        with pytest.raises(StateFileError) as err:
            log.record("tool", name="blocked")
        assert 0.25 <= time.monotonic() - t0 < 3
        message = str(err.value)
        assert f"the call log {db} is locked by another process" in message
        assert "try again" in message and isinstance(err.value, HalionError)
        assert [r.name for r in log.recent()] == ["before"]  # WAL: reading still works
    finally:
        other.execute("ROLLBACK")
        other.close()
    log.record("tool", name="after")
    assert [r.name for r in log.recent()] == ["after", "before"]


def test_an_exclusively_locked_file_blocks_reads_with_the_same_message(db: Path) -> None:
    CallLog(db).record("tool", name="x")
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StateFileError, match="is locked by another process"):
            CallLog(db, busy_timeout=0.2).recent()
    finally:
        other.close()
    assert CallLog(db).count() == 1


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from halion_nb.core.call_log import CallLog
    path, who, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    log = CallLog(path)
    go.with_name(who + ".ready").touch()
    while not go.exists():
        time.sleep(0.001)
    for i in range(500):
        log.record("tool", name=who, conversation_id=who, arguments={"i": i})
        time.sleep(0.0002)  # spread the writes so the two processes overlap
    print("ok")
""")


def test_two_processes_writing_at_once_lose_nothing(db: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), who, str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for who in ("k1", "k2")]
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"{who}.ready").exists() for who in ("k1", "k2")):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.005)
    go.touch()  # both start on a log that does not exist yet
    outs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and out.strip() == "ok", err
    log = CallLog(db)
    assert log.count() == 1000
    assert log.count(tool="k1") == 500 and log.count(tool="k2") == 500
    for who in ("k1", "k2"):
        assert [r.arguments["i"] for r in log.recent(500, tool=who)] == list(range(499, -1, -1))
    names = [r.name for r in log.recent(1000)]
    assert sum(a != b for a, b in zip(names, names[1:])) > 10  # the writes interleaved


def test_threads_logging_at_once(db: Path) -> None:
    shared = CallLog(db)
    own = CallLog(db)  # a second instance on the same file, as a second workspace would
    errors: list[BaseException] = []

    def work(log: CallLog, n: int) -> None:
        try:
            for i in range(100):
                log.record("tool", name=f"t{n}", arguments={"i": i})
                if i % 25 == 0:
                    log.recent(5, tool=f"t{n}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(shared if n % 2 else own, n)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert shared.count() == 800
    assert len({r.id for r in shared.recent(1000)}) == 800
    assert all(own.count(tool=f"t{n}") == 100 for n in range(8))


def test_token_totals_sum_todays_model_calls_per_model(tmp_path: Path) -> None:
    from datetime import timedelta

    from halion_nb.services.usage import Prices, today_cost

    log = CallLog(tmp_path / "calls.sqlite")
    old = log.record("model", name="gpt-4.1-mini", prompt_tokens=1000, completion_tokens=1000)
    log.record("model", name="gpt-4.1-mini", prompt_tokens=100, completion_tokens=10)
    log.record("model", name="gpt-4.1-mini", prompt_tokens=50, completion_tokens=5)
    log.record("model", name="local-model", prompt_tokens=7, completion_tokens=3)
    log.record("tool", name="add", duration_ms=1.0)
    with sqlite3.connect(tmp_path / "calls.sqlite") as conn:  # one call made yesterday
        two_days_ago = (datetime.now(timezone.utc) - timedelta(days=2)).isoformat()
        conn.execute("UPDATE calls SET ts = ? WHERE id = ?", (two_days_ago, old))
    midnight = datetime.combine(datetime.now().date(), datetime.min.time()).astimezone()
    assert log.token_totals(midnight) == {"gpt-4.1-mini": (150, 15), "local-model": (7, 3)}
    tokens, cost = today_cost(log, Prices())
    assert tokens == 175 and cost is None  # a model without a price makes the day's cost unknown
