"""The model layer: configuration, structured output, error mapping, lazy import."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from pydantic import BaseModel

from halion_nb.errors import AuthenticationFailed, ConfigError, ModelServiceError, ServiceUnavailable
from halion_nb.services import llm
from halion_nb.testing import FakeOpenAI, error, malformed, reply
from halion_nb.workspace import Workspace

KEY = "sk-fake-key-for-tests"


class Draft(BaseModel):
    name: str
    steps: list[str]


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> Iterator[Workspace]:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("HALION_REPLAY", raising=False)
    monkeypatch.delenv("HALION_MODEL", raising=False)
    w = Workspace(tmp_path)
    w.max_retries = 0
    yield w
    w.log.close()


def test_parse_structured_returns_the_model_and_logs_it(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply(json_content={"name": "weather_report", "steps": ["fetch", "format"]}, usage=(50, 12)))
    out = llm.parse_structured(ws, [{"role": "user", "content": "draft a chain"}], Draft, model="gpt-draft")
    assert out == Draft(name="weather_report", steps=["fetch", "format"])
    body = fake_openai.requests[0]
    assert body["model"] == "gpt-draft" and body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "Draft"
    row = ws.log.recent(1, kind="model")[0]
    assert (row.name, row.prompt_tokens, row.completion_tokens, row.meta["purpose"]) == ("gpt-draft", 50, 12, "draft")


def test_parse_structured_maps_errors(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(error(401, "bad key"), reply(json_content={"name": "x"}), malformed())
    messages = [{"role": "user", "content": "draft"}]
    with pytest.raises(AuthenticationFailed):
        llm.parse_structured(ws, messages, Draft)
    with pytest.raises(ModelServiceError,
                       match=r"not the structured reply that was asked for \(steps: Field required\)") as info:
        llm.parse_structured(ws, messages, Draft)
    assert "Draft" not in str(info.value), "an internal class name means nothing to the person"
    with pytest.raises(ServiceUnavailable, match="cannot be read"):
        llm.parse_structured(ws, messages, Draft)
    assert all(r.error for r in ws.log.recent(3, kind="model"))


def test_model_comes_from_halion_model(ws: Workspace, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALION_MODEL", "llama3.2")
    fake_openai.script(reply("hi"))
    assert ws.chat("hello").text == "hi"
    assert fake_openai.requests[0]["model"] == "llama3.2"


def test_base_url_without_key_uses_a_placeholder(ws: Workspace, fake_openai: FakeOpenAI,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    fake_openai.script(reply("local model here"))
    assert llm.mode(ws) == "live"
    assert ws.chat("hello").text == "local model here"
    assert fake_openai.request_headers[0]["authorization"] == f"Bearer {llm.NO_KEY}"


def test_the_key_is_sent_as_the_sdk_reads_it(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("ok"))
    ws.chat("hello")
    assert fake_openai.request_headers[0]["authorization"] == f"Bearer {KEY}"


def test_no_configuration_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "HALION_REPLAY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY.*OPENAI_BASE_URL.*HALION_MODEL.*HALION_REPLAY"):
        llm.complete(Workspace(tmp_path), [{"role": "user", "content": "hi"}])


def test_the_client_follows_configuration_changes(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    first = llm.client(ws)
    assert llm.client(ws) is first
    ws.request_timeout = 5
    second = llm.client(ws)
    assert second is not first and second.timeout == 5 and second.max_retries == 0


def test_importing_halion_does_not_import_openai() -> None:
    code = ("import sys, halion_nb, halion_nb.services.llm, halion_nb.services.chat, halion_nb.display.chat, "
            "halion_nb.notebook.chat_commands; print('openai' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_live_run_never_writes_a_shipped_recording(ws: Workspace, fake_openai: FakeOpenAI, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = llm.SHIPPED[1] / "replays" / "quickstart.jsonl"
    assert shipped.is_file()
    assert llm.mode(Workspace(tmp_path / "a", replay=shipped)) == "live", "OPENAI_BASE_URL is set: no recording"
    monkeypatch.setattr(llm, "SHIPPED", (tmp_path / "package", tmp_path / "notebooks"))
    recording = tmp_path / "notebooks" / "replays" / "demo.jsonl"
    recording.parent.mkdir(parents=True)
    recording.write_text('{"shipped": true}\n')
    demo = Workspace(tmp_path / "b", replay=recording)
    demo.max_retries = 0
    fake_openai.script(reply("Live answer."), reply("Recorded answer."))
    assert demo.chat("hi").text == "Live answer."
    assert recording.read_text() == '{"shipped": true}\n'
    monkeypatch.setenv("HALION_RECORD", "1")  # what notebooks/make_demos.py sets to rewrite them
    assert llm.mode(demo) == "record"
    demo.chat("again")
    assert "Recorded answer." in recording.read_text().splitlines()[-1]


def test_a_live_run_records_a_persons_own_replay_file(ws: Workspace, fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    mine = tmp_path / "mine.jsonl"
    fake_openai.script(reply("Kept."))
    own = Workspace(tmp_path / "c", replay=mine)
    own.max_retries = 0
    assert llm.mode(own) == "record" and own.chat("hello").text == "Kept."
    assert "Kept." in mine.read_text()
