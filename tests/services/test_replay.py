"""Record a conversation against a live (fake) server, then replay it offline through the SDK."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from halion_nb.errors import ConfigError, ConnectionLost, RateLimited, ReplayMismatch
from halion_nb.services import llm
from halion_nb.services.replay import first_difference
from halion_nb.testing import FakeOpenAI, call, cut_stream, error, reply
from halion_nb.workspace import Workspace

KEY = "sk-fake-key-for-tests"


def weather(city: str) -> dict[str, object]:
    """Current weather.

    Args:
        city: the city
    """
    return {"city": city, "temp_c": 21}


def make_ws(path: Path, replay: Path) -> Workspace:
    ws = Workspace(path, model="gpt-test", replay=replay)
    ws.tools.register(weather)
    ws.max_retries = 1
    return ws


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "HALION_REPLAY", "HALION_MODEL"):
        monkeypatch.delenv(name, raising=False)


def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *script: object, turns: list[tuple[str, bool]]) -> Path:
    """Run `turns` (message, streamed?) against a fake server while recording; return the file."""
    recording = tmp_path / "demo.jsonl"
    with FakeOpenAI(*script) as server:  # type: ignore[arg-type]
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        ws = make_ws(tmp_path / "live", recording)
        assert llm.mode(ws) == "record"
        for message, streamed in turns:
            try:
                ws.chat(message, on_text=(lambda d: None) if streamed else None)
            except Exception:
                pass
        ws.log.close()
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")
    return recording


SCRIPT = (
    reply(tool_calls=[call("weather", {"city": "Madrid"}), call("weather", {"city": "Oslo"})]),
    reply("Madrid and Oslo are both at 21 °C."),
    reply("You're welcome!"),
)
TURNS = [("Weather in Madrid and Oslo?", True), ("Thanks", False)]


def test_record_then_replay_offline_gives_the_same_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recording = tmp_path / "demo.jsonl"
    with FakeOpenAI(*SCRIPT) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        live = make_ws(tmp_path / "live", recording)
        first = live.chat(TURNS[0][0], on_text=lambda d: None)
        second = live.chat(TURNS[1][0])
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")

    entries = [json.loads(line) for line in recording.read_text().splitlines()]
    assert len(entries) == 3 and [e["status"] for e in entries] == [200, 200, 200]
    assert "data: " in entries[0]["body"] and entries[0]["request"]["stream"] is True
    assert set(entries[0]["headers"]) <= {"content-type", "retry-after", "retry-after-ms", "x-should-retry"}
    assert KEY not in recording.read_text()

    offline = make_ws(tmp_path / "offline", recording)
    assert llm.mode(offline) == "replay"
    deltas: list[str] = []
    again = offline.chat(TURNS[0][0], on_text=deltas.append)
    assert len(deltas) > 1, "the recorded stream is replayed as a stream"
    assert again.text == first.text == "Madrid and Oslo are both at 21 °C."
    assert [(r.name, r.arguments, r.result) for r in again.tool_calls] == \
           [(r.name, r.arguments, r.result) for r in first.tool_calls]
    assert offline.chat(TURNS[1][0]).text == second.text == "You're welcome!"
    assert offline.conversation.messages == live.conversation.messages


def test_a_divergent_request_names_the_difference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: None) -> None:
    recording = record(tmp_path, monkeypatch, *SCRIPT, turns=TURNS)
    ws = make_ws(tmp_path / "offline", recording)
    with pytest.raises(ReplayMismatch) as info:
        ws.chat("Weather in Paris?")
    text = str(info.value)
    assert "request 1" in text and "messages[0].content" in text
    assert "'Weather in Madrid and Oslo?'" in text and "'Weather in Paris?'" in text
    assert ws.conversation.messages == [{"role": "user", "content": "Weather in Paris?"}]


def test_a_request_beyond_the_recording_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      offline: None) -> None:
    recording = record(tmp_path, monkeypatch, reply("only answer"), turns=[("hi", False)])
    ws = make_ws(tmp_path / "offline", recording)
    assert ws.chat("hi").text == "only answer"
    with pytest.raises(ReplayMismatch, match="beyond the recording"):
        ws.chat("more?")


def test_recorded_failures_replay_as_the_same_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     offline: None) -> None:
    limited = error(429, "slow down", headers={"retry-after-ms": "1"})
    recording = record(tmp_path, monkeypatch, limited, limited, cut_stream(after=2), reply("fine now"),
                       turns=[("a", False), ("b", True), ("c", False)])
    ws = make_ws(tmp_path / "offline", recording)
    with pytest.raises(RateLimited):
        ws.chat("a")
    with pytest.raises(ConnectionLost):
        ws.chat("b", on_text=lambda d: None)
    assert ws.chat("c").text == "fine now"


def test_a_missing_replay_file_is_a_config_error(tmp_path: Path, offline: None) -> None:
    ws = make_ws(tmp_path, tmp_path / "nowhere.jsonl")
    with pytest.raises(ConfigError, match="does not exist.*Record it first"):
        ws.chat("hi")


def test_first_difference_ignores_volatile_fields() -> None:
    base = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    assert first_difference(base, {**base, "stream_options": {"include_usage": True}, "temperature": 0}) is None
    with_null = {**base, "messages": [{"role": "user", "content": "hi", "name": None}]}
    assert first_difference(base, with_null) is None
    assert first_difference(base, {**base, "model": "other"}) == "model: expected 'm', got 'other'"
    longer = {**base, "messages": base["messages"] + [{"role": "user", "content": "again"}]}
    assert "expected 1 message(s), got 2" in (first_difference(base, longer) or "")
    tools = {**base, "tools": [{"type": "function", "function": {"name": "add"}}]}
    assert first_difference(base, tools) == "tools: expected [], got ['add']"


TOKEN = "hx-Q9v2Lk7RtZp3Wm8N"
PEM = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIB\n"
       "AQC7VJTUt9Us8cKBwko1a2b3c4d5e6f7g8h9i0jAkBlCmDnEoFp\n-----END PRIVATE KEY-----")


def use_token(token: str) -> str:
    """Use a token.

    Args:
        token: the token
    """
    return f"used {token}"


@pytest.mark.parametrize("size", [2, 3, 7])
def test_a_secret_streamed_in_pieces_leaves_no_piece_in_the_recording(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    recording = tmp_path / "secret.jsonl"
    script = (reply(f"The token is {TOKEN} and the key is\n{PEM}\nbye", chunk_size=size),
              reply(tool_calls=[call("use_token", {"token": TOKEN})]), reply("done", chunk_size=size))
    with FakeOpenAI(*script) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        live = make_ws(tmp_path / "live", recording)
        live.env.set("SERVICE_TOKEN", TOKEN)
        live.env.set("TLS_PRIVATE_KEY", PEM)
        live.tools.register(use_token)
        first = live.chat("what is my token?", on_text=lambda d: None)
        live.chat("use it", on_text=lambda d: None)
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")
    assert first.text.startswith(f"The token is {TOKEN}")  # the live answer had it, in pieces

    saved = recording.read_text()
    pieces = [TOKEN[i:i + 4] for i in range(len(TOKEN) - 3)] + ["MIIE", "AQC7", "wggS"]
    assert [p for p in pieces if p in saved] == [], "no piece of a secret is in the recording"
    entries = [json.loads(line) for line in saved.splitlines()]
    assert all("data: " in e["body"] for e in entries[:3])

    offline = make_ws(tmp_path / "offline", recording)
    offline.tools.register(use_token)
    shown: list[str] = []
    again = offline.chat("what is my token?", on_text=shown.append)
    assert again.text == "The token is *** and the key is\n***\nbye" == "".join(shown)
    used = offline.chat("use it", on_text=lambda d: None)
    assert [r.arguments for r in used.tool_calls] == [{"token": "***"}] and used.text == "done"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([TOKEN, TOKEN[:5], "hx-", "MIIE", PEM, PEM[:30], " ", "\n", "é", '"', "ok", "{}"]),
                max_size=10).map("".join), st.integers(1, 9))
def test_recorded_events_hold_the_redacted_whole_text_and_stay_json(text: str, size: int) -> None:
    from halion_nb.core.redaction import Redactor, StreamRedactor
    from halion_nb.services.replay import redact_events

    redactor = Redactor([TOKEN, PEM])
    pieces = [text[i:i + size] for i in range(0, len(text), size)]
    args = json.dumps({"token": text})
    events = [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    events += [{"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": args[i:i + 4]}}]}}]}
               for i in range(0, len(args), 4)]
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    out = redact_events(body, lambda: StreamRedactor(redactor))
    parsed = [json.loads(block[len("data: "):]) for block in out.split("\n\n") if block and block != "data: [DONE]"]
    deltas = [e["choices"][0]["delta"] for e in parsed]
    assert "".join(d.get("content", "") for d in deltas) == redactor.redact(text)
    assert "".join(d["tool_calls"][0]["function"]["arguments"] for d in deltas if "tool_calls" in d) == redactor.redact(args)
    assert out.endswith("data: [DONE]\n\n")
