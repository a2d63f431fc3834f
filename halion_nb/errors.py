"""One exception family: every message says what went wrong and how to fix it."""
from __future__ import annotations

from typing import Any


class HalionError(Exception):
    """Base class of every error halion_nb raises on purpose.

    Every subclass pickles (batch workers send errors back across processes): the message
    and the fields come back as they were, whatever the subclass's constructor takes.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self.args, self._pickled_fields())

    def _pickled_fields(self) -> dict[str, Any]:
        """The fields sent along; a subclass holding something unpicklable leaves it out here."""
        return dict(self.__dict__)


def _rebuild(cls: type[HalionError], args: tuple[Any, ...], fields: dict[str, Any]) -> HalionError:
    """Unpickle without calling `cls.__init__` (which may want other arguments than `args`)."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(fields)
    return error


class ToolNameError(HalionError, ValueError):
    """A tool or chain name that is not a plain Python identifier."""


class ToolDefinitionError(HalionError, TypeError):
    """A function that cannot become a tool (untyped parameter, *args, ...)."""


class ToolNotFoundError(HalionError, KeyError):
    """No tool (or chain) by that name in the workspace."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ToolArgumentError(HalionError, ValueError):
    """Arguments that do not match a tool's schema; the message lists each bad field."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class ToolLoadError(HalionError):
    """A tool file on disk that could not be loaded."""


class StateFileError(HalionError):
    """A state file (JSON status, the SQLite log) that could not be read or written; it is left untouched."""


class NameTaken(StateFileError):
    """Saving would replace an existing chain or an unreadable file; pass overwrite=True to do so."""


class ConfigError(HalionError):
    """Missing or wrong configuration (no API key, no base URL, bad replay file)."""


class ModelServiceError(HalionError):
    """The model service failed; subclasses say how."""


class AuthenticationFailed(ModelServiceError):
    """The service refused the API key."""


class RateLimited(ModelServiceError):
    """The service kept answering 429 after the SDK's retries."""


class ServiceTimeout(ModelServiceError):
    """The service did not answer in time."""


class ConnectionLost(ModelServiceError):
    """The connection failed or a stream was cut midway."""


class BadRequest(ModelServiceError):
    """The service rejected the request (4xx other than auth and rate limit)."""


class ServiceUnavailable(ModelServiceError):
    """The service kept answering 5xx after the SDK's retries."""


class ReplayMismatch(ConfigError):
    """A request that differs from the recorded conversation being replayed."""


class ChainValidationError(HalionError, ValueError):
    """A chain with problems; `problems` lists each one with its step."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []
