"""Model-service errors as `halion_nb.errors`: what failed, what was tried, and what to do about it.

Every message is redacted before it is shortened, so no piece of a secret the service quoted
(a 401 echoing the key, a 400 echoing a value) reaches an exception, a log row or a banner.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable

from ..errors import (
    AuthenticationFailed,
    BadRequest,
    ConnectionLost,
    HalionError,
    ModelServiceError,
    RateLimited,
    ServiceTimeout,
    ServiceUnavailable,
)

if TYPE_CHECKING:
    from ..workspace import Workspace


class StreamEnded(Exception):
    """A stream that closed cleanly before the model finished its answer (no finish_reason came)."""


def map_error(exc: BaseException, ws: "Workspace | None" = None, *,
              attempts: list[dict[str, Any]] | None = None) -> HalionError:
    """The `halion_nb.errors` exception for an SDK (or transport) error, with what to do about it.

    `attempts` (one dict per HTTP attempt, with its status) lets a timeout say what was tried.
    """
    import openai

    from .inflight import DeadlinePassed

    if isinstance(exc, HalionError):
        return exc
    timeout = getattr(ws, "request_timeout", None)
    retries = getattr(ws, "max_retries", "the SDK's")
    where = os.environ.get("OPENAI_BASE_URL") or "the OpenAI API"
    if ws is not None and ws.replay and where == "the OpenAI API" and not os.environ.get("OPENAI_API_KEY"):
        where = f"the recording {ws.replay.name}"
    redact = ws.env.redact if ws is not None else str  # before anything is shortened: no piece of a secret is kept
    detail = _service_message(exc, redact)
    mapped: HalionError
    if isinstance(exc, StreamEnded):
        mapped = ConnectionLost(
            f"the answer from {where} stopped before the model finished it (the stream ended without a "
            f"finish_reason; {exc}). Nothing of it was kept: call ws.conversation.retry()."
        )
    elif isinstance(exc, (DeadlinePassed, openai.APITimeoutError)):
        within = f"within {timeout:g} s (ws.request_timeout)" if timeout else "in time"
        midway = ": it went quiet midway through its answer, and nothing of it was kept" if getattr(
            exc, "midway", False) else ""
        mapped = ServiceTimeout(
            f"the model service did not answer {within}{_tried(attempts)}{midway}. "
            "Try again, or raise ws.request_timeout for slow models."
        )
    elif isinstance(exc, openai.APIConnectionError):
        mapped = ConnectionLost(
            f"the connection to {where} failed or was cut midway ({_cause(exc, redact)}). Check that the server is "
            "running and OPENAI_BASE_URL is right, then call ws.conversation.retry()."
        )
    elif isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        mapped = AuthenticationFailed(
            f"the model service refused the API key ({exc.status_code}: {detail}). "
            "Check OPENAI_API_KEY (ws.env.set('OPENAI_API_KEY', '...')) and that it may use this model."
        )
    elif isinstance(exc, openai.RateLimitError):
        mapped = RateLimited(
            f"the model service is rate limiting requests (429 after {retries} retries: {detail}). "
            "Wait a moment and call ws.conversation.retry(), or raise ws.max_retries."
        )
    elif isinstance(exc, openai.InternalServerError) or (
        isinstance(exc, openai.APIStatusError) and exc.status_code >= 500
    ):
        mapped = ServiceUnavailable(
            f"the model service failed ({exc.status_code} after {retries} retries: {detail}). "
            "Try again later with ws.conversation.retry()."
        )
    elif isinstance(exc, openai.NotFoundError):
        mapped = BadRequest(
            f"the model service answered 404 ({detail}). Check the model name (HALION_MODEL, now "
            f"{getattr(ws, 'model', '?')!r}) and OPENAI_BASE_URL (it usually ends in /v1)."
        )
    elif isinstance(exc, openai.APIStatusError):
        mapped = BadRequest(
            f"the model service rejected the request ({exc.status_code}: {detail}). "
            "Check the model name and the tools' schemas, then call ws.conversation.retry()."
        )
    elif isinstance(exc, (openai.APIResponseValidationError, ValueError)):
        mapped = ServiceUnavailable(
            f"the model service sent an answer that cannot be read ({shorten(redact(str(exc)), 160)}). "
            "Check that OPENAI_BASE_URL points at an OpenAI-compatible server, then retry."
        )
    elif isinstance(exc, openai.OpenAIError):
        mapped = ModelServiceError(f"the model service failed: {shorten(redact(str(exc)), 200)}")
    else:
        mapped = ModelServiceError(f"the model request failed: {type(exc).__name__}: {shorten(redact(str(exc)), 200)}")
    return mapped


def _tried(attempts: list[dict[str, Any]] | None) -> str:
    """", all 3 attempts included (the last answered HTTP 503)" when the SDK retried; else ""."""
    if not attempts or len(attempts) < 2:
        return ""
    status = attempts[-1].get("status")
    last = f" (the last answered HTTP {status})" if status else ""
    return f", all {len(attempts)} attempts included{last}"


def _service_message(exc: BaseException, redact: Callable[[str], str] = str) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        if isinstance(inner, dict) and inner.get("message"):
            return shorten(redact(str(inner["message"])), 200)
    return shorten(redact(getattr(exc, "message", None) or str(exc)), 200)


def _cause(exc: BaseException, redact: Callable[[str], str] = str) -> str:
    inner = exc.__cause__ or exc.__context__
    return f"{type(inner).__name__}: {shorten(redact(str(inner)), 120)}" if inner is not None else redact(str(exc))


def shorten(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
