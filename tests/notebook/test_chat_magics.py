"""`%halion chat`, `%%halion chat`, new, model and log: in IPython, and in a real kernel via nbclient."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import halion_nb.workspace as workspace_module
from halion_nb.display.chat import StreamingText
from halion_nb.testing import FakeOpenAI, call, error, reply

KEY = "sk-fake-key-for-tests"




def run(shell: Any, line: str, cell: str | None = None) -> Any:
    """Run a magic; return the captured stdout, stderr and displayed outputs."""
    from IPython.utils.capture import capture_output

    with capture_output() as captured:  # through run_cell: a failed command fails the cell as IPython shows it
        shell.run_cell(f"%halion {line}" if cell is None else f"%%halion {line}\n{cell}")
    return captured


def plain(captured: Any) -> list[str]:
    return [o.data.get("text/plain", "") for o in captured.outputs]


def test_chat_line_streams_then_shows_the_result(ip: Any, fake_openai: FakeOpenAI) -> None:
    answer = " ".join(f"word{i}" for i in range(60))
    fake_openai.script(reply(answer))
    captured = run(ip, "chat what's the plan? don't \"quote\" me")
    assert fake_openai.requests[0]["messages"] == [
        {"role": "user", "content": "what's the plan? don't \"quote\" me"}]
    shown = plain(captured)
    assert any(s.startswith("word0") and s.endswith("▌") for s in shown), "the answer appears while it streams"
    assert answer in shown[-1] and "[stop · 1 round(s)" in shown[-1]
    assert len(shown) < 10, "updates are coalesced, not one per delta"
    assert captured.stderr == ""


def test_a_message_ending_in_a_question_mark_is_not_ipython_help(ip: Any, fake_openai: FakeOpenAI) -> None:
    from IPython.utils.capture import capture_output

    fake_openai.script(reply("Sunny."))
    with capture_output() as captured:
        ip.run_cell("%halion chat Is it sunny in Madrid?")
    assert fake_openai.requests[0]["messages"][0]["content"] == "Is it sunny in Madrid?"
    assert "Sunny." in plain(captured)[-1] and "not found" not in captured.stdout


def test_cell_form_sends_the_cell(ip: Any, fake_openai: FakeOpenAI) -> None:
    def weather(city: str) -> dict[str, Any]:
        """Weather.

        Args:
            city: the city
        """
        return {"city": city, "temp_c": 19}

    workspace_module.workspace().tools.register(weather)
    fake_openai.script(reply(tool_calls=[call("weather", {"city": "Lima"})]), reply("Lima: 19 °C."))
    captured = run(ip, "chat", "Weather in Lima?\nShort answer please.")
    assert fake_openai.requests[0]["messages"][0]["content"] == "Weather in Lima?\nShort answer please."
    assert "Lima: 19 °C." in plain(captured)[-1] and "🔧 weather" in plain(captured)[-1]


def test_updates_are_coalesced(monkeypatch: pytest.MonkeyPatch) -> None:
    from halion_nb.notebook.commands import help_text

    help_text()  # load the subcommand modules in their usual order (importing one first would reorder help)
    from halion_nb.notebook import chat_commands

    shown: list[Any] = []

    class Handle:
        def update(self, obj: Any) -> None:
            shown.append(obj)

    monkeypatch.setattr(chat_commands, "display", lambda obj, **kw: (shown.append(obj), Handle())[1])
    clock = iter(i * 0.01 for i in range(1000))  # a delta every 10 ms for 1 s
    monkeypatch.setattr(chat_commands.time, "monotonic", lambda: next(clock))
    live = chat_commands.LiveAnswer()
    for i in range(100):
        live.add(f"w{i} ")
    views = [s for s in shown if isinstance(s, StreamingText)]
    assert 9 <= len(views) <= 12 and views[-1].text.startswith("w0 w1")
    live.finish("final")
    assert shown[-1] == "final"


def test_new_model_and_log(ip: Any, fake_openai: FakeOpenAI) -> None:
    ws = workspace_module.workspace()
    assert plain(run(ip, "model")) == [] and run(ip, "model").stdout.strip() == "model: gpt-test"
    assert run(ip, "model llama3.2").stdout.strip() == "model: llama3.2" and ws.model == "llama3.2"
    out = run(ip, 'new --system "Answer in one word."')
    assert out.stdout.startswith("new conversation") and ws.conversation.messages[0]["role"] == "system"
    fake_openai.script(reply("Yes."))
    run(ip, "chat ok?")
    assert fake_openai.requests[0]["model"] == "llama3.2"
    assert fake_openai.requests[0]["messages"][0] == {"role": "system", "content": "Answer in one word."}
    table = run(ip, "log -n 5 --kind model").outputs[0].data["text/plain"]
    assert "model" in table and "llama3.2" in table and ws.conversation.id[:8] in table
    assert "no calls logged" in run(ip, "log --errors").outputs[0].data["text/plain"]
    assert "invalid choice" in run(ip, "log --kind nope").stderr


def test_errors_print_one_line_without_traceback(ip: Any, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(error(401, "Incorrect API key provided"))
    captured = run(ip, "chat hello")
    assert captured.stderr.startswith("UsageError: halion: the model service refused the API key")
    assert captured.stderr.count("\n") == 1 and "Traceback" not in captured.stderr + captured.stdout
    assert "give a message" in run(ip, "chat").stderr


NOTEBOOK_CELLS = [
    "%load_ext halion_nb",
    "from halion_nb import workspace\n"
    "def weather(city: str) -> dict:\n"
    "    \"\"\"Weather.\n\n    Args:\n        city: the city\n    \"\"\"\n"
    "    return {'city': city, 'temp_c': 21}\n"
    "workspace().tools.register(weather);",
    "%halion chat What's the weather in Madrid?",
    "%%halion chat\nAnd tomorrow?\nOne line.",
]


def test_in_a_real_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("HALION_HOME", str(tmp_path))
    monkeypatch.delenv("HALION_REPLAY", raising=False)
    fake_openai.script(
        reply(tool_calls=[call("weather", {"city": "Madrid"})]),
        reply("It is **21 °C** in Madrid."),
        reply("Same tomorrow."),
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in NOTEBOOK_CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    first, second = nb.cells[2].outputs, nb.cells[3].outputs
    assert {o["output_type"] for o in first} == {"display_data"} and len(first) <= 2
    html = first[-1]["data"]["text/html"]
    assert "<strong>21 °C</strong>" in html and "halion-tool-call" in html and "weather" in html
    assert "Same tomorrow." in second[-1]["data"]["text/html"]
    assert [m["role"] for m in fake_openai.requests[-1]["messages"]] == ["user", "assistant", "tool", "assistant", "user"]
    assert not any(o["output_type"] == "error" for c in nb.cells for o in c.outputs)
    assert sys.modules.get("halion_nb") is not None
