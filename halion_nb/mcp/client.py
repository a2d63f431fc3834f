"""`ws.mcp`: MCP servers whose tools join `ws.tools` as `<server>__<tool>`, like any other tool.

Servers are listed in `.halion/mcp.json`. Their tools register from the last listing
(`.halion/mcp_tools.json`) when the workspace opens; a server starts on the first call, stays up
for the workspace's life and stops when it closes or the process exits. A server that fails to
start, crashes or hangs gives a clear McpServerError for its own calls; the rest carry on.
"""
from __future__ import annotations

import atexit
import html
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from ..core.files import atomic_write_json
from ..errors import ConfigError, HalionError, ToolNotFoundError
from . import McpServerError, require_sdk
from .config import SEPARATOR, ConfigFile, ServerConfig, check_server_name, env_refs, refuse_secret_values, tool_cache
from .connection import Connection, LoopThread
from .remote_tool import Listing, McpTool, check_input_schema, result_value

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .server import HttpServing

log = logging.getLogger(__name__)


class McpServers:
    """The workspace's MCP servers (`ws.mcp`): add, list, remove, group on/off, and serving tools out."""

    def __init__(self, ws: "Workspace") -> None:
        self.ws = ws
        self.file = ConfigFile(ws.state_dir / "mcp.json")
        self._cache_path = ws.state_dir / "mcp_tools.json"
        self._loop: LoopThread | None = None
        self._connections: dict[str, Connection] = {}
        self._lock = threading.RLock()
        self._serving: HttpServing | None = None
        self.problems: dict[str, str] = {}
        """Per server: why it, or one of its tools, could not be used (the last time it was tried)."""
        self._register_cached()
        ref = weakref.ref(self)
        atexit.register(lambda: (servers := ref()) is not None and servers.close())

    # -- configuration -----------------------------------------------------------------------------
    def servers(self) -> dict[str, ServerConfig]:
        """The servers of `.halion/mcp.json`, by name."""
        return self.file.read()

    def add(self, name: str, command: list[str] | str | None = None, *, url: str | None = None,
            env: Mapping[str, str] | Iterable[str] | None = None, headers: Mapping[str, str] | None = None,
            cwd: str | None = None, timeout: float | None = None, deferred: bool = False,
            replace: bool = False) -> list[McpTool]:
        """Add a server, start it, register its tools and save it to `.halion/mcp.json`.

        Args:
            name: Its name; its tools become `NAME__TOOL`.
            command: Program and arguments of a stdio server, e.g. `["mcp-server-time"]`.
            url: Address of a streamable HTTP server instead, e.g. `"http://127.0.0.1:8000/mcp"`.
            env: Variables the server needs, by NAME only: `["GITHUB_TOKEN"]` or
                `{"SERVER_VAR": "WORKSPACE_VAR"}`; values come from `ws.env` at start, never written.
            headers: HTTP headers of a URL server; write secrets as `${NAME}`.
            deferred: Keep its tools off the model's list until `find_tools` loads them.
            replace: Replace a server of the same name.
        """
        require_sdk()
        check_server_name(name)
        if isinstance(command, str):
            import shlex

            command = shlex.split(command)
        try:
            config = ServerConfig(command=command, url=url, env=env_refs(env), headers=dict(headers or {}),
                                  cwd=cwd, timeout=timeout, deferred=deferred)
        except ValueError as exc:
            raise ConfigError(f"MCP server '{name}': {_first_error(exc)}") from None
        refuse_secret_values(config, self.ws.env.secrets())
        if name in self.servers() and not replace:
            raise ConfigError(f"An MCP server named '{name}' exists already; pass replace=True or "
                              f"remove it first (ws.mcp.remove('{name}')).")
        self._drop_connection(name)
        connection = self._connection(name, config)
        try:
            listed = connection.list_tools()
        except McpServerError:
            self._drop_connection(name)
            raise
        self.file.update(name, config)
        return self._register(name, listed, config)

    def remove(self, name: str) -> None:
        """Stop the server, unregister its tools and delete it from `.halion/mcp.json`."""
        if name not in self.servers():
            raise ToolNotFoundError(f"No MCP server named '{name}'. Servers: {', '.join(self.servers()) or 'none'}.")
        self._drop_connection(name)
        for tool in self.tools(name):
            self.ws.tools.remove(tool.name)
        self.file.update(name, None)
        self._write_cache(name, None)
        self.problems.pop(name, None)

    def refresh(self, name: str | None = None) -> list[McpTool]:
        """Start the server(s) and register the tools they list now (tools gone from a server are removed)."""
        require_sdk()
        configs = self.servers()
        names = [name] if name is not None else list(configs)
        found: list[McpTool] = []
        for n in names:
            if n not in configs:
                raise ToolNotFoundError(f"No MCP server named '{n}'. Servers: {', '.join(configs) or 'none'}.")
            try:
                found += self._register(n, self._connection(n, configs[n]).list_tools(), configs[n])
            except McpServerError as exc:
                self.problems[n] = str(exc)
                if name is not None:
                    raise
        return found

    # -- tools ---------------------------------------------------------------------------------------
    def tools(self, name: str | None = None) -> list[McpTool]:
        """The registered tools of one server, or of every server."""
        return [t for t in self.ws.tools.all() if isinstance(t, McpTool) and (name is None or t.server == name)]

    def enable(self, name: str) -> list[str]:
        """Switch every tool of server `name` on, as one group; returns their names."""
        return self._switch(name, True)

    def disable(self, name: str) -> list[str]:
        """Switch every tool of server `name` off, as one group (the model no longer sees them)."""
        return self._switch(name, False)

    def call(self, server: str, tool: str, arguments: dict[str, Any] | None = None) -> Any:
        """Call `tool` (the server's own name for it) on `server`, starting the server if needed.

        This is the raw call (no log row); `ws.tools.invoke("server__tool", ...)` is the logged path.
        """
        config = self.servers().get(server)
        if config is None:
            raise ToolNotFoundError(f"No MCP server named '{server}' in {self.file.path}.")
        try:
            result = self._connection(server, config).call_tool(tool, arguments or {})
        except McpServerError as exc:
            self.problems[server] = str(exc)
            raise
        self.problems.pop(server, None)
        return result_value(result)

    # -- lifecycle -----------------------------------------------------------------------------------
    def status(self) -> list[dict[str, Any]]:
        """One row per server: name, transport, running, tools (active/total), deferred, problem."""
        states = self.ws.tools.manager.states()
        rows = []
        for name, config in self.servers().items():
            tools = self.tools(name)
            active = sum(1 for t in tools if states.get(t.name) is None or states[t.name].active)
            connection = self._connections.get(name)
            rows.append({"name": name, "transport": "http" if config.url else "stdio",
                         "target": config.url or " ".join(config.command or []),
                         "running": bool(connection and connection.running), "tools": len(tools),
                         "active": active, "deferred": config.deferred, "needs": config.variables(),
                         "problem": self.problems.get(name)})
        return rows

    def stop(self, name: str | None = None) -> None:
        """Stop one server (or all); the next call starts it again."""
        with self._lock:
            for n in [name] if name else list(self._connections):
                connection = self._connections.get(n)
                if connection is not None:
                    connection.stop()

    def close(self) -> None:
        """Stop serving and every server, and the loop thread (the workspace closes, or the process exits)."""
        self.stop_serving()
        with self._lock:
            self.stop()
            self._connections.clear()
            if self._loop is not None:
                self._loop.close()
                self._loop = None

    # -- serving tools out ---------------------------------------------------------------------------
    def serve(self, port: int = 0, *, host: str = "127.0.0.1", allow: Iterable[str] = ()) -> "HttpServing":
        """Serve this kernel's live tools over streamable HTTP in the background, until `stop_serving()`."""
        from .server import HttpServing

        self.stop_serving()
        self._serving = HttpServing(self.ws, host=host, port=port, allow=allow)
        return self._serving

    @property
    def serving(self) -> "HttpServing | None":
        return self._serving

    def stop_serving(self) -> bool:
        """Stop the background MCP server, if one runs; True when one was stopped."""
        serving, self._serving = self._serving, None
        if serving is None:
            return False
        serving.stop()
        return True

    # -- internals -----------------------------------------------------------------------------------
    def _connection(self, name: str, config: ServerConfig) -> Connection:
        with self._lock:
            connection = self._connections.get(name)
            if connection is not None and connection.config == config:
                return connection
            if connection is not None:
                connection.stop()
            if self._loop is None:
                self._loop = LoopThread(f"halion-mcp-{self.ws.path.name}")
            connection = Connection(name, config, self._loop, timeout=lambda: self.ws.tool_timeout,
                                    errlog=self.ws.state_dir / "mcp" / f"{name}.log", redact=self.ws.env.redact,
                                    cwd=self.ws.path)
            self._connections[name] = connection
            return connection

    def _drop_connection(self, name: str) -> None:
        with self._lock:
            connection = self._connections.pop(name, None)
        if connection is not None:
            connection.stop()

    def _switch(self, name: str, on: bool) -> list[str]:
        if name not in self.servers():
            raise ToolNotFoundError(f"No MCP server named '{name}'. Servers: {', '.join(self.servers()) or 'none'}.")
        names = [t.name for t in self.tools(name)]
        for n in names:
            self.ws.tools.enable(n) if on else self.ws.tools.disable(n)
        return names

    def _register(self, server: str, listed: list[Any], config: ServerConfig,
                  cache: bool = True) -> list[McpTool]:
        """Put the server's tools into `ws.tools` (replacing its earlier ones); a bad schema skips one tool.

        `listed` holds SDK tool listings, or (`cache=False`) the cached listing, checked when it was fresh.
        """
        registry, states = self.ws.tools, self.ws.tools.manager.states()
        tools, skipped, fresh = [], [], []
        for item in listed:
            try:
                listing = Listing.of(item)
            except ValueError as exc:
                skipped.append(f"a tool listing skipped: {exc}")
                continue
            why = check_input_schema(listing.input_schema) if cache else None
            if why is None:
                tool = McpTool.from_listing(server, listing, self.call)
                if tool.name in registry and not isinstance(registry.get(tool.name), McpTool):
                    why = f"a workspace tool is named {tool.name} already"
            if why is not None:
                skipped.append(f"tool '{listing.name}' skipped: {why}")
                continue
            tools.append(tool)
            fresh.append(listing.to_json())
        keep = {t.name for t in tools}
        for old in self.tools(server):
            if old.name not in keep:
                registry.remove(old.name)
        for tool in tools:
            if config.deferred and tool.name not in states:
                registry.manager.update(tool.name, active=False, deferred=True)  # offered once find_tools loads it
            registry.add(tool)
        if skipped:
            self.problems[server] = "; ".join(skipped)
        else:
            self.problems.pop(server, None)
        if cache:
            self._write_cache(server, fresh)
        if config.deferred:
            from .many_tools import install_finder

            install_finder(self.ws)
        return tools

    def _register_cached(self) -> None:
        """Register the tools each server listed last time, without starting it or importing the SDK."""
        try:
            configs = self.servers()
        except HalionError as exc:  # a broken mcp.json must not keep the workspace from opening
            self.problems["mcp.json"] = str(exc)
            return
        cached = tool_cache(self._cache_path)
        for name in configs:
            if name in cached:
                self._register(name, cached[name], configs[name], cache=False)

    def _write_cache(self, server: str, items: list[dict[str, Any]] | None) -> None:
        data = tool_cache(self._cache_path)
        if items is None:
            data.pop(server, None)
        else:
            data[server] = items
        try:
            atomic_write_json(self._cache_path, data)
        except OSError:
            log.warning("could not write %s", self._cache_path, exc_info=True)

    def __repr__(self) -> str:
        rows = self.status()
        if not rows:
            return ("No MCP servers. Add one: ws.mcp.add('time', ['mcp-server-time']) "
                    "or %halion mcp add time -- mcp-server-time")
        lines = []
        for r in rows:
            state = "running" if r["running"] else "stopped"
            extra = " · deferred (find_tools)" if r["deferred"] else ""
            needs = f" · needs {', '.join(r['needs'])}" if r["needs"] else ""
            lines.append(f"{r['name']:<12} {r['transport']:<5} {state:<8} {r['active']}/{r['tools']} tools active"
                         f"{extra}{needs} · {r['target']}")
            if r["problem"]:
                lines.append(f"{'':<12} problem: {r['problem']}")
        if self._serving is not None:
            lines.append(f"serving this workspace's tools at {self._serving.url}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = self.status()
        if not rows:
            return f"<p>{html.escape(repr(self))}</p>"
        head = "".join(f"<th>{h}</th>" for h in ("server", "transport", "state", "tools active", "command / url",
                                                 "problem"))
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
                r["name"], r["transport"], "running" if r["running"] else "stopped",
                f"{r['active']}/{r['tools']}" + (" (deferred)" if r["deferred"] else ""), r["target"],
                r["problem"] or "")) + "</tr>" for r in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first["msg"]).removeprefix("Value error, ")
    return str(exc)


def is_mcp_tool(tool: Any) -> bool:
    """True for a tool that runs in an MCP server (the panels mark these)."""
    return isinstance(tool, McpTool)


__all__ = ["McpServers", "McpTool", "SEPARATOR", "is_mcp_tool"]
