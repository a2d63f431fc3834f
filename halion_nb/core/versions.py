"""Versions of tools and chains: every save that changed the content, in `.halion/versions.sqlite`.

Kept apart from the call log, so clearing the log never drops history. A row holds the
content and its sha256; for tools the first 12 hex digits are `Tool.version`, the value
each tool-call log row carries, so `source_at(name, row.version)` gives the code that ran.
A notebook tool that runs without being saved is recorded as kind `live` on its first call.
WAL mode and `BEGIN IMMEDIATE` writes make the store safe from several kernels at once.
"""
from __future__ import annotations

import contextlib
import difflib
import hashlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import StateFileError, ToolNotFoundError
from ..models import Version
from .call_log import immediate_transaction
from .invocation import os_user

log = logging.getLogger(__name__)

MIGRATIONS: list[str] = [
    # 1: one row per recorded version; `content` is the full text, `sha256` its hash.
    """
    CREATE TABLE versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        hash TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        ts TEXT NOT NULL,
        who TEXT,
        message TEXT,
        content TEXT NOT NULL
    );
    CREATE INDEX versions_kind_name_id ON versions (kind, name, id);
    CREATE INDEX versions_name_hash ON versions (name, hash);
    """,
]
"""Schema migrations, applied in order (`PRAGMA user_version`); append, never edit one that shipped."""

_COLUMNS = "id, kind, name, hash, sha256, ts, who, message, content"
_BUSY = {5, 6}
_NUMBER = re.compile(r"v?(\d{1,5})")
_HEX = re.compile(r"[0-9a-f]{4,64}")
VersionRef = int | str
"""A version as people name it: its number in the history (3, "3", "v3") or a hash prefix (4+ hex digits)."""


class VersionNotFound(ToolNotFoundError):
    """No recorded version of that tool or chain matches."""


def content_hash(text: str) -> str:
    """The full sha256 hex digest of `text` (its first 12 digits are the short version)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class VersionDiff:
    """A unified diff between two versions; `str()` is the diff text (coloured in a notebook)."""

    name: str
    a: Version | None
    b: Version | None
    text: str

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.text)


def unified_diff(name: str, a: Version | None, b: Version | None) -> VersionDiff:
    """The unified diff from `a` to `b` (None: nothing), labelled with each version's number and hash."""
    def label(v: Version | None) -> str:
        return "(none)" if v is None else f"{name} {_short(v)}"

    lines = difflib.unified_diff(
        (a.content if a else "").splitlines(keepends=True), (b.content if b else "").splitlines(keepends=True),
        fromfile=label(a), tofile=label(b),
    )
    return VersionDiff(name, a, b, "".join(line if line.endswith("\n") else line + "\n" for line in lines))


def _short(v: Version) -> str:
    return f"v{v.number} {v.hash}" if v.number is not None else f"live {v.hash}"


