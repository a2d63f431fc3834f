"""Secrets in `.halion/.env` (mode 0600) and the process environment; values are never displayed."""
from __future__ import annotations

import html
import io
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from dotenv.parser import parse_stream

from halion_nb.core.env_detection import env_vars_in_source
from halion_nb.core.files import atomic_write_text, file_lock
from halion_nb.core.log_redaction import watch
from halion_nb.core.redaction import Redactor, StreamRedactor, can_be_secret
from halion_nb.errors import ConfigError, StateFileError, ToolNotFoundError

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SECRET_PARTS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "CREDENTIALS")
_HEADER = "# halion_nb secrets: written by ws.env.set(); keep this file out of version control.\n"
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\a": "\\a", "\b": "\\b",
            "\f": "\\f", "\v": "\\v"}
_UNQUOTED_SAFE = re.compile(r"[^\s'\"#]([^\r\n]*\S)?")

required_env = env_vars_in_source  # the workspace's name for the same scan


@lru_cache(maxsize=1024)
def looks_secret(name: str) -> bool:
    """True for names like OPENAI_API_KEY, GITHUB_TOKEN, DB_PASSWORD, APIKEY."""
    parts = name.upper().split("_")
    return any(p == "PASS" or p.endswith(_SECRET_PARTS) for p in parts)


