"""What a newcomer sees in JupyterLab: the chat follows the newest answer, no clipped buttons,
log rows open, Font Awesome icons, left-aligned tables.

One JupyterLab and one notebook for the module, at a laptop's width with the file browser open
(the panel is about 660 px wide). The tests run in order on that one panel: the chat's turns are
what the Logs test opens. Screenshots go to artifacts/screenshots/layout-*.png.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import nbformat
import pytest

from halion_nb.testing import FakeOpenAI, call, error, reply

from conftest import CHROMIUM, Lab, kernel_idle_for, open_tab, run_all_cells, screenshots_dir, wait_until
from test_panels_browser import TOOL_CELL

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests")

PANELS = ("Chat", "Tools", "Chains", "Logs", "Env", "Admin")
LONG = " ".join(f"word{i}" for i in range(160))
PAUSE_CELL = '''%%tool
def pause(seconds: float) -> str:
    """Wait a moment, then say so.

    Args:
        seconds: how long to wait
    """
    import os
    import time
    time.sleep(seconds * float(os.environ.get("PAUSE_SCALE", "1")))
    return "waited"'''

IN_VIEW = """(box, selector) => {
  const b = box.getBoundingClientRect(), i = [...box.querySelectorAll(selector)].at(-1).getBoundingClientRect();
  return {overflows: box.scrollHeight > box.clientHeight + 100,
          visible: i.bottom <= b.bottom + 2 && i.bottom >= b.top + 20};
}"""
"""Whether the history box holds more than it shows, and the bottom of its last `selector` is in sight."""
CLIPPED = """p => [...p.querySelectorAll('.widget-button, .widget-toggle-button')]
  .filter(b => b.offsetParent !== null && b.scrollWidth > b.clientWidth)
  .map(b => `${b.textContent.trim() || b.title}: ${b.scrollWidth} > ${b.clientWidth} px`)"""
# symbol and emoji blocks that need a font many machines lack (arrows U+2190-21FF are in every text font)
SYMBOLS = r"[\u2300-\u23ff\u2500-\u27bf\u2b00-\u2bff\u{1f000}-\u{1faff}]"


def write_notebook(root: Path, base_url: str, workspace: Path) -> str:
    setup = (
        "import os\n"
        f"os.environ.update({{'OPENAI_BASE_URL': {base_url!r}, 'OPENAI_API_KEY': 'sk-layout-test-key', "
        f"'HALION_HOME': {str(workspace)!r}, 'HALION_MODEL': 'fake-model'}})\n"
        "%load_ext halion_nb"
    )
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (setup, TOOL_CELL, PAUSE_CELL, "%halion panel")]
    nbformat.write(nb, root / "layout.ipynb")
    return "layout.ipynb"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def page(lab: Lab, browser_page: Any, fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The notebook's panel, shown in a 1100 px wide window beside JupyterLab's file browser."""
    browser_page.set_viewport_size({"width": 1100, "height": 1300})
    name = write_notebook(lab.root, fake.base_url, tmp_path_factory.mktemp("ws"))
    browser_page.goto(lab.notebook_url(name))
    run_all_cells(browser_page)
    browser_page.wait_for_selector(".halion-tabs", timeout=90_000)
    return browser_page


@pytest.fixture(autouse=True)
def failure_screenshot(request: pytest.FixtureRequest, page: Any) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)  # set by conftest's pytest_runtest_makereport
    if report is not None and report.failed:
        page.screenshot(path=str(screenshots_dir() / f"layout-failure-{request.node.name}.png"))


def shoot(page: Any, name: str) -> None:
    time.sleep(0.3)  # let the last widget updates paint
    page.locator(".halion-tabs").screenshot(path=str(screenshots_dir() / f"layout-{name}.png"))


def ask(chat: Any, text: str) -> None:
    box = chat.locator(".halion-chat-input input")
    box.fill(text)
    box.press("Enter")


def newest_in_view(chat: Any, selector: str) -> dict[str, bool]:
    return chat.locator(".halion-chat-history-box").evaluate(IN_VIEW, selector)


def test_chat_keeps_the_newest_message_in_view(page: Any, fake: FakeOpenAI) -> None:
    chat = open_tab(page, "Chat")
    for i in range(3):
        fake.script(reply(f"Answer {i}: {LONG}"))
        ask(chat, f"question {i}")
        chat.locator(".halion-chat-assistant", has_text=f"Answer {i}:").wait_for()
        wait_until(lambda: kernel_idle_for(page, 0.5))
        assert newest_in_view(chat, ".halion-chat-assistant")["visible"], f"answer {i} is out of sight"
    assert newest_in_view(chat, ".halion-chat-assistant")["overflows"]

    # while a tool runs, the text streamed so far (with its cursor) is the newest thing shown
    fake.script(reply(f"Let me wait first. {LONG}", tool_calls=[call("pause", {"seconds": 4})]),
                reply("Waited, all done."))
    ask(chat, "wait for me")
    chat.locator(".halion-chat-live .halion-chat-cursor").wait_for()
    chat.locator(".halion-chat-live .halion-chat-assistant", has_text="word159").wait_for()
    assert newest_in_view(chat, ".halion-chat-live .halion-chat-assistant") == {"overflows": True, "visible": True}
    shoot(page, "chat-streaming")
    chat.locator(".halion-chat-assistant", has_text="Waited, all done.").wait_for(timeout=30_000)
    wait_until(lambda: kernel_idle_for(page, 0.5))
    assert newest_in_view(chat, ".halion-chat-assistant") == {"overflows": True, "visible": True}
    shoot(page, "chat")