class VersionStore:
    """The SQLite store of one workspace's versions; created on the first record."""

    def __init__(self, path: Path, *, redact: Callable[[str], str] | None = None, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.redact = redact
        """Masks secret values in a `live` source (saved files never hold one) before it is stored."""
        self.busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._known: set[tuple[str, str]] = set()  # (name, hash) known to be stored: a live call checks once

    def __repr__(self) -> str:
        return f"VersionStore({str(self.path)!r})"

    # writing
    def record(self, kind: str, name: str, content: str, *, who: str | None = None,
               message: str | None = None) -> Version | None:
        """Record `content` as the newest version of `name`; None (nothing written) when it did not change."""
        if kind not in ("tool", "chain"):
            raise ValueError(f"kind must be 'tool' or 'chain', not {kind!r}")
        digest = content_hash(content)

        def write(conn: sqlite3.Connection) -> int | None:
            last = conn.execute("SELECT sha256 FROM versions WHERE kind = ? AND name = ? ORDER BY id DESC LIMIT 1",
                                (kind, name)).fetchone()
            if last is not None and last[0] == digest:
                return None
            return self._insert(conn, kind, name, digest, content, who, message)

        row_id = self._write(write)
        self._known.add((name, digest[:12]))
        return None if row_id is None else self._by_id(row_id)

    def remember(self, name: str, content: str | None, version: str | None) -> None:
        """Keep the source of a tool that is about to run, unless a version with its hash is stored already.

        Checked once per (name, version) in this process; a store that cannot be written is logged, never raised.
        """
        if not content or not version or (name, version) in self._known:
            return
        digest = content_hash(content)
        if digest[:12] != version:
            return

        kept = self.redact(content) if self.redact is not None else content  # found by the hash of what ran

        def write(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM versions WHERE name = ? AND sha256 = ? AND kind != 'chain' LIMIT 1",
                            (name, digest)).fetchone() is None:
                self._insert(conn, "live", name, digest, kept, None, None)

        self._known.add((name, version))  # tried once per process, whatever happens
        try:
            self._write(write)
        except StateFileError as exc:
            log.warning("The source of tool '%s' (version %s) could not be kept: %s", name, version, exc)

    def _insert(self, conn: sqlite3.Connection, kind: str, name: str, digest: str, content: str,
                who: str | None, message: str | None) -> int:
        cur = conn.execute(
            "INSERT INTO versions (kind, name, hash, sha256, ts, who, message, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (kind, name, digest[:12], digest, datetime.now(UTC).isoformat(timespec="microseconds"),
             who or os_user(), message, content),
        )
        return int(cur.lastrowid)  # type: ignore[arg-type]

    # reading
    def history(self, kind: str, name: str) -> list[Version]:
        """The saved versions of `name`, oldest first, numbered from 1."""
        rows = self._read(lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM versions WHERE kind = ? AND name = ? ORDER BY id", (kind, name)).fetchall())
        return [_version(row, number) for number, row in enumerate(rows or [], 1)]

    def find(self, kind: str, name: str, ref: VersionRef | None = None) -> Version:
        """One version of `name`: by number or hash prefix; None: the newest saved one. Tools also find `live` rows."""
        saved = self.history(kind, name)
        if ref is None:
            if not saved:
                raise VersionNotFound(f"No saved version of {kind} '{name}' yet.")
            return saved[-1]
        text = str(ref).strip().lower()
        number = _NUMBER.fullmatch(text)
        if isinstance(ref, int) or (number and len(text) < 6):
            n = int(ref) if isinstance(ref, int) else int(number.group(1))  # type: ignore[union-attr]
            if n < 1 or n > len(saved):
                raise VersionNotFound(f"{kind.capitalize()} '{name}' has {len(saved)} saved version(s); "
                                      f"there is no version {n}.")
            return saved[n - 1]
        if not _HEX.fullmatch(text):
            raise VersionNotFound(f"'{str(ref)[:40]}' is not a version: give its number (3) or its hash (4+ hex digits).")
        kinds = ("tool", "live") if kind == "tool" else (kind,)
        rows = self._read(lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM versions WHERE name = ? AND kind IN ({', '.join('?' * len(kinds))}) "
            "AND sha256 LIKE ? ORDER BY id", (name, *kinds, text + "%")).fetchall()) or []
        numbers = {v.id: v.number for v in saved}
        matches = {row[4]: _version(row, numbers.get(row[0])) for row in rows}  # one per content, newest row wins
        if not matches:
            listed = ", ".join(f"{v.number} ({v.hash})" for v in saved[-5:]) or "none saved yet"
            raise VersionNotFound(f"No version {text} of {kind} '{name}'. Recent versions: {listed}.")
        if len(matches) > 1:
            raise VersionNotFound(f"Version {text} of {kind} '{name}' is ambiguous; give more digits of the hash.")
        return next(iter(matches.values()))

    def diff(self, kind: str, name: str, a: VersionRef | None = None, b: VersionRef | None = None) -> VersionDiff:
        """Unified diff from `a` to `b`; `b` defaults to the newest version, `a` to the one saved before `b`."""
        new = self.find(kind, name, b)
        if a is not None:
            return unified_diff(name, self.find(kind, name, a), new)
        saved = self.history(kind, name)
        older = [v for v in saved if v.id < new.id]
        return unified_diff(name, older[-1] if older else None, new)

    def _by_id(self, row_id: int) -> Version:
        row = self._read(lambda c: c.execute(f"SELECT {_COLUMNS} FROM versions WHERE id = ?", (row_id,)).fetchone())
        number = None
        if row[1] != "live":
            number = self._read(lambda c: c.execute(
                "SELECT count(*) FROM versions WHERE kind = ? AND name = ? AND id <= ?", (row[1], row[2], row_id)
            ).fetchone()[0])
        return _version(row, number)

    # sqlite
    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._lock, self._connection(create=True) as conn:
            assert conn is not None
            return self._retrying(lambda: immediate_transaction(conn, fn))

    def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._lock, self._connection(create=False) as conn:
            return None if conn is None else self._retrying(lambda: fn(conn))

    def _retrying(self, fn: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                return fn()
            except sqlite3.Error as exc:
                busy = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF in _BUSY or "locked" in str(exc)
                if busy and time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                raise self._error(exc, busy) from exc

    @contextlib.contextmanager
    def _connection(self, create: bool) -> Iterator[sqlite3.Connection | None]:
        """A connection for one operation (versions are written seldom; no connection outlives a fork)."""
        if not self.path.exists() and not create:
            yield None
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise self._error(exc, False) from exc
        try:
            self._retrying(lambda: self._prepare(conn))
            yield conn
        finally:
            conn.close()

    def _prepare(self, conn: sqlite3.Connection) -> None:
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode=WAL")
        self._migrate(conn)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        latest = len(MIGRATIONS)
        if conn.execute("PRAGMA user_version").fetchone()[0] == latest:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
            if version > latest:
                raise StateFileError(f"the version history {self.path} has schema version {version}, newer than "
                                     f"this halion_nb understands ({latest}). Upgrade halion_nb.")
            for number in range(version + 1, latest + 1):
                for statement in filter(None, (s.strip() for s in MIGRATIONS[number - 1].split(";"))):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _error(self, exc: BaseException, busy: bool) -> StateFileError:
        if isinstance(exc, StateFileError):
            return exc
        if busy:
            return StateFileError(f"the version history {self.path} is locked by another process; waited "
                                  f"{self.busy_timeout:g} s. Finish the other kernel's long transaction, then retry.")
        return StateFileError(f"the version history {self.path} could not be used ({exc}). If it is damaged, move "
                              "it aside (rename it to versions.sqlite.broken): a new history starts; halion_nb "
                              "has not changed or deleted it.")


def _version(row: tuple[Any, ...], number: int | None) -> Version:
    return Version(id=row[0], kind=row[1], name=row[2], hash=row[3], sha256=row[4],
                   time=datetime.fromisoformat(row[5]), who=row[6], message=row[7], content=row[8],
                   number=None if row[1] == "live" else number)
