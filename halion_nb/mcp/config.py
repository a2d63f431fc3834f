"""`.halion/mcp.json`: the MCP servers a workspace uses. Secrets are named, never written here.

    {"servers": {"time": {"command": ["mcp-server-time"]},
                 "github": {"command": ["github-mcp-server", "stdio"],
                            "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_TOKEN}"}},
                 "docs": {"url": "http://127.0.0.1:8000/mcp", "headers": {"Authorization": "Bearer ${DOCS_TOKEN}"}}}}

`${NAME}` is resolved from the workspace's environment (`ws.env`, `.halion/.env`) when the server starts.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..core.files import atomic_write_json, file_lock
from ..errors import ConfigError, StateFileError

SEPARATOR = "__"
"""Between a server's name and its tool's name in `ws.tools`: `time__get_current_time`."""
_SERVER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ServerConfig(BaseModel):
    """One MCP server: a command to start over stdio, or the URL of a streamable HTTP server."""

    model_config = ConfigDict(extra="forbid")

    command: list[str] | None = None
    url: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    """Variable the server reads -> `${NAME}` of the workspace variable holding its value."""
    headers: dict[str, str] = Field(default_factory=dict)
    """HTTP headers for a URL server; `${NAME}` inside a value is replaced at start."""
    cwd: str | None = None
    timeout: float | None = None
    """Seconds to start and to answer one call; default: the workspace's tool_timeout."""
    deferred: bool = False
    """Its tools are not sent to the model until `find_tools` loads them (servers with many tools)."""

    @model_validator(mode="after")
    def _one_transport(self) -> "ServerConfig":
        if (self.command is None) == (self.url is None):
            raise ValueError("give either a command (stdio) or a url (streamable HTTP)")
        if self.command is not None and not self.command:
            raise ValueError("the command is empty")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"the url must start with http:// or https:// (got {self.url[:40]!r})")
        return self

    @field_validator("env")
    @classmethod
    def _named_only(cls, env: dict[str, str]) -> dict[str, str]:
        for key, value in env.items():
            if not _VAR.fullmatch(key):
                raise ValueError(f"env: {key!r} is not a variable name")
            if not _REF.fullmatch(value):
                raise ValueError(f"env {key}: the value must name a workspace variable as ${{NAME}}; secrets are "
                                 "never written into mcp.json (set the value with %halion env set NAME)")
        return env

    def variables(self) -> list[str]:
        """Names of the workspace variables this server needs."""
        texts = list(self.env.values()) + list(self.headers.values())
        return sorted({m for t in texts for m in _REF.findall(t)})


def check_server_name(name: object) -> str:
    if not isinstance(name, str) or not _SERVER_NAME.fullmatch(name) or SEPARATOR in name or name.endswith("_"):
        raise ConfigError(f"Invalid MCP server name {str(name)[:40]!r}: use a letter then letters, digits or single "
                          "underscores (at most 32), e.g. 'time' or 'github'. Its tools are named NAME__TOOL.")
    return name


def env_refs(env: Mapping[str, str] | Iterable[str] | None) -> dict[str, str]:
    """`env=` as given to `ws.mcp.add`: names (`["TOKEN"]`) or `{"SERVER_VAR": "TOKEN" or "${TOKEN}"}`."""
    if env is None:
        return {}
    pairs = env.items() if isinstance(env, Mapping) else ((n, n) for n in env)
    out = {}
    for key, value in pairs:
        name = m.group(1) if isinstance(value, str) and (m := _REF.fullmatch(value)) else value
        if not isinstance(name, str) or not _VAR.fullmatch(name):
            raise ConfigError(f"env {key}: give the NAME of a workspace variable, not a value; secrets are never "
                              "written into mcp.json. Store the value with `%halion env set NAME` first.")
        out[key] = f"${{{name}}}"
    return out


def refuse_secret_values(config: ServerConfig, secrets: Iterable[str]) -> None:
    """Raise ConfigError when a known secret value appears literally in what would be written."""
    literal = [*(config.command or []), config.url or "", *config.headers.values(), config.cwd or ""]
    for secret in secrets:
        if any(secret in text for text in literal):
            raise ConfigError("a secret value appears in the server's command, url or headers; nothing was saved. "
                              "Name it instead: env={'SERVER_VAR': 'NAME'} or headers={'Authorization': "
                              "'Bearer ${NAME}'}, with the value stored by %halion env set NAME.")


def resolve(template: str, server: str) -> str:
    """`template` with each `${NAME}` replaced by its value; a missing one is a clear ConfigError."""
    def value(match: re.Match[str]) -> str:
        found = os.environ.get(match.group(1))
        if not found:
            raise ConfigError(f"MCP server '{server}' needs the variable {match.group(1)}, which is not set. "
                              f"Set it with `%halion env set {match.group(1)}` (or ws.env.set).")
        return found

    return _REF.sub(value, template)


class ConfigFile:
    """Reads and writes `.halion/mcp.json` (atomically, under a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, ServerConfig]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StateFileError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            data = json.loads(text)
            servers = data.get("servers", {}) if isinstance(data, dict) else None
            if not isinstance(servers, dict):
                raise ValueError('expected {"servers": {NAME: {...}}}')
            out = {}
            for name, entry in servers.items():
                check_server_name(name)
                out[name] = ServerConfig.model_validate(entry)
            return out
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{self.path}: server {name!r}: {where + ': ' if where else ''}"
                              f"{first['msg'].removeprefix('Value error, ')}") from None
        except (ValueError, ConfigError) as exc:
            raise ConfigError(f"{self.path}: {exc}") from None

    def write(self, servers: dict[str, ServerConfig]) -> None:
        data = {"servers": {n: c.model_dump(exclude_defaults=True) for n, c in sorted(servers.items())}}
        atomic_write_json(self.path, data)

    def update(self, name: str, config: ServerConfig | None) -> None:
        """Add, replace (`config`) or remove (`None`) one server, keeping the others."""
        with file_lock(self.path):
            servers = self.read()
            if config is None:
                servers.pop(name, None)
            else:
                servers[name] = config
            self.write(servers)


def tool_cache(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The tool lists last seen per server (`.halion/mcp_tools.json`): tools register before a server starts."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, list)} if isinstance(data, dict) else {}
