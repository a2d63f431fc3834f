"""Secret values found in text, in every form a sink writes them, and replaced by `***`.

A secret is matched as itself and as the sinks encode it: JSON-escaped (with and without
`ensure_ascii`, and JSON-escaped again, as text holding JSON is encoded once more), Python
`repr`/`ascii`, URL-quoted (`quote`, `quote_plus`, either hex case), HTML-escaped, a multi-line
value collapsed onto one line and each long line of it, and base64 at any alignment (for a
value of 12 bytes or more). A short value (under `LONG` characters) is matched only as a
whole token, so `abcd` stays in `xabcdx`; a long one (a real key, a PEM block) is matched
anywhere. Numbers and JSON words are never secrets: redacting them would corrupt JSON and
hide nothing.

`Redactor.redact` does it for a whole text; `StreamRedactor` for text arriving in pieces.
"""
from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote, quote_plus

MARK = "***"
"""What a secret is replaced with."""
MIN_SECRET = 4
"""Shorter values are never secrets (they would match everywhere)."""
LONG = 16
"""Values at least this long are matched inside other tokens too; shorter ones only as whole tokens."""
JSON_WORDS = frozenset({"true", "false", "null"})

_ESCAPE_BEFORE = re.compile(
    r"(?:\\[abfnrtv0'\"]|\\x[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\U[0-9a-fA-F]{8}|%[0-9a-fA-F]{2})\Z"
)
"""An escape sequence ending right before a match: a token boundary although its last character is a letter."""
_LOOKBACK = 10
_PERCENT = re.compile(r"%[0-9A-F]{2}")
_UNICODE = re.compile(r"\\u[0-9a-f]{4}")


def can_be_secret(value: str) -> bool:
    """Values worth hiding: long enough, and neither a JSON word nor a number, which
    redacting would turn into invalid JSON (and which hide nothing)."""
    if len(value) < MIN_SECRET or value.strip().lower() in JSON_WORDS:
        return False
    try:
        float(value)
    except ValueError:
        return True
    return False


def forms(secret: str) -> set[str]:
    """The texts `secret` can appear as in the sinks (itself included), each at least MIN_SECRET long."""
    first = {secret, _json(secret), _json(secret, ascii=True), repr(secret)[1:-1], ascii(secret)[1:-1],
             repr(secret + "'\"")[1:-4],  # repr escaping ' (it does when the text holds both quotes)
             html.escape(secret), html.escape(secret, quote=False), html.escape(secret).replace("&#x27;", "&#39;")}
    data = _bytes(secret)
    for url in (quote(data, safe=""), quote(data), quote_plus(data)):
        first |= {url, _PERCENT.sub(lambda m: m.group().lower(), url)}
    if "\n" in secret or "\r" in secret:
        first.add(" ".join(secret.split()))  # shortened onto one line (whitespace collapsed)
        first.add(secret.replace("\r\n", "\n"))
        if len(secret) >= LONG:  # any one line of key material, shown alone
            first.update(line for line in secret.splitlines() if len(line) >= LONG and " " not in line)
    first |= {_UNICODE.sub(lambda m: m.group().upper().replace("\\U", "\\u"), f) for f in first}
    out = first | {_json(f) for f in first} | {_json(f, ascii=True) for f in first}
    return {f for f in out if len(f) >= MIN_SECRET}


def _json(text: str, ascii: bool = False) -> str:
    return json.dumps(text, ensure_ascii=ascii)[1:-1]


