"""End to end: after a real notebook session that used a secret, the value is nowhere on disk or on screen.

A kernel (nbclient) sets the secret with `ws.env.set` from a file it then forgets; a tool reads
it through `os.environ` and returns it, another tool fails with it in the error message; the
model (the fake server) calls both and then repeats the secret in its answers, streamed and
not. The notebook shows the chat results, `%halion log`, the env, a chain run, a draft; tools
and a chain are saved and the conversation is recorded to a replay file. Then the executed
notebook, the call log's bytes, tools/*.py, chains/*.json, the replay file and every other
file of the workspace (but `.halion/.env`) are searched for the value.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from halion_nb.testing import FakeOpenAI, call, reply

SECRET = "hx-Q9v2Lk7RtZp3Wm8N"
"""No character JSON or repr would escape, so that a leak shows up verbatim."""

WHOAMI = '''\
%%tool --save
import os


def whoami(service: str) -> str:
    """Say who the token belongs to on a service.

    Args:
        service: The service, e.g. github.
    """
    return f"octocat on {service}, token {os.environ['DEMO_SERVICE_TOKEN']}"
'''

CHECK_TOKEN = '''\
%%tool
import os


def check_token(service: str) -> str:
    """Check the token against a service.

    Args:
        service: The service, e.g. github.
    """
    raise RuntimeError(f"{service} rejected the token {os.environ['DEMO_SERVICE_TOKEN']}")
'''

DRAFT_CODE = '''\
import os


def token_length(service: str) -> int:
    """Length of the service token.

    Args:
        service: The service.
    """
    return len(os.environ["DEMO_SERVICE_TOKEN"])
'''

CELLS = [
    "%load_ext halion_nb\nimport os\nfrom halion_nb import use_workspace\nws = use_workspace(os.environ['HALION_HOME'])",
    "with open(os.environ.pop('SECRET_SOURCE')) as f:\n    ws.env.set('DEMO_SERVICE_TOKEN', f.read().strip())",
    WHOAMI,
    CHECK_TOKEN,
    "result = ws.chat('Who am I on github? Check my token too.')\nresult",
    "print(result)",
    "result.tool_calls",
    "%halion chat and what was the token again?",
    "%halion log -n 50",
    "%halion log --errors",
    "ws.log.recent(20)",
    "ws.env",
    "%halion env",
    "%halion save --all",
    "%halion show whoami",
    "%halion tools",
    "ws.tools",
    "ws.conversation",
    '%halion draft "the length of the DEMO_SERVICE_TOKEN"',
    # chains: saved to chains/*.json, run, and the run displayed
    ("from halion_nb.models import Toolchain, ToolchainStep\n"
     "chain = Toolchain(name='who_chain', steps=[ToolchainStep(id='who', tool='whoami', arguments={'service': 'gitlab'})])\n"
     "print(ws.chains.save(chain))\n"
     "run = ws.chains.run('who_chain')\nrun"),
    "print(run)",
    "run.steps[0]",
    ("try:\n    ws.chains.run(Toolchain(name='bad_chain', steps=[ToolchainStep(id='c', tool='check_token', "
     "arguments={'service': 'gitlab'})])).raise_for_error()\nexcept Exception as exc:\n    print(exc)"),
    ("ws.chains.run(Toolchain(name='bad_chain', steps=[ToolchainStep(id='c', tool='check_token', "
     "arguments={'service': 'gitlab'})]))"),
]


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> tuple[Path, str]:
    """Run the notebook in a real kernel; return the workspace and the executed notebook's JSON."""
    from nbclient import NotebookClient

    home = tmp_path / "ws"
    source = tmp_path / "secret.txt"  # outside the workspace; the kernel reads it once
    source.write_text(SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-key-for-tests")
    monkeypatch.setenv("HALION_HOME", str(home))
    monkeypatch.setenv("HALION_REPLAY", str(home / "session.jsonl"))  # live + replay path: record mode
    monkeypatch.setenv("SECRET_SOURCE", str(source))
    monkeypatch.delenv("HALION_MODEL", raising=False)
    fake_openai.script(
        reply(tool_calls=[call("whoami", {"service": "github"}), call("check_token", {"service": "github"})]),
        reply(f"You are octocat; your token is {SECRET}, and github rejected it."),
        reply(f"The token was {SECRET} (as the tool said).", chunk_size=3),  # streamed, the token in pieces
        reply(json_content={"name": "token_length", "code": DRAFT_CODE, "env_vars": ["DEMO_SERVICE_TOKEN"],
                            "rationale": f"Reads the token (for example {SECRET}) and counts it."}),
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    source.unlink()
    return home, nbformat.writes(nb)


def test_a_secret_reaches_no_output_log_file_or_recording(session: tuple[Path, str], fake_openai: FakeOpenAI) -> None:
    home, notebook = session
    # the session really used the secret: the tools read it (and the model got it redacted)
    assert "token ***" in json.dumps(fake_openai.requests[1]["messages"])
    assert fake_openai.pending == 0, "every scripted answer was asked for"
    assert SECRET in (home / ".halion" / ".env").read_text()
    nb = nbformat.reads(notebook, as_version=4)
    errors = [o for c in nb.cells for o in c.outputs if o["output_type"] == "error"]
    assert errors == [], errors
    assert "***" in notebook, "the secret was shown, redacted"
    assert "rejected the token ***" in notebook, "the tool's error message is shown, redacted"
    printed = next(c for c in nb.cells if c.source == "print(result)").outputs[0]["text"]
    assert printed.startswith("You are octocat; your token is ***")

    pieces = [SECRET[i:i + 8] for i in range(len(SECRET) - 7)]
    leaks = [f"notebook cell {i}: {c.source.splitlines()[0]!r}" for i, c in enumerate(nb.cells)
             if any(p in json.dumps(c.outputs) for p in pieces)]
    expected = {
        "call log": sorted((home / ".halion").glob("calls.sqlite*")),
        "tool file": sorted((home / "tools").glob("*.py")),
        "chain file": sorted((home / "chains").glob("*.json")),
        "replay file": [home / "session.jsonl"],
    }
    for kind, paths in expected.items():
        assert paths and all(p.is_file() for p in paths), f"no {kind} was written"
    everything = [p for p in home.rglob("*") if p.is_file() and p.name != ".env"]
    for path in everything:
        data = path.read_bytes()
        if any(p.encode() in data or p.encode("utf-16-le") in data for p in pieces):
            leaks.append(str(path.relative_to(home)))
    assert leaks == [], f"the secret leaked into: {leaks}"
    assert {p.name for p in expected["tool file"]} == {"whoami.py", "check_token.py"}
