"""The chat loop, driven through the real openai SDK over HTTP against the fake server."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from halion_nb.display.printers import formats
from halion_nb.errors import (
    AuthenticationFailed, BadRequest, ConfigError, ConnectionLost, HalionError, RateLimited, ServiceTimeout,
    ServiceUnavailable,
)
from halion_nb.testing import FakeOpenAI, call, cut_stream, error, hang, reply
from halion_nb.workspace import Workspace

FAST_429 = {"retry-after-ms": "1"}


@pytest.fixture
def ws(served_ws: Workspace) -> Workspace:
    return served_ws


def add_tools(ws: Workspace) -> dict[str, list[Any]]:
    """`add` and `slow_echo` tools; the returned dict collects what each call saw."""
    seen: dict[str, list[Any]] = {"add": [], "slow": []}

    def add(a: int, b: int) -> int:
        """Add two integers.

        Args:
            a: first number
            b: second number
        """
        seen["add"].append((a, b))
        return a + b

    def slow_echo(text: str) -> str:
        """Echo the text after a short pause.

        Args:
            text: what to echo
        """
        start = time.perf_counter()
        time.sleep(0.3)
        seen["slow"].append((text, threading.current_thread().name, start, time.perf_counter()))
        return f"echo: {text}"

    ws.tools.register(add)
    ws.tools.register(slow_echo)
    return seen


def tool_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["role"] == "tool"]


def assert_valid_history(messages: list[dict[str, Any]]) -> None:
    """Every assistant tool call is answered by a tool message right after it."""
    for i, m in enumerate(messages):
        if m["role"] == "assistant" and m.get("tool_calls"):
            ids = [c["id"] for c in m["tool_calls"]]
            answers = [t["tool_call_id"] for t in messages[i + 1:i + 1 + len(ids)] if t["role"] == "tool"]
            assert answers == ids, f"tool calls of message {i} not answered: {ids} vs {answers}"


def test_text_reply(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("Hello! How can I help?", usage=(12, 6)))
    result = ws.chat("hi")
    assert result.text == "Hello! How can I help?"
    assert (result.stopped_reason, result.rounds, result.tool_calls) == ("stop", 1, [])
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.total_tokens) == (12, 6, 18)
    assert [m["role"] for m in result.messages] == ["user", "assistant"]
    body = fake_openai.requests[0]
    assert body["model"] == "gpt-test" and "tools" not in body and not body.get("stream")
    assert "Hello! How can I help?" in repr(result) and "Hello! How can I help?" in formats(result)["text/html"]


def test_system_prompt_and_history_carry_over(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("one"), reply("two"))
    conv = ws.new_chat(system="Be terse.")
    conv.send("first")
    conv.send("second")
    sent = fake_openai.requests[1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[0]["content"] == "Be terse." and ws.conversation is conv and len(conv.id) == 32


def test_two_tool_calls_run_concurrently_results_in_call_order(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    seen = add_tools(ws)
    fake_openai.script(
        reply(tool_calls=[call("slow_echo", {"text": "A"}), call("slow_echo", {"text": "B"})]),
        reply("Both echoed."),
    )
    result = ws.chat("echo A and B")
    assert result.text == "Both echoed." and result.rounds == 2
    runs = {text: (thread, start, end) for text, thread, start, end in seen["slow"]}
    (ta, sa, ea), (tb, sb, eb) = runs["A"], runs["B"]
    assert ta != tb and sa < eb and sb < ea, "the two calls did not overlap in time"
    sent_tools = [t["function"]["name"] for t in fake_openai.requests[0]["tools"]]
    assert sent_tools == ["add", "slow_echo"]
    answers = tool_messages(fake_openai.requests[1]["messages"])
    assert [a["content"] for a in answers] == ["echo: A", "echo: B"]
    calls = fake_openai.requests[1]["messages"][1]["tool_calls"]
    assert [a["tool_call_id"] for a in answers] == [c["id"] for c in calls]
    assert [(r.name, r.arguments, r.result) for r in result.tool_calls] == [
        ("slow_echo", {"text": "A"}, "echo: A"), ("slow_echo", {"text": "B"}, "echo: B")]
    assert all(r.duration_ms > 0 and r.id and not r.to_person for r in result.tool_calls)


def test_bad_arguments_go_back_to_the_model_which_corrects_them(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    seen = add_tools(ws)
    fake_openai.script(
        reply(tool_calls=[call("add", '{"a": 1')]),
        reply(tool_calls=[call("add", {"a": "one", "b": 2})]),
        reply(tool_calls=[call("add", {"a": 1, "b": 2})]),
        reply("1 + 2 = 3"),
    )
    result = ws.chat("add 1 and 2")
    assert result.text == "1 + 2 = 3" and result.rounds == 4
    bad_json, bad_type, good = result.tool_calls
    assert "not valid JSON" in bad_json.error and bad_json.arguments == '{"a": 1'
    assert "a:" in bad_type.error and bad_type.result is None
    assert good.error is None and good.result == 3 and seen["add"] == [(1, 2)]
    fed_back = tool_messages(fake_openai.requests[1]["messages"])[-1]["content"]
    assert fed_back.startswith("Error:") and "not valid JSON" in fed_back
    assert "Traceback" not in fed_back
    assert len(ws.log.recent(10, kind="tool", errors_only=True)) == 2


def test_unknown_tool_lists_the_available_ones(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    add_tools(ws)
    fake_openai.script(reply(tool_calls=[call("multiply", {"a": 2, "b": 3})]), reply("Sorry, I cannot multiply."))
    result = ws.chat("2*3?")
    message = tool_messages(fake_openai.requests[1]["messages"])[0]["content"]
    assert "Unknown tool 'multiply'" in message and "add, slow_echo" in message
    assert result.tool_calls[0].error and result.text == "Sorry, I cannot multiply."


def test_a_tool_that_raises_is_reported_without_traceback(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    def fail(reason: str) -> str:
        """Always fails.

        Args:
            reason: why
        """
        raise ValueError(f"cannot do {reason}")

    ws.tools.register(fail)
    fake_openai.script(reply(tool_calls=[call("fail", {"reason": "that"})]), reply("It failed."))
    result = ws.chat("try")
    content = tool_messages(fake_openai.requests[1]["messages"])[0]["content"]
    assert content == "Error: ValueError: cannot do that"
    assert result.tool_calls[0].error == "ValueError: cannot do that"
    row = ws.log.recent(1, kind="tool")[0]
    assert row.name == "fail" and row.error == "ValueError: cannot do that" and row.arguments == {"reason": "that"}


def test_a_tool_that_calls_sys_exit_is_a_tool_error_not_the_end_of_the_turn(
    ws: Workspace, fake_openai: FakeOpenAI
) -> None:
    def quit_now(code: int) -> str:
        """Exits the process.

        Args:
            code: exit status
        """
        raise SystemExit(code)

    ws.tools.register(quit_now)
    fake_openai.script(reply(tool_calls=[call("quit_now", {"code": 3})]), reply("The tool exited."))
    result = ws.chat("try")
    assert result.text == "The tool exited."
    assert result.tool_calls[0].error == "SystemExit: 3"


def test_a_tool_that_times_out_is_abandoned_and_reported(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    release = threading.Event()

    def stuck(x: int) -> int:
        """Takes too long.

        Args:
            x: anything
        """
        release.wait(2)
        return x

    ws.tools.register(stuck)
    ws.tool_timeout = 0.2
    fake_openai.script(reply(tool_calls=[call("stuck", {"x": 1})]), reply("That tool is too slow."))
    try:
        result = ws.chat("go")
    finally:
        release.set()
    content = tool_messages(fake_openai.requests[1]["messages"])[0]["content"]
    assert "timed out after 0.2 s" in content
    assert result.text == "That tool is too slow." and "timed out" in result.tool_calls[0].error


def test_max_rounds_ends_the_turn_with_a_clear_message(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    add_tools(ws)
    ws.max_rounds = 2
    fake_openai.default = reply(tool_calls=[call("add", {"a": 1, "b": 1})])
    result = ws.chat("loop forever")
    assert result.stopped_reason == "max_rounds" and result.rounds == 2
    assert "ws.max_rounds" in result.text and "max_rounds" in repr(result)
    assert len(fake_openai.requests) == 2 and len(result.tool_calls) == 2
    assert_valid_history(ws.conversation.messages)
    fake_openai.default = None
    fake_openai.script(reply("done"))
    assert ws.chat("stop now").text == "done"


def test_postprocess_false_returns_the_result_to_the_person(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    def report(city: str) -> dict[str, Any]:
        """A report the person reads as is.

        Args:
            city: the city
        """
        return {"city": city, "rows": [1, 2, 3]}

    ws.tools.register(report, postprocess=False)
    fake_openai.script(reply(tool_calls=[call("report", {"city": "Oslo"})]))
    result = ws.chat("report on Oslo")
    assert result.stopped_reason == "direct_result" and len(fake_openai.requests) == 1
    assert json.loads(result.text) == {"city": "Oslo", "rows": [1, 2, 3]}
    assert result.tool_calls[0].to_person is True and "result → you" in formats(result)["text/html"]
    assert ws.conversation.messages[-1]["role"] == "tool"
    assert_valid_history(ws.conversation.messages)
    fake_openai.script(reply("Anything else?"))
    ws.chat("thanks")
    assert fake_openai.requests[1]["messages"][2]["role"] == "tool"


def test_streaming_delivers_deltas_and_assembles_tool_calls(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    seen = add_tools(ws)
    fake_openai.script(
        reply(tool_calls=[call("add", {"a": 20, "b": 22}), call("slow_echo", {"text": "streamed arguments"})]),
        reply("The sum is 42 and the echo is back.", usage=(30, 9)),
    )
    deltas: list[str] = []
    result = ws.chat("sum and echo", on_text=deltas.append)
    assert len(deltas) > 1 and "".join(deltas) == result.text == "The sum is 42 and the echo is back."
    assert seen["add"] == [(20, 22)] and seen["slow"][0][0] == "streamed arguments"
    assert [r.result for r in result.tool_calls] == [42, "echo: streamed arguments"]
    body = fake_openai.requests[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert result.usage.prompt_tokens >= 30 and result.usage.completion_tokens >= 9


def test_stream_false_with_on_text_does_not_stream(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("plain"))
    deltas: list[str] = []
    assert ws.chat("hi", stream=False, on_text=deltas.append).text == "plain"
    assert deltas == [] and not fake_openai.requests[0].get("stream")


def test_401_is_authentication_failed_and_history_keeps_the_message(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(error(401, "Incorrect API key provided"))
    with pytest.raises(AuthenticationFailed, match="OPENAI_API_KEY") as info:
        ws.chat("hello")
    assert "Incorrect API key provided" in str(info.value)
    assert ws.conversation.messages == [{"role": "user", "content": "hello"}]
    row = ws.log.recent(1, kind="model")[0]
    assert row.error and "AuthenticationFailed" in row.error


def test_429_forever_is_rate_limited_then_retry_succeeds(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    ws.max_retries = 1
    fake_openai.script(*[error(429, "Rate limit reached", headers=FAST_429)] * 2)
    with pytest.raises(RateLimited, match="retry"):
        ws.chat("hello")
    assert len(fake_openai.requests) == 2
    assert ws.conversation.messages == [{"role": "user", "content": "hello"}]
    fake_openai.script(reply("Hi, finally."))
    result = ws.conversation.retry()
    assert result.text == "Hi, finally."
    assert [m["role"] for m in ws.conversation.messages] == ["user", "assistant"]
    assert fake_openai.requests[-1]["messages"] == [{"role": "user", "content": "hello"}]


def test_cut_stream_is_connection_lost_with_history_intact(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("first answer"), cut_stream(after=2))
    ws.chat("one")
    before = list(ws.conversation.messages)
    deltas: list[str] = []
    with pytest.raises(ConnectionLost, match="retry"):
        ws.chat("two", on_text=deltas.append)
    assert deltas, "some text had arrived before the cut"
    assert ws.conversation.messages == before + [{"role": "user", "content": "two"}]
    fake_openai.script(reply("second answer"))
    assert ws.conversation.retry(on_text=deltas.append).text == "second answer"
    assert [m["role"] for m in ws.conversation.messages] == ["user", "assistant", "user", "assistant"]


def test_failure_after_tools_ran_keeps_them_and_retry_carries_on(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    seen = add_tools(ws)
    fake_openai.script(reply(tool_calls=[call("add", {"a": 2, "b": 3})]), error(500, "boom"))
    with pytest.raises(ServiceUnavailable):
        ws.chat("2+3")
    messages = ws.conversation.messages
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    fake_openai.script(reply("5"))
    assert ws.conversation.retry().text == "5"
    assert seen["add"] == [(2, 3)], "the tool was not run a second time"
    assert [m["role"] for m in ws.conversation.messages] == ["user", "assistant", "tool", "assistant"]


def test_retry_after_a_finished_turn_asks_again(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("meh"), reply("better"))
    ws.chat("tell me a joke")
    assert ws.conversation.retry().text == "better"
    assert ws.conversation.messages == [{"role": "user", "content": "tell me a joke"},
                                        {"role": "assistant", "content": "better"}]


def test_timeout_and_bad_request(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    ws.request_timeout = 0.3
    fake_openai.script(hang(5), error(400, "model 'nope' does not support tools"))
    with pytest.raises(ServiceTimeout, match="ws.request_timeout"):
        ws.chat("slow?")
    with pytest.raises(BadRequest, match="does not support tools"):
        ws.conversation.retry()
    assert ws.conversation.messages == [{"role": "user", "content": "slow?"}]


def test_no_configuration_says_how_to_set_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "HALION_REPLAY"):
        monkeypatch.delenv(name, raising=False)
    ws = Workspace(tmp_path)
    with pytest.raises(ConfigError) as info:
        ws.chat("hello")
    text = str(info.value)
    for hint in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "Ollama", "HALION_MODEL", "HALION_REPLAY"):
        assert hint in text
    assert ws.conversation.messages == [{"role": "user", "content": "hello"}]


def test_cancel_during_stream_and_between_rounds(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    add_tools(ws)
    cancel = threading.Event()
    fake_openai.script(reply("one two three four five six seven eight"))
    result = ws.conversation.send("count", on_text=lambda d: cancel.set(), cancel=cancel)
    assert result.stopped_reason == "cancelled" and result.text and result.text != "one two three four five six seven eight"
    assert ws.conversation.messages[-1] == {"role": "assistant", "content": result.text}

    cancel.clear()

    def add_then_cancel(a: int, b: int) -> int:
        """Add, then press stop.

        Args:
            a: first
            b: second
        """
        cancel.set()
        return a + b

    ws.tools.register(add_then_cancel)
    fake_openai.script(reply(tool_calls=[call("add_then_cancel", {"a": 1, "b": 2})]), reply("never requested"))
    result = ws.conversation.send("add", cancel=cancel)
    assert result.stopped_reason == "cancelled" and result.rounds == 1 and fake_openai.pending == 1
    assert_valid_history(ws.conversation.messages)


def test_every_call_is_logged_with_the_conversation(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    add_tools(ws)
    fake_openai.script(reply(tool_calls=[call("add", {"a": 1, "b": 2})], usage=(20, 5)), reply("3", usage=(40, 1)))
    result = ws.chat("1+2")
    rows = list(reversed(ws.log.recent(10)))
    assert [r.kind for r in rows] == ["model", "tool", "model"]
    assert {r.conversation_id for r in rows} == {ws.conversation.id} == {result.conversation_id}
    model = rows[0]
    assert (model.name, model.prompt_tokens, model.completion_tokens) == ("gpt-test", 20, 5)
    assert model.duration_ms and model.duration_ms > 0 and model.error is None
    assert (rows[1].name, rows[1].arguments, rows[1].result) == ("add", {"a": 1, "b": 2}, 3)


def test_a_secret_never_reaches_log_replay_or_repr(ws: Workspace, fake_openai: FakeOpenAI, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-value-123"
    monkeypatch.setenv("MY_TOKEN", "placeholder")  # restored after the test
    ws.env.set("MY_TOKEN", secret)
    recording = tmp_path / "secret.jsonl"
    monkeypatch.setenv("HALION_REPLAY", str(recording))

    def use_token(token: str) -> str:
        """Use a token.

        Args:
            token: the token
        """
        return f"logged in with {token}"

    ws.tools.register(use_token)
    fake_openai.script(reply(tool_calls=[call("use_token", {"token": secret})]), reply(f"Done with {secret}."))
    result = ws.chat(f"log in with {secret}", on_text=lambda d: None)
    assert result.tool_calls[0].result == f"logged in with {secret}"  # the tool really got it
    ws.log.close()
    for path in [recording, *(tmp_path / ".halion").glob("calls.sqlite*")]:
        assert secret.encode() not in path.read_bytes(), path.name
    assert recording.read_text().count("***") >= 3
    assert "authorization" not in recording.read_text().lower()
    assert secret not in repr(result) and secret not in str(formats(result))
    assert "***" in repr(result)


def test_a_second_turn_while_one_runs_is_refused_and_the_first_finishes(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("first answer", delay=0.5))
    conversation = ws.new_chat()
    outcome: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: outcome.setdefault("r", conversation.send("one")))
    worker.start()
    deadline = time.monotonic() + 5
    while not fake_openai.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(HalionError, match="already running"):
        conversation.send("two")
    worker.join(5)
    assert outcome["r"].text == "first answer"
    assert [m["content"] for m in conversation.messages if m["role"] == "user"] == ["one"]


def test_more_tools_than_a_request_holds_are_refused_before_sending(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    from halion_nb.services.tool_limit import TooManyTools

    for i in range(130):
        ws.tools.register(_echo_tool(i))
    with pytest.raises(TooManyTools, match="130 tools are active, but the model service accepts at most 128"):
        ws.chat("hello")
    assert fake_openai.requests == []  # nothing was sent; the message waits for a retry with fewer tools
    assert [m["role"] for m in ws.conversation.messages] == ["user"]


def _echo_tool(i: int) -> Any:
    def echo(text: str) -> str:
        """Echo."""
        return text

    echo.__name__ = f"echo_{i}"
    return echo
