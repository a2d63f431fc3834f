"""The panels in a real JupyterLab with headless Chromium: chat, tools, chains, logs, env, admin.

One notebook sets the fake model server's address, registers a tool with %%tool, saves a
chain and shows `%halion panel`; the test then works every tab as a person would and saves a
screenshot of each under artifacts/screenshots/ ($HALION_ARTIFACTS overrides artifacts/).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from halion_nb.testing import FakeOpenAI, call, reply

from conftest import CHROMIUM, Lab, kernel_idle_for, open_tab, run_all_cells, screenshots_dir, wait_until

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests")

SECRET = "browser-secret-value-4b1d"
WEATHER = """import os

def weather(city: str) -> str:
    \"\"\"Weather in a city (needs an API key).\"\"\"
    key = os.environ["WEATHER_API_KEY"]
    return f"sunny in {city}"
"""
TOOL_CELL = '''%%tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: first number
        b: second number
    """
    return a + b'''


def write_notebook(root: Path, base_url: str, workspace: Path) -> str:
    setup = (
        "import os\n"
        f"os.environ.update({{'OPENAI_BASE_URL': {base_url!r}, 'OPENAI_API_KEY': 'sk-browser-test-key', "
        f"'HALION_HOME': {str(workspace)!r}, 'HALION_MODEL': 'fake-model'}})\n"
        "%load_ext halion_nb"
    )
    show = (
        "import halion_nb\n"
        "from halion_nb.models import Toolchain\n"
        f"halion_nb.workspace().tools.update_source(None, {WEATHER!r}, save=False)\n"
        "halion_nb.workspace().chains.save(Toolchain.model_validate({'name': 'plus_ten', "
        "'inputs': [{'name': 'x', 'type': 'integer'}], 'steps': [{'id': 'add', 'tool': 'add', "
        "'arguments': {'a': {'ref': 'inputs.x'}, 'b': 10}}]}))\n"
        "%halion panel"
    )
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (setup, TOOL_CELL, show)]
    nbformat.write(nb, root / "panels.ipynb")
    return "panels.ipynb"




def fill(page: Any, box: Any, text: str) -> None:
    """Type into a box and let its value reach the kernel before the next click.

    ipywidgets holds back a model's state update while the kernel is busy but sends a button's
    click at once, so a click right after typing can overtake the value."""
    box.fill(text)
    box.press("Tab")
    wait_until(lambda: kernel_idle_for(page, 0.4), timeout=15)


def shoot(page: Any, name: str) -> Path:
    path = screenshots_dir() / f"{name}.png"
    time.sleep(0.3)  # let the last widget updates paint
    page.locator(".halion-tabs").screenshot(path=str(path))
    return path


def test_panels_in_jupyterlab(lab: Lab, browser_page: Any, tmp_path: Path) -> None:
    page = browser_page
    workspace = tmp_path / "ws"
    for stale in ("failure.png", "failure.html"):
        (screenshots_dir() / stale).unlink(missing_ok=True)
    with FakeOpenAI() as fake:
        name = write_notebook(lab.root, fake.base_url, workspace)
        page.goto(lab.notebook_url(name))
        try:
            run_all_cells(page)
            page.wait_for_selector(".halion-tabs", timeout=90_000)
            work_the_panels(page, fake, workspace)
        except BaseException:
            page.screenshot(path=str(screenshots_dir() / "failure.png"))
            (screenshots_dir() / "failure.html").write_text(page.content())
            raise






def work_the_panels(page: Any, fake: FakeOpenAI, workspace: Path) -> None:
    """Each tab as a person would use it, with a screenshot of each."""

    # Chat: Enter sends; the answer streams in as markdown; the tool call is a card.
    fake.script(reply(tool_calls=[call("add", {"a": 2, "b": 3})]),
                reply("The sum of 2 and 3 is **5**. " + " ".join(f"word{i}" for i in range(60))))
    chat = open_tab(page, "Chat")
    chat.locator(".halion-chat-input input").fill("What is 2 + 3?")
    chat.locator(".halion-chat-input input").press("Enter")
    chat.locator(".halion-chat-assistant strong", has_text="5").wait_for()
    chat.locator(".halion-chat-status", has_text="1 tool call(s)").wait_for()
    card = chat.locator(".halion-chat-toolcall")
    assert "add" in card.inner_text()
    card.get_by_text("add").first.click()  # open the card
    chat.locator(".halion-chat-toolcall-body", has_text="result").wait_for()
    assert "What is 2 + 3?" in chat.locator(".halion-chat-user").inner_text()
    assert fake.requests[0]["messages"][-1]["content"] == "What is 2 + 3?"
    shoot(page, "chat")

    # Tools: a switch reaches the workspace's state file; the source is shown.
    tools = open_tab(page, "Tools")
    active = tools.locator(".halion-tool-row-add .halion-tools-active input")
    active.uncheck()
    status_file = workspace / ".halion" / "tool_status.json"
    wait_until(lambda: json.loads(status_file.read_text())["add"]["active"] is False)
    active.check()
    wait_until(lambda: json.loads(status_file.read_text())["add"]["active"] is True)
    tools.locator(".halion-tool-row-add .halion-tools-select").click()
    fill(page, tools.locator(".halion-tools-param-a input"), "20")
    fill(page, tools.locator(".halion-tools-param-b input"), "22")
    tools.locator(".halion-tools-run").click()
    tools.locator(".halion-tools-result", has_text="returned in").wait_for()
    assert "42" in tools.locator(".halion-tools-result").inner_text()
    assert "return a + b" in tools.locator(".halion-tools-source textarea").input_value()
    shoot(page, "tools")

    # Chains: load the saved chain, run it, see each step's status and the output.
    chains = open_tab(page, "Chains")
    chains.locator(".halion-chains-select select").select_option("plus_ten")
    chains.locator(".halion-chains-load").click()
    chains.locator(".halion-chain-step-1").wait_for()
    fill(page, chains.locator(".halion-chains-run-input-x input"), "5")
    chains.locator(".halion-chains-run").click()
    chains.locator(".halion-chains-output", has_text="finished").wait_for()
    assert "15" in chains.locator(".halion-chains-output").inner_text()
    assert "ok" in chains.locator(".halion-chain-step-1 .halion-chains-step-status").inner_text()
    shoot(page, "chains")

    # Logs: the chat's model and tool calls and the chain run, newest first; open one.
    logs = open_tab(page, "Logs")
    logs.locator(".halion-logs-refresh").click()
    logs.locator(".halion-logs-row", has_text="chain").first.wait_for()
    logs.locator(".halion-logs-row", has_text="chain").first.click()
    logs.locator(".halion-logs-detail", has_text="arguments").wait_for()
    shoot(page, "logs")

    # Env: a value set through the password box is stored and never shown.
    env = open_tab(page, "Env")
    assert "missing" in env.locator(".halion-env-table tr", has_text="WEATHER_API_KEY").inner_text()
    shoot(page, "env-missing")
    env.locator(".halion-env-name input").fill("WEATHER_API_KEY")
    env.locator(".halion-env-value input").fill(SECRET)
    env.locator(".halion-env-value input").press("Tab")
    wait_until(lambda: kernel_idle_for(page, 0.4))
    env.locator(".halion-env-set").click()
    env.locator(".halion-env-status", has_text="WEATHER_API_KEY is set").wait_for()
    assert "missing" not in env.locator(".halion-env-table tr", has_text="WEATHER_API_KEY").inner_text()
    assert env.locator(".halion-env-value input").input_value() == ""
    assert SECRET not in page.content()
    assert SECRET in (workspace / ".halion" / ".env").read_text()
    shoot(page, "env")

    # Admin: counts and places; clearing the log asks first.
    admin = open_tab(page, "Admin")
    admin.locator(".halion-admin-refresh").click()
    assert str(workspace) in admin.locator(".halion-admin-info").inner_text()
    admin.locator(".halion-admin-clear-log").click()
    admin.locator(".halion-confirm", has_text="logged calls").wait_for()
    shoot(page, "admin")
    admin.locator(".halion-confirm-yes").click()
    admin.locator(".halion-admin-status", has_text="Deleted").wait_for()
