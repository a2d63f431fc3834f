"""One MCP server connection, held open by a task on an asyncio loop of its own thread.

The SDK is asyncio (anyio); Jupyter's kernel already runs a loop, so nothing here ever calls
`asyncio.run` in the caller's thread: callers hand coroutines to `LoopThread.run` and wait.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

from . import McpServerError
from .config import ServerConfig, resolve

log = logging.getLogger(__name__)
T = TypeVar("T")


class LoopThread:
    """An event loop running forever on a daemon thread (it never keeps the interpreter alive)."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float | None) -> T:
        """Run `coro` on the loop and wait; on timeout the task is cancelled and FutureTimeout raised."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise

    def close(self, timeout: float = 5.0) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()


class Connection:
    """An MCP server: started on first use, restarted on the next use after it crashed."""

    def __init__(self, name: str, config: ServerConfig, loop: LoopThread, *, timeout: Callable[[], float],
                 errlog: Path, redact: Callable[[str], str], cwd: Path) -> None:
        self.name = name
        self.config = config
        self._loop = loop
        self._timeout = timeout
        self._errlog = errlog
        self._redact = redact
        self._cwd = cwd
        self._client: Any = None
        self._holder: asyncio.Task[None] | None = None
        self._closing: asyncio.Event | None = None
        self._lock = threading.Lock()

    @property
    def timeout(self) -> float:
        return float(self.config.timeout or self._timeout())

    @property
    def running(self) -> bool:
        return self._client is not None and self._holder is not None and not self._holder.done()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Any:
        """Start the server (if it is not running) and return the connected SDK client."""
        with self._lock:
            if self.running:
                return self._client
            self._forget()
            transport = self._transport()  # resolves ${NAME}: a missing secret fails here, before any spawn
            try:
                self._loop.run(self._open(transport), self.timeout)
            except FutureTimeout:
                try:
                    self._loop.run(self._close(), 5.0)
                except FutureTimeout:
                    log.warning("MCP server %s did not stop after a failed start", self.name)
                self._forget()
                raise McpServerError(f"MCP server '{self.name}' did not finish starting within {self.timeout:g} s "
                                     f"and was stopped.{self._stderr_tail()}") from None
            except McpServerError:
                raise
            except BaseException as exc:
                self._forget()
                raise McpServerError(f"MCP server '{self.name}' could not start: {self._describe(exc)}"
                                     f"{self._stderr_tail()}") from None
            return self._client

    def stop(self) -> None:
        with self._lock:
            if self._holder is not None and not self._loop.loop.is_closed():
                try:
                    self._loop.run(self._close(), 10.0)
                except Exception:  # a server that will not stop is left to its process group
                    log.warning("MCP server %s did not stop cleanly", self.name, exc_info=True)
            self._forget()

    # -- requests --------------------------------------------------------------------------------
    def list_tools(self) -> list[Any]:
        """Every tool the server lists (all pages)."""
        async def listing() -> list[Any]:
            tools, cursor = [], None
            for _ in range(100):
                page = await client.list_tools(cursor=cursor, cache_mode="refresh")  # what it lists now
                tools += page.tools
                cursor = page.next_cursor
                if cursor is None:
                    break
            return tools

        client = self.start()
        return self._request(listing, "list its tools")

    def call_tool(self, tool: str, arguments: dict[str, Any]) -> Any:
        client = self.start()
        return self._request(lambda: client.call_tool(tool, arguments), f"answer a call to '{tool}'")

    def _request(self, make: Callable[[], Awaitable[T]], what: str) -> T:
        try:
            return self._loop.run(make(), self.timeout)
        except FutureTimeout:
            raise McpServerError(f"MCP server '{self.name}' did not {what} within {self.timeout:g} s; "
                                 "the request was cancelled (the server keeps running).") from None
        except Exception as exc:
            from mcp import MCPError
            from mcp.types import CONNECTION_CLOSED

            closed = isinstance(exc, MCPError) and exc.error.code == CONNECTION_CLOSED
            if isinstance(exc, MCPError) and not closed and self.running:  # the server answered with an error
                raise McpServerError(f"MCP server '{self.name}' refused to {what}: {self._redact(str(exc))}") from None
            self.stop()
            raise McpServerError(f"MCP server '{self.name}' stopped answering ({self._describe(exc)}); it crashed "
                                 f"or exited. It starts again on the next call.{self._stderr_tail()}") from None

    # -- on the loop -----------------------------------------------------------------------------
    def _transport(self) -> Callable[[AsyncExitStack], Awaitable[Any]]:
        """How to open the transport on the loop; `${NAME}`s are resolved now (a missing one fails before any spawn)."""
        c = self.config
        if c.url is not None:
            headers = {k: resolve(v, self.name) for k, v in c.headers.items()}

            async def http(stack: AsyncExitStack) -> Any:
                import httpx2
                from mcp.client.streamable_http import streamable_http_client

                client = await stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=self.timeout))
                return streamable_http_client(c.url, http_client=client)

            return http
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        assert c.command is not None
        env = {k: resolve(v, self.name) for k, v in c.env.items()}
        params = StdioServerParameters(command=c.command[0], args=c.command[1:], env=env or None,
                                       cwd=str(self._cwd / c.cwd) if c.cwd else str(self._cwd))

        async def stdio(stack: AsyncExitStack) -> Any:
            self._errlog.parent.mkdir(parents=True, exist_ok=True)
            errlog = stack.enter_context(open(self._errlog, "w", encoding="utf-8"))  # noqa: ASYNC230  (this run's)
            return stdio_client(params, errlog=errlog)

        return stdio

    async def _open(self, transport: Any) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closing = asyncio.Event()
        self._holder = asyncio.get_running_loop().create_task(self._hold(transport, ready))
        try:
            await ready
        except asyncio.CancelledError:
            self._holder.cancel()
            raise

    async def _hold(self, transport: Callable[[AsyncExitStack], Awaitable[Any]], ready: asyncio.Future[None]) -> None:
        """Enter the SDK client, publish it, and keep it open until `_close` (enter and exit in one task)."""
        from mcp import Client

        try:
            async with AsyncExitStack() as stack:
                client = await stack.enter_async_context(Client(await transport(stack)))
                self._client = client
                ready.set_result(None)
                assert self._closing is not None
                await self._closing.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else McpServerError(type(exc).__name__))
            elif not isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
                log.info("MCP server %s connection ended: %s", self.name, exc)
        finally:
            self._client = None

    async def _close(self) -> None:
        holder = self._holder
        if holder is None or holder.done():
            return
        if self._closing is not None:
            self._closing.set()
        try:
            await asyncio.wait_for(asyncio.shield(holder), 5.0)
        except (asyncio.TimeoutError, Exception):
            holder.cancel()
            await asyncio.gather(holder, return_exceptions=True)

    def _forget(self) -> None:
        self._client, self._holder, self._closing = None, None, None

    def _describe(self, exc: BaseException) -> str:
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
        text = str(exc).strip() or "no message"
        if isinstance(exc, FileNotFoundError):
            text = f"command not found: {self.config.command[0] if self.config.command else '?'}"
        return self._redact(f"{type(exc).__name__}: {text}")

    def _stderr_tail(self, lines: int = 3) -> str:
        try:
            with open(self._errlog, encoding="utf-8", errors="replace") as fh:
                tail = [line.rstrip() for line in deque(fh, lines) if line.strip()]
        except OSError:
            return ""
        if not tail:
            return ""
        return f" Its last output (in {self._errlog.name}): " + self._redact(" | ".join(tail))[-400:]
