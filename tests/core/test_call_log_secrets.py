"""The call log redacts a field whole, then shortens it: a secret at the cut, or a multi-line one,
leaves no piece in the database file or its WAL."""
from __future__ import annotations

from pathlib import Path

import pytest

from halion_nb.core.call_log import CallLog
from halion_nb.core.redaction import Redactor

TOKEN = "hx-Q9v2Lk7RtZp3Wm8N"
PEM = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIB\n"
       "AQC7VJTUt9Us8cKBwko1a2b3c4d5e6f7g8h9i0jAkBlCmDnEoFp\n-----END PRIVATE KEY-----")
PIECES = [TOKEN[i:i + 4] for i in range(len(TOKEN) - 3)] + ["MIIE", "AQC7", "wggS"]
CUT = 300


def stored(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


@pytest.mark.parametrize("at", [CUT - 30, CUT - 12, CUT - 5, CUT - 1, CUT, CUT + 3])
def test_a_secret_at_the_cut_or_over_several_lines_leaves_no_piece(tmp_path: Path, at: int) -> None:
    path = tmp_path / "calls.sqlite"
    log = CallLog(path, redact=Redactor([TOKEN, PEM]).redact, max_field_chars=CUT)
    text = "y" * at + TOKEN + " and after " + "z" * CUT
    log.record("tool", name="t", arguments={"q": text, "key": PEM}, result=[text, PEM],
               error=f"{text}\n{PEM}", meta={"note": text, "key": PEM})
    log.record("model", name="m", arguments={"q": "w" * (at - 8) + TOKEN}, error=PEM, meta={"k": TOKEN})
    row = log.recent(1, kind="tool")[0]
    assert set(row.meta["truncated"]) == {"arguments", "result", "error", "meta"}
    data = stored(path)
    assert [p for p in PIECES if p.encode() in data] == []
    log.close()  # checkpointed into the main file: look again
    assert [p for p in PIECES if p.encode() in stored(path)] == []
