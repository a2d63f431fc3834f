"""Faults of the model service, injected through the real openai SDK against the fake server.

For each fault: what the person sees (the exception and what it tells them to do, or the
ChatResult), what the history holds (the user message once, every tool call answered, no
half-written assistant message) and what the call log holds (model rows, retries included).
"""
from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Iterator

import pytest

from halion_nb.errors import ConnectionLost, RateLimited, ServiceTimeout, ServiceUnavailable
from halion_nb.models import CallRecord
from halion_nb.services import llm
from halion_nb.testing import FakeOpenAI, call, cut_stream, error, hang, malformed, reply
from halion_nb.workspace import Workspace

FAST = {"retry-after-ms": "1"}
"""Makes the SDK's retry of a 429 or 5xx wait 1 ms instead of its 0.5-8 s backoff."""
STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])


@pytest.fixture
def ws(served_ws: Workspace) -> Workspace:
    return served_ws


class EndsEarly(FakeOpenAI):
    """Closes each stream cleanly (a complete HTTP body) after `keep` events: no finish_reason, no [DONE]."""

    keep = 4

    def _chunks(self, r: Any, body: dict[str, Any]) -> Iterator[str]:
        return itertools.islice(super()._chunks(r, body), self.keep)


class Stalls(FakeOpenAI):
    """Sends the first events of each stream, then says nothing for 10 s (less if stopped)."""

    def _chunks(self, r: Any, body: dict[str, Any]) -> Iterator[str]:
        for i, event in enumerate(super()._chunks(r, body)):
            if i == 3:
                self._stopping.wait(10)
            yield event


@pytest.fixture
def fault(tally: Any) -> Iterator[Any]:
    """Counts the fault as injected now; the test calls `fault.survived()` once everything held."""

    class Fault:
        def survived(self) -> None:
            tally.add("faults", survived=1)

    tally.add("faults", injected=1)
    yield Fault()


def chat(ws: Workspace, message: str, stream: bool, deltas: list[str] | None = None) -> Any:
    return ws.conversation.send(message, stream=stream, on_text=None if deltas is None else deltas.append)


def retry(ws: Workspace, stream: bool) -> Any:
    return ws.conversation.retry(stream=stream)


def assert_history(messages: list[dict[str, Any]], *users: str) -> None:
    """The person's messages once each, in order; every tool call answered; no half-written answer."""
    assert [m["content"] for m in messages if m["role"] == "user"] == list(users)
    for i, m in enumerate(messages):
        if m["role"] == "assistant":
            assert m.get("content") or m.get("tool_calls"), f"empty assistant message {i}: {m}"
            ids = [c["id"] for c in m.get("tool_calls") or []]
            answers = [t.get("tool_call_id") for t in messages[i + 1:i + 1 + len(ids)]]
            assert answers == ids, f"tool calls of message {i} not answered in order: {ids} vs {answers}"
            for c in m.get("tool_calls") or []:
                assert c["function"]["name"] and c["id"], f"half-assembled tool call in message {i}: {c}"
        if m["role"] == "tool":
            before = [c["id"] for a in messages[:i] if a["role"] == "assistant" for c in a.get("tool_calls") or []]
            assert m["tool_call_id"] in before, f"tool message {i} answers no tool call"


def rows(ws: Workspace, kind: str | None = None) -> list[CallRecord]:
    """This conversation's log rows, oldest first."""
    return list(reversed(ws.log.recent(500, kind=kind, conversation_id=ws.conversation.id)))


def add_tool(ws: Workspace) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []

    def add(a: int, b: int) -> int:
        """Add two integers.

        Args:
            a: first number
            b: second number
        """
        seen.append((a, b))
        return a + b

    ws.tools.register(add)
    return seen


@STREAMS
def test_429_then_500_then_success_is_retried_by_the_sdk_and_logged(
        ws: Workspace, fake_openai: FakeOpenAI, fault: Any, stream: bool) -> None:
    ws.max_retries = 2  # type: ignore[attr-defined]
    fake_openai.script(error(429, "Rate limit reached", headers=FAST), error(500, "upstream exploded", headers=FAST),
                       reply("Hello after two retries."))
    result = chat(ws, "hello", stream)

    assert (result.text, result.stopped_reason, result.rounds) == ("Hello after two retries.", "stop", 1)
    assert [h["x-stainless-retry-count"] for h in fake_openai.request_headers] == ["0", "1", "2"]
    assert ws.conversation.messages == [{"role": "user", "content": "hello"},
                                        {"role": "assistant", "content": "Hello after two retries."}]
    first, second, final = rows(ws)
    assert (first.kind, first.meta["status"], first.meta["attempt"]) == ("model", 429, 1)
    assert first.error == "HTTP 429; the SDK retried (attempt 1 of 3)"
    assert (second.meta["status"], second.error) == (500, "HTTP 500; the SDK retried (attempt 2 of 3)")
    assert final.error is None and final.meta["attempts"] == 3
    assert final.result["text"] == "Hello after two retries." and final.arguments["stream"] is stream
    fault.survived()


