"""A real JupyterLab on 127.0.0.1 and headless Chromium driven by Playwright, for the panel tests.

JupyterLab runs with its own config, data, runtime and workspace folders under tmp, a random
port and token, and no news fetching; it is stopped by its pid. The fake model server runs in
this process; the notebook's kernel reaches it over loopback.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]


def screenshots_dir() -> Path:
    """`artifacts/screenshots/` in the repository, or under `$HALION_ARTIFACTS`."""
    base = Path(os.environ.get("HALION_ARTIFACTS") or REPO / "artifacts")
    path = base / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, token: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"JupyterLab did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("lab")
    home = tmp_path_factory.mktemp("jupyter-home")
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "HALION_", "JUPYTER"))}
    env.update({
        "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "PYTHONUNBUFFERED": "1",
        # the kernel imports the halion_nb under test, whatever checkout an editable install points at
        "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    })
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    log = home / "lab.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.token={token}", "--ServerApp.port_retries=0", "--allow-root", f"--notebook-dir={root}",
         "--LabApp.news_url=None", "--ServerApp.disable_check_xsrf=False"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, token, process, log)
        yield Lab(url, token, root, process, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # the server shuts its kernels down
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


@pytest.fixture(scope="module")
def browser_page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1600})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test item (`item.rep_call`), for screenshots on failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


# helpers the browser tests share (working a tab, running the notebook, waiting)


def open_tab(page: Any, title: str) -> Any:
    page.locator(".halion-tabs .lm-TabBar-tab", has_text=title).first.click()
    panel = page.locator(f".halion-panel-{title.lower()}")
    panel.wait_for(state="visible")
    return panel


def run_all_cells(page: Any) -> None:
    """Run > Run All Cells once the kernel is connected (its status first reads idle, then connecting)."""
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    for _ in range(3):
        wait_until(lambda: kernel_idle_for(page, 1.5), timeout=60)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.locator(".jp-Cell .jp-InputPrompt", has_text="[1]").first.wait_for(timeout=15_000)
            return
        except Exception:
            continue  # the kernel was not ready after all: try again
    raise AssertionError("the notebook's cells did not run")


def kernel_idle_for(page: Any, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        status = page.locator(".jp-Notebook-ExecutionIndicator").first.get_attribute("data-status")
        if status != "idle":
            return False
        time.sleep(0.1)
    return True


def wait_until(check: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, ValueError, KeyError) as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s" + (f" (last error: {last})" if last else ""))
