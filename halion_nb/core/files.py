"""Atomic file writes: a reader sees the old file or the new one, never half of one; and an
inter-process lock for read-modify-write of a small state file."""
from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .surrogates import json_text

_UMASK = os.umask(0)
os.umask(_UMASK)  # read once, at import: os.umask can only be read by setting it


def atomic_write_text(path: Path, text: str, *, mode: int | None = None) -> Path:
    """Write `text` to `path` through a temp file in the same folder and `os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:  # mkstemp makes 0600 files: keep the file's mode, or the usual one for a new file
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_UMASK
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_json(path: Path, data: Any) -> Path:
    """Pretty-printed JSON written atomically."""
    return atomic_write_text(path, json_text(data, indent=2) + "\n")


def keep_aside(path: Path) -> Path:
    """Rename an unreadable `path` to `<name>.corrupt-<time>` (never over an earlier copy); return the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside, n = path.with_name(f"{path.name}.corrupt-{stamp}"), 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    os.replace(path, aside)
    return aside


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive `fcntl.flock` on `<path>.lock` (beside `path`): one process at a time.

    Read the file again inside the block: another process may have changed it while this one waited.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