def test_structured_output_retries_are_logged_too(ws: Workspace, fake_openai: FakeOpenAI, fault: Any) -> None:
    from pydantic import BaseModel

    class Plan(BaseModel):
        steps: list[str]

    ws.max_retries = 1  # type: ignore[attr-defined]
    fake_openai.script(error(503, "overloaded", headers=FAST), reply(json_content={"steps": ["a", "b"]}))
    assert llm.parse_structured(ws, [{"role": "user", "content": "plan"}], Plan) == Plan(steps=["a", "b"])
    retried, final = reversed(ws.log.recent(2, kind="model"))
    assert (retried.error, retried.meta["purpose"]) == ("HTTP 503; the SDK retried (attempt 1 of 2)", "draft")
    assert final.error is None and final.meta["attempts"] == 2
    fault.survived()


@STREAMS
def test_429_forever_is_a_clear_rate_limit_and_retry_works(
        ws: Workspace, fake_openai: FakeOpenAI, fault: Any, stream: bool) -> None:
    ws.max_retries = 2  # type: ignore[attr-defined]
    fake_openai.script(*[error(429, "Rate limit reached for gpt-test", headers=FAST)] * 3)
    with pytest.raises(RateLimited) as info:
        chat(ws, "hello", stream)
    message = str(info.value)
    assert "rate limiting" in message and "Rate limit reached for gpt-test" in message
    assert "conversation.retry()" in message and "ws.max_retries" in message and "after 2 retries" in message
    assert len(fake_openai.requests) == 3
    assert ws.conversation.messages == [{"role": "user", "content": "hello"}]
    logged = rows(ws)
    assert [r.meta.get("status") for r in logged[:2]] == [429, 429] and all(r.meta.get("retried") for r in logged[:2])
    assert logged[2].error.startswith("RateLimited: ") and logged[2].meta["attempts"] == 3
    assert logged[2].result is None

    fake_openai.script(reply("Hi, finally."))
    assert retry(ws, stream).text == "Hi, finally."
    assert fake_openai.requests[-1]["messages"] == [{"role": "user", "content": "hello"}]
    assert_history(ws.conversation.messages, "hello")
    assert [m["role"] for m in ws.conversation.messages] == ["user", "assistant"]
    assert rows(ws)[-1].error is None and len(rows(ws)) == 4
    fault.survived()


def test_a_stream_cut_after_half_the_tokens_keeps_no_partial_answer(
        ws: Workspace, fake_openai: FakeOpenAI, fault: Any) -> None:
    words = "one two three four five six seven eight nine ten eleven twelve"
    fake_openai.script(reply("first answer"), cut_stream(after=6, text=words))
    chat(ws, "one", True)
    before = list(ws.conversation.messages)
    deltas: list[str] = []
    with pytest.raises(ConnectionLost) as info:
        chat(ws, "two", True, deltas)
    assert "".join(deltas).split() == words.split()[:6], "the person saw half the answer stream in"
    assert "cut midway" in str(info.value) and "conversation.retry()" in str(info.value)
    assert ws.conversation.messages == before + [{"role": "user", "content": "two"}]
    last = rows(ws, "model")[-1]
    assert last.error.startswith("ConnectionLost: ") and last.result is None and last.arguments["stream"] is True

    fake_openai.script(reply("second answer, in full"))
    again: list[str] = []
    assert ws.conversation.retry(on_text=again.append).text == "second answer, in full"
    assert "".join(again) == "second answer, in full"
    assert_history(ws.conversation.messages, "one", "two")
    assert [m["content"] for m in ws.conversation.messages if m["role"] == "assistant"] == [
        "first answer", "second answer, in full"]
    assert [r.error is None for r in rows(ws, "model")] == [True, False, True]
    fault.survived()


@pytest.mark.parametrize("what", ["text", "tool_call"])
def test_a_stream_that_ends_cleanly_before_the_finish_is_not_taken_as_the_answer(
        ws: Workspace, monkeypatch: pytest.MonkeyPatch, fault: Any, what: str) -> None:
    seen = add_tool(ws)
    first = (reply("one two three four five six seven eight") if what == "text"
             else reply(tool_calls=[call("add", {"a": 1, "b": 2})]))
    with EndsEarly(first) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        deltas: list[str] = []
        with pytest.raises(ConnectionLost) as info:
            chat(ws, "go", True, deltas)
        assert "stopped before the model finished it" in str(info.value)
        assert "conversation.retry()" in str(info.value)
        assert ws.conversation.messages == [{"role": "user", "content": "go"}] and seen == []
        assert deltas == ([] if what == "tool_call" else ["one", " two", " three"])
        (row,) = rows(ws)
        assert row.error.startswith("ConnectionLost: ") and row.result is None
        server.keep = 100
        server.script(reply("Complete this time."))
        assert ws.conversation.retry(on_text=deltas.append).text == "Complete this time."
    assert_history(ws.conversation.messages, "go")
    assert len(ws.conversation.messages) == 2
    fault.survived()


