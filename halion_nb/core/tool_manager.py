"""Runtime state of tools (active, postprocess) in `.halion/tool_status.json`.

Every change is read-modify-write under a file lock, so two kernels on the same workspace
never lose each other's updates. A file that cannot be read is kept aside, never overwritten.
"""
from __future__ import annotations

import json
import logging
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pydantic import TypeAdapter, ValidationError

from ..models import ToolState
from .files import atomic_write_json, file_lock, keep_aside

log = logging.getLogger(__name__)
_STATES = TypeAdapter(dict[str, ToolState])


class ToolManager:
    """Reads and writes tool states; unknown tools are active with postprocess on."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.problem: str | None = None
        """Why the status file could not be read, if it could not."""
        self._states: dict[str, ToolState] = {}
        self._stamp: tuple[int, int] | None = None
        self._mutex = threading.RLock()  # tool calls run in threads and read states concurrently

    def state(self, name: str) -> ToolState:
        self._refresh()
        return self._states.get(name, ToolState())

    def states(self) -> dict[str, ToolState]:
        self._refresh()
        return dict(self._states)

    def update(self, name: str, **changes: bool) -> ToolState:
        """Change one tool's state and persist it atomically."""
        with self._locked():
            self._refresh(force=True)
            new = self._states.get(name, ToolState()).model_copy(update=changes)
            self._states[name] = new
            self._write()
        return new

    def forget(self, name: str) -> None:
        with self._locked():
            self._refresh(force=True)
            if self._states.pop(name, None) is not None:
                self._write()

    def _write(self) -> None:
        if self.problem and self.path.exists():
            aside = keep_aside(self.path)
            log.warning("Kept the unreadable %s as %s and wrote a fresh one.", self.path.name, aside.name)
            self.problem = None
        data = {n: s.model_dump(exclude={k for k in ("approval", "deferred") if not getattr(s, k)})  # as it was
                for n, s in sorted(self._states.items())}
        atomic_write_json(self.path, data)
        self._stamp = self._file_stamp()

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _refresh(self, force: bool = False) -> None:
        with self._mutex:
            stamp = self._file_stamp()
            if not force and stamp == self._stamp:
                return
            if stamp is None:
                self._states, self.problem = {}, None
            else:
                self._load()
            self._stamp = stamp  # only once the states match it

    def _load(self) -> None:
        try:
            self._states = _STATES.validate_python(json.loads(self.path.read_text(encoding="utf-8")))
            self.problem = None
        except (ValueError, ValidationError, OSError, RecursionError) as exc:  # RecursionError: too deep
            self._states = {}  # as the message says: no stale states from before the file broke
            self.problem = (
                f"{self.path} could not be read ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                "every tool is treated as active. The file is kept and set aside on the next change."
            )
            log.warning(self.problem)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._mutex, file_lock(self.path):
            yield
