"""The magics of the chat as people use it: approve, --approve, --with, --image, usage, conversations, resume."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from halion_nb.testing import FakeOpenAI, call, reply
from halion_nb.workspace import workspace

KEY = "sk-fake-key-for-tests"


@pytest.fixture
def model() -> str:
    return "gpt-4.1-mini"  # priced: the usage tests show a cost


def run(shell: Any, source: str) -> Any:
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        shell.run_cell(source)
    return captured


TOOL = '''def remove(path: str) -> str:
    """Remove a file.

    Args:
        path: which
    """
    return "removed " + path
'''


def test_tool_cell_approve_and_the_approve_magic(ip: Any) -> None:
    card = run(ip, "%%tool --approve\n" + TOOL).outputs[-1].data
    assert "asks first" in card["text/plain"]
    ws = workspace()
    assert ws.tools.needs_approval("remove")
    assert json.loads((ws.state_dir / "tool_status.json").read_text())["remove"]["approval"] is True
    out = run(ip, "%halion approve remove off")
    assert not ws.tools.needs_approval("remove") and "runs without asking" in out.stdout
    run(ip, "%halion approve remove on")
    assert ws.tools.needs_approval("remove")
    error = run(ip, "%halion approve nope on").stderr
    assert error.startswith("UsageError: halion:") and "nope" in error and "Traceback" not in error


def test_chat_with_variables_and_an_image(ip: Any, fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    from PIL import Image as PILImage

    PILImage.new("RGB", (30, 20), "red").save(tmp_path / "red.png")
    ip.user_ns["cfg"] = {"retries": 3}
    fake_openai.script(reply("retries is 3 and the image is red"))
    out = run(ip, f"%halion chat --with cfg --image {tmp_path / 'red.png'} What is in cfg?")
    assert out.stderr == ""
    parts = fake_openai.requests[0]["messages"][-1]["content"]
    assert parts[0]["text"].startswith("What is in cfg?") and "cfg (dict): 1 key(s): {'retries': 3}" in parts[0]["text"]
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert "no variable 'missing'" in run(ip, "%halion chat --with missing hi").stderr


def test_usage_conversations_and_resume(ip: Any, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("one", usage=(1000, 500)), reply("two", usage=(10, 5)))
    run(ip, "%halion chat first question")
    first_id = workspace().conversation.id
    run(ip, "%halion new")
    usage = run(ip, "%halion usage").outputs[-1].data["text/plain"]
    assert "gpt-4.1-mini" in usage and "1000" in usage and "$0.0012" in usage  # 1000×0.40 + 500×1.60 per million
    listed = run(ip, "%halion conversations").outputs[-1].data["text/plain"]
    assert first_id[:8] in listed and "first question" in listed
    out = run(ip, f"%halion resume {first_id[:8]}")
    assert out.stdout.startswith(f"resumed conversation {first_id[:8]}: 1 turn(s)")
    run(ip, "%halion chat and again")
    assert [m["content"] for m in fake_openai.requests[-1]["messages"]] == ["first question", "one", "and again"]


APPROVAL_CELLS = [
    "%load_ext halion_nb",
    "%%tool --approve\n" + TOOL,
    "%halion chat remove a.txt",
]


def test_nobody_to_approve_under_nbclient_denies_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 fake_openai: FakeOpenAI) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("HALION_HOME", str(tmp_path))
    monkeypatch.delenv("HALION_REPLAY", raising=False)
    fake_openai.script(reply(tool_calls=[call("remove", {"path": "a.txt"})]), reply("I could not remove it."))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in APPROVAL_CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    tool = [m for m in fake_openai.requests[1]["messages"] if m["role"] == "tool"][0]
    assert tool["content"].startswith("Error: The person declined to run 'remove': nobody can answer here")
    assert "nbclient" in tool["content"]
    html = nb.cells[2].outputs[-1]["data"]["text/html"]
    assert "I could not remove it." in html and "declined" in html


def test_the_variable_tool_is_off_by_default_and_asks_when_on(ip: Any, fake_openai: FakeOpenAI) -> None:
    ws = workspace()
    assert "kernel_variable" not in ws.tools
    ip.user_ns["prices"] = [1.5, 2.5, 99.0]
    run(ip, "%halion variables on")
    assert ws.tools.needs_approval("kernel_variable")
    fake_openai.script(reply(tool_calls=[call("kernel_variable", {"name": "prices"})]), reply("99.0 is odd"))
    ws.chat("look at prices", approve=lambda request: True)
    tool = [m for m in fake_openai.requests[1]["messages"] if m["role"] == "tool"][0]
    assert tool["content"] == "prices (list): 3 item(s): [1.5, 2.5, 99.0]"
    run(ip, "%halion variables off")
    assert "kernel_variable" not in ws.tools


def test_terminal_ipython_asks_on_the_terminal(ip: Any, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    run(ip, "%%tool --approve\n" + TOOL)
    answers = iter(["y", "not this one"])
    prompts: list[str] = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt="": prompts.append(prompt) or next(answers))
    fake_openai.script(reply(tool_calls=[call("remove", {"path": "a"}, id="c1"), call("remove", {"path": "b"}, id="c2")]),
                       reply("removed a only"))
    run(ip, "%halion chat remove a and b")
    assert prompts == ['Run remove({"path": "a"})? [y/N, or a reason to decline] ',
                       'Run remove({"path": "b"})? [y/N, or a reason to decline] ']
    tools = [m["content"] for m in fake_openai.requests[1]["messages"] if m["role"] == "tool"]
    assert tools == ["removed a", "Error: The person declined to run 'remove': not this one"]
