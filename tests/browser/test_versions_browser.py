"""Versions in a real JupyterLab with headless Chromium: the chain's Mermaid diagram is drawn (an SVG)
and redrawn as a step is added; the History view lists the saved versions; `%halion diff` is coloured.

Screenshots go to artifacts/screenshots/versions-*.png ($HALION_ARTIFACTS overrides artifacts/).
"""
from __future__ import annotations

import re
import time
import urllib.parse
from pathlib import Path
from typing import Any

import nbformat
import pytest

from conftest import CHROMIUM, Lab, kernel_idle_for, run_all_cells, screenshots_dir, wait_until

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests")

TOOL = '''def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: first number
        b: second number
    """
    return a + b'''


def write_notebook(root: Path, workspace: Path) -> str:
    setup = f"import os\nos.environ['HALION_HOME'] = {str(workspace)!r}\n%load_ext halion_nb"
    chain = ("import halion_nb\n"
             "halion_nb.workspace().chains.save({'name': 'plus_ten', 'inputs': [{'name': 'x', 'type': 'integer'}], "
             "'steps': [{'id': 'first', 'tool': 'add', 'arguments': {'a': {'ref': 'inputs.x'}, 'b': 10}}]})\n"
             "%halion panel chains")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in
                (setup, f"%%tool --save\n{TOOL}", f"%%tool --save\n{TOOL.replace('a + b', 'b + a')}",
                 "%halion diff add", chain)]
    nbformat.write(nb, root / "versions.ipynb")
    return "versions.ipynb"


def test_diagram_history_and_diff_in_jupyterlab(lab: Lab, browser_page: Any, tmp_path: Path) -> None:
    page = browser_page
    page.goto(lab.notebook_url(write_notebook(lab.root, tmp_path / "ws")))
    run_all_cells(page)
    diff = page.locator(".halion-diff").first
    diff.wait_for(timeout=60_000)
    added = diff.locator("span", has_text="+    return b + a").first
    assert "rgb(218, 251, 225)" in added.evaluate("e => getComputedStyle(e).backgroundColor")

    panel = page.locator(".halion-panel-chains").first
    panel.wait_for(timeout=60_000)
    wait_until(lambda: kernel_idle_for(page, 1.0), timeout=60)
    panel.locator(".halion-chains-select select").select_option(label="plus_ten")
    wait_until(lambda: kernel_idle_for(page, 0.4), timeout=15)
    panel.locator(".halion-chains-load").click()
    drawn = panel.locator(".halion-chains-diagram .jp-RenderedMermaid img").first  # JupyterLab drew it: an SVG

    def svg() -> str:
        return urllib.parse.unquote(drawn.get_attribute("src") or "")

    def steps() -> set[str]:
        return set(re.findall(r"flowchart-(s_\w+?)-\d+", svg()))

    drawn.wait_for(timeout=60_000)
    wait_until(lambda: svg().startswith("data:image/svg+xml") and steps() == {"s_first"}, timeout=30)
    time.sleep(0.5)
    drawn.screenshot(path=str(screenshots_dir() / "versions-diagram-1.png"))

    panel.locator(".halion-chains-add-step").click()  # a second `add` step: the diagram is redrawn
    wait_until(lambda: len(steps()) == 2, timeout=60)

    panel.locator(".halion-chains-versions .lm-AccordionPanel-title, .halion-chains-versions .p-Collapse-header, "
                  ".halion-chains-versions .jupyter-widget-Collapse-header").first.click()
    listing = panel.locator(".halion-chains-history-list select")
    wait_until(lambda: listing.locator("option").count() == 1, timeout=30)
    assert listing.locator("option").first.inner_text().replace("\xa0", " ").startswith("v1 ")
    time.sleep(0.5)
    panel.screenshot(path=str(screenshots_dir() / "versions-chains-panel.png"))
