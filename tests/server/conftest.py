"""A real Jupyter server (pytest-jupyter) with the halion extension over a fresh workspace.

Tools are registered on the server's own workspace object (the server runs in this process),
so a test can hand it functions that wait for the test to let them go.
"""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth import Authorizer, IdentityProvider, User
from pytest_jupyter.jupyter_server import *  # jp_fetch, jp_serverapp, ... and the hooks running async tests
from tornado.httpclient import HTTPClientError, HTTPResponse
from traitlets.config import Config

from halion_nb.models import Toolchain
from halion_nb.server.application import HalionApp
from halion_nb.workspace import Workspace

TOKENS = {"alice-token": "alice", "bob-token": "bob"}


class TwoUsers(IdentityProvider):
    """The server's token is its owner; `alice-token` and `bob-token` are two more users."""

    def get_user(self, handler: Any) -> Any:
        scheme, _, token = handler.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "token" and token in TOKENS:
            handler._token_authenticated = True  # as Jupyter's own token check does: no XSRF cookie needed
            return User(username=TOKENS[token])
        return super().get_user(handler)


class NoExecute(Authorizer):
    """Allows reading and writing, refuses every execute action."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return action != "execute"


def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


def shout(text: str) -> str:
    """Upper-case a text.

    Args:
        text: What to shout.
    """
    return text.upper()


def fail(reason: str) -> str:
    """Always raise.

    Args:
        reason: The error message.
    """
    raise RuntimeError(reason)


def plus_one() -> Toolchain:
    """A chain of one step, `add(n, 1)`."""
    return Toolchain.model_validate({
        "name": "plus_one", "description": "Add one.", "inputs": [{"name": "n", "type": "integer"}],
        "steps": [{"id": "sum", "tool": "add", "arguments": {"a": {"ref": "inputs.n"}, "b": 1}}]})


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The workspace folder the extension opens (`HalionApp.home`), holding three saved tools."""
    folder = tmp_path / "workspace"
    ws = Workspace(folder)
    for fn in (add, shout, fail):
        ws.tools.register(fn)
        ws.tools.save(fn.__name__)
    ws.log.close()
    return folder


@pytest.fixture
def halion_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Extra config merged into the server's: parametrize it (`indirect=True`) to change it."""
    return getattr(request, "param", {})


@pytest.fixture
def jp_server_config(home: Path, halion_config: dict[str, Any]) -> Config:
    config: dict[str, Any] = {
        "ServerApp": {"jpserver_extensions": {"halion_nb.server": True}, "identity_provider_class": TwoUsers},
        "HalionApp": {"home": str(home)},
    }
    for section, values in halion_config.items():
        config.setdefault(section, {}).update(values)
    return Config(config)


@pytest.fixture
def halion(jp_serverapp: Any) -> HalionApp:
    """The running extension (its workspace is `halion.workspace`)."""
    return jp_serverapp.web_app.settings["halion"]


Fetch = Callable[..., Awaitable[Any]]


@pytest.fixture
def api(jp_fetch: Any) -> Fetch:
    """`await api("tools", "add", "call", method="POST", body=...)`: (status, JSON reply); errors do not raise.

    `body` that is not bytes or str is sent as JSON; `user="alice"` sends alice's token.
    """

    async def call(*parts: str, method: str = "GET", body: Any = None, user: str | None = None,
                   **kwargs: Any) -> tuple[int, Any]:
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if user is not None:
            token = next(t for t, u in TOKENS.items() if u == user)
            kwargs["headers"] = {**kwargs.get("headers", {}), "Authorization": f"token {token}"}
        if method in ("POST", "PUT", "PATCH") and body is None:
            body = b""
        try:
            response: HTTPResponse = await jp_fetch("halion", "api", *parts, method=method, body=body,
                                                    raise_error=False, **kwargs)
        except HTTPClientError as exc:  # pragma: no cover - raise_error=False should prevent it
            response = exc.response  # type: ignore[assignment]
        text = response.body.decode("utf-8") if response.body else ""
        return response.code, json.loads(text) if text else None

    return call
