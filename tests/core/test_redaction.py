"""One redaction mechanism: a secret is hidden in every form a sink writes it, only where it is a
token of its own, never inside numbers; text arriving in pieces is hidden before it is shown."""
from __future__ import annotations

import ast
import base64
import html
import json
from collections.abc import Callable
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from hypothesis import given, settings
from hypothesis import strategies as st

from halion_nb.core.redaction import LONG, Redactor, StreamRedactor, can_be_secret

KEY = "sk-proj-7f3aQ9c2e1bZ"
PEM = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIB\n"
       "AQC7VJTUt9Us8cKBwko1a2b3c4d5e6f7g8h9i0jAkBlCmDnEoFp\n-----END PRIVATE KEY-----\n")

ENCODERS: dict[str, tuple[Callable[[str], str], Callable[[str], str]]] = {
    "plain": (lambda t: t, lambda t: t),
    "json": (lambda t: json.dumps(t, ensure_ascii=False), json.loads),
    "json ensure_ascii": (lambda t: json.dumps(t), json.loads),
    "json twice": (lambda t: json.dumps(json.dumps(t)), lambda t: json.loads(json.loads(t))),
    "json in a dict": (lambda t: json.dumps({"text": t, "n": 21000}), lambda t: json.loads(t)["text"]),
    "repr": (repr, ast.literal_eval),
    "ascii": (ascii, ast.literal_eval),
    "url quote": (lambda t: quote(t, safe=""), unquote),
    "url quote /": (quote, unquote),
    "url quote_plus": (quote_plus, unquote_plus),
    "html": (html.escape, html.unescape),
    "html no quotes": (lambda t: html.escape(t, quote=False), html.unescape),
}
"""Every textual form a sink writes, with its decoding."""

SECRETS = st.text(st.sampled_from(list("aZ9_-./+= \t\n'\"\\#&<>%é✓ü")) | st.characters(
    blacklist_categories=("Cs",), blacklist_characters="*⟦⟧\0"), min_size=4, max_size=40).filter(can_be_secret)


def hides(redactor: Redactor, secret: str, encode: Callable[[str], str], decode: Callable[[str], str]) -> None:
    out = redactor.redact(encode(f"⟦ {secret} ⟧"))
    assert encode(secret)[1:-1] not in out or len(encode(secret)) < 6
    try:
        shown = decode(out)
    except (ValueError, SyntaxError):  # not decodable: the encoded form itself must be gone
        shown = out
    assert secret not in shown and "***" in shown, (secret, out)


@settings(max_examples=300, deadline=None)
@given(SECRETS)
def test_every_form_of_any_secret_is_hidden(secret: str) -> None:
    redactor = Redactor([secret])
    for encode, decode in ENCODERS.values():
        hides(redactor, secret, encode, decode)


def test_a_multiline_key_is_hidden_whole_in_every_form_and_line_by_line() -> None:
    redactor = Redactor([PEM])
    for name, (encode, decode) in ENCODERS.items():
        out = redactor.redact(encode(f"the key:\n{PEM}\nend"))
        assert "MIIEvQIBAD" not in out and "AQC7VJTU" not in out, name
    collapsed = " ".join(PEM.split())  # a message shortened onto one line
    assert redactor.redact(f"got {collapsed} end") == "got *** end"
    for line in PEM.splitlines()[1:3]:
        assert redactor.redact(f"line: {line}!") == "line: ***!"


def test_base64_of_a_long_secret_is_hidden_at_any_alignment() -> None:
    redactor = Redactor([KEY])
    for prefix in ("", "u:", "us:", "user:"):
        encoded = base64.b64encode(f"{prefix}{KEY}".encode()).decode()
        out = redactor.redact(f"Authorization: Basic {encoded}")
        assert "***" in out and len(out) < len(f"Authorization: Basic {encoded}") - 12


def test_numbers_and_json_words_are_never_secrets() -> None:
    redactor = Redactor(["1000", "21.5", "1e5", "true", "null", "abc"])
    text = json.dumps({"limit": 1000, "total": 21000, "price": 21.5, "ok": True, "x": None, "name": "abc"})
    assert not redactor and redactor.redact(text) == text
    assert json.loads(redactor.redact(text))["total"] == 21000


