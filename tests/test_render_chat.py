"""How a model's answer reads in a notebook and in the chat panel."""
from __future__ import annotations

from halion_nb.display.chat import markdown_html


def test_markdown_basics_render_and_html_is_escaped() -> None:
    html = markdown_html("# Title\n\n**bold**, *italic*, `a < b` and <script>x</script>\n\n- one\n- two")
    assert "<b>bold</b>" in html and "<i>italic</i>" in html and "<code>a &lt; b</code>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<li>one</li><li>two</li>" in html


def test_a_redacted_secret_stays_visible_as_stars_next_to_emphasis() -> None:
    html = markdown_html("The token is *** and **this** matters.")
    assert "The token is *** and <b>this</b> matters." in html
