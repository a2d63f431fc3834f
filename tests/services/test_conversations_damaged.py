"""Issue 24.22: one wrongly shaped conversation file is skipped with a warning naming it; resuming it is one clear error."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from halion_nb.errors import HalionError
from halion_nb.testing import FakeOpenAI, reply
from halion_nb.workspace import Workspace

DAMAGED = {
    "a_list": '[1, 2]\n',
    "a_number": '42\n',
    "bad_ts": '{"ts": 5, "i": 0, "m": {"role": "user", "content": "hi"}}\n',
    "bad_ts_text": '{"ts": "yesterday", "i": 0, "m": {"role": "user", "content": "hi"}}\n',
    "m_not_object": '{"ts": "2026-12-01T10:00:00+00:00", "i": 0, "m": "hello"}\n',
    "no_role": '{"ts": "2026-12-01T10:00:00+00:00", "i": 0, "m": {"content": "hi"}}\n',
    "content_number": '{"ts": "2026-12-01T10:00:00+00:00", "i": 0, "m": {"role": "user", "content": 7}}\n',
    "parts_not_objects": '{"ts": "2026-12-01T10:00:00+00:00", "i": 0, "m": {"role": "user", "content": [1]}}\n',
    "negative_index": '{"ts": "2026-12-01T10:00:00+00:00", "i": -3, "m": {"role": "user", "content": "hi"}}\n',
    "bad_usage": '{"ts": "2026-12-01T10:00:00+00:00", "usage": {"prompt_tokens": "many"}}\n',
    "bad_tool_calls": '{"ts": "2026-12-01T10:00:00+00:00", "i": 0, "m": {"role": "assistant", "tool_calls": 3}}\n',
}


@pytest.mark.parametrize("kind", sorted(DAMAGED))
def test_one_damaged_file_is_skipped_with_a_warning_and_resume_is_one_clear_error(
        served_ws: Workspace, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture, kind: str) -> None:
    fake_openai.script(reply("Hello Ann."))
    served_ws.chat("I am Ann")
    good = served_ws.conversation.id
    bad_id = "0123456789abcdef"
    folder = served_ws.conversation_store.folder
    (folder / f"{bad_id}.jsonl").write_text(DAMAGED[kind], encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        listed = served_ws.conversations()
    assert [c.id for c in listed] == [good]
    assert f"{bad_id}.jsonl" in caplog.text
    with pytest.raises(HalionError) as caught:
        served_ws.resume(bad_id)
    assert f"{bad_id}.jsonl is damaged" in str(caught.value)
    assert served_ws.resume(good).messages[-1]["content"] == "Hello Ann."


def test_a_torn_last_line_is_still_only_skipped(served_ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("Hi."))
    served_ws.chat("hello")
    path = served_ws.conversation_store.path(served_ws.conversation.id)
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"ts": "2026-12-01T10:00:00+00:00", "i": 5, "m": {"role"')
    assert served_ws.resume(served_ws.conversation.id).messages[-1]["content"] == "Hi."
