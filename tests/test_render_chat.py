"""How a model's answer reads in a notebook and in the chat panel; every view is bounded in size."""
from __future__ import annotations

from pathlib import Path

from halion_nb.display.chains import run_html
from halion_nb.display.chat import StreamingText, markdown_html
from halion_nb.display.printers import formats
from halion_nb.display.text import MAX_CHARS, clip
from halion_nb.models import Toolchain
from halion_nb.testing import FakeOpenAI, call, reply
from halion_nb.workspace import Workspace


def test_markdown_basics_render_and_html_is_escaped() -> None:
    html = markdown_html("# Title\n\n**bold**, *italic*, `a < b` and <script>x</script>\n\n- one\n- two")
    assert "<strong>bold</strong>" in html and "<em>italic</em>" in html and "<code>a &lt; b</code>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<li>one</li>\n<li>two</li>" in html


def test_a_redacted_secret_stays_visible_as_stars_next_to_emphasis() -> None:
    html = markdown_html("The token is *** and **this** matters.")
    assert "The token is *** and <strong>this</strong> matters." in html


HUGE = 2_600_000


def test_a_huge_tool_result_is_bounded_in_every_view_of_the_chat_result(served_ws: Workspace,
                                                                          fake_openai: FakeOpenAI) -> None:
    def dump(n: int) -> str:
        """Return n characters.

        Args:
            n: how many
        """
        return "x" * n

    served_ws.tools.register(dump)
    served_ws.tools.set_postprocess("dump", False)  # the result goes to the person: it is the answer too
    fake_openai.script(reply(tool_calls=[call("dump", {"n": HUGE})]))
    result = served_ws.chat("dump it")
    assert len(result.text) == HUGE and len(result.tool_calls[0].result) == HUGE  # the data is all there
    views = {**formats(result), "record html": formats(result.tool_calls[0])["text/html"],
             "repr": repr(result), "record repr": repr(result.tool_calls[0])}
    for name, view in views.items():
        assert len(view) < 3 * MAX_CHARS, name  # a saved notebook holds the view, not 2.6 MB
    assert f"… {HUGE - MAX_CHARS:,} more characters" in views["text/html"]
    assert "more characters" in views["text/plain"]


def test_a_huge_chain_output_and_error_are_bounded(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)

    def big(n: int) -> str:
        """Return n characters.

        Args:
            n: how many
        """
        return "y" * n

    def fail(text: str) -> str:
        """Fail, quoting the text.

        Args:
            text: what to quote
        """
        raise ValueError(text)

    ws.tools.register(big)
    ws.tools.register(fail)
    ok = ws.chains.run(Toolchain.model_validate({"name": "ok", "steps": [
        {"id": "a", "tool": "big", "arguments": {"n": HUGE}}]}))
    failed = ws.chains.run(Toolchain.model_validate({"name": "bad", "steps": [
        {"id": "a", "tool": "big", "arguments": {"n": HUGE}},
        {"id": "b", "tool": "fail", "arguments": {"text": {"ref": "steps.a.output"}}}]}))
    assert ok.ok and len(ok.output) == HUGE and not failed.ok
    for run in (ok, failed):
        for view in [*formats(run).values(), run_html(run), repr(run)]:
            assert len(view) < 3 * MAX_CHARS
    assert "more characters" in run_html(failed)
    ws.log.close()


def test_clip_marks_what_it_leaves_out_and_does_not_clip_twice() -> None:
    text = "z" * (MAX_CHARS + 1000)
    once = clip(text)
    assert once == "z" * MAX_CHARS + "… 1,000 more characters"
    assert clip(once) == once and clip("short") == "short"


def test_raw_html_in_model_text_never_becomes_markup() -> None:
    text = ('Hi <script>alert(1)</script> <img src=x onerror="alert(2)">\n\n<div onclick="x()">block</div>\n\n'
            '[click](javascript:alert(3)) [ok](https://example.org) ![i](javascript:alert(4))')
    for html in (markdown_html(text), StreamingText(text)._repr_html_()):
        assert "<script" not in html and "<img" not in html and "<div onclick" not in html
        assert "&lt;script&gt;" in html and "&lt;img src=x onerror=" in html
        assert 'href="javascript' not in html and 'src="javascript' not in html
        assert '<a href="https://example.org" target="_blank" rel="noopener noreferrer nofollow">ok</a>' in html


def test_tables_and_highlighted_fenced_code() -> None:
    html = markdown_html("| a | b |\n|---|---|\n| 1 | <b>2</b> |\n\n```python\ndef f(x):\n    return '<x>'\n```")
    assert "<table" in html and "<th" in html and "<td" in html and "&lt;b&gt;2&lt;/b&gt;" in html
    assert 'class="language-python"' in html and "<span style=" in html  # pygments, inline styles
    assert "&lt;x&gt;" in html and "<x>" not in html


def test_a_tool_that_asks_first_says_so_on_its_card() -> None:
    from halion_nb.display.tools import tool_card, tool_text
    from halion_nb.core.tool import Tool

    def remove(path: str) -> str:
        """Remove a file.

        Args:
            path: which
        """
        return path

    tool = Tool.from_function(remove, "remove")
    assert "asks first" in tool_card(tool, active=True, postprocess=True, approval=True)
    assert "(active, asks first, result → model)" in tool_text(tool, active=True, postprocess=True, approval=True)
    assert "asks first" not in tool_card(tool, active=True, postprocess=True)
