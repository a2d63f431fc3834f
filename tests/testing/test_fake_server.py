"""The fake server driven by the real openai SDK over real HTTP, and the network guard."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import openai
import pytest

from halion_nb.testing import (
    FakeOpenAI, NetworkBlocked, block_network, call, cut_stream, empty_choices, error, hang, malformed, reply,
)

USER = [{"role": "user", "content": "hi there"}]


def client(server: FakeOpenAI, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(api_key="test", base_url=server.base_url, **{"max_retries": 0, **kwargs})


def test_text_reply_without_stream(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("Hello!", usage=(10, 5)))
    out = client(fake_openai).chat.completions.create(model="gpt-test", messages=USER)
    assert out.choices[0].message.content == "Hello!"
    assert out.choices[0].message.role == "assistant"
    assert out.choices[0].finish_reason == "stop"
    assert out.model == "gpt-test"
    assert out.usage is not None and (out.usage.prompt_tokens, out.usage.completion_tokens) == (10, 5)


def test_text_reply_streams_in_several_chunks(fake_openai: FakeOpenAI) -> None:
    text = "The weather in Madrid is sunny today."
    fake_openai.script(reply(text))
    chunks = list(client(fake_openai).chat.completions.create(model="m", messages=USER, stream=True))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == text
    assert len(pieces) > 3
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


def test_two_tool_calls_in_one_stream_assemble_by_index(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply(tool_calls=[call("get_weather", {"city": "Madrid"}), call("add", '{"a": 1')]))
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in client(fake_openai).chat.completions.create(model="m", messages=USER, stream=True):
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for d in choice.delta.tool_calls or []:
            slot = calls.setdefault(d.index, {"id": "", "name": "", "arguments": ""})
            slot["id"] += d.id or ""
            slot["name"] += (d.function and d.function.name) or ""
            slot["arguments"] += (d.function and d.function.arguments) or ""
    assert calls == {0: {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Madrid"}'},
                     1: {"id": "call_2", "name": "add", "arguments": '{"a": 1'}}
    assert finish == "tool_calls"


def test_sdk_stream_helper_accumulates_text_and_tool_calls(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("Let me check.", tool_calls=[call("a", {"x": 1}), call("b", {"y": [1, 2]})]))
    with client(fake_openai).chat.completions.stream(model="m", messages=USER) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Let me check."
    assert [(t.function.name, json.loads(t.function.arguments)) for t in message.tool_calls or []] == [
        ("a", {"x": 1}), ("b", {"y": [1, 2]})]


def test_tool_calls_without_stream(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply(tool_calls=[call("get_weather", {"city": "Madrid"}), call("now")]))
    out = client(fake_openai).chat.completions.create(model="m", messages=USER)
    message = out.choices[0].message
    assert message.content is None
    assert [(t.id, t.type, t.function.name, t.function.arguments) for t in message.tool_calls or []] == [
        ("call_1", "function", "get_weather", '{"city": "Madrid"}'), ("call_2", "function", "now", "{}")]
    assert out.choices[0].finish_reason == "tool_calls"


def test_usage_chunk_only_when_asked(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("one two", usage=(10, 5)), reply("one two"))
    sdk = client(fake_openai)
    chunks = list(sdk.chat.completions.create(model="m", messages=USER, stream=True,
                                              stream_options={"include_usage": True}))
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens, chunks[-1].usage.total_tokens) == (
        10, 5, 15)
    plain = list(sdk.chat.completions.create(model="m", messages=USER, stream=True))
    assert all(c.choices and c.usage is None for c in plain)


def test_json_content_and_finish_reason(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply(json_content={"name": "Ada", "tags": ["x"]}, finish_reason="length"))
    out = client(fake_openai).chat.completions.create(model="m", messages=USER)
    assert json.loads(out.choices[0].message.content or "") == {"name": "Ada", "tags": ["x"]}
    assert out.choices[0].finish_reason == "length"


def test_error_429_raises_rate_limit_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(error(429, "slow down", code="rate_limit_exceeded"))
    with pytest.raises(openai.RateLimitError) as caught:
        client(fake_openai).chat.completions.create(model="m", messages=USER)
    assert caught.value.status_code == 429
    assert "slow down" in str(caught.value)
    assert caught.value.body == {"message": "slow down", "type": "rate_limit_error", "param": None,
                                 "code": "rate_limit_exceeded"}


def test_sdk_retries_a_500_and_gets_the_next_reply(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(error(500, "boom", headers={"retry-after-ms": "1"}), reply("ok"))
    start = time.monotonic()
    out = client(fake_openai, max_retries=2).chat.completions.create(model="m", messages=USER)
    assert out.choices[0].message.content == "ok"
    assert len(fake_openai.requests) == 2 and fake_openai.pending == 0
    assert time.monotonic() - start < 1


@pytest.mark.parametrize("stream", [False, True])
def test_malformed_body_raises_a_json_error(fake_openai: FakeOpenAI, stream: bool) -> None:
    """openai 3.57 lets the ``json.JSONDecodeError`` through, for a plain body and for SSE data."""
    fake_openai.script(malformed())
    with pytest.raises(json.JSONDecodeError):
        out = client(fake_openai).chat.completions.create(model="m", messages=USER, stream=stream)
        list(out) if stream else None


def test_cut_stream_yields_some_chunks_then_raises_connection_error(fake_openai: FakeOpenAI) -> None:
    """The server closes mid chunked body: the SDK yields the chunks it got, then raises
    ``APIConnectionError`` (cause: "incomplete chunked read"); no finish_reason is ever seen."""
    fake_openai.script(cut_stream(after=3, text="alpha beta gamma delta epsilon"))
    seen: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in client(fake_openai).chat.completions.create(model="m", messages=USER, stream=True):
            assert chunk.choices[0].finish_reason is None
            seen.append(chunk.choices[0].delta.content or "")
    assert "".join(seen) == "alpha beta gamma"


def test_cut_stream_without_stream_is_a_connection_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(cut_stream())
    with pytest.raises(openai.APIConnectionError):
        client(fake_openai).chat.completions.create(model="m", messages=USER)


def test_hang_makes_the_client_time_out(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(hang(seconds=30))
    start = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client(fake_openai, timeout=0.3).chat.completions.create(model="m", messages=USER)
    assert time.monotonic() - start < 2


def test_stop_ends_a_hang_and_the_client_sees_a_closed_connection() -> None:
    server = FakeOpenAI(hang(seconds=30)).start()
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            client(server).chat.completions.create(model="m", messages=USER)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)

    worker = threading.Thread(target=ask)
    worker.start()
    deadline = time.monotonic() + 5
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.monotonic()
    server.stop()
    worker.join(5)
    assert time.monotonic() - start < 2
    assert len(errors) == 1 and isinstance(errors[0], openai.APIConnectionError)


def test_delay_holds_the_answer(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("late", delay=0.3))
    start = time.monotonic()
    out = client(fake_openai).chat.completions.create(model="m", messages=USER)
    assert out.choices[0].message.content == "late"
    assert time.monotonic() - start >= 0.3


def test_requests_and_headers_are_recorded(fake_openai: FakeOpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object", "properties": {}}}}]
    fake_openai.script(reply("a"), reply("b"))
    sdk = client(fake_openai)
    sdk.chat.completions.create(model="m1", messages=USER, tools=tools)  # type: ignore[arg-type]
    list(sdk.chat.completions.create(model="m2", messages=USER, stream=True))
    first, second = fake_openai.requests
    assert first["messages"] == USER and first["tools"] == tools and not first.get("stream")
    assert second["model"] == "m2" and second["stream"] is True
    assert [h["authorization"] for h in fake_openai.request_headers] == ["Bearer test"] * 2


def test_empty_queue_answers_500_with_a_clear_message(fake_openai: FakeOpenAI) -> None:
    with pytest.raises(openai.InternalServerError, match="fake server: no scripted response left"):
        client(fake_openai).chat.completions.create(model="m", messages=USER)
    fake_openai.default = reply("again")
    sdk = client(fake_openai)
    assert [sdk.chat.completions.create(model="m", messages=USER).choices[0].message.content
            for _ in range(2)] == ["again", "again"]


def test_models_list_and_unknown_paths(fake_openai: FakeOpenAI) -> None:
    assert [m.id for m in client(fake_openai).models.list()] == ["fake-model"]
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(fake_openai.base_url + "/nope", timeout=5)
    assert caught.value.code == 404
    assert "no route" in json.loads(caught.value.read())["error"]["message"]


def test_concurrent_requests_are_served_in_parallel(fake_openai: FakeOpenAI) -> None:
    fake_openai.default = reply("hi", delay=0.3)
    sdk = client(fake_openai)
    answers: list[str | None] = []
    threads = [threading.Thread(target=lambda: answers.append(
        sdk.chat.completions.create(model="m", messages=USER).choices[0].message.content)) for _ in range(8)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert answers == ["hi"] * 8 and len(fake_openai.requests) == 8
    assert time.monotonic() - start < 1.5


def test_guard_refuses_a_non_loopback_address_at_once() -> None:
    with block_network() as guard:
        start = time.monotonic()
        with pytest.raises(NetworkBlocked, match="10.255.255.1:80"):
            socket.create_connection(("10.255.255.1", 80), timeout=5)
        with socket.socket() as sock, pytest.raises(NetworkBlocked):
            sock.connect(("10.255.255.1", 80))
        with pytest.raises(NetworkBlocked, match="example.com"):
            socket.getaddrinfo("example.com", 443)
        assert time.monotonic() - start < 0.5
    assert len(guard.violations) == 3
    assert issubclass(NetworkBlocked, OSError)


def test_guard_makes_the_sdk_fail_fast_and_allows_loopback(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("local is fine"))
    with block_network() as guard:
        remote = openai.OpenAI(api_key="test", base_url="http://10.255.255.1/v1", max_retries=0)
        start = time.monotonic()
        with pytest.raises(openai.APIConnectionError):
            remote.chat.completions.create(model="m", messages=USER)
        assert time.monotonic() - start < 1
        out = client(fake_openai).chat.completions.create(model="m", messages=USER)
        assert out.choices[0].message.content == "local is fine"
        with socket.socket(socket.AF_UNIX) as sock, pytest.raises(FileNotFoundError):
            sock.connect("/nonexistent/halion.sock")
    assert len(guard.violations) == 1 and "10.255.255.1:80" in guard.violations[0]


def test_autouse_guard_fails_a_test_that_swallowed_the_error(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(textwrap.dedent("""
        import socket
        import pytest

        def test_swallows():
            try:
                socket.create_connection(("10.255.255.1", 80), timeout=5)
            except OSError:
                pass

        def test_loopback_is_fine(fake_openai):
            with socket.create_connection(("127.0.0.1", fake_openai.port)):
                pass

        @pytest.mark.allow_network
        def test_opted_out():
            assert "connect" not in socket.socket.__dict__
    """))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "halion_nb.testing.pytest_plugin",
                          "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path,
                         env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert "1 failed, 2 passed" in run.stdout, run.stdout
    assert "test_swallows" in run.stdout and "10.255.255.1:80" in run.stdout


def test_empty_choices_answers_200_with_no_choices(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(empty_choices(), empty_choices())
    assert client(fake_openai).chat.completions.create(model="m", messages=USER).choices == []
    chunks = list(client(fake_openai).chat.completions.create(model="m", messages=USER, stream=True))
    assert [c.choices for c in chunks] == [[]]


def test_arguments_as_object_are_sent_as_a_json_object(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(*[reply(tool_calls=[call("add", {"a": 1}, as_object=True)])] * 2)
    out = client(fake_openai).chat.completions.create(model="m", messages=USER)
    assert out.choices[0].message.tool_calls[0].function.arguments == {"a": 1}  # what a broken server sends
    chunks = client(fake_openai).chat.completions.create(model="m", messages=USER, stream=True)
    sent = [d.function.arguments for c in chunks for d in (c.choices[0].delta.tool_calls or []) if c.choices]
    assert sent == ["", {"a": 1}]


def test_a_hang_after_some_chunks_streams_them_then_goes_quiet(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(hang(30, after=2, text="one two three"))
    pieces = []
    with pytest.raises(openai.APITimeoutError):
        for chunk in client(fake_openai, timeout=0.5).chat.completions.create(model="m", messages=USER, stream=True):
            pieces += [chunk.choices[0].delta.content] if chunk.choices[0].delta.content else []
    assert pieces == ["one", " two"]


def test_a_client_that_closes_a_hanging_request_is_counted(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(hang(30))
    with socket.create_connection(("127.0.0.1", fake_openai.port)) as sock:
        body = json.dumps({"model": "m", "messages": USER}).encode()
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        deadline = time.monotonic() + 5
        while not fake_openai.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake_openai.closed_by_client == 0
        sock.shutdown(socket.SHUT_RDWR)
    deadline = time.monotonic() + 5
    while fake_openai.closed_by_client == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake_openai.closed_by_client == 1
