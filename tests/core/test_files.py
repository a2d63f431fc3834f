"""Atomic writes keep file permissions as a person expects."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from halion_nb.core.files import _UMASK, atomic_write_text


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_usual_permissions_not_0600(tmp_path: Path) -> None:
    path = atomic_write_text(tmp_path / "tools" / "add.py", "x = 1\n")
    assert mode_of(path) == 0o666 & ~_UMASK
    assert path.read_text() == "x = 1\n"


def test_rewriting_keeps_the_existing_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "chain.json"
    path.write_text("{}")
    os.chmod(path, 0o640)
    atomic_write_text(path, '{"a": 1}')
    assert mode_of(path) == 0o640 and path.read_text() == '{"a": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ["chain.json"]


def test_an_explicit_mode_wins(tmp_path: Path) -> None:
    assert mode_of(atomic_write_text(tmp_path / ".env", "K=v\n", mode=0o600)) == 0o600