def _bytes(text: str) -> bytes:
    """UTF-8, with the undecodable bytes of an environment value (surrogate escapes) as they were."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _base64_cores(secret: str) -> Iterator[str]:
    """The part of base64 text that only `secret`'s bytes decide, wherever it starts in the encoded data
    (when that part is at least LONG characters: it is then matched anywhere, as base64 has no token ends)."""
    data = _bytes(secret)
    for start in range(3):
        whole = data[start:]
        core = base64.b64encode(whole[: len(whole) // 3 * 3]).decode("ascii")
        if len(core) >= LONG:
            yield core
            yield core.replace("+", "-").replace("/", "_")


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _starts_token(text: str, i: int) -> bool:
    return i == 0 or not _word(text[i - 1]) or _ESCAPE_BEFORE.search(text, max(0, i - _LOOKBACK), i) is not None


class Redactor:
    """Finds a fixed set of secrets, in all their forms, in text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        found: dict[str, tuple[bool, bool]] = {}  # form -> (needs a token start, needs a token end)
        for secret in secrets:
            if not can_be_secret(secret):
                continue
            short = len(secret) < LONG
            for form, whole_token in [*((f, short) for f in forms(secret)), *((c, False) for c in _base64_cores(secret))]:
                left, right = whole_token and _word(form[0]), whole_token and _word(form[-1])
                if form in found:  # one text from two secrets: the looser rule wins
                    left, right = left and found[form][0], right and found[form][1]
                found[form] = (left, right)
        self._forms = found
        ordered = sorted(found, key=len, reverse=True)
        self._any = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._starts: dict[str, list[str]] = {}
        for form in ordered:
            self._starts.setdefault(form[0], []).append(form)
        self._first = re.compile("[" + "".join(map(re.escape, self._starts)) + "]") if ordered else None
        self.longest = len(ordered[0]) if ordered else 0

    def __bool__(self) -> bool:
        return bool(self._forms)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where secrets are in `text`: sorted, overlapping matches merged into one span."""
        if self._any is None or self._any.search(text) is None:
            return []
        found = []
        for form, (left, right) in self._forms.items():
            for i in _find_all(text, form):
                end = i + len(form)
                if left and not _starts_token(text, i):
                    continue
                if right and end < len(text) and _word(text[end]):
                    continue
                found.append((i, end))
        return _merge(found)

    def redact(self, text: str) -> str:
        """`text` with every secret, in any of its forms, replaced by MARK."""
        return _replace(text, self.spans(text), 0, len(text))

    def pending_from(self, text: str, start: int) -> int:
        """The first index at or after `start` from which the rest of `text` could still grow into a secret
        (it is the start of a form); `len(text)` when none."""
        if self._first is None:
            return len(text)
        n = len(text)
        for m in self._first.finditer(text, max(start, n - self.longest)):
            i = m.start()
            rest = text[i:]
            if any(form.startswith(rest) for form in self._starts[text[i]] if len(form) >= n - i):
                return i
        return n


class StreamRedactor:
    """Redacts text that arrives in pieces (a streamed answer).

    `feed(chunk)` returns what can be shown now, holding back only a tail that could still be
    the start of a secret; `flush()` returns the rest. Joined, the pieces are `Redactor.redact`
    of the whole text, and no piece ever holds part of a secret.
    """

    _CONTEXT = 12
    """Characters kept from before the held text: enough to tell a token boundary (an escape before it)."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._before = ""
        self._held = ""

    def feed(self, chunk: str) -> str:
        if not self.redactor:
            return chunk
        self._held += chunk
        return self._emit(final=False)

    def flush(self) -> str:
        """Everything still held, redacted; the stream can go on afterwards."""
        return self._emit(final=True) if self._held else ""

    def _emit(self, final: bool) -> str:
        text, base = self._before + self._held, len(self._before)
        spans = [(a, b) for a, b in self.redactor.spans(text) if b > base]
        stop = len(text) if final else self.redactor.pending_from(text, base)
        for a, b in spans:  # a secret that runs past the stop is held whole
            if a < stop < b:
                stop = max(a, base)
        out = _replace(text, [(max(a, base), b) for a, b in spans if b <= stop], base, stop)
        self._before = text[max(0, stop - self._CONTEXT):stop]
        self._held = text[stop:]
        return out


def _replace(text: str, spans: list[tuple[int, int]], start: int, stop: int) -> str:
    out, pos = [], start
    for a, b in spans:
        out += [text[pos:a], MARK]
        pos = b
    out.append(text[pos:stop])
    return "".join(out)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans as one (so that overlapping secrets leave no piece); touching ones stay apart."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _find_all(text: str, needle: str) -> Iterator[int]:
    """Start of every occurrence of `needle`, overlapping ones included."""
    i = text.find(needle)
    while i != -1:
        yield i
        i = text.find(needle, i + 1)
