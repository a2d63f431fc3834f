"""The one tool-invocation path: every caller gets the same validation, bounds, encoding, redaction and log row."""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from halion_nb.core.approval import Decision
from halion_nb.core.invocation import execute
from halion_nb.models import Toolchain
from halion_nb.testing import FakeOpenAI, call, reply
from halion_nb.widgets import find, panel
from halion_nb.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = Workspace(tmp_path / "ws")
    yield w
    w.log.close()


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_every_caller_writes_one_log_row_with_its_caller(served_ws: Workspace, fake_openai: FakeOpenAI) -> None:
    ws = served_ws
    ws.tools.register(add)
    fake_openai.script(reply(tool_calls=[call("add", {"a": 1, "b": 2})]), reply("3"))
    ws.chat("add 1 and 2")
    ws.chains.run(Toolchain.model_validate({"name": "sum", "steps": [
        {"id": "s", "tool": "add", "arguments": {"a": 2, "b": 3}}]}))
    view = panel("tools", ws=ws)
    find(view, "halion-tools-select").click()
    find(view, "halion-tools-param-a").value = 4
    find(view, "halion-tools-param-b").value = 5
    find(view, "halion-tools-run").click()
    view.controller.wait(10)

    rows = ws.log.recent(10, tool="add")
    assert sorted((r.kind, r.caller) for r in rows) == [("step", "chain"), ("tool", "chat"), ("tool", "panel")]
    assert sorted(r.result for r in rows) == [3, 5, 9]
    assert {r.user for r in rows} == {ws.tools.invoke("add", {"a": 0, "b": 0}, log=False).user}


def test_outcome_carries_what_the_caller_receives(ws: Workspace) -> None:
    ws.tools.register(add)
    ok = ws.tools.invoke("add", '{"a": 2, "b": 2}', caller="rest", user="ada")
    assert (ok.ok, ok.result, ok.content, ok.caller, ok.user) == (True, 4, "4", "rest", "ada")
    row = ws.log.get(ok.log_id)
    assert (row.caller, row.user, row.result) == ("rest", "ada", 4)

    bad = ws.tools.invoke("add", {"a": "x"})
    assert bad.error_kind == "arguments" and bad.content.startswith("Error: Invalid arguments for 'add'")
    assert any(p.startswith("b:") for p in bad.problems)
    missing = ws.tools.invoke("nope")
    assert missing.error_kind == "not_found" and "Available tools: add" in missing.error
    ws.tools.disable("add")
    off = ws.tools.invoke("add", {"a": 1, "b": 1}, only_active=True)
    assert off.error_kind == "inactive" and "switched off" in off.error
    assert ws.log.count() == 4  # refusals are logged too


def test_arguments_as_a_json_object_or_bytes_are_accepted(ws: Workspace) -> None:
    ws.tools.register(add)
    assert ws.tools.invoke("add", {"a": 1, "b": 2}).result == 3
    assert ws.tools.invoke("add", b'{"a": 1, "b": 3}').result == 4
    broken = ws.tools.invoke("add", b"\xff\xfe")
    assert broken.error_kind == "arguments" and isinstance(broken.arguments, str)


def test_async_tools_are_awaited_and_run_concurrently(served_ws: Workspace, fake_openai: FakeOpenAI) -> None:
    ws = served_ws

    async def wait_and_echo(text: str) -> str:
        """Echo after a pause."""
        await asyncio.sleep(0.3)
        return text.upper()

    ws.tools.register(wait_and_echo)
    assert ws.tools.get("wait_and_echo").call({"text": "direct"}) == "DIRECT"
    fake_openai.script(reply(tool_calls=[call("wait_and_echo", {"text": t}) for t in "abcd"]), reply("done"))
    started = time.perf_counter()
    result = ws.chat("echo four")
    elapsed = time.perf_counter() - started
    assert [r.result for r in result.tool_calls] == ["A", "B", "C", "D"]
    assert all("coroutine" not in m["content"] for m in result.messages if m["role"] == "tool")
    assert elapsed < 4 * 0.3  # the four waits overlapped (not a timing benchmark: the serial bound)


def test_async_tools_work_while_the_callers_thread_runs_an_event_loop(ws: Workspace) -> None:
    async def double(x: int) -> int:
        """Double."""
        await asyncio.sleep(0)
        return 2 * x

    ws.tools.register(double)

    async def inside_a_running_loop() -> tuple[int, int]:  # as in a Jupyter cell
        return ws.tools.invoke("double", {"x": 4}).result, ws.tools.get("double").call({"x": 5})

    assert asyncio.run(inside_a_running_loop()) == (8, 10)


def test_generator_tools_give_their_items_never_a_repr(ws: Workspace) -> None:
    def count(n: int) -> list[int]:
        """Count."""
        yield from range(n)

    async def acount(n: int) -> list[int]:
        """Count asynchronously."""
        for i in range(n):
            yield i

    ws.tools.register(count)
    ws.tools.register(acount)
    assert ws.tools.invoke("count", {"n": 3}).content == "[0, 1, 2]"
    assert ws.tools.invoke("acount", {"n": 2}).result == [0, 1]


class Color(enum.Enum):
    RED = "red"


class Point(BaseModel):
    x: int


@dataclasses.dataclass
class Span:
    start: dt.date


def test_results_reach_the_model_as_json_of_their_values(ws: Workspace) -> None:
    def odd() -> dict:
        """Odd values."""
        return {"point": Point(x=1), "span": Span(dt.date(2026, 1, 2)), "tags": {"b", "a"}, "color": Color.RED,
                dt.date(2026, 12, 1): "date key", 3: "int key", "raw": b"hi", "when": dt.datetime(2026, 1, 2, 3, 4)}

    ws.tools.register(odd)
    outcome = ws.tools.invoke("odd")
    assert outcome.ok, outcome.error
    assert json.loads(outcome.content) == {
        "point": {"x": 1}, "span": {"start": "2026-01-02"}, "tags": ["a", "b"], "color": "red",
        "2026-12-01": "date key", "3": "int key", "raw": "hi", "when": "2026-01-02T03:04:00"}
    assert ws.log.get(outcome.log_id).result == json.loads(outcome.content)