def test_a_body_cut_halfway_without_streaming_is_retried_by_the_sdk(
        ws: Workspace, fake_openai: FakeOpenAI, fault: Any) -> None:
    fake_openai.script(cut_stream())
    with pytest.raises(ConnectionLost, match="conversation.retry"):
        chat(ws, "hi", False)
    assert ws.conversation.messages == [{"role": "user", "content": "hi"}]

    ws.max_retries = 1  # type: ignore[attr-defined]
    fake_openai.script(cut_stream(), reply("Whole answer, second try."))
    assert retry(ws, False).text == "Whole answer, second try."
    assert len(fake_openai.requests) == 3
    assert_history(ws.conversation.messages, "hi")
    assert [m["role"] for m in ws.conversation.messages] == ["user", "assistant"]
    failed, retried, final = rows(ws)
    assert failed.error.startswith("ConnectionLost: ")
    assert retried.error == "no full answer (timeout or connection cut); the SDK retried (attempt 1 of 2)"
    assert final.error is None and final.meta["attempts"] == 2
    fault.survived()


@STREAMS
def test_a_malformed_json_body_says_the_server_is_not_compatible(
        ws: Workspace, fake_openai: FakeOpenAI, fault: Any, stream: bool) -> None:
    fake_openai.script(malformed("<html>502 Bad Gateway</html> {"))
    with pytest.raises(ServiceUnavailable) as info:
        chat(ws, "hello", stream)
    assert "cannot be read" in str(info.value) and "OPENAI_BASE_URL" in str(info.value)
    assert "Traceback" not in str(info.value)
    assert ws.conversation.messages == [{"role": "user", "content": "hello"}]
    (row,) = rows(ws)
    assert row.error.startswith("ServiceUnavailable: ") and row.result is None

    fake_openai.script(reply("Readable now."))
    assert retry(ws, stream).text == "Readable now."
    assert_history(ws.conversation.messages, "hello")
    assert len(ws.conversation.messages) == 2
    fault.survived()


@STREAMS
def test_a_tool_call_with_truncated_arguments_goes_back_to_the_model(
        ws: Workspace, fake_openai: FakeOpenAI, fault: Any, stream: bool) -> None:
    seen = add_tool(ws)
    fake_openai.script(
        reply(tool_calls=[call("add", '{"a": 2, "b"')], finish_reason="length"),
        reply(tool_calls=[call("add", {"a": 2, "b": 3})]),
        reply("2 + 3 = 5"),
    )
    result = chat(ws, "add 2 and 3", stream)

    assert (result.text, result.stopped_reason, result.rounds) == ("2 + 3 = 5", "stop", 3)
    truncated, good = result.tool_calls
    assert truncated.arguments == '{"a": 2, "b"' and truncated.result is None
    assert "not valid JSON" in truncated.error and "a, b" in truncated.error
    assert good.result == 5 and seen == [(2, 3)], "the tool never ran on the truncated arguments"
    fed_back = [m for m in fake_openai.requests[1]["messages"] if m["role"] == "tool"]
    assert len(fed_back) == 1 and fed_back[0]["content"].startswith("Error: Arguments for 'add' are not valid JSON")
    assert_history(ws.conversation.messages, "add 2 and 3")
    assert [r.kind for r in rows(ws)] == ["model", "tool", "model", "tool", "model"]
    model0, tool0 = rows(ws)[:2]
    assert model0.meta["finish_reason"] == "length" and model0.result["tool_calls"][0]["arguments"] == '{"a": 2, "b"'
    assert tool0.error and "not valid JSON" in tool0.error and tool0.arguments == '{"a": 2, "b"'
    fault.survived()


@STREAMS
def test_a_model_that_never_stops_calling_tools_is_ended_by_the_round_bound(
        ws: Workspace, fake_openai: FakeOpenAI, fault: Any, stream: bool) -> None:
    seen = add_tool(ws)
    ws.max_rounds = 3
    fake_openai.default = reply(tool_calls=[call("add", {"a": 1, "b": 1})])
    result = chat(ws, "loop", stream)

    assert (result.stopped_reason, result.rounds, len(fake_openai.requests)) == ("max_rounds", 3, 3)
    assert "Stopped after 3 model round(s)" in result.text and "ws.max_rounds" in result.text
    assert len(result.tool_calls) == 3 and seen == [(1, 1)] * 3
    assert_history(ws.conversation.messages, "loop")
    assert ws.conversation.messages[-1]["role"] == "tool"
    assert [r.kind for r in rows(ws)] == ["model", "tool"] * 3 and not any(r.error for r in rows(ws))

    fake_openai.default = None
    fake_openai.script(reply("Stopped, as asked."))
    assert chat(ws, "stop now", stream).text == "Stopped, as asked."
    assert_history(ws.conversation.messages, "loop", "stop now")
    fault.survived()