class EnvManager:
    """Reads and writes one dotenv file of secrets and mirrors it into `os.environ`.

    `sources` (tool name -> source code) lets it say which variables each tool needs.
    """

    def __init__(self, env_file: Path, sources: Callable[[], dict[str, str]] | None = None) -> None:
        self.env_file = Path(env_file)
        self._sources = sources
        self._lock = threading.RLock()
        self._cache: tuple[tuple[int, int, int], dict[str, str]] | None = None
        self._redactor: tuple[tuple[str, ...], Redactor] = ((), Redactor(()))
        self._secrets: tuple[dict[str, str], Any, list[str]] | None = None
        watch(self)  # halion_nb's own log messages never show these secrets

    # -- the file ------------------------------------------------------------
    def _read(self) -> dict[str, str]:
        """The file's values (cached while the file is unchanged); {} when it does not exist."""
        with self._lock:
            try:
                st = self.env_file.stat()
            except FileNotFoundError:
                self._cache = None
                return {}
            except OSError as e:
                raise StateFileError(f"cannot read the secrets file {self.env_file}: {e.strerror}") from None
            key = (st.st_mtime_ns, st.st_size, st.st_ino)
            if self._cache is not None and self._cache[0] == key:
                return self._cache[1]
            values = self._parse_file()
            self._cache = (key, values)
            return values

    def _parse_file(self) -> dict[str, str]:
        where = self.env_file
        try:
            text = where.read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            raise StateFileError(
                f"the secrets file {where} is not UTF-8 text (bad byte at offset {e.start}); "
                "fix it or delete it and set the values again"
            ) from None
        except OSError as e:
            raise StateFileError(f"cannot read the secrets file {where}: {e.strerror}") from None
        values: dict[str, str] = {}
        for b in parse_stream(io.StringIO(text)):
            if b.error:
                raise StateFileError(
                    f"the secrets file {where} has an unreadable line {b.original.line} "
                    "(expected NAME=value); fix that line or delete the file and set the values again"
                )
            if b.key is not None and b.value is not None:
                values[b.key] = b.value
        return values

    def _write(self, values: dict[str, str]) -> None:
        text = _render(values)
        if _parse_text(text) != values:  # refuse to write anything dotenv would read back differently
            raise ConfigError(
                "these values cannot all be stored in a dotenv file (more than one value ends with a "
                "backslash and holds whitespace, quotes or newlines); change one of them"
            )
        atomic_write_text(self.env_file, text, mode=0o600)
        self._cache = None

    # -- public API ----------------------------------------------------------
    def load(self) -> list[str]:
        """Put the file's values into `os.environ` (variables the process already has win).

        Returns the names whose file value is now in effect; a missing file gives [].
        """
        loaded = []
        for name, value in self._read().items():
            if name not in os.environ:
                os.environ[name] = value
            if os.environ[name] == value:
                loaded.append(name)
        if loaded and self.env_file.stat().st_mode & 0o077:
            log.warning("%s is readable by other users; run chmod 600 on it", self.env_file)
        return sorted(loaded)

    def set(self, name: str, value: str) -> None:
        """Store `name=value` in the file (atomically, mode 0600) and in `os.environ`."""
        _check_name(name)
        if not isinstance(value, str):
            raise ConfigError(f"the value for {name} must be a str, not {type(value).__name__}")
        if "\0" in value:
            raise ConfigError(f"the value for {name} contains a NUL character, which no environment allows")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(f"the value for {name} is not valid text (it holds a lone surrogate character)") from None
        with self._changing() as values:
            values[name] = value
            self._write(values)
            os.environ[name] = value

    def unset(self, name: str) -> None:
        """Remove `name` from the file, and from `os.environ` if it holds the file's value."""
        _check_name(name)
        if not self.env_file.exists():
            return  # nothing to remove (and no lock file to create)
        with self._changing() as values:
            if name not in values:
                return
            old = values.pop(name)
            self._write(values)
            if os.environ.get(name) == old:
                del os.environ[name]

    @contextmanager
    def _changing(self) -> Iterator[dict[str, str]]:
        """The file's values, read again under the file lock: two processes never lose each other's change."""
        with self._lock, file_lock(self.env_file):
            self._cache = None
            yield dict(self._read())

    def names(self) -> list[str]:
        """Names stored in the file, sorted."""
        return sorted(self._read())

    def is_set(self, name: str) -> bool:
        """True when the process environment or the file holds a non-empty value."""
        return bool(os.environ.get(name)) or bool(self._read().get(name))

    def status(self, names: Iterable[str]) -> dict[str, bool]:
        """name -> is it set?"""
        return {n: self.is_set(n) for n in names}

    def required(self, tool_name_or_source: str) -> list[str]:
        """Variables a tool (by name, when `sources` knows it) or a piece of source code reads."""
        sources = self._sources() if self._sources else {}
        if tool_name_or_source in sources:
            return env_vars_in_source(sources[tool_name_or_source])
        if _NAME.fullmatch(tool_name_or_source):
            raise ToolNotFoundError(f"no tool named {tool_name_or_source!r} in this workspace")
        return env_vars_in_source(tool_name_or_source)

    def missing(self) -> dict[str, list[str]]:
        """tool name -> variables it reads that are not set (only tools missing some)."""
        out: dict[str, list[str]] = {}
        for tool, source in (self._sources() if self._sources else {}).items():
            try:
                need = env_vars_in_source(source)
            except ValueError:
                continue  # a tool that does not parse is reported by the tool registry
            gaps = [n for n in need if not self.is_set(n)]
            if gaps:
                out[tool] = gaps
        return out

    def secrets(self) -> list[str]:
        """Values to hide: the file's values and those of secret-looking process variables."""
        values, env = self._read(), getattr(os.environ, "_data", None)  # cached while neither changes
        cached = self._secrets
        if cached is not None and env is not None and cached[1] == env and cached[0] == values:
            return list(cached[2])
        found = set(values.values())
        found.update(v for k, v in os.environ.items() if looks_secret(k))
        result = sorted((v for v in found if can_be_secret(v)), key=lambda v: (-len(v), v))
        self._secrets = (values, dict(env) if env is not None else None, result)
        return list(result)

    def redactor(self) -> Redactor:
        """The matcher for the current secrets (rebuilt when they change)."""
        secrets = tuple(self.secrets())
        cached = self._redactor
        if cached[0] != secrets:
            cached = (secrets, Redactor(secrets))
            self._redactor = cached
        return cached[1]

    def redact(self, text: Any) -> str:
        """`text` (or `str(text)`) with every secret value, in any form a sink writes it
        (JSON- or URL-escaped, repr, HTML, base64...), replaced by ***."""
        if not isinstance(text, str):
            text = str(text)
        return self.redactor().redact(text) if text else text

    def stream_redactor(self) -> StreamRedactor:
        """A redactor for text that arrives in pieces: `feed(chunk)` -> safe text, `flush()` -> the rest."""
        return StreamRedactor(self.redactor())

    # -- display -------------------------------------------------------------
    def _shown(self) -> dict[str, bool]:
        names = set(self.names())
        try:
            for need in self.missing().values():
                names.update(need)
            for source in (self._sources() if self._sources else {}).values():
                try:
                    names.update(env_vars_in_source(source))
                except ValueError:
                    pass
        except Exception:  # display must never fail
            log.debug("could not list tool variables", exc_info=True)
        return self.status(sorted(names))

    def __repr__(self) -> str:
        try:
            items = ", ".join(f"{n}: {'set' if ok else 'missing'}" for n, ok in self._shown().items())
        except StateFileError as e:
            items = f"unreadable: {e}"
        return f"EnvManager({self.env_file}; {items or 'no variables'})"

    def _repr_html_(self) -> str:
        try:
            shown = self._shown()
        except StateFileError as e:
            return f"<p><b>Environment</b>: {html.escape(str(e))}</p>"
        rows = "".join(
            f"<tr><td><code>{html.escape(n)}</code></td><td>{'set' if ok else '<b>missing</b>'}</td></tr>"
            for n, ok in shown.items()
        ) or "<tr><td colspan=2>no variables</td></tr>"
        return (
            f"<table><caption>Environment ({html.escape(str(self.env_file))})</caption>"
            f"<tr><th>name</th><th>status</th></tr>{rows}</table>"
        )


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        # never echo it: a swapped call would put the secret value here
        raise ConfigError(
            "that is not a valid environment variable name: use letters, digits and _, not starting "
            "with a digit (did you swap the name and the value?)"
        )


def _quote(value: str) -> str:
    return '"' + "".join(_ESCAPES.get(c, c) for c in value) + '"'


def _render(values: dict[str, str]) -> str:
    """Dotenv text; a value ending in a backslash goes unquoted when it can, else last.

    python-dotenv's quoted-value regex can run past a closing quote preceded by a backslash
    when a later quote exists, so at most one such value is written quoted, at the end.
    """
    plain, tail = [], []
    for name, value in values.items():
        if value.endswith("\\") and _UNQUOTED_SAFE.fullmatch(value) and not re.search(r"\s#", value):
            plain.append(f"{name}={value}\n")
        elif value.endswith("\\"):
            tail.append(f"{name}={_quote(value)}\n")
        else:
            plain.append(f"{name}={_quote(value)}\n")
    return _HEADER + "".join(plain + tail)


def _parse_text(text: str) -> dict[str, str]:
    return {b.key: b.value for b in parse_stream(io.StringIO(text)) if b.key is not None and b.value is not None}

