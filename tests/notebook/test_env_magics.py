"""`%halion env` (names and set/missing, never values; hidden prompt) and `%halion draft` (a new cell)."""
from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import halion_nb.workspace as workspace_module
from halion_nb.testing import FakeOpenAI, reply
from halion_nb.workspace import Workspace, use_workspace

SECRET = "tok-Zq81-value-never-shown"
TYPED = "typed-at-prompt-7731"
NAMES = ("STORED_TOKEN", "NEEDED_KEY", "API_TOKEN")

TOOL_CELL = '''\
import os


def lookup(city: str) -> str:
    """Look a city up.

    Args:
        city: The city.
    """
    return os.environ["NEEDED_KEY"] + city
'''

DRAFT_CODE = '''\
def shout(text: str) -> str:
    """Make text loud.

    Args:
        text: The text.
    """
    return text.upper()
'''


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> Iterator[Workspace]:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-key-for-tests")
    monkeypatch.delenv("HALION_REPLAY", raising=False)
    for name in NAMES:  # restored (removed) after the test, whatever the magics set
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(workspace_module, "_current", None)
    w = use_workspace(Workspace(tmp_path / "ws", model="gpt-test"))
    yield w
    w.log.close()


@pytest.fixture
def ip(ws: Workspace) -> Any:
    from IPython.testing.globalipapp import get_ipython, start_ipython

    shell = start_ipython() or get_ipython()  # one shell per process: started once, then reused
    shell.run_line_magic("load_ext", "halion_nb")
    return shell


def run(shell: Any, line: str) -> str:
    """Run `%halion line`; everything it printed or displayed (text and HTML), as one string."""
    from IPython.utils.capture import capture_output

    with capture_output() as captured:  # through run_cell: a failed command fails the cell as IPython shows it
        shell.run_cell(f"%halion {line}")
    shown = [captured.stdout, captured.stderr]
    shown += [value for o in captured.outputs for value in o.data.values() if isinstance(value, str)]
    return "\n".join(shown)


@pytest.fixture
def prompt(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """getpass.getpass replaced: records each prompt and answers TYPED."""
    asked: list[str] = []

    def fake_getpass(prompt: str = "Password: ", stream: Any = None) -> str:
        asked.append(prompt)
        return TYPED

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    return asked


def test_env_lists_names_with_set_or_missing_never_values(ip: Any, ws: Workspace) -> None:
    ip.run_cell_magic("tool", "", TOOL_CELL)
    ws.env.set("STORED_TOKEN", SECRET)
    shown = run(ip, "env")
    assert "STORED_TOKEN" in shown and "NEEDED_KEY" in shown and "lookup" in shown
    assert "missing" in shown and "set (.halion/.env)" in shown
    assert "%halion env set NEEDED_KEY" in shown
    assert SECRET not in shown


def test_env_set_asks_with_a_hidden_prompt(ip: Any, ws: Workspace, prompt: list[str]) -> None:
    shown = run(ip, "env set API_TOKEN")
    assert prompt == ["Value for API_TOKEN (hidden): "]
    assert ws.env.names() == ["API_TOKEN"] and os.environ["API_TOKEN"] == TYPED
    assert "API_TOKEN is set" in shown and TYPED not in shown
    assert TYPED not in run(ip, "env")
    run(ip, "env unset API_TOKEN")
    assert ws.env.names() == [] and "API_TOKEN" not in os.environ


def test_env_set_with_a_value_on_the_line_is_refused(ip: Any, ws: Workspace, prompt: list[str]) -> None:
    shown = run(ip, f"env set API_TOKEN {SECRET}")
    assert "refused" in shown and "hidden prompt" in shown and "%halion env set API_TOKEN" in shown
    assert SECRET not in shown
    assert prompt == [] and ws.env.names() == [] and "API_TOKEN" not in os.environ


def test_env_never_echoes_what_may_be_a_swapped_value(ip: Any, ws: Workspace, prompt: list[str]) -> None:
    for line in (f"env set {SECRET}", f"env set {SECRET} API_TOKEN", f"env {SECRET}", f"env set ghp_{TYPED[:5]} X"):
        shown = run(ip, line)
        assert "halion:" in shown
        assert SECRET not in shown and f"ghp_{TYPED[:5]}" not in shown
    assert prompt == [] and ws.env.names() == []


def test_env_set_empty_value_stores_nothing(ip: Any, ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "")
    assert "nothing stored" in run(ip, "env set API_TOKEN")
    assert ws.env.names() == []


def test_draft_puts_a_tool_cell_below(ip: Any, ws: Workspace, fake_openai: FakeOpenAI,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    fake_openai.script(reply(json_content={"name": "shout", "code": DRAFT_CODE, "env_vars": [],
                                           "rationale": "Upper case."}))
    inputs: list[tuple[str, bool]] = []
    monkeypatch.setattr(ip, "set_next_input", lambda text, replace=False: inputs.append((text, replace)))
    shown = run(ip, "draft \"make text loud, it's for headlines\"")
    assert inputs == [("%%tool\n" + DRAFT_CODE, False)]
    assert "make text loud, it's for headlines" in json.dumps(fake_openai.requests[0]["messages"])
    assert "ToolDraft shout (ok" in shown and "Upper case." in shown
    assert "shout" not in ws.tools, "a draft is not run or registered"


def test_draft_in_a_real_kernel_sends_the_set_next_input_payload(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> None:
    from jupyter_client.manager import start_new_kernel

    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-key-for-tests")
    monkeypatch.setenv("HALION_HOME", str(tmp_path))
    monkeypatch.delenv("HALION_REPLAY", raising=False)
    fake_openai.script(reply(json_content={"name": "shout", "code": DRAFT_CODE, "env_vars": [],
                                           "rationale": "Upper case."}))
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=60, cwd=str(tmp_path))
    try:
        source = textwrap.dedent('''\
            %load_ext halion_nb
            %halion draft "make text loud"
            ''')
        msg = kc.execute(source, reply=True, timeout=60)
        content = msg["content"]
        assert content["status"] == "ok", content
        payloads = [p for p in content["payload"] if p.get("source") == "set_next_input"]
        assert payloads == [{"source": "set_next_input", "text": "%%tool\n" + DRAFT_CODE, "replace": False}]
        ran = kc.execute("import halion_nb; print('shout' in halion_nb.workspace().tools)", reply=True, timeout=30)
        assert ran["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert not (tmp_path / "tools").exists(), "nothing saved, nothing run"
