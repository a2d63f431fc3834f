"""A model's Markdown as safe HTML: markdown-it-py with raw HTML shown as text, tables, highlighted code.

A live output in JupyterLab is trusted, so model text must never become markup: `html=False` makes
`<script>` or `<img onerror=...>` plain escaped text, markdown-it's link check refuses `javascript:`,
`vbscript:`, `file:` and `data:` URLs, and links open in a new tab without the opener. Fenced code is
highlighted by Pygments with inline styles (no stylesheet needed). Redaction's `***` stays literal.
"""
from __future__ import annotations

from functools import lru_cache
from html import escape
from typing import Any

from .text import aligned_left, clip

REDACTED = "***"
_HOLD = "\ue000halion-redacted\ue001"
"""Stands in for `***` while parsing (markdown would read it as a rule or emphasis)."""
PRE_STYLE = "white-space:pre-wrap;margin:4px 0;font-size:12px;background:#f6f8fa;padding:6px;border-radius:4px"
TABLE_STYLE = "border-collapse:collapse;margin:4px 0;font-size:13px"
CELL_STYLE = "border:1px solid #d0d7de;padding:2px 8px"


def _highlight(code: str, lang: str, _attrs: str) -> str:
    """Pygments HTML for a fenced block with a known language; "" lets markdown-it escape it plainly."""
    if not lang:
        return ""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_by_name
        from pygments.util import ClassNotFound
    except ModuleNotFoundError:
        return ""
    try:
        lexer = get_lexer_by_name(lang.split()[0], stripall=False)
    except ClassNotFound:
        return ""
    body = highlight(code, lexer, HtmlFormatter(nowrap=True, noclasses=True, style="default"))
    return f'<pre class="halion-code" style="{PRE_STYLE}"><code class="language-{escape(lang)}">{body}</code></pre>'


@lru_cache(maxsize=1)
def _renderer() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False,
                                   "highlight": _highlight}).enable(["table", "strikethrough"])
    rules = md.renderer.rules
    default_link = rules.get("link_open") or (lambda tokens, idx, options, env: md.renderer.renderToken(
        tokens, idx, options, env))

    def link_open(tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("target", "_blank")
        tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
        return default_link(tokens, idx, options, env)

    def styled(tag: str, style: str) -> Any:
        def rule(tokens: Any, idx: int, options: Any, env: Any) -> str:
            tokens[idx].attrSet("style", style)
            return md.renderer.renderToken(tokens, idx, options, env)
        return rule

    def fence(tokens: Any, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        lang = token.info.strip().split()[0] if token.info.strip() else ""
        highlighted = _highlight(token.content, lang, "")
        return highlighted or f'<pre class="halion-code" style="{PRE_STYLE}"><code>{escape(token.content)}</code></pre>'

    def code_block(tokens: Any, idx: int, options: Any, env: Any) -> str:
        return f'<pre class="halion-code" style="{PRE_STYLE}"><code>{escape(tokens[idx].content)}</code></pre>'

    rules["link_open"] = link_open
    rules["table_open"] = styled("table", TABLE_STYLE)
    rules["th_open"] = styled("th", CELL_STYLE)
    rules["td_open"] = styled("td", CELL_STYLE)
    rules["fence"] = fence
    rules["code_block"] = code_block
    return md


@aligned_left
def render(text: str) -> str:
    """Safe HTML for the model's Markdown `text` (bounded by `text.clip`)."""
    html = _renderer().render(clip(text).replace(REDACTED, _HOLD))
    return html.replace(_HOLD, REDACTED).rstrip("\n")
