"""A secret that a tool returns or raises never shows in the Tools or Chains panel."""
from __future__ import annotations


import ipywidgets as W
import pytest

from halion_nb.models import Toolchain
from halion_nb.widgets import find, panel
from halion_nb.workspace import Workspace

SECRET = "sk-panel-secret-0123456789"


def leak(word: str) -> str:
    """Return the token."""
    import os

    return f"{word}:{os.environ['PANEL_API_KEY']}"


def leak_error(word: str) -> str:
    """Raise with the token in the message."""
    import os

    raise RuntimeError(f"{word} failed with {os.environ['PANEL_API_KEY']}")


def texts(widget: W.Widget) -> str:
    """Every string value and description in a widget tree."""
    out, stack = [], [widget]
    while stack:
        w = stack.pop()
        out += [v for v in (getattr(w, a, None) for a in ("value", "description", "tooltip")) if isinstance(v, str)]
        stack += list(getattr(w, "children", ()) or ())
    return "\n".join(out)


@pytest.fixture
def secret_ws(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.delenv("PANEL_API_KEY", raising=False)
    ws.env.set("PANEL_API_KEY", SECRET)
    for fn in (leak, leak_error):
        ws.tools.register(fn)
    return ws


@pytest.mark.parametrize("tool", ["leak", "leak_error"])
def test_a_chain_run_shows_no_secret(secret_ws: Workspace, tool: str) -> None:
    secret_ws.chains.save(Toolchain.model_validate(
        {"name": "c", "steps": [{"id": "s", "tool": tool, "arguments": {"word": "w"}}]}))
    view = panel("chains", ws=secret_ws)
    find(view, "halion-chains-select").value = "c"
    find(view, "halion-chains-load").click()
    find(view, "halion-chains-run").click()
    assert view.controller.wait(20)
    shown = texts(view)
    assert "***" in shown and SECRET not in shown


def test_a_test_run_error_in_the_tools_panel_shows_no_secret(secret_ws: Workspace) -> None:
    view = panel("tools", ws=secret_ws)
    view.controller.select("leak_error")
    find(view, "halion-tools-param-word").value = "w"
    find(view, "halion-tools-run").click()
    assert view.controller.wait(10)
    result = find(view, "halion-tools-result").value
    assert "leak_error raised RuntimeError" in result and "***" in result
    assert SECRET not in texts(view)
