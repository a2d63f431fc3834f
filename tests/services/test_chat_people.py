"""The chat as people use it: approval, limits, usage and cost, stored conversations, variables, images."""
from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from halion_nb.core.approval import ApprovalRequest, Decision
from halion_nb.core.images import Image
from halion_nb.testing import FakeOpenAI, call, reply
from halion_nb.workspace import Workspace


@pytest.fixture
def ws(served_ws: Workspace) -> Workspace:
    ran: list[str] = []

    def delete_file(path: str) -> str:
        """Delete a file.

        Args:
            path: which file
        """
        ran.append(path)
        return f"deleted {path}"

    served_ws.tools.register(delete_file, approval=True)
    served_ws.ran = ran  # type: ignore[attr-defined]
    return served_ws


def valid(messages: list[dict[str, Any]]) -> bool:
    for i, m in enumerate(messages):
        if m["role"] == "assistant" and m.get("tool_calls"):
            ids = [c["id"] for c in m["tool_calls"]]
            if [t.get("tool_call_id") for t in messages[i + 1:i + 1 + len(ids)]] != ids:
                return False
    return True


def test_several_calls_are_decided_one_by_one_in_order(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply(tool_calls=[call("delete_file", {"path": "a.txt"}, id="c1"),
                                         call("delete_file", {"path": "b.txt"}, id="c2")]),
                       reply("Deleted a.txt; b.txt was kept."))
    asked: list[ApprovalRequest] = []

    def approve(request: ApprovalRequest) -> Decision:
        asked.append(request)
        return Decision(request.arguments["path"] == "a.txt", None if request.arguments["path"] == "a.txt"
                        else "keep b", by="ann")

    result = ws.chat("delete a and b", approve=approve)
    assert [r.arguments["path"] for r in asked] == ["a.txt", "b.txt"]
    assert [r.call_id for r in asked] == ["c1", "c2"] and asked[0].caller == "chat"
    assert ws.ran == ["a.txt"]
    tools = [m for m in fake_openai.requests[1]["messages"] if m["role"] == "tool"]
    assert tools[0]["content"] == "deleted a.txt"
    assert tools[1]["content"] == "Error: The person declined to run 'delete_file': keep b"
    rows = {r.meta["call_id"]: r for r in ws.log.recent(10, kind="tool")}
    assert rows["c2"].meta["decision"] == {"approved": False, "reason": "keep b", "by": "ann"}
    assert rows["c2"].arguments == {"path": "b.txt"} and rows["c1"].meta["decision"]["approved"] is True
    assert result.stopped_reason == "stop"


def test_nobody_to_ask_denies_with_the_reason(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply(tool_calls=[call("delete_file", {"path": "a.txt"}, id="c1")]), reply("ok"))
    ws.chat("delete a")
    assert ws.ran == []
    tool = [m for m in fake_openai.requests[1]["messages"] if m["role"] == "tool"][0]
    assert tool["content"].startswith("Error: The person declined to run 'delete_file': nobody was there")


def test_ws_approver_is_the_default(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply(tool_calls=[call("delete_file", {"path": "a.txt"})]), reply("done"))
    ws.approver = lambda request: True
    ws.chat("delete a")
    assert ws.ran == ["a.txt"]


