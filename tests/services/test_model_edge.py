"""The model service misbehaving, and a person who stops waiting: what a chat turn does about it.

Real SDK, real HTTP against FakeOpenAI: arguments sent as a JSON object, an answer with no
choices, a hung server (bounded by ws.request_timeout, the SDK's retries included), and Stop
pressed while the request waits on the server (the request is closed, the turn returns).
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable

import pytest

from halion_nb.errors import ModelServiceError, ServiceTimeout
from halion_nb.testing import FakeOpenAI, call, empty_choices, hang, reply
from halion_nb.workspace import Workspace

STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])


def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: first
        b: second
    """
    return a + b


def when(condition: Callable[[], bool], then: Callable[[], Any]) -> threading.Thread:
    """Run `then` on another thread as soon as `condition` holds (what a Stop button does)."""
    def watch() -> None:
        deadline = time.monotonic() + 20
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
        then()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def settle() -> None:
    """Wait for every model-request worker to end, so nothing it might still send goes unseen."""
    for thread in threading.enumerate():
        if thread.name == "halion-model-request":
            thread.join(10)


@STREAMS
def test_arguments_sent_as_an_object_run_the_tool_and_go_back_as_json_text(
        served_ws: Workspace, fake_openai: FakeOpenAI, stream: bool) -> None:
    served_ws.tools.register(add)
    fake_openai.script(reply(tool_calls=[call("add", {"a": 2, "b": 40}, as_object=True)]), reply("42"))
    result = served_ws.chat("2 + 40?", stream=stream)
    assert result.text == "42" and [(c.arguments, c.result) for c in result.tool_calls] == [({"a": 2, "b": 40}, 42)]
    sent = fake_openai.requests[1]["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert isinstance(sent, str) and json.loads(sent) == {"a": 2, "b": 40}


def test_an_answer_with_no_choices_is_an_error_and_adds_nothing(
        served_ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(empty_choices(), reply("Here it is."))
    with pytest.raises(ModelServiceError, match="no choices"):
        served_ws.chat("hello?", stream=False)
    assert served_ws.conversation.messages == [{"role": "user", "content": "hello?"}]
    (row,) = served_ws.log.recent(5, kind="model")
    assert row.error and "no choices" in row.error
    assert served_ws.conversation.retry(stream=False).text == "Here it is."


@STREAMS
def test_a_hung_server_gets_request_timeout_in_all_and_the_message_says_so(
        served_ws: Workspace, fake_openai: FakeOpenAI, stream: bool) -> None:
    served_ws.request_timeout = 1
    served_ws.max_retries = 2  # the SDK would try 3 times, 1 s each, were the wait not bounded as a whole
    fake_openai.script(hang(30), hang(30), hang(30))
    with pytest.raises(ServiceTimeout) as info:
        served_ws.chat("are you there?", stream=stream)
    assert "within 1 s (ws.request_timeout)" in str(info.value)
    settle()
    assert len(fake_openai.requests) == 1 and fake_openai.pending == 2, "no attempt is sent once the time is up"
    assert fake_openai.closed_by_client == 1, "the hanging request is closed, not left open"
    assert served_ws.conversation.messages == [{"role": "user", "content": "are you there?"}]


@STREAMS
def test_stop_closes_a_request_waiting_on_the_server(
        served_ws: Workspace, fake_openai: FakeOpenAI, stream: bool) -> None:
    fake_openai.script(hang(5), reply("Back again."))  # the old code waited the 5 s out, then failed
    stop = threading.Event()
    when(lambda: len(fake_openai.requests) == 1, stop.set)
    result = served_ws.conversation.send("slow question", stream=stream, cancel=stop)
    assert result.stopped_reason == "cancelled" and result.text == ""
    assert served_ws.conversation.messages == [{"role": "user", "content": "slow question"}]
    settle()
    assert fake_openai.closed_by_client == 1 and len(fake_openai.requests) == 1
    assert served_ws.chat("and now?", stream=stream).text == "Back again."


def test_stop_closes_a_stream_that_went_quiet_and_keeps_what_arrived(
        served_ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(hang(5, after=2, text="Half an answer then silence"))
    stop, deltas = threading.Event(), []
    when(lambda: len(deltas) == 2, stop.set)
    result = served_ws.conversation.send("talk", on_text=deltas.append, cancel=stop)
    assert result.stopped_reason == "cancelled" and result.text == "Half an"
    assert served_ws.conversation.messages[-1] == {"role": "assistant", "content": "Half an"}
    settle()
    assert fake_openai.closed_by_client == 1


def test_a_stream_that_goes_quiet_midway_says_so(served_ws: Workspace, fake_openai: FakeOpenAI) -> None:
    served_ws.request_timeout = 1
    fake_openai.script(hang(30, after=2))
    with pytest.raises(ServiceTimeout, match=r"within 1 s \(ws\.request_timeout\): it went quiet midway"):
        served_ws.chat("talk", on_text=lambda text: None)
    assert served_ws.conversation.messages == [{"role": "user", "content": "talk"}]
    settle()
    assert fake_openai.closed_by_client == 1


def test_a_turn_reuses_its_connection_to_the_model_service(served_ws: Workspace, fake_openai: FakeOpenAI) -> None:
    """Each request connecting anew would pay a TCP (and, against a real service, TLS) handshake."""
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    served_ws.tools.register(add)
    fake_openai.script(reply(tool_calls=[call("add", {"a": 1, "b": 2})]),
                       reply(tool_calls=[call("add", {"a": 3, "b": 4})]), reply("done"))
    assert served_ws.chat("add twice").text == "done"
    assert len(fake_openai.requests) == 3
    assert fake_openai.connections == 1
