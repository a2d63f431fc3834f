"""The call log: every model request, tool call, chain run and step, in SQLite.

One table, `calls`, in `.halion/calls.sqlite` (WAL mode, so several kernels can write
the same workspace's log at once). The schema version lives in `PRAGMA user_version`
and grows through the numbered `MIGRATIONS`. Text is redacted before it is written, and
every sqlite error reaches the user as a `StateFileError` that says what to do.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, get_args

from .surrogates import escape_lone_surrogates

from halion_nb.core.encoding import to_jsonable
from halion_nb.errors import StateFileError
from halion_nb.models import CallKind, CallRecord

log = logging.getLogger(__name__)

KINDS: tuple[str, ...] = get_args(CallKind)
TOOL_KINDS = ("tool", "step")
"""Kinds whose `name` is a tool's name: what the `tool=` filter looks at."""

MAX_FIELD_CHARS = 64 * 1024
"""Longest stored text of one field; longer text is cut and marked as truncated."""

MIGRATIONS: list[str] = [
    # 1: the calls table. JSON columns hold text written by `json.dumps`.
    """
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts TEXT NOT NULL,
        kind TEXT NOT NULL,
        conversation_id TEXT,
        name TEXT,
        arguments TEXT,
        result TEXT,
        error TEXT,
        duration_ms REAL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        meta TEXT
    );
    """,
    # 2: indexes behind the panels' filters, all ending in id for `ORDER BY id DESC`.
    """
    CREATE INDEX calls_kind_id ON calls (kind, id);
    CREATE INDEX calls_name_id ON calls (name, id);
    CREATE INDEX calls_conversation_id ON calls (conversation_id, id);
    CREATE INDEX calls_errors ON calls (id) WHERE error IS NOT NULL;
    """,
    # 3: who ran each call (caller: chat, chain, panel, mcp, rest, batch; user) and the tool code's version.
    """
    ALTER TABLE calls ADD COLUMN caller TEXT;
    ALTER TABLE calls ADD COLUMN user TEXT;
    ALTER TABLE calls ADD COLUMN version TEXT;
    CREATE INDEX calls_caller_id ON calls (caller, id);
    CREATE INDEX calls_user_id ON calls (user, id);
    """,
]
"""Schema migrations, applied in order; the database is at version `len(MIGRATIONS)`.
Never edit one that has shipped: append a new one."""

_COLUMNS = (
    "id, ts, kind, conversation_id, name, arguments, result, error, "
    "duration_ms, prompt_tokens, completion_tokens, meta, caller, user, version"
)
_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_CORRUPT = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_INHERITED: list[sqlite3.Connection] = []