def test_a_tool_call_limit_stops_the_turn_with_history_intact(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    ws.approver = lambda request: True
    ws.limits.max_tool_calls = 1
    fake_openai.script(reply(tool_calls=[call("delete_file", {"path": "a"}, id="c1"),
                                         call("delete_file", {"path": "b"}, id="c2")]),
                       reply("next turn works"))
    result = ws.chat("delete both")
    assert result.stopped_reason == "limit" and "max_tool_calls = 1" in result.text
    assert "max_tool_calls" in (result.limit or "")
    assert ws.ran == ["a"] and len(fake_openai.requests) == 1
    assert valid(ws.conversation.messages)
    assert ws.chat("and now?").text == "next turn works"


def test_a_token_limit_reached_mid_turn_stops_before_the_next_round(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    ws.approver = lambda request: True
    ws.limits.max_tokens = 100
    fake_openai.script(reply(tool_calls=[call("delete_file", {"path": "a"})], usage=(90, 20)), reply("never sent"))
    result = ws.chat("delete a")
    assert result.stopped_reason == "limit" and "max_tokens = 100" in result.text
    assert len(fake_openai.requests) == 1 and ws.ran == ["a"] and valid(ws.conversation.messages)


def test_cost_per_turn_conversation_day_and_in_the_log(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    ws.prices["gpt-test"] = (1.0, 2.0)
    fake_openai.script(reply("one", usage=(1_000_000, 0)), reply("two", usage=(0, 500_000)))
    first = ws.chat("a")
    second = ws.chat("b")
    assert first.cost == pytest.approx(1.0) and second.cost == pytest.approx(1.0)
    assert second.totals.conversation_cost == pytest.approx(2.0)
    assert second.totals.conversation_tokens == 1_500_000 and second.totals.day_cost == pytest.approx(2.0)
    assert ws.log.recent(1, kind="model")[0].meta["cost_usd"] == pytest.approx(1.0)
    from halion_nb.display.printers import formats

    assert "$1.00" in formats(second)["text/html"] and "$2.00" in formats(second)["text/plain"]
    from halion_nb.display.chat import LogTable

    assert "0+500000 ≈ $1.00" in repr(LogTable(ws.log.recent(1, kind="model")))


def test_a_cost_limit(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    ws.approver = lambda request: True
    ws.prices["gpt-test"] = (10.0, 10.0)
    ws.limits.max_cost = 0.01
    fake_openai.script(reply(tool_calls=[call("delete_file", {"path": "a"})], usage=(1000, 0)), reply("no"))
    result = ws.chat("go")
    assert result.stopped_reason == "limit" and "max_cost" in result.text


def test_unknown_model_has_no_cost(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("x", usage=(10, 10)))
    result = ws.chat("a")
    assert result.cost is None
    from halion_nb.display.printers import formats

    footer = formats(result)["text/plain"].splitlines()[-1]
    assert footer.endswith("· no price for gpt-test (ws.prices)]") and "≈" not in footer
    assert ws.prices.find("gpt-4.1-mini-2025-04-14") == ws.prices["gpt-4.1-mini"]


RESUME = """
import json, sys
from halion_nb.testing import FakeOpenAI, reply
from halion_nb.workspace import Workspace
with FakeOpenAI(reply("You said your name is Ann.")) as fake:
    import os
    os.environ["OPENAI_BASE_URL"] = fake.base_url
    os.environ["OPENAI_API_KEY"] = "sk-test"
    ws = Workspace(sys.argv[1], model="gpt-test")
    listed = ws.conversations()
    conversation = ws.resume(listed[0].id[:8])
    result = ws.chat("what is my name?")
    print(json.dumps({"listed": [[c.id, c.first_message, c.turns, c.tokens] for c in listed],
                      "sent": fake.requests[0]["messages"], "text": result.text, "same": result.conversation_id}))
"""


def test_a_conversation_resumed_in_a_new_process(ws: Workspace, fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    ws.env.set("SHOP_TOKEN", "tok-1234567890abcdef")
    fake_openai.script(reply("Hello Ann.", usage=(7, 3)))
    first = ws.chat("My name is Ann; my token is tok-1234567890abcdef")
    stored = (ws.state_dir / "conversations" / f"{first.conversation_id}.jsonl").read_text()
    assert "tok-1234567890abcdef" not in stored
    out = subprocess.run([sys.executable, "-c", RESUME, str(ws.path)], capture_output=True, text=True,
                         timeout=120, env={k: v for k, v in os.environ.items() if not k.startswith("HALION")})
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["listed"][0][0] == first.conversation_id and got["listed"][0][2:] == [1, 10]
    assert got["listed"][0][1].startswith("My name is Ann")
    assert [m["role"] for m in got["sent"]] == ["user", "assistant", "user"]
    assert got["sent"][1]["content"] == "Hello Ann." and "***" in got["sent"][0]["content"]
    assert got["same"] == first.conversation_id and got["text"] == "You said your name is Ann."


def test_a_retried_turn_is_stored_once(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("first"), reply("second"))
    ws.chat("hi")
    ws.conversation.retry()
    again = Workspace(ws.path).resume()
    assert [m.get("content") for m in again.messages] == ["hi", "second"]


def test_context_previews_variables_bounded_and_redacted(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    import numpy as np
    import pandas as pd

    ws.env.set("DB_PASSWORD", "hunter2-very-secret")
    df = pd.DataFrame({"price": [1.5, None, 3.0] * 1000, "name": ["a", "b", "c"] * 1000})
    cfg = {"password": "hunter2-very-secret", "items": list(range(500))}
    fake_openai.script(reply("odd: a missing price"))
    ws.chat("What is odd?", context={"df": df, "cfg": cfg, "arr": np.arange(12.0).reshape(3, 4),
                                     "ids": list(range(500))})
    sent = fake_openai.requests[0]["messages"][-1]["content"]
    assert sent.startswith("What is odd?")
    assert "DataFrame, 3000 rows × 2 columns" in sent and "price: float64" in sent and "missing values: price: 1000" in sent
    assert "shape (3, 4), dtype float64" in sent and "max 11" in sent
    assert "hunter2-very-secret" not in sent and "'password': '***'" in sent and "(490 more)" in sent
    assert len(sent) < 6000


def png(w: int, h: int) -> bytes:
    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.new("RGB", (w, h), "navy").save(out, format="PNG")
    return out.getvalue()


def test_an_image_a_tool_returns_reaches_the_model_scaled_and_the_log_keeps_no_bytes(
        ws: Workspace, fake_openai: FakeOpenAI) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def plot() -> Any:
        """Plot a line."""
        fig = plt.figure(figsize=(30, 5), dpi=100)
        fig.gca().plot([1, 2, 3])
        return fig

    ws.tools.register(plot)
    fake_openai.script(reply(tool_calls=[call("plot", {}, id="p1")]), reply("A rising line."))
    result = ws.chat("plot it")
    messages = fake_openai.requests[1]["messages"]
    assert [m["role"] for m in messages][-2:] == ["tool", "user"]
    assert json.loads(messages[-2]["content"])["type"] == "image"
    image_part = messages[-1]["content"][1]
    data = base64.b64decode(image_part["image_url"]["url"].split(",", 1)[1])
    assert max(Image(data).size) == ws.image_max_side
    assert "scaled from" in messages[-1]["content"][0]["text"]
    row = ws.log.recent(1, kind="tool")[0]
    assert row.result["type"] == "image" and len(row.result["sha256"]) == 64
    assert "base64" not in json.dumps([r.arguments for r in ws.log.recent(5)])
    stored = (ws.state_dir / "conversations" / f"{result.conversation_id}.jsonl").read_text()
    assert "iVBOR" not in stored and "sha256=" in stored
    assert len(result.images) == 1
    from halion_nb.display.printers import formats

    html = formats(result)["text/html"]
    assert '<details class="halion-tool-call" open' in html and '<img class="halion-image" src="data:image/png' in html


def test_an_image_too_large_is_described_not_sent(ws: Workspace, fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(png(400, 300))
    ws.image_max_bytes = 100
    fake_openai.script(reply("I cannot see it."))
    ws.chat("look", images=[str(path)])
    parts = fake_openai.requests[0]["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["text", "text"]
    assert "larger than the 0 KB bound" in parts[1]["text"]


def test_an_image_inside_a_dict_result_is_sent_too(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    def chart() -> dict:
        """A chart and its summary."""
        return {"summary": "flat", "chart": Image(png(10, 10))}

    ws.tools.register(chart)
    fake_openai.script(reply(tool_calls=[call("chart", {})]), reply("flat"))
    ws.chat("chart")
    sent = fake_openai.requests[1]["messages"]
    assert json.loads(sent[-2]["content"])["chart"]["type"] == "image"
    assert sent[-1]["content"][1]["type"] == "image_url"


def test_the_person_sends_an_image(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("A navy square."))
    ws.chat("what is this?", images=[png(20, 20)])
    parts = fake_openai.requests[0]["messages"][-1]["content"]
    assert parts[0] == {"type": "text", "text": "what is this?"}
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_a_chain_step_whose_tool_needs_approval_asks_the_same_way(tmp_path: Path) -> None:
    from halion_nb.models import Toolchain

    ws = Workspace(tmp_path / "chain-ws")

    def remove(path: str) -> str:
        """Remove a file.

        Args:
            path: which
        """
        return f"removed {path}"

    ws.tools.register(remove, approval=True)
    chain = Toolchain.model_validate({"name": "tidy", "inputs": [{"name": "path", "type": "string"}],
                                      "steps": [{"id": "rm", "tool": "remove",
                                                 "arguments": {"path": {"ref": "inputs.path"}}}]})
    denied = ws.chains.run(chain, path="a.txt")
    assert "The person declined to run 'remove': nobody was there" in (denied.steps[0].error or "")
    asked: list[ApprovalRequest] = []
    ws.approver = lambda request: asked.append(request) or request.arguments["path"] == "b.txt"
    assert ws.chains.run(chain, path="b.txt").steps[0].result == "removed b.txt"
    assert asked[0].caller == "chain" and asked[0].tool == "remove"
    step = ws.log.recent(1, kind="step")[0]
    assert step.meta["decision"]["approved"] is True and step.meta["chain"] == "tidy"


def test_a_recording_keeps_an_image_as_its_stub_and_replays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recording = tmp_path / "img.jsonl"
    data = png(30, 30)

    def shoot() -> Image:
        """A picture."""
        return Image(data)

    def make(path: Path) -> Workspace:
        w = Workspace(path, model="gpt-test", replay=recording)
        w.max_retries = 0
        w.tools.register(shoot)
        return w

    with FakeOpenAI(reply(tool_calls=[call("shoot", {})]), reply("a navy square")) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-key-for-tests")
        live = make(tmp_path / "live")
        assert live.chat("shoot").text == "a navy square"
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")
    text = recording.read_text()
    assert base64.b64encode(data).decode()[:40] not in text
    assert f"sha256={Image(data).sha256}" in text
    assert make(tmp_path / "offline").chat("shoot").text == "a navy square"


def test_the_steps_of_an_exposed_chain_ask_the_chat_s_approver(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    from halion_nb.models import Toolchain

    ws.chains.save(Toolchain.model_validate({
        "name": "tidy", "expose": True, "inputs": [{"name": "path", "type": "string"}],
        "steps": [{"id": "rm", "tool": "delete_file", "arguments": {"path": {"ref": "inputs.path"}}}]}))
    fake_openai.script(reply(tool_calls=[call("tidy", {"path": "x.log"})]), reply("tidied"))
    asked: list[ApprovalRequest] = []
    ws.chat("tidy x.log", approve=lambda request: asked.append(request) or True)
    assert [(r.tool, r.caller, r.arguments, r.chain) for r in asked] == [
        ("delete_file", "chat", {"path": "x.log"}, ("tidy",))]  # the outermost caller, and the chain it went through
    assert ws.ran == ["x.log"]
    step = ws.log.recent(1, kind="step")[0]
    assert (step.caller, step.meta["via"]) == ("chat", ["tidy"])