def test_no_button_text_is_cut(page: Any, fake: FakeOpenAI) -> None:
    chat = open_tab(page, "Chat")
    fake.script(error(400, "The model service refused the request because " + LONG[:400]))
    ask(chat, "fail please")
    chat.locator(".halion-chat-retry").wait_for(state="visible")
    wait_until(lambda: kernel_idle_for(page, 0.5))
    shoot(page, "chat-error")
    assert chat.evaluate(CLIPPED) == []
    assert chat.locator(".halion-chat-retry").inner_text().strip() == "Retry"

    tools = open_tab(page, "Tools")
    tools.locator(".halion-tools-draft").click()
    tools.locator(".halion-tools-draft-go").click()  # nothing described yet: a message beside the buttons
    tools.locator(".halion-tools-draft-status", has_text="Describe").wait_for()
    tools.locator(".halion-tool-row-pause .halion-tools-select").click()
    tools.locator(".halion-tools-title", has_text="pause").wait_for()
    wait_until(lambda: kernel_idle_for(page, 0.5))
    assert tools.evaluate(CLIPPED) == []
    summaries = tools.locator(".halion-tools-summary").evaluate_all("els => els.map(e => e.clientWidth)")
    assert summaries and min(summaries) >= 150, f"tool descriptions squeezed to {summaries} px"
    shoot(page, "tools")

    admin = open_tab(page, "Admin")
    admin.locator(".halion-admin-clear-log").click()
    admin.locator(".halion-confirm", has_text="logged calls").wait_for()
    assert admin.evaluate(CLIPPED) == []
    shoot(page, "admin")
    admin.locator(".halion-confirm-no").click()

    for title in PANELS:
        panel = open_tab(page, title)
        time.sleep(0.2)
        assert panel.evaluate(CLIPPED) == [], title
    env = open_tab(page, "Env")
    shoot(page, "env")
    assert env.locator(".halion-env-set").inner_text().strip() == "Set"


def test_clicking_a_log_row_opens_that_call(page: Any) -> None:
    logs = open_tab(page, "Logs")
    logs.locator(".halion-logs-refresh").click()
    row = logs.locator(".halion-logs-row", has_text="pause").first
    row.wait_for()
    row.click(position={"x": 120, "y": 8})  # on the row's text, as a person would
    detail = logs.locator(".halion-logs-detail")
    detail.wait_for(state="visible")
    text = detail.inner_text()
    assert "arguments" in text and '"seconds": 4' in text and "waited" in text and "duration" in text
    assert "halion-logs-row-selected" in (row.get_attribute("class") or "")
    shoot(page, "logs-open")
    row.click(position={"x": 120, "y": 8})  # a second click closes it
    detail.wait_for(state="detached")
    failed = logs.locator(".halion-logs-row", has_text="BadRequest").first
    failed.click()
    assert "refused the request" in detail.inner_text()
    shoot(page, "logs")


def test_icons_are_font_awesome(page: Any) -> None:
    for title in PANELS:
        panel = open_tab(page, title)
        time.sleep(0.2)
        icons = panel.evaluate("""p => [...p.querySelectorAll('.widget-button i, .widget-toggle-button i, i.fa')]
            .filter(i => i.offsetParent !== null).map(i => ({
              cls: i.className, font: getComputedStyle(i).fontFamily,
              glyph: getComputedStyle(i, '::before').content, width: i.getBoundingClientRect().width}))""")
        assert icons, f"{title}: no icons"
        for i in icons:
            assert "fa" in i["cls"].split() and "Font Awesome" in i["font"], (title, i)  # ipywidgets ships FA 5
            assert i["glyph"] not in ("none", "normal", '""') and i["width"] > 4, (title, i)
        symbols = panel.evaluate(f"""p => [...p.querySelectorAll(`.widget-button, .widget-toggle-button,
              .widget-checkbox, .widget-label, .halion-logs-cells, .halion-chat-status, .lm-TabBar-tabLabel,
              .jupyter-widget-Collapse-header`)]
            .map(e => e.textContent).filter(t => /{SYMBOLS}/u.test(t))""")
        assert symbols == [], f"{title}: symbols that need an emoji font: {symbols}"
    chat = open_tab(page, "Chat")
    assert chat.locator(".halion-chat-send i.fa-paper-plane").count() == 1


def test_table_cells_are_left_aligned(page: Any) -> None:
    for title in ("Logs", "Env", "Admin"):
        panel = open_tab(page, title)
        time.sleep(0.2)
        aligned = panel.evaluate("""p => [...p.querySelectorAll('td, th, .halion-logs-cells > div')]
            .filter(e => e.offsetParent !== null).map(e => getComputedStyle(e).textAlign)""")
        assert aligned, title
        assert set(aligned) <= {"left", "start"}, f"{title}: {sorted(set(aligned))}"


def test_the_tool_card_in_the_notebook_is_left_aligned_without_emoji(page: Any) -> None:
    card = page.locator(".jp-OutputArea-output", has_text="Wait a moment, then say so.").first
    aligned = card.evaluate("""o => [...o.querySelectorAll('td, th')].map(e => getComputedStyle(e).textAlign)""")
    assert aligned and set(aligned) <= {"left", "start"}, sorted(set(aligned))
    assert card.evaluate(f"o => /{SYMBOLS}/u.test(o.textContent)") is False