class CallLog:
    """The SQLite call log of one workspace.

    The file (and its folder) is created on the first `record`; reading a log that does
    not exist yet gives no rows. Safe to use from several threads, and from several
    processes on the same file.
    """

    def __init__(
        self,
        path: Path,
        redact: Callable[[str], str] | None = None,
        *,
        busy_timeout: float = 5.0,
        max_field_chars: int = MAX_FIELD_CHARS,
    ) -> None:
        self.path = Path(path)
        self.redact = redact
        self.busy_timeout = busy_timeout
        self.max_field_chars = max_field_chars
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._conn_key: tuple[int, int, int] | None = None  # (pid, st_dev, st_ino)

    def __repr__(self) -> str:
        return f"CallLog({str(self.path)!r})"

    def record(
        self,
        kind: str,
        *,
        name: str | None = None,
        conversation_id: str | None = None,
        arguments: Any = None,
        result: Any = None,
        error: str | BaseException | None = None,
        duration_ms: float | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        meta: Mapping[str, Any] | None = None,
        caller: str | None = None,
        user: str | None = None,
        version: str | None = None,
    ) -> int:
        """Write one call and return its id. Secrets are redacted before writing."""
        row = self._row(
            kind, name, conversation_id, arguments, result, error,
            duration_ms, prompt_tokens, completion_tokens, meta,
        ) + tuple(None if v is None else self._clean(str(v)) for v in (caller, user, version))

        def insert(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO calls (ts, kind, conversation_id, name, arguments, result, "
                "error, duration_ms, prompt_tokens, completion_tokens, meta, caller, user, version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cur.lastrowid)  # type: ignore[arg-type]

        return self._write(insert)

    def clear(self) -> int:
        """Delete every row; return how many there were. Ids are not reused."""
        if not self.path.exists():
            return 0
        return int(self._write(lambda conn: conn.execute("DELETE FROM calls").rowcount))

    def recent(
        self,
        n: int = 20,
        *,
        kind: str | None = None,
        tool: str | None = None,
        errors_only: bool = False,
        text: str | None = None,
        conversation_id: str | None = None,
        offset: int = 0,
        caller: str | None = None,
        user: str | None = None,
    ) -> list[CallRecord]:
        """The newest `n` calls matching every filter given, newest first.

        `tool` matches the name of tool calls and chain steps; `text` is a
        case-insensitive substring of the name, arguments, result or error;
        `offset` skips that many matches (paging); `caller` and `user` say who ran it.
        """
        if n < 0 or offset < 0:
            raise ValueError(f"n and offset must be >= 0, got n={n}, offset={offset}")
        if n == 0:
            return []
        where, params = _where(kind, tool, errors_only, text, conversation_id, caller, user)
        sql = f"SELECT {_COLUMNS} FROM calls{where} ORDER BY id DESC LIMIT ? OFFSET ?"
        rows = self._read(lambda conn: conn.execute(sql, (*params, n, offset)).fetchall())
        return [_to_record(r) for r in rows or []]

    def get(self, id: int) -> CallRecord | None:
        """One call by id, or None."""
        rows = self._read(
            lambda conn: conn.execute(f"SELECT {_COLUMNS} FROM calls WHERE id = ?", (id,)).fetchall()
        )
        return _to_record(rows[0]) if rows else None

    def count(
        self,
        *,
        kind: str | None = None,
        tool: str | None = None,
        errors_only: bool = False,
        text: str | None = None,
        conversation_id: str | None = None,
        caller: str | None = None,
        user: str | None = None,
    ) -> int:
        """How many calls match the filters (the same ones as `recent`)."""
        where, params = _where(kind, tool, errors_only, text, conversation_id, caller, user)
        rows = self._read(lambda conn: conn.execute(f"SELECT count(*) FROM calls{where}", params).fetchall())
        return int(rows[0][0]) if rows else 0

    def token_totals(self, since: datetime) -> dict[str, tuple[int, int]]:
        """Prompt and completion tokens of the model calls since `since`, summed per model (one SQL query)."""
        stamp = since.astimezone(timezone.utc).isoformat(timespec="microseconds")
        rows = self._read(lambda conn: conn.execute(
            "SELECT name, sum(prompt_tokens), sum(completion_tokens) FROM calls "
            "WHERE kind = 'model' AND ts >= ? GROUP BY name", (stamp,)).fetchall())
        return {name or "?": (int(p or 0), int(c or 0)) for name, p, c in rows or []}

    def close(self) -> None:
        """Close the connection; the next call opens it again."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None
                    self._conn_key = None

    def __enter__(self) -> CallLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # sqlite3 connections sit in a reference cycle with their statement cache, so
        # without this the file stays open (and locked in EXCLUSIVE mode) until a gc run
        try:
            conn, key = self._conn, self._conn_key
            if conn is not None and key is not None and key[0] == os.getpid():
                conn.close()
        except Exception:  # half-built object, or interpreter shutdown
            pass

    def _row(
        self, kind: str, name: Any, conversation_id: Any, arguments: Any, result: Any,
        error: Any, duration_ms: Any, prompt_tokens: Any, completion_tokens: Any,
        meta: Mapping[str, Any] | None,
    ) -> tuple[Any, ...]:
        if kind not in KINDS:
            raise ValueError(f"unknown call kind {kind!r}; use one of {', '.join(KINDS)}")
        if meta is not None and not isinstance(meta, Mapping):
            raise ValueError(f"meta must be a dict, got {type(meta).__name__}")
        if isinstance(error, BaseException):
            error = f"{type(error).__name__}: {error}"
        truncated: list[str] = []
        args_text = None if arguments is None else self._json(arguments, "arguments", truncated)
        result_text = None if result is None else self._json(result, "result", truncated)
        error_text = None if error is None else self._text(str(error), "error", truncated)
        meta_dict = dict(meta or {})
        if truncated:
            meta_dict["truncated"] = truncated
        meta_text = None
        if meta_dict:
            meta_text = self._dumps(meta_dict)
            if len(meta_text) > self.max_field_chars:
                meta_text = self._dumps({"truncated": [*truncated, "meta"],
                                         "meta_head": meta_text[: self.max_field_chars]})
        return (
            datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            kind,
            None if conversation_id is None else self._clean(str(conversation_id)),
            None if name is None else self._clean(str(name)),
            args_text,
            result_text,
            error_text,
            None if duration_ms is None else float(duration_ms),
            None if prompt_tokens is None else int(prompt_tokens),
            None if completion_tokens is None else int(completion_tokens),
            meta_text,
        )

    def _clean(self, text: str) -> str:
        """Redacted, and encodable: lone surrogates kept as their escapes (in JSON text, the same string)."""
        return escape_lone_surrogates(self.redact(text) if self.redact is not None else text)

    def _dumps(self, value: Any) -> str:
        """JSON text, redacted once encoded (redaction also covers JSON-escaped secrets)."""
        return self._clean(json.dumps(to_jsonable(value), ensure_ascii=False))

    def _json(self, value: Any, field: str, truncated: list[str]) -> str:
        text = self._dumps(value)
        if len(text) <= self.max_field_chars:
            return text
        truncated.append(field)
        return json.dumps(_cut(text, self.max_field_chars), ensure_ascii=False)

    def _text(self, text: str, field: str, truncated: list[str]) -> str:
        text = self._clean(text)
        if len(text) <= self.max_field_chars:
            return text
        truncated.append(field)
        return _cut(text, self.max_field_chars)

    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        def in_transaction() -> Any:
            conn = self._connection(create=True)
            assert conn is not None
            return immediate_transaction(conn, fn)

        with self._lock:
            return self._retrying(in_transaction)

    def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        def run() -> Any:
            conn = self._connection(create=False)
            return None if conn is None else fn(conn)

        with self._lock:
            return self._retrying(run)

    def _retrying(self, fn: Callable[[], Any]) -> Any:
        """Run `fn`; retry while the file is busy until `busy_timeout`, then say so.

        sqlite's own busy handler waits inside each attempt; the retry covers the cases
        where sqlite reports busy at once (WAL recovery, a writer racing a reader)."""
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.01
        while True:
            try:
                return fn()
            except sqlite3.Error as exc:
                code = _code(exc)
                if code in _BUSY and time.monotonic() < deadline:
                    log.debug("call log %s busy, retrying: %s", self.path, exc)
                    time.sleep(min(delay, max(deadline - time.monotonic(), 0)))
                    delay = min(delay * 2, 0.25)
                    continue
                if code not in _BUSY:
                    self.close()  # a broken connection is not kept; the next call reopens
                raise self._error(exc) from exc

    def _connection(self, create: bool) -> sqlite3.Connection | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        if self._conn is not None:
            key = None if st is None else (os.getpid(), st.st_dev, st.st_ino)
            if key == self._conn_key:
                return self._conn
            # the file was moved aside or replaced, or we are in a forked child
            if self._conn_key is not None and self._conn_key[0] == os.getpid():
                self._conn.close()
            else:  # never close a parent's connection from a child: keep it alive, unused
                _INHERITED.append(self._conn)
            self._conn = None
            self._conn_key = None
        if st is None:
            if not create:
                return None
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(self.path), timeout=self.busy_timeout, isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fails on a non-db file
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        st = os.stat(self.path)
        self._conn, self._conn_key = conn, (os.getpid(), st.st_dev, st.st_ino)
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        latest = len(MIGRATIONS)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == latest:
            return
        if version > latest:
            raise StateFileError(
                f"the call log {self.path} has schema version {version}, newer than this "
                f"halion_nb understands ({latest}). Upgrade halion_nb, or move the file "
                "aside to start a new log."
            )
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
            for number in range(version + 1, latest + 1):
                try:
                    for statement in _statements(MIGRATIONS[number - 1]):
                        conn.execute(statement)
                except sqlite3.Error as exc:
                    if _code(exc) in _BUSY | _CORRUPT:
                        raise
                    raise StateFileError(
                        f"could not upgrade the call log {self.path} to schema version "
                        f"{number}: {exc}. The file was left as it was; move it aside to "
                        "start a new log."
                    ) from exc
                conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _error(self, exc: sqlite3.Error) -> StateFileError:
        code = _code(exc)
        if code in _BUSY:
            return StateFileError(
                f"the call log {self.path} is locked by another process; waited "
                f"{self.busy_timeout:g} s for it. Another kernel or a sqlite tool is "
                "holding a long transaction on it: finish or close that, then try again."
            )
        if code in _CORRUPT:
            return StateFileError(
                f"the call log {self.path} is not a readable SQLite database ({exc}). "
                "Move it aside (for example rename it to calls.sqlite.broken) and a new "
                "log will be started; halion_nb has not changed or deleted it."
            )
        return StateFileError(
            f"the call log {self.path} could not be used: {exc}. Check that its folder "
            "exists, is writable and has free space."
        )


def immediate_transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], Any]) -> Any:
    """`fn(conn)` in one write transaction (taken at once, so writers queue), rolled back if anything fails."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        out = fn(conn)
        conn.execute("COMMIT")
        return out
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF
    message = str(exc).lower()
    if "locked" in message or "busy" in message:
        return 5
    if "not a database" in message or "malformed" in message:
        return 11
    return None


def _statements(script: str) -> list[str]:
    """Split a migration into statements (`executescript` would commit our transaction)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def _where(
    kind: str | None, tool: str | None, errors_only: bool, text: str | None,
    conversation_id: str | None, caller: str | None = None, user: str | None = None,
) -> tuple[str, tuple[Any, ...]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("caller", caller), ("user", user)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if kind is not None:
        if kind not in KINDS:
            raise ValueError(f"unknown call kind {kind!r}; use one of {', '.join(KINDS)}")
        clauses.append("kind = ?")
        params.append(kind)
    if tool is not None:
        clauses.append(f"name = ? AND kind IN ({', '.join('?' * len(TOOL_KINDS))})")
        params += [tool, *TOOL_KINDS]
    if conversation_id is not None:
        clauses.append("conversation_id = ?")
        params.append(conversation_id)
    if errors_only:
        clauses.append("error IS NOT NULL")
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append(
            "(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in ("name", "arguments", "result", "error")) + ")"
        )
        params += [pattern] * 4
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)


def _cut(text: str, limit: int) -> str:
    return f"{text[:limit]}… [truncated: {len(text)} characters in all]"


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _to_record(row: tuple[Any, ...]) -> CallRecord:
    meta = _loads(row[11])
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        meta = {"value": meta}
    return CallRecord(
        id=row[0],
        ts=datetime.fromisoformat(row[1]),
        kind=row[2],
        conversation_id=row[3],
        name=row[4],
        arguments=_loads(row[5]),
        result=_loads(row[6]),
        error=row[7],
        duration_ms=row[8],
        prompt_tokens=row[9],
        completion_tokens=row[10],
        meta=meta,
        caller=row[12],
        user=row[13],
        version=row[14],
    )
