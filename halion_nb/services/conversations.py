"""Conversations kept as they go: `.halion/conversations/<id>.jsonl`, one redacted line per change.

Each line is one JSON object written with a single append (`O_APPEND`), so a crash leaves at most a
torn last line, which reading skips. A message line `{"i": n, "m": {...}}` puts message n in place
and drops any after it (a retried turn rewrites its answer); a usage line adds a turn's tokens and cost.
Images are kept as their size, type and sha256, never their bytes.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..core.images import image_stub
from ..core.surrogates import json_text
from ..errors import HalionError

ID = re.compile(r"^[0-9a-f]{8,64}$")
log = logging.getLogger(__name__)
ROLES = ("system", "developer", "user", "assistant", "tool")
IMAGE_NOTE = "The image(s) returned by the tool call(s) above:"
"""How the user message carrying a turn's tool images begins (it is not the person's: not a turn)."""


@dataclass(frozen=True)
class ConversationInfo:
    """One stored conversation, as `ws.conversations()` lists it."""

    id: str
    started: dt.datetime
    first_message: str
    turns: int
    tokens: int
    cost: float | None = None
    model: str | None = None

    def __repr__(self) -> str:
        first = self.first_message if len(self.first_message) <= 60 else self.first_message[:59] + "…"
        return (f"ConversationInfo({self.id[:8]}, {self.started:%Y-%m-%d %H:%M}, {self.turns} turn(s), "
                f"{self.tokens} tokens: {first!r})")


@dataclass
class Stored:
    """What a conversation file holds, read back."""

    info: ConversationInfo
    messages: list[dict[str, Any]]
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ConversationStore:
    """The folder of conversation files; every text is passed through `redact` before it is written."""

    def __init__(self, folder: Path, redact: Callable[[str], str] | None = None) -> None:
        self.folder = folder
        self.redact = redact or (lambda s: s)

    def path(self, conversation_id: str) -> Path:
        if not ID.match(conversation_id or ""):
            raise HalionError(f"'{conversation_id}' is not a conversation id; ws.conversations() lists them.")
        return self.folder / f"{conversation_id}.jsonl"

    def message(self, conversation_id: str, index: int, message: dict[str, Any]) -> None:
        self.messages(conversation_id, index, [message])

    def messages(self, conversation_id: str, start: int, messages: list[dict[str, Any]]) -> None:
        """Messages `start`, `start + 1`, ... put in place, in one append."""
        self._append(conversation_id, *({"i": start + n, "m": self._clean(m)} for n, m in enumerate(messages)))

    def usage(self, conversation_id: str, model: str, prompt_tokens: int, completion_tokens: int,
              cost: float | None) -> None:
        self._append(conversation_id, {"usage": {"model": model, "prompt_tokens": prompt_tokens,
                                                 "completion_tokens": completion_tokens, "cost": cost}})

    def _append(self, conversation_id: str, *entries: dict[str, Any]) -> None:
        """One write of one line per entry (`O_APPEND`: a crash leaves at most a torn last line)."""
        ts = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        data = "".join(json_text({"ts": ts, **e}, default=str) + "\n"
                       for e in entries)  # half an emoji from the model is kept as its escape (24.16)
        path = self.path(conversation_id)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except FileNotFoundError:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data.encode("utf-8"))
        finally:
            os.close(fd)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            if value.get("type") == "image_url":
                return {"type": "image", "url": image_stub(str((value.get("image_url") or {}).get("url", "")))}
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._clean(v) for v in value]
        return value

    def load(self, conversation_id: str) -> Stored:
        path = self.path(conversation_id)
        if not path.exists():
            raise HalionError(f"no stored conversation '{conversation_id}'; ws.conversations() lists them.")
        return self._read(conversation_id, path)

    def _read(self, conversation_id: str, path: Path) -> Stored:
        """The file read back; a wrongly shaped one is one HalionError naming it and what is wrong."""
        try:
            return self._parse(conversation_id, path)
        except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
            raise HalionError(f"the stored conversation {path.name} is damaged ({type(exc).__name__}: "
                              f"{str(exc)[:200]}); it cannot be resumed. Move it out of {self.folder} "
                              "to hide it, or start a new chat.") from None

    def _parse(self, conversation_id: str, path: Path) -> Stored:
        messages: list[dict[str, Any]] = []
        started: dt.datetime | None = None
        prompt, completion, cost, model, turns_cost_known = 0, 0, 0.0, None, True
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a torn last line from a crash
                if started is None and entry.get("ts"):
                    started = dt.datetime.fromisoformat(entry["ts"])
                if not isinstance(entry, dict):
                    raise TypeError(f"a line holds {type(entry).__name__}, not an object")
                if "m" in entry and isinstance(entry.get("i"), int):
                    if entry["i"] < 0:
                        raise ValueError(f"message index {entry['i']}")
                    messages[entry["i"]:] = [_sendable(_checked(entry["m"], entry["i"]))]
                elif isinstance(entry.get("usage"), dict):
                    u = entry["usage"]
                    prompt += int(u.get("prompt_tokens") or 0)
                    completion += int(u.get("completion_tokens") or 0)
                    model = u.get("model") or model
                    if u.get("cost") is None:
                        turns_cost_known = False
                    else:
                        cost += float(u["cost"])
        users = [m for m in messages if is_person(m)]
        first = _text_of(users[0].get("content")) if users else ""
        info = ConversationInfo(id=conversation_id, started=started or dt.datetime.fromtimestamp(
            path.stat().st_mtime, dt.timezone.utc), first_message=first, turns=len(users), tokens=prompt + completion,
            cost=cost if turns_cost_known else None, model=model)
        return Stored(info, messages, prompt, completion)

    def list(self) -> list[ConversationInfo]:
        """Every stored conversation, the newest first."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.glob("*.jsonl"):
            if ID.match(path.stem):
                try:
                    found.append(self._read(path.stem, path).info)
                except (OSError, HalionError) as exc:  # one bad file must not hide the others
                    log.warning("skipped the conversation file %s: %s", path, exc)
                    continue
        return sorted(found, key=lambda c: c.started, reverse=True)


def is_person(message: dict[str, Any]) -> bool:
    """True for a message the person wrote (not the user message that carries a tool's images)."""
    return message.get("role") == "user" and not _text_of(message.get("content")).startswith(IMAGE_NOTE)


def _checked(message: Any, index: int) -> dict[str, Any]:
    """A stored message of the shape the model takes (a role, text or parts), else ValueError."""
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise ValueError(f"message {index} has no known role")
    content = message.get("content")
    if not (content is None or isinstance(content, str) or
            (isinstance(content, list) and all(isinstance(p, dict) for p in content))):
        raise ValueError(f"message {index} has content of type {type(content).__name__}")
    calls = message.get("tool_calls")
    if calls is not None and not (isinstance(calls, list) and all(isinstance(c, dict) for c in calls)):
        raise ValueError(f"message {index} has tool_calls that are not a list of objects")
    return message


def _sendable(message: dict[str, Any]) -> dict[str, Any]:
    """A stored message as the model can take it again: a kept image is a line saying what it was."""
    content = message.get("content")
    if isinstance(content, list):
        parts = [p if not (isinstance(p, dict) and p.get("type") == "image") else
                 {"type": "text", "text": f"[an image was here ({p.get('url', '')}); its bytes were not kept]"}
                 for p in content]
        return {**message, "content": parts}
    return message


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return str(content or "")