@STREAMS
def test_fifty_tool_calls_in_one_response_all_run_in_order(
        ws: Workspace, fake_openai: FakeOpenAI, fault: Any, stream: bool) -> None:
    lock, running, peak, seen = threading.Lock(), [0], [0], []

    def square(n: int) -> int:
        """Square a number.

        Args:
            n: the number
        """
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
            seen.append(n)
        return n * n

    ws.tools.register(square)
    fake_openai.script(reply(tool_calls=[call("square", {"n": i}) for i in range(50)]), reply("All fifty squared."))
    result = chat(ws, "square 0..49", stream)

    assert result.text == "All fifty squared." and result.rounds == 2
    assert sorted(seen) == list(range(50)) and peak[0] > 1
    assert [r.result for r in result.tool_calls] == [i * i for i in range(50)]
    assert [r.arguments for r in result.tool_calls] == [{"n": i} for i in range(50)]
    sent = fake_openai.requests[1]["messages"]
    ids = [c["id"] for c in sent[1]["tool_calls"]]
    assert len(set(ids)) == 50 and [m["tool_call_id"] for m in sent[2:52]] == ids
    assert [m["content"] for m in sent[2:52]] == [str(i * i) for i in range(50)]
    assert_history(ws.conversation.messages, "square 0..49")
    tools = rows(ws, "tool")
    assert len(tools) == 50 and [r.arguments for r in tools] == [{"n": i} for i in range(50)]
    assert [r.result for r in tools] == [i * i for i in range(50)] and not any(r.error for r in tools)
    assert [r.meta["call_id"] for r in tools] == ids
    fault.survived()


@STREAMS
def test_a_server_that_hangs_times_out_from_config(
        ws: Workspace, fake_openai: FakeOpenAI, fault: Any, stream: bool) -> None:
    ws.request_timeout = 0.5
    fake_openai.script(hang(10))
    started = time.perf_counter()
    with pytest.raises(ServiceTimeout) as info:
        chat(ws, "are you there?", stream)
    elapsed = time.perf_counter() - started
    assert 0.4 < elapsed < 3, f"took {elapsed:.2f} s with ws.request_timeout = 0.5"
    assert "within 0.5 s (ws.request_timeout)" in str(info.value) and "raise ws.request_timeout" in str(info.value)
    assert ws.conversation.messages == [{"role": "user", "content": "are you there?"}]
    (row,) = rows(ws)
    assert row.error.startswith("ServiceTimeout: ") and row.duration_ms >= 400

    fake_openai.script(reply("Here now."))
    assert retry(ws, stream).text == "Here now."
    assert_history(ws.conversation.messages, "are you there?")
    assert len(ws.conversation.messages) == 2
    fault.survived()


def test_a_hang_retried_by_the_sdk_is_logged_then_answered(
        ws: Workspace, fake_openai: FakeOpenAI, fault: Any) -> None:
    ws.request_timeout = 5  # the whole wait, retries included: the hang (then a dropped connection) fits in it
    ws.max_retries = 1  # type: ignore[attr-defined]
    fake_openai.script(hang(0.4), reply("Sorry, I was slow."))
    assert chat(ws, "hello?", False).text == "Sorry, I was slow."
    assert_history(ws.conversation.messages, "hello?")
    retried, final = rows(ws)
    assert retried.meta == {"purpose": "chat", "attempt": 1, "status": None, "retried": True}
    assert retried.error.startswith("no full answer (timeout") and retried.duration_ms >= 300
    assert final.error is None and final.meta["attempts"] == 2
    fault.survived()


def test_a_stream_that_stalls_midway_times_out_without_a_partial_answer(
        ws: Workspace, monkeypatch: pytest.MonkeyPatch, fault: Any) -> None:
    ws.request_timeout = 0.5
    with Stalls(reply("one two three four five six")) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        deltas: list[str] = []
        started = time.perf_counter()
        with pytest.raises(ServiceTimeout, match=r"within 0\.5 s \(ws\.request_timeout\)"):
            chat(ws, "talk", True, deltas)
        assert time.perf_counter() - started < 3 and deltas == ["one", " two"]
    assert ws.conversation.messages == [{"role": "user", "content": "talk"}]
    (row,) = rows(ws)
    assert row.error.startswith("ServiceTimeout: ") and row.result is None
    fault.survived()
