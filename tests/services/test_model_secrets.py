"""Secrets and the model: never shown while streaming, never in an exception, never in the log's
shortened copy of a message, whatever part of the text they sit in."""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from halion_nb.errors import AuthenticationFailed, BadRequest
from halion_nb.testing import FakeOpenAI, error, reply
from halion_nb.workspace import Workspace

KEY = "sk-fake-key-for-tests"  # served_ws's OPENAI_API_KEY
TOKEN = "hx-Q9v2Lk7RtZp3Wm8N"
PEM = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIB\n"
       "AQC7VJTUt9Us8cKBwko1a2b3c4d5e6f7g8h9i0jAkBlCmDnEoFp\n-----END PRIVATE KEY-----")


def fragments(secret: str) -> list[str]:
    """Every 4-character piece of `secret`: none may show."""
    return [secret[i:i + 4] for i in range(len(secret) - 3)]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_a_secret_streamed_in_pieces_is_never_shown_not_even_its_start(
        served_ws: Workspace, fake_openai: FakeOpenAI, size: int) -> None:
    served_ws.env.set("SERVICE_TOKEN", TOKEN)
    served_ws.env.set("TLS_PRIVATE_KEY", PEM)
    text = f"Your token is {TOKEN}, and the key\n{PEM}\nends here."
    fake_openai.script(reply(text, chunk_size=size))
    seen: list[str] = []
    result = served_ws.chat("what is my token?", on_text=seen.append)
    assert result.text == text and len(seen) > 3, "the answer streamed, in pieces"
    for i in range(1, len(seen) + 1):
        so_far = "".join(seen[:i])
        assert not [f for f in fragments(TOKEN) + ["MIIE", "AQC7"] if f in so_far], so_far
    assert "".join(seen) == "Your token is ***, and the key\n***\nends here."


def test_an_error_that_quotes_the_key_is_redacted_in_the_exception(
        served_ws: Workspace, fake_openai: FakeOpenAI) -> None:
    served_ws.env.set("SERVICE_TOKEN", TOKEN)
    served_ws.env.set("TLS_PRIVATE_KEY", PEM)
    fake_openai.script(
        error(401, f"Incorrect API key provided: {KEY}. Find your key at https://platform.openai.com."),
        error(400, f"Invalid value for 'messages': {'x' * 185}{TOKEN} is not allowed"),  # at the 200-character cut
        error(400, f"bad url https://svc.example/?token={quote(TOKEN)}&key={quote(PEM, safe='')}"),
        error(400, f"bad key {PEM}"),  # a multi-line secret, collapsed onto one line by the message
    )
    caught: list[BaseException] = []
    for expected in (AuthenticationFailed, BadRequest, BadRequest, BadRequest):
        with pytest.raises(expected) as info:
            served_ws.chat("hello")
        caught.append(info.value)
    assert "Incorrect API key provided: ***" in str(caught[0])
    for exc in caught:
        kept = [str(v) for v in vars(exc).values()]  # fields a pickle or a debugger carries along
        shown = " ".join([str(exc), repr(exc), *map(str, exc.args), *kept])
        assert not [f for f in fragments(KEY) + fragments(TOKEN) + ["MIIE", "AQC7"] if f in shown], shown
    rows = json.dumps([r.model_dump(mode="json") for r in served_ws.log.recent(10)])
    assert TOKEN[:6] not in rows and KEY not in rows and "MIIE" not in rows


def test_the_logged_copy_of_a_long_message_is_redacted_before_it_is_shortened(
        served_ws: Workspace, fake_openai: FakeOpenAI) -> None:
    served_ws.env.set("SERVICE_TOKEN", TOKEN)
    served_ws.env.set("TLS_PRIVATE_KEY", PEM)
    fake_openai.script(reply("ok"), reply("ok"))
    served_ws.chat("y" * 1990 + TOKEN + " and more text after the cut")
    served_ws.chat(f"the key:\n{PEM}")
    rows = [r for r in served_ws.log.recent(10, kind="model")]
    shown = json.dumps([r.arguments for r in rows])
    assert not [f for f in fragments(TOKEN) + ["MIIE", "AQC7"] if f in shown], shown
    assert "***" in shown

