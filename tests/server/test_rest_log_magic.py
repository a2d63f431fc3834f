"""`%halion log --user/--caller` finds the calls REST users made, in the notebook working on the same workspace."""
from __future__ import annotations

from typing import Any

import pytest

import halion_nb.workspace as workspace_module
from halion_nb.workspace import Workspace, use_workspace


def _shown(shell: Any, line: str) -> str:
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        shell.run_cell(f"%halion {line}")
    assert not captured.stderr, captured.stderr
    return "".join(o.data["text/plain"] for o in captured.outputs)


def _ids(table: str) -> list[str]:
    return [line.split()[0] for line in table.splitlines()[1:]]


async def test_the_log_command_filters_on_the_rest_user_and_caller(api, halion, monkeypatch: pytest.MonkeyPatch):
    from IPython.testing.globalipapp import get_ipython, start_ipython

    ids = {}
    for user, a in (("alice", 1), ("bob", 2)):
        ids[user] = str((await api("tools", "add", "call", method="POST", body={"arguments": {"a": a, "b": 1}},
                                   user=user))[1]["log_id"])
    monkeypatch.setattr(workspace_module, "_current", None)
    kernel_ws = use_workspace(Workspace(halion.workspace.path))  # the notebook's own view of the same folder
    kernel_ws.tools.invoke("add", {"a": 5, "b": 5})  # the kernel logs as the OS user, caller python
    shell = start_ipython() or get_ipython()
    shell.run_line_magic("load_ext", "halion_nb")
    try:
        assert _ids(_shown(shell, "log --user alice")) == [ids["alice"]]
        assert _ids(_shown(shell, "log --caller rest")) == [ids["bob"], ids["alice"]]
        assert len(_ids(_shown(shell, "log"))) == 3
    finally:
        kernel_ws.log.close()
