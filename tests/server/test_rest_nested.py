"""Issue 24.2 over REST: a call's nested steps keep the caller `rest`, the Jupyter user and the REST rule."""
from __future__ import annotations

from halion_nb.models import Toolchain


def install(ws):
    ran = []

    def wipe(where: str) -> str:
        """Delete everything.

        Args:
            where: which folder
        """
        ran.append(where)
        return "wiped"

    def runs_chain(where: str) -> str:
        """Runs the chain `tidy` itself.

        Args:
            where: which folder
        """
        run = ws.chains.run("tidy", where=where)
        return run.steps[0].error or "ran"

    ws.tools.register(wipe, approval=True)
    ws.tools.register(runs_chain)
    ws.chains.save(Toolchain.model_validate({
        "name": "tidy", "inputs": [{"name": "where", "type": "string"}],
        "steps": [{"id": "rm", "tool": "wipe", "arguments": {"where": {"ref": "inputs.where"}}}]}))
    ws.chains.save(Toolchain.model_validate({
        "name": "outer", "inputs": [{"name": "where", "type": "string"}],
        "steps": [{"id": "go", "tool": "runs_chain", "arguments": {"where": {"ref": "inputs.where"}}}]}))
    ws.approver = lambda request: True  # even a lax workspace approver is not what a REST call gets
    return ran


async def test_a_tool_running_a_chain_over_rest_cannot_reach_a_step_needing_approval(api, halion):
    ran = install(halion.workspace)
    status, body = await api("tools", "runs_chain", "call", method="POST", body={"arguments": {"where": "/"}},
                             user="alice")
    assert status == 200 and "a REST call cannot give" in body["result"], body
    assert ran == []
    step = halion.workspace.log.recent(1, kind="step")[0]
    assert (step.name, step.caller, step.user, step.meta["via"]) == ("wipe", "rest", "alice", ["tidy"])


async def test_a_chain_run_over_rest_whose_step_runs_a_chain_declines_the_nested_step(api, halion):
    ran = install(halion.workspace)
    status, body = await api("chains", "outer", "run", method="POST", body={"inputs": {"where": "/"}}, user="bob")
    assert status == 200, body
    assert ran == []
    step = next(r for r in halion.workspace.log.recent(10, kind="step") if r.name == "wipe")
    assert (step.caller, step.user, step.meta["via"]) == ("rest", "bob", ["outer", "tidy"])
    assert step.meta["decision"]["approved"] is False