@pytest.mark.parametrize("exc", [ValueError("bad"), KeyboardInterrupt(), SystemExit(3), GeneratorExit(),
                                 type("Weird", (BaseException,), {})("odd")])
def test_a_tool_that_raises_anything_is_a_tool_error_and_is_logged(ws: Workspace, exc: BaseException) -> None:
    def boom() -> str:
        """Raise."""
        raise exc

    ws.tools.register(boom)
    outcome = ws.tools.invoke("boom", caller="chat")
    assert outcome.error_kind == "raised" and outcome.exception == type(exc).__name__
    assert outcome.content.startswith(f"Error: {type(exc).__name__}")
    assert ws.log.get(outcome.log_id).error == outcome.error


def test_a_hung_tool_times_out_and_never_keeps_the_interpreter_from_exiting(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import time
        from halion_nb.workspace import Workspace
        ws = Workspace({str(tmp_path / 'ws')!r})
        def hang() -> str:
            '''Hang.'''
            time.sleep(3600)
        ws.tools.register(hang)
        outcome = ws.tools.invoke("hang", timeout=0.2)
        print(outcome.error_kind)
    """)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "timeout"
    assert time.monotonic() - started < 30  # the process exited though the tool still sleeps


def test_a_timed_out_tool_does_not_hold_up_later_calls(ws: Workspace) -> None:
    release = threading.Event()

    def stuck() -> str:
        """Wait."""
        release.wait(30)
        return "late"

    ws.tools.register(stuck)
    ws.tools.register(add)
    try:
        outcomes = [ws.tools.invoke("stuck", timeout=0.05) for _ in range(5)]
        assert {o.error_kind for o in outcomes} == {"timeout"}
        assert "timed out after 0.05 s" in outcomes[0].error
        assert ws.tools.invoke("add", {"a": 1, "b": 1}, timeout=5).result == 2
    finally:
        release.set()


def test_errors_and_content_are_redacted_but_raw_results_stay_for_the_caller(ws: Workspace) -> None:
    ws.env.set("SERVICE_TOKEN", "tok-7f3a9c2e51")

    def leaky(fail: bool) -> str:
        """Echo the token."""
        token = __import__("os").environ["SERVICE_TOKEN"]
        if fail:
            raise RuntimeError(f"denied for {token}")
        return f"token={token}"

    ws.tools.register(leaky)
    ok, failed = ws.tools.invoke("leaky", {"fail": False}), ws.tools.invoke("leaky", {"fail": True})
    assert ok.result == "token=tok-7f3a9c2e51"  # the in-process caller gets the value it asked for
    for text in (ok.content, failed.content, failed.error, repr(ok), repr(failed)):
        assert "tok-7f3a9c2e51" not in text and "***" in text
    db = (ws.state_dir / "calls.sqlite").read_bytes() + (ws.state_dir / "calls.sqlite-wal").read_bytes()
    assert b"tok-7f3a9c2e51" not in db


def test_approval_is_asked_and_a_decline_is_a_readable_outcome(ws: Workspace) -> None:
    ws.tools.register(add)
    ws.tools.require_approval("add")
    assert ws.tools.needs_approval("add")
    assert json.loads((ws.state_dir / "tool_status.json").read_text())["add"]["approval"] is True

    nobody = ws.tools.invoke("add", {"a": 1, "b": 2})
    assert nobody.error_kind == "denied" and "nobody was there to approve" in nobody.error
    seen = []
    ws.approver = lambda request: seen.append(request) or Decision(False, "not now", by="ada")
    declined = ws.tools.invoke("add", {"a": 1, "b": 2}, caller="chat")
    assert declined.content == "Error: The person declined to run 'add': not now"
    assert (seen[0].tool, seen[0].arguments, seen[0].caller) == ("add", {"a": 1, "b": 2}, "chat")
    assert ws.log.get(declined.log_id).meta["decision"] == {"approved": False, "reason": "not now", "by": "ada"}
    assert ws.tools.invoke("add", {"a": 1, "b": 2}, approve=lambda r: True).result == 3

    ws.tools.require_approval("add", False)
    ws.approver = None
    assert ws.tools.invoke("add", {"a": 2, "b": 2}).result == 4


def test_execute_is_the_pure_part_for_workers(ws: Workspace) -> None:
    tool = ws.tools.register(add)
    outcome = execute(tool, {"a": 5, "b": 6}, timeout=5, caller="batch")
    assert (outcome.result, outcome.caller, outcome.log_id) == (11, "batch", None)
    assert ws.log.count() == 0
    assert ws.tools.log_outcome(outcome, meta={"batch": "b1"}) is not None
    row = ws.log.recent(1)[0]
    assert (row.caller, row.meta["batch"], row.result) == ("batch", "b1", 11)


def test_each_row_names_the_version_of_the_code_that_ran(ws: Workspace) -> None:
    code = 'def greet(name: str) -> str:\n    """Greet."""\n    return "hi " + name\n'
    ws.tools.update_source("greet", code, save=False)  # a live tool never saved
    first = ws.tools.invoke("greet", {"name": "a"})
    ws.tools.update_source("greet", code.replace("hi ", "hello "), save=False)
    second = ws.tools.invoke("greet", {"name": "a"})
    assert first.version and second.version and first.version != second.version
    assert [r.version for r in ws.log.recent(2)] == [second.version, first.version]
