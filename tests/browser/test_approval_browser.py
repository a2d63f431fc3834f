"""Approval in a real JupyterLab with headless Chromium: click Approve and Deny under `%halion chat`
and in the chat panel, while the kernel is free to receive the clicks (the turn waits in a thread).

Screenshots go to artifacts/screenshots/approval-*.png ($HALION_ARTIFACTS overrides artifacts/).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from halion_nb.testing import FakeOpenAI, call, reply

from conftest import CHROMIUM, Lab, kernel_idle_for, run_all_cells, screenshots_dir, wait_until

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests")

TOOL_CELL = '''%%tool --approve
def remove(path: str) -> str:
    """Remove a file.

    Args:
        path: which file
    """
    return "removed " + path'''
SWATCH_CELL = '''%%tool
def swatch(color: str):
    """A square of one color.

    Args:
        color: a color name
    """
    from PIL import Image
    return Image.new("RGB", (2400, 1600), color)'''


def write_notebook(root: Path, base_url: str, workspace: Path) -> str:
    setup = (
        "import os\n"
        f"os.environ.update({{'OPENAI_BASE_URL': {base_url!r}, 'OPENAI_API_KEY': 'sk-browser-test-key', "
        f"'HALION_HOME': {str(workspace)!r}, 'HALION_MODEL': 'gpt-4.1-mini'}})\n"
        "%load_ext halion_nb"
    )
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in
                (setup, TOOL_CELL, SWATCH_CELL, "%halion chat Remove a.txt and b.txt, please.")]
    nbformat.write(nb, root / "approval.ipynb")
    return "approval.ipynb"


def shoot(page: Any, locator: Any, name: str) -> Path:
    path = screenshots_dir() / f"approval-{name}.png"
    time.sleep(0.3)
    locator.screenshot(path=str(path))
    return path


def test_approve_and_deny_by_clicking_in_jupyterlab(lab: Lab, browser_page: Any, tmp_path: Path) -> None:
    page = browser_page
    with FakeOpenAI() as fake:
        fake.script(
            reply(tool_calls=[call("remove", {"path": "a.txt"}, id="c1"), call("remove", {"path": "b.txt"}, id="c2")]),
            reply("Removed **a.txt**; b.txt was kept, as you asked.", usage=(1200, 40)),
            reply(tool_calls=[call("remove", {"path": "c.txt"}, id="c3")]),
            reply("Removed c.txt.", usage=(900, 20)),
            reply(tool_calls=[call("swatch", {"color": "teal"}, id="s1")]),
            reply("A teal rectangle.", usage=(1500, 10)),
        )
        name = write_notebook(lab.root, fake.base_url, tmp_path / "ws")
        try:
            page.goto(lab.notebook_url(name))
            run_all_cells(page)
            output = page.locator(".jp-Cell").nth(3).locator(".jp-OutputArea")
            first = output.locator(".halion-approval-card").first
            first.wait_for(timeout=60_000)
            assert "remove" in first.inner_text() and "a.txt" in first.inner_text()
            wait_until(lambda: kernel_idle_for(page, 0.5), timeout=30)  # the cell returned: the kernel is free
            shoot(page, output, "cell-waiting")
            first.locator("button.halion-approval-approve").click()
            second = output.locator(".halion-approval-card").nth(1)
            second.wait_for(timeout=30_000)
            assert "b.txt" in second.inner_text()
            reason = second.locator(".halion-approval-reason input")
            reason.fill("keep b")
            reason.press("Tab")
            wait_until(lambda: kernel_idle_for(page, 0.4), timeout=15)
            second.locator("button.halion-approval-deny").click()
            output.locator(".halion-chat-result").first.wait_for(timeout=30_000)
            shoot(page, output, "cell-done")
            text = output.inner_text()
            assert "Removed a.txt" in text and "Approved" in text and "Denied: keep b" in text
            tools = [m for m in fake.requests[1]["messages"] if m["role"] == "tool"]
            assert tools[0]["content"] == "removed a.txt"
            assert tools[1]["content"] == "Error: The person declined to run 'remove': keep b"

            # the chat panel: its turn runs in a worker thread, the card waits there
            page.locator(".jp-Cell").nth(3).locator(".jp-InputArea-editor").click()
            page.keyboard.press("Escape")
            page.keyboard.press("b")  # a new cell below
            page.keyboard.press("Enter")
            page.keyboard.type("%halion panel chat")
            page.keyboard.press("Shift+Enter")
            panel = page.locator(".halion-panel-chat").first
            panel.wait_for(timeout=60_000)
            box = panel.locator(".halion-chat-input input")
            box.fill("And c.txt?")
            box.press("Tab")
            wait_until(lambda: kernel_idle_for(page, 0.4), timeout=15)
            panel.locator("button.halion-chat-send").click()
            card = panel.locator(".halion-approval-card").first
            card.wait_for(timeout=30_000)
            assert "c.txt" in card.inner_text()
            shoot(page, panel, "panel-waiting")
            card.locator("button.halion-approval-approve").click()
            page.wait_for_function(
                "() => [...document.querySelectorAll('.halion-panel-chat .halion-chat-assistant')]"
                ".some(e => e.textContent.includes('Removed c.txt.'))", timeout=30_000)
            wait_until(lambda: "tokens" in panel.locator(".halion-chat-status").inner_text(), timeout=15)
            shoot(page, panel, "panel-done")
            assert fake.requests[3]["messages"][-1] == {"role": "tool", "tool_call_id": "c3",
                                                        "content": "removed c.txt"}
            box.fill("Show me teal.")
            box.press("Tab")
            wait_until(lambda: kernel_idle_for(page, 0.4), timeout=15)
            panel.locator("button.halion-chat-send").click()
            page.wait_for_function(
                "() => [...document.querySelectorAll('.halion-panel-chat .halion-chat-assistant')]"
                ".some(e => e.textContent.includes('A teal rectangle.'))", timeout=30_000)
            picture = panel.locator(".halion-chat-image").first
            picture.wait_for(timeout=15_000)
            width = page.evaluate("(e) => [e.naturalWidth, e.getBoundingClientRect().width]",
                                  picture.element_handle())
            assert width[0] == 960 and 0 < width[1] <= 480  # scaled for the card, bounded on screen
            sent = fake.requests[5]["messages"]
            assert sent[-2]["role"] == "tool" and json.loads(sent[-2]["content"])["type"] == "image"
            assert sent[-1]["role"] == "user" and sent[-1]["content"][1]["image_url"]["url"].startswith(
                "data:image/png;base64,")
            shoot(page, panel, "panel-image")
            rows = [json.loads(line) for line in (tmp_path / "ws" / ".halion" / "conversations").glob("*.jsonl")
                    .__next__().read_text().splitlines()]
            assert any(r.get("m", {}).get("content") == "Removed c.txt." for r in rows)
        except BaseException:
            page.screenshot(path=str(screenshots_dir() / "approval-failure.png"), full_page=True)
            raise
