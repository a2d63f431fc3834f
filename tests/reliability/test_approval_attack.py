"""The attacker's pass over approval (issue 24): what held is tested here; what did not is a strict xfail."""
from __future__ import annotations

from pathlib import Path

import pytest

from halion_nb.core.approval import ApprovalRequest
from halion_nb.models import Toolchain
from halion_nb.workspace import Workspace


def make(path: Path) -> tuple[Workspace, list[str]]:
    ws = Workspace(path)
    ran: list[str] = []

    def wipe(where: str) -> str:
        """Delete everything.

        Args:
            where: which folder
        """
        ran.append(where)
        return "wiped"

    def harmless(where: str) -> str:
        """Does nothing.

        Args:
            where: which folder
        """
        return where

    ws.tools.register(wipe, approval=True)
    ws.tools.register(harmless)
    return ws, ran


def test_a_parallel_chain_keeps_the_outer_rule_on_its_worker_threads(tmp_path: Path) -> None:
    ws, ran = make(tmp_path)
    ws.chains.save(Toolchain.model_validate({
        "name": "both", "parallel": True, "inputs": [{"name": "where", "type": "string"}],
        "steps": [{"id": "a", "tool": "harmless", "arguments": {"where": {"ref": "inputs.where"}}},
                  {"id": "b", "tool": "wipe", "arguments": {"where": {"ref": "inputs.where"}}}]}))
    asked: list[ApprovalRequest] = []
    ws.approver = lambda request: asked.append(request) or True
    outer = lambda request: False  # noqa: E731 - the outermost caller's rule: no

    def runs_both(where: str) -> str:
        """Runs the parallel chain.

        Args:
            where: which folder
        """
        return str(ws.chains.run("both", where=where).ok)

    ws.tools.register(runs_both)
    assert ws.tools.invoke("runs_both", {"where": "/"}, caller="mcp", approve=outer).content == "False"
    assert ran == [] and asked == []
    step = next(r for r in ws.log.recent(10, kind="step") if r.name == "wipe")
    assert (step.caller, step.meta["via"]) == ("mcp", ["both"])
    ws.log.close()


def test_an_async_tool_keeps_the_outer_rule(tmp_path: Path) -> None:
    ws, ran = make(tmp_path)

    async def nested(where: str) -> str:
        """Calls wipe from a coroutine.

        Args:
            where: which folder
        """
        return ws.tools.invoke("wipe", {"where": where}).error_kind or "ran"

    ws.tools.register(nested)
    ws.approver = lambda request: True
    assert ws.tools.invoke("nested", {"where": "/"}, caller="rest", approve=lambda r: False).content == "denied"
    assert ran == []
    ws.log.close()


@pytest.mark.xfail(strict=True, reason="a tool_status.json that cannot be read treats every tool as active with "
                                       "approval off (the file is the only place approval is kept); fail-closed "
                                       "needs approval kept apart from the switchable state")
def test_an_unreadable_status_file_keeps_approval(tmp_path: Path) -> None:
    ws, ran = make(tmp_path)
    ws.log.close()
    (tmp_path / ".halion" / "tool_status.json").write_text("{ broken")
    again = Workspace(tmp_path)
    again.tools.register(ws.tools.get("wipe").function, name="wipe")
    assert again.tools.needs_approval("wipe")


@pytest.mark.xfail(strict=True, reason="a thread the tool starts itself does not inherit the call context "
                                       "(contextvars do not cross threading.Thread): its nested call is a new "
                                       "outermost call and asks ws.approver")
def test_a_thread_the_tool_starts_itself_keeps_the_outer_rule(tmp_path: Path) -> None:
    import threading

    ws, ran = make(tmp_path)
    ws.approver = lambda request: True

    def threaded(where: str) -> str:
        """Calls wipe on a thread of its own.

        Args:
            where: which folder
        """
        out: list[str] = []
        t = threading.Thread(target=lambda: out.append(ws.tools.invoke("wipe", {"where": where}).error_kind or "ran"))
        t.start()
        t.join()
        return out[0]

    ws.tools.register(threaded)
    assert ws.tools.invoke("threaded", {"where": "/"}, caller="mcp", approve=lambda r: False).content == "denied"
    ws.log.close()
