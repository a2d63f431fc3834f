"""`panel()` and `%halion panel`: all panels as tabs, or one; names checked."""
from __future__ import annotations

import ipywidgets as W
import pytest
from IPython.core.error import UsageError

from halion_nb.widgets import PANELS, HalionPanel, find, panel
from halion_nb.workspace import Workspace, use_workspace


def test_panel_shows_every_panel_as_tabs(ws: Workspace) -> None:
    tabs = panel(ws=ws)
    assert isinstance(tabs, HalionPanel)
    assert list(tabs.panels) == list(PANELS)
    assert tabs.titles == ("Chat", "Tools", "Chains", "Logs", "Env", "Admin")
    for name, view in tabs.panels.items():
        assert f"halion-panel-{name}" in view._dom_classes
        assert view.controller.ws is ws
    tabs.close()


@pytest.mark.parametrize("which", list(PANELS))
def test_panel_shows_one(ws: Workspace, which: str) -> None:
    view = panel(which, ws=ws)
    assert isinstance(view, W.VBox) and f"halion-panel-{which}" in view._dom_classes
    view.close()


def test_unknown_panel_is_refused_with_the_choices(ws: Workspace) -> None:
    with pytest.raises(ValueError, match="chat, tools, chains, logs, env, admin"):
        panel("settings", ws=ws)


def test_panel_defaults_to_the_current_workspace(ws: Workspace) -> None:
    use_workspace(ws)
    view = panel("admin")
    assert view.controller.ws is ws
    import halion_nb

    assert halion_nb.panel is panel


def test_magic_displays_the_panel(ws: Workspace, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    from halion_nb.notebook import commands, panel_commands

    shown: list[object] = []
    monkeypatch.setattr(panel_commands, "display", shown.append)
    use_workspace(ws)
    commands.run_command(None, "panel tools", None)
    commands.run_command(None, "panel", None)
    assert "halion-panel-tools" in shown[0]._dom_classes  # type: ignore[attr-defined]
    assert isinstance(shown[1], HalionPanel)
    with pytest.raises(UsageError, match="invalid choice"):  # a failed command fails its cell
        commands.run_command(None, "panel nope", None)
    assert "panel" in commands.help_text()


def test_find_selects_by_css_class(ws: Workspace) -> None:
    view = panel("env", ws=ws)
    assert find(view, "halion-env-set").description == "Set"
    with pytest.raises(ValueError):
        find(view, "halion-no-such-class")


def test_a_panel_that_cannot_be_built_does_not_hide_the_others(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from halion_nb.widgets import logs

    def broken(ws: Workspace) -> None:
        raise RuntimeError("log unreadable")

    monkeypatch.setattr(logs, "logs_panel", broken)
    tabs = panel(ws=ws)
    assert "log unreadable" in tabs.panels["logs"].value
    assert "halion-panel-tools" in tabs.panels["tools"]._dom_classes


def test_closing_a_panel_stops_its_subscriptions(ws: Workspace) -> None:
    before = len(ws.tools._listeners)
    tabs = panel(ws=ws)
    assert len(ws.tools._listeners) > before
    tabs.close()
    assert len(ws.tools._listeners) == before

    def later(x: int) -> int:
        """Registered after the panels closed."""
        return x

    ws.tools.register(later)  # no closed widget is touched
