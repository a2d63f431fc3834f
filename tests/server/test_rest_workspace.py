"""Which workspace the extension opens, and files saved there after the server started."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import plus_one

from halion_nb.workspace import Workspace


@pytest.fixture
def env_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "from_env"
    monkeypatch.setenv("HALION_HOME", str(folder))
    return folder


@pytest.mark.parametrize("halion_config", [{"HalionApp": {"home": ""}}], indirect=True)
async def test_without_a_configured_home_halion_home_is_the_workspace(env_home, api, halion):
    assert halion.workspace.path == env_home.resolve()
    status, body = await api("tools")
    assert (status, body["tools"]) == (200, [])


async def test_tool_and_chain_files_saved_after_the_server_started_are_served(api, halion):
    notebook = Workspace(halion.workspace.path)  # a kernel saving into the same folder

    def triple(x: int) -> int:
        """Three times x.

        Args:
            x: A number.
        """
        return 3 * x

    notebook.tools.register(triple)
    notebook.tools.save("triple")
    notebook.chains.save(plus_one())
    status, body = await api("tools", "triple", "call", method="POST", body={"arguments": {"x": 14}})
    assert (status, body["result"]) == (200, 42)
    status, body = await api("chains", "plus_one", "run", method="POST", body={"inputs": {"n": 1}})
    assert (status, body["output"]) == (200, 2)
    notebook.log.close()
