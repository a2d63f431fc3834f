"""Tool state (active, postprocess) in `.halion/tool_status.json`: persistent, atomic, shared."""
from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from halion_nb import ToolNotFoundError, Workspace


def weather(city: str) -> str:
    """Weather for a city."""
    return "sunny"


def news(topic: str) -> str:
    """Headlines."""
    return "nothing"


def status_file(root: Path) -> Path:
    return root / ".halion" / "tool_status.json"


def workspace_with_tools(root: Path) -> Workspace:
    ws = Workspace(root)
    ws.tools.register(weather)
    ws.tools.register(news)
    return ws


def test_tools_start_active_with_postprocess(tmp_path: Path) -> None:
    ws = workspace_with_tools(tmp_path)
    assert ws.tools.is_active("weather") and ws.tools.postprocess("weather")
    assert [t.name for t in ws.tools.active()] == ["news", "weather"]
    assert [t.name for t in ws.offered_tools()] == ["news", "weather"]


def test_enable_disable_postprocess_survive_a_restart(tmp_path: Path) -> None:
    ws = workspace_with_tools(tmp_path)
    ws.tools.disable("weather")
    ws.tools.set_postprocess("news", False)
    assert not ws.tools.is_active("weather")
    assert [t.name for t in ws.tools.active()] == ["news"]
    assert json.loads(status_file(tmp_path).read_text()) == {
        "news": {"active": True, "postprocess": False},
        "weather": {"active": False, "postprocess": True},
    }

    restarted = workspace_with_tools(tmp_path)  # a new kernel on the same folder
    assert not restarted.tools.is_active("weather")
    assert restarted.tools.postprocess("news") is False
    assert [t.name for t in restarted.tools.active()] == ["news"]
    restarted.tools.enable("weather")
    assert [t.name for t in workspace_with_tools(tmp_path).tools.active()] == ["news", "weather"]


def test_registering_again_keeps_the_stored_state(tmp_path: Path) -> None:
    ws = workspace_with_tools(tmp_path)
    ws.tools.disable("weather")
    ws.tools.register(weather)  # re-running the cell
    assert not ws.tools.is_active("weather")
    ws.tools.register(weather, active=True, postprocess=False)
    assert ws.tools.is_active("weather") and not ws.tools.postprocess("weather")


def test_a_change_made_by_another_workspace_is_seen(tmp_path: Path) -> None:
    first = workspace_with_tools(tmp_path)
    second = workspace_with_tools(tmp_path)
    assert first.tools.is_active("news")
    second.tools.disable("news")
    assert not first.tools.is_active("news")


def test_state_of_an_unknown_tool_is_an_error(tmp_path: Path) -> None:
    ws = workspace_with_tools(tmp_path)
    for action in (ws.tools.enable, ws.tools.disable, ws.tools.is_active):
        with pytest.raises(ToolNotFoundError):
            action("nope")
    assert not status_file(tmp_path).exists()


def test_removing_a_tool_forgets_its_state(tmp_path: Path) -> None:
    ws = workspace_with_tools(tmp_path)
    ws.tools.disable("weather")
    ws.tools.remove("weather")
    assert "weather" not in json.loads(status_file(tmp_path).read_text())
    ws.tools.register(weather)
    assert ws.tools.is_active("weather")


def test_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = workspace_with_tools(tmp_path)
    ws.tools.disable("weather")
    before = status_file(tmp_path).read_text()

    def crash(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("halion_nb.core.files.os.fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        ws.tools.disable("news")
    assert status_file(tmp_path).read_text() == before  # the old file, whole
    leftovers = [p.name for p in status_file(tmp_path).parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


@pytest.mark.parametrize("content", ["{not json", "", '["a", "list"]', '{"weather": {"active": "maybe"}}'],
                         ids=["bad-json", "empty", "wrong-shape", "bad-value"])
def test_unreadable_status_file_everything_active_and_file_kept(tmp_path: Path, content: str) -> None:
    status_file(tmp_path).parent.mkdir(parents=True)
    status_file(tmp_path).write_text(content)
    ws = workspace_with_tools(tmp_path)
    assert [t.name for t in ws.tools.active()] == ["news", "weather"]
    assert ws.tools.is_active("weather") and ws.tools.postprocess("weather")
    problem = ws.tools.manager.problem
    assert problem and "tool_status.json" in problem and "active" in problem
    assert status_file(tmp_path).read_text() == content  # reading never rewrites it

    ws.tools.disable("news")  # the next change sets the unreadable file aside
    kept = [p for p in status_file(tmp_path).parent.iterdir() if "corrupt" in p.name]
    assert len(kept) == 1 and kept[0].read_text() == content
    assert json.loads(status_file(tmp_path).read_text()) == {"news": {"active": False, "postprocess": True}}
    assert ws.tools.manager.problem is None
    assert [t.name for t in workspace_with_tools(tmp_path).tools.active()] == ["weather"]


def test_file_broken_while_running_means_everything_active(tmp_path: Path) -> None:
    ws = workspace_with_tools(tmp_path)
    ws.tools.disable("weather")
    status_file(tmp_path).write_text("{truncated")
    assert ws.tools.is_active("weather")
    assert ws.tools.manager.problem


def _toggle_many(root: str, prefix: str, barrier: "multiprocessing.synchronize.Barrier") -> None:
    ws = Workspace(root)
    names = [f"{prefix}{i}" for i in range(50)]
    for name in names:
        ws.tools.register(weather, name=name)
    barrier.wait()
    for name in names:
        ws.tools.disable(name)


def test_two_processes_toggling_lose_no_update(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    workers = [ctx.Process(target=_toggle_many, args=(str(tmp_path), prefix, barrier)) for prefix in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    states = json.loads(status_file(tmp_path).read_text())
    expected = {f"{p}{i}" for p in "ab" for i in range(50)}
    assert set(states) == expected, f"lost: {sorted(expected - set(states))}"
    assert all(s == {"active": False, "postprocess": True} for s in states.values())
