"""halion_nb's own `logging` messages pass through the same redaction as every other sink.

Each open workspace's secrets are hidden from the records of halion_nb's loggers (message,
arguments and traceback) as they are made, before any handler writes them anywhere.
"""
from __future__ import annotations

import logging
import threading
import traceback
import weakref
from typing import Any, Protocol


class _Redacts(Protocol):
    def redact(self, text: Any) -> str: ...


_sources: "weakref.WeakSet[Any]" = weakref.WeakSet()
_installed = threading.Lock()
_factory: Any = None


def watch(source: _Redacts) -> None:
    """Hide `source`'s secrets (an EnvManager) from halion_nb's log records while it lives."""
    _sources.add(source)
    global _factory
    with _installed:
        if _factory is None:
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                if record.name.partition(".")[0] == "halion_nb" and len(_sources):
                    _clean(record)
                return record

            _factory = factory
            logging.setLogRecordFactory(factory)


def _clean(record: logging.LogRecord) -> None:
    try:
        text = record.getMessage()
        if record.exc_info:
            record.exc_text = _redacted("".join(traceback.format_exception(*record.exc_info)).rstrip())
            record.exc_info = None
        record.msg, record.args = _redacted(text), None
    except Exception:  # a record that cannot be formatted is left to logging's own error handling
        pass


def _redacted(text: str) -> str:
    for source in list(_sources):
        text = source.redact(text)
    return text