def test_a_short_value_is_hidden_only_as_a_whole_token() -> None:
    redactor = Redactor(["abcd", "hunter2"])
    assert redactor.redact("xabcdx abcdef 2abcd hunter22 hunter2x") == "xabcdx abcdef 2abcd hunter22 hunter2x"
    assert redactor.redact("abcd, (abcd) 'abcd' abcd.") == "***, (***) '***' ***."
    # after an escape sequence the value starts a token although a letter or digit precedes it
    assert redactor.redact(json.dumps("line\nabcd\tx")) == '"line\\n***\\tx"'
    assert redactor.redact(json.dumps("é abcd", ensure_ascii=True)) == '"\\u00e9 ***"'
    assert redactor.redact(json.dumps("éabcd", ensure_ascii=True)) == '"\\u00e9***"'
    assert redactor.redact(quote("p=x&k=abcd")) == "p%3Dx%26k%3D***"


def test_a_long_value_is_hidden_even_inside_another_token() -> None:
    assert len(KEY) >= LONG
    assert Redactor([KEY]).redact(f"Bearer{KEY}x") == "Bearer***x"


def test_overlapping_secrets_leave_no_piece() -> None:
    redactor = Redactor(["abcdef-1234567890", "1234567890-ghijkl", "f-1234567890-g"])
    assert redactor.redact("<abcdef-1234567890-ghijkl>") == "<***>"


TEXTS = st.lists(st.sampled_from([KEY, "sk-", "sk-proj", "abcd", "ab", " ", "\n", "x", "é", "21000", "\\n", "%20",
                                  PEM, PEM[:40], "MIIEvQ", '"', "hunter2"]), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(TEXTS, st.lists(st.integers(1, 30), min_size=1, max_size=20))
def test_a_stream_shows_the_redacted_text_and_never_part_of_a_secret(text: str, cuts: list[int]) -> None:
    redactor = Redactor([KEY, PEM, "abcd", "hunter2"])
    whole = redactor.redact(text)
    stream, shown, pos = StreamRedactor(redactor), [], 0
    for size in cuts * (len(text) // max(sum(cuts), 1) + 1):
        if pos >= len(text):
            break
        shown.append(stream.feed(text[pos:pos + size]))
        pos += size
        assert whole.startswith("".join(shown)), "only what the redacted whole text shows, never a secret's start"
    shown.append(stream.feed(text[pos:]))
    shown.append(stream.flush())
    assert "".join(shown) == whole


def test_a_stream_holds_back_only_what_could_start_a_secret() -> None:
    stream = StreamRedactor(Redactor([KEY]))
    assert stream.feed("Your key is ") == "Your key is "
    assert stream.feed("sk-pr") == ""  # could be the key: held
    assert stream.feed("oj-7f3a") == ""
    assert stream.feed("Q9c2e1bZ, keep it") == "***, keep it"
    assert stream.feed(" sk-") == " "
    assert stream.feed("learn") == "sk-learn"  # it was not the key after all
    assert stream.flush() == ""
    empty = StreamRedactor(Redactor([]))
    assert empty.feed("sk-pr") == "sk-pr"


def test_a_value_with_undecodable_bytes_from_the_environment_is_hidden_and_breaks_nothing() -> None:
    value = b"tok-\xff\xfe-1234567890abc".decode("utf-8", "surrogateescape")  # how os.environ holds such bytes
    redactor = Redactor([value, "x\ud800yzw"])
    assert redactor.redact(f"got {value} and x\ud800yzw") == "got *** and ***"
    assert redactor.redact(quote(value.encode("utf-8", "surrogateescape"), safe="")) == "***"


def test_base64_of_a_short_password_is_hidden_too() -> None:
    redactor = Redactor(["hunter2-pass!", "abcd"])
    basic = base64.b64encode(b"admin:hunter2-pass!").decode()
    assert "***" in redactor.redact(f"Authorization: Basic {basic}")
    assert redactor.redact(base64.b64encode(b"xxabcdxx").decode()) == base64.b64encode(b"xxabcdxx").decode()


@settings(max_examples=300, deadline=None)
@given(st.lists(SECRETS, min_size=1, max_size=3), st.lists(st.sampled_from(["a", " ", "\\n", "é", "-", "x1", "%2"]),
                                                           max_size=6), st.data())
def test_any_secrets_streamed_any_way_show_only_the_redacted_text(secrets: list[str], glue: list[str],
                                                                  data: st.DataObject) -> None:
    parts = [p for pair in zip(secrets * 2, glue + [""] * 6) for p in pair]
    text = "".join(data.draw(st.permutations(parts)))
    redactor = Redactor(secrets)
    whole, stream, shown, pos = redactor.redact(text), StreamRedactor(redactor), "", 0
    while pos < len(text):
        size = data.draw(st.integers(1, 12))
        shown += stream.feed(text[pos:pos + size])
        pos += size
        assert whole.startswith(shown)
    assert shown + stream.flush() == whole
