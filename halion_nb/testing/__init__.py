"""Public test helpers: a fake OpenAI-compatible server and a network guard.

``FakeOpenAI`` answers the real ``openai`` SDK over real HTTP on 127.0.0.1;
``block_network()`` makes any connection to a non-loopback address fail at once.
The pytest side lives in ``halion_nb.testing.pytest_plugin``.
"""
from __future__ import annotations

import ipaddress
import socket
from typing import Any

from .fake_server import (
    CutStream, EmptyChoices, Error, FakeOpenAI, Hang, Malformed, Reply, Scripted, ToolCall,
    call, cut_stream, empty_choices, error, hang, malformed, reply,
)

__all__ = [
    "FakeOpenAI", "reply", "call", "error", "malformed", "cut_stream", "hang", "empty_choices",
    "Scripted", "Reply", "ToolCall", "Error", "Malformed", "CutStream", "Hang", "EmptyChoices",
    "NetworkBlocked", "NetworkGuard", "block_network",
]

_ABSENT: Any = object()


class NetworkBlocked(OSError):
    """A connection to a non-loopback address attempted while the network guard is on."""


def _is_loopback(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%")[0]
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _is_ip_literal(host: object) -> bool:
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host).strip("[]").split("%")[0])
    except ValueError:
        return False
    return True


def _describe(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return repr(address)


class NetworkGuard:
    """Context manager that patches ``socket`` so that only loopback and AF_UNIX connections work.

    Every refused attempt raises :class:`NetworkBlocked` and is appended to ``violations``,
    so a caller can still notice it when the code under test swallowed the exception.
    """

    _patched = ("connect", "connect_ex")

    def __init__(self) -> None:
        self.violations: list[str] = []
        self._saved: dict[str, Any] = {}

    def _refuse(self, what: str) -> NetworkBlocked:
        message = (f"network access blocked: {what} is not a loopback address "
                   "(tests may only reach 127.0.0.1/::1/localhost; use halion_nb.testing.FakeOpenAI)")
        self.violations.append(message)
        return NetworkBlocked(message)

    def __enter__(self) -> NetworkGuard:
        guard = self
        cls = socket.socket
        real_connect, real_connect_ex = cls.connect, cls.connect_ex
        real_create, real_getaddrinfo = socket.create_connection, socket.getaddrinfo

        def check(sock: socket.socket, address: Any) -> None:
            if sock.family == getattr(socket, "AF_UNIX", object()) or isinstance(address, (str, bytes)):
                return
            if not (isinstance(address, tuple) and _is_loopback(address[0])):
                raise guard._refuse(f"connect to {_describe(address)}")

        def connect(sock: socket.socket, address: Any) -> None:
            check(sock, address)
            return real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            check(sock, address)
            return real_connect_ex(sock, address)

        def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
            if not _is_loopback(address[0]):
                raise guard._refuse(f"create_connection to {_describe(address)}")
            return real_create(address, *args, **kwargs)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if not (_is_loopback(host) or _is_ip_literal(host)):
                raise guard._refuse(f"DNS lookup of {host!r}")
            return real_getaddrinfo(host, *args, **kwargs)

        for name in self._patched:
            self._saved[name] = cls.__dict__.get(name, _ABSENT)
        self._saved["create_connection"], self._saved["getaddrinfo"] = real_create, real_getaddrinfo
        cls.connect, cls.connect_ex = connect, connect_ex  # type: ignore[method-assign]
        socket.create_connection, socket.getaddrinfo = create_connection, getaddrinfo  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self._patched:
            if self._saved[name] is _ABSENT:
                delattr(socket.socket, name)
            else:
                setattr(socket.socket, name, self._saved[name])
        socket.create_connection = self._saved["create_connection"]
        socket.getaddrinfo = self._saved["getaddrinfo"]


def block_network() -> NetworkGuard:
    """``with block_network() as guard:`` refuses non-loopback connections; see ``guard.violations``."""
    return NetworkGuard()
