"""A real `jupyter server` process with the shipped config file: the extension is on, and the token is required."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from conftest import add

from halion_nb.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
CONFIG_FILE = REPO / "jupyter-config" / "jupyter_server_config.d" / "halion_nb.json"
STARTUP = 90.0
"""Seconds the server may take to start on a busy machine (a bound against hanging, not a timing)."""


def _env(tmp_path: Path) -> dict[str, str]:
    """A Jupyter config folder of its own holding the shipped file, as an install puts it in etc/jupyter."""
    config = tmp_path / "config"
    (config / "jupyter_server_config.d").mkdir(parents=True, exist_ok=True)
    (config / "jupyter_server_config.d" / CONFIG_FILE.name).write_bytes(CONFIG_FILE.read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_", "HALION_"))}
    env.update(JUPYTER_CONFIG_DIR=str(config), JUPYTER_DATA_DIR=str(tmp_path / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_PLATFORM_DIRS="1")
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, *, token: str | None, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"token {token}"} if token else {}
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_the_shipped_config_file_enables_the_extension_and_pyproject_installs_it() -> None:
    assert json.loads(CONFIG_FILE.read_text()) == {"ServerApp": {"jpserver_extensions": {"halion_nb.server": True}}}
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    data_files = pyproject["tool"]["setuptools"]["data-files"]
    assert data_files["etc/jupyter/jupyter_server_config.d"] == [str(CONFIG_FILE.relative_to(REPO))]


def test_a_real_server_serves_the_api_to_token_holders_only(tmp_path: Path) -> None:
    root = tmp_path / "root"
    ws = Workspace(root)  # no HALION_HOME: the extension opens the server's root directory
    ws.tools.register(add)
    ws.tools.save("add")
    listed = subprocess.run([sys.executable, "-m", "jupyter_server", "extension", "list"], env=_env(tmp_path),
                            capture_output=True, text=True, timeout=120, check=False)
    lines = (listed.stdout + listed.stderr).splitlines()
    assert any("halion_nb.server" in line and "enabled" in line for line in lines), lines
    assert any("halion_nb.server" in line and "OK" in line for line in lines), lines

    port, token = _free_port(), "t0ken-for-this-test-only"
    output = tmp_path / "server.log"
    command = [sys.executable, "-m", "jupyter_server", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
               "--no-browser", f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:
        command.append("--allow-root")  # containers run as root
    with output.open("wb") as log:
        server = subprocess.Popen(command, env=_env(tmp_path), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/halion/api"
    try:
        deadline = time.monotonic() + STARTUP
        while True:
            assert server.poll() is None, f"the server exited:\n{output.read_text(errors='replace')}"
            try:
                status, body = _request(f"{base}/tools", token=token)
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert status == 200 and [t["name"] for t in body["tools"]] == ["add"]
        status, body = _request(f"{base}/tools/add/call", token=token, body={"arguments": {"a": 20, "b": 22}})
        assert (status, body["result"], body["caller"]) == (200, 42, "rest")

        for wrong in (None, "not-the-token"):
            assert _request(f"{base}/tools", token=wrong)[0] == 403
            status, body = _request(f"{base}/tools/add/call", token=wrong, body={"arguments": {"a": 1, "b": 1}})
            assert (status, body["status"]) == (403, 403)
        assert [r.result for r in ws.log.recent(10)] == [42]  # the refused calls never ran
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        ws.log.close()
