"""halion_nb's `logging` records are a sink too: secrets never reach a handler."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from halion_nb.workspace import Workspace

TOKEN = "tok-9d8c7b6a5f4e"


def test_warnings_and_tracebacks_halion_logs_are_redacted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tools = tmp_path / "ws" / "tools"
    tools.mkdir(parents=True)
    (tools / "broken.py").write_text(f"raise RuntimeError('cannot reach the service with {TOKEN}')\n")
    ws = Workspace(tmp_path / "other")
    ws.env.set("SERVICE_TOKEN", TOKEN)
    with caplog.at_level(logging.DEBUG):
        opened = Workspace(tmp_path / "ws")
        try:
            raise ValueError(f"while using {TOKEN}")
        except ValueError:
            logging.getLogger("halion_nb.test").exception("failed for %s", TOKEN)
        logging.getLogger("another_library").warning("its own %s", TOKEN)
    assert "broken" in opened.load_report.errors
    halion_text = caplog.text.replace(f"its own {TOKEN}", "")
    assert "cannot reach the service with ***" in halion_text and "failed for ***" in halion_text
    assert "while using ***" in halion_text and TOKEN not in halion_text
    assert f"its own {TOKEN}" in caplog.text  # other libraries' records are left as they are
