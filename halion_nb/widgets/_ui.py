"""Small view pieces shared by the panels: styled buttons, a banner, a confirm bar, CSS, lookup."""
from __future__ import annotations

import json
from html import escape
from typing import Any, Callable, Iterator

import ipywidgets as W

from ..display.text import clip
from ._form import OMIT, FormField, initial

STYLE = """<style>
.halion-panel { font-family: var(--jp-ui-font-family, sans-serif); }
.halion-panel .halion-code textarea { font-family: var(--jp-code-font-family, monospace);
  font-size: var(--jp-code-font-size, 13px); line-height: 1.35; }
.halion-panel pre { white-space: pre-wrap; word-break: break-word; margin: 2px 0;
  font-size: 12px; background: var(--jp-layout-color2, #f6f8fa); padding: 6px; border-radius: 4px; }
.halion-panel table.halion-table { border-collapse: collapse; font-size: 12px; width: 100%; }
.halion-panel table.halion-table th { text-align: left; border-bottom: 1px solid #d0d7de; padding: 3px 6px; }
.halion-panel table.halion-table td { border-bottom: 1px solid #eaeef2; padding: 3px 6px; vertical-align: top; }
.halion-panel table.halion-table th, .halion-panel table.halion-table td { text-align: left; overflow-wrap: anywhere; }
.halion-panel .halion-muted { color: #6e7781; }
.halion-panel .halion-err { color: #cf222e; }
.halion-panel .halion-ok { color: #1a7f37; }
.halion-banner { border-radius: 6px; padding: 2px 8px; align-items: center; }
.halion-bar-text .widget-html-content { overflow-wrap: anywhere; line-height: 1.4; padding: 4px 0; }
.halion-banner-error { background: #ffebe9; border: 1px solid #ff8182; }
.halion-banner-info { background: #ddf4ff; border: 1px solid #54aeff; }
.halion-banner-ok { background: #dafbe1; border: 1px solid #4ac26b; }
.halion-confirm { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 2px 8px;
  align-items: center; }
.halion-panel .halion-chat-history-box.widget-box { border: 1px solid #d0d7de; border-radius: 6px; padding: 6px; }
.halion-panel .halion-heading { margin-right: 6px; }
.halion-chat-assistant p { margin: 4px 0; }
.halion-panel .widget-html-content p, .halion-panel .widget-html-content li, .halion-panel .halion-table,
.halion-panel .halion-chat-assistant .widget-html-content, .halion-panel .halion-chat-user .widget-html-content {
  line-height: 1.45; }
.halion-panel .halion-chat-user .widget-html-content div { margin: 4px 0; }
.halion-chat-cursor { display: inline-block; width: 0.5em; height: 1em; vertical-align: text-bottom;
  background: #8250df; animation: halion-blink 1s steps(2) infinite; }
@keyframes halion-blink { 50% { opacity: 0; } }
.halion-chains-status-ok { color: #1a7f37; }
.halion-chains-status-error { color: #cf222e; }
.halion-chains-status-skipped, .halion-chains-status-pending { color: #6e7781; }
.halion-chains-status-running { color: #0969da; }
.halion-chat-user { align-self: flex-end; background: #ddf4ff; border-radius: 10px;
  padding: 2px 12px; margin: 4px 0 4px 15%; max-width: 85%; }
.halion-chat-assistant { background: var(--jp-layout-color1, white); border-left: 3px solid #8250df;
  padding: 0 8px; margin: 4px 15% 4px 0; }
.halion-chat-toolcall { margin: 2px 15% 2px 12px; }
.halion-tool-row { align-items: center; border-bottom: 1px solid #eaeef2; }
.halion-tool-row-selected { background: #ddf4ff; }
.halion-step { border: 1px solid #d0d7de; border-radius: 6px; padding: 4px 8px; margin: 3px 0; }
.halion-section-title { font-weight: 600; margin-top: 6px; }
.halion-logs-cells { display: grid; column-gap: 8px; padding: 3px 6px; font-size: 12px; line-height: 1.4;
  text-align: left; grid-template-columns: 2.6em 4.8em 3.4em minmax(4em, 1fr) minmax(6em, 2fr) minmax(6em, 2fr)
  5.2em 5.4em; }
.halion-logs-cells > div { min-width: 0; overflow-wrap: anywhere; display: -webkit-box; -webkit-box-orient: vertical;
  -webkit-line-clamp: 3; overflow: hidden; align-self: start; max-height: 4.2em; }
.halion-logs-head { font-weight: 600; border-bottom: 1px solid #d0d7de; }
.halion-panel .halion-logs-table.widget-box { overflow-x: auto; }
.halion-panel .halion-logs-table > :not(.halion-logs-detail) { min-width: 520px; }
.halion-logs-row { position: relative; border-bottom: 1px solid #eaeef2; }
.halion-logs-row:hover { background: var(--jp-layout-color2, #f6f8fa); }
.halion-logs-row.halion-logs-row-selected { background: #ddf4ff; }
.halion-panel .halion-logs-row .widget-button.halion-logs-row-open,
.halion-panel .halion-logs-row .widget-button.halion-logs-row-open:hover {
  position: absolute; inset: 0; width: 100%; height: 100%; margin: 0; padding: 0; border: none;
  background: transparent; box-shadow: none; cursor: pointer; }
.halion-panel .halion-logs-row .widget-button.halion-logs-row-open:focus-visible {
  outline: 2px solid #0969da; outline-offset: -2px; }
.halion-logs-detail { border-left: 3px solid #0969da; padding: 0 8px; margin: 2px 0 10px 6px; }
.halion-tools-summary .widget-html-content { line-height: 1.35; }
</style>"""


def css(widget: W.Widget, *classes: str) -> Any:
    """`widget` with the given CSS classes added (tests select elements by them)."""
    for cls in classes:
        widget.add_class(cls)
    return widget


def button(description: str, cls: str, *, icon: str = "", tooltip: str = "",
           style: str = "", width: str | None = None) -> W.Button:
    """A button as wide as its text and icon (a Font Awesome name, e.g. "play"); it never shrinks
    in a crowded row (ipywidgets would cut its text to "R…")."""
    layout = W.Layout(width=width or "auto", min_width="fit-content", flex="0 0 auto")
    return css(W.Button(description=description, icon=icon, tooltip=tooltip or description,
                        button_style=style, layout=layout), cls)


ROW = {"align_items": "center", "flex_flow": "row wrap"}
"""Layout of a row of controls: vertically centred, wrapping onto a new line when the panel is narrow."""


def wrap_row(children: list[W.Widget], cls: str | None = None, **layout: Any) -> W.HBox:
    """An HBox of controls laid out as `ROW` (extra layout traits as keywords)."""
    box = W.HBox(children, layout=W.Layout(**{**ROW, **layout}))
    return css(box, cls) if cls else box


def html(value: str = "", cls: str | None = None) -> W.HTML:
    widget = W.HTML(value=value)
    return css(widget, cls) if cls else widget


def show(widget: W.Widget, visible: bool = True) -> None:
    widget.layout.display = None if visible else "none"


def shown(widget: W.Widget) -> bool:
    return widget.layout.display != "none"


def pre(value: Any) -> str:
    """A `<pre>` block: JSON for data, the text itself for strings."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return f"<pre>{escape(clip(text))}</pre>"  # bounded: a panel's state is saved with the notebook


def icon(name: str) -> str:
    """A Font Awesome icon (shipped with ipywidgets) as HTML; emoji fonts may be missing, this is not."""
    return f'<i class="fa fa-{name}" aria-hidden="true"></i>'


def heading(name: str, text: str) -> str:
    """A panel title with a Font Awesome icon."""
    return f'<b class="halion-heading">{icon(name)} {escape(text)}</b>'


def message(text: str, kind: str = "info", mark: str = "") -> str:
    """One line of HTML: kind is info, ok or error; `mark` names a leading icon ("check", "times")."""
    cls = {"ok": "halion-ok", "error": "halion-err"}.get(kind, "halion-muted")
    lead = f"{icon(mark)} " if mark else ""
    return f'<span class="{cls}">{lead}{escape(text)}</span>'


def outcome(ok: bool) -> str:
    """A green check or a red cross icon."""
    return f'<span class="halion-ok">{icon("check")}</span>' if ok else f'<span class="halion-err">{icon("times")}</span>'


def _bar_layout() -> W.Layout:
    return W.Layout(**ROW)


def bar_text() -> W.HTML:
    """The message of a banner or confirm bar: takes the room left by its buttons and wraps."""
    return css(W.HTML(layout=W.Layout(flex="1 1 240px", min_width="0")), "halion-bar-text")


class Banner(W.HBox):
    """A dismissible message with an optional action button (e.g. Retry)."""

    def __init__(self, cls: str, action: str = "", action_cls: str = "") -> None:
        self.text = bar_text()
        self.action = button(action or "OK", action_cls or f"{cls}-action", style="warning")
        self.dismiss = button("", f"{cls}-dismiss", icon="times", tooltip="Dismiss")
        super().__init__([self.text, self.action, self.dismiss], layout=_bar_layout())
        css(self, "halion-banner", cls)
        self.dismiss.on_click(lambda _: self.hide())
        self.hide()

    def show_message(self, text: str, kind: str = "error", action: bool = False) -> None:
        self.text.value = message(text, kind) if kind != "error" else f"<b>{escape(text)}</b>"
        for k in ("error", "info", "ok"):
            self.remove_class(f"halion-banner-{k}")
        self.add_class(f"halion-banner-{kind}")
        show(self.action, action)
        show(self)

    def hide(self) -> None:
        show(self, False)
        self.text.value = ""


class ConfirmBar(W.HBox):
    """Asks before a destructive action; `ask(text, on_yes)` shows it, either answer hides it."""

    def __init__(self, cls: str = "halion-confirm") -> None:
        self.text = bar_text()
        self.yes = button("Yes", "halion-confirm-yes", style="danger")
        self.no = button("Cancel", "halion-confirm-no")
        super().__init__([self.text, self.yes, self.no], layout=_bar_layout())
        css(self, "halion-confirm", cls)
        self._on_yes: Callable[[], None] | None = None
        self.yes.on_click(lambda _: self._answer(True))
        self.no.on_click(lambda _: self._answer(False))
        show(self, False)

    def ask(self, text: str, on_yes: Callable[[], None], yes_label: str = "Yes") -> None:
        self.text.value = f"<b>{escape(text)}</b>"
        self.yes.description = yes_label
        self._on_yes = on_yes
        show(self)

    def cancel(self) -> None:
        self._answer(False)

    @property
    def asking(self) -> bool:
        return shown(self)

    def _answer(self, yes: bool) -> None:
        action, self._on_yes = self._on_yes, None
        show(self, False)
        if yes and action is not None:
            action()


def style_widget() -> W.HTML:
    return W.HTML(STYLE, layout=W.Layout(height="0px", margin="0"))


def children_of(widget: W.Widget) -> list[W.Widget]:
    kids = list(getattr(widget, "children", ()) or ())
    return [k for k in kids if isinstance(k, W.Widget)]


def walk(root: W.Widget) -> Iterator[W.Widget]:
    """The widget and all its descendants, depth first."""
    stack = [root]
    seen: set[int] = set()
    while stack:
        widget = stack.pop()
        if id(widget) in seen:
            continue
        seen.add(id(widget))
        yield widget
        stack.extend(reversed(children_of(widget)))


def find_all(root: W.Widget, cls: str) -> list[W.Widget]:
    """Descendants carrying the CSS class `cls`, in display order."""
    return [w for w in walk(root) if cls in getattr(w, "_dom_classes", ())]


def find(root: W.Widget, cls: str) -> Any:
    """The one descendant carrying `cls` (ValueError if none or several)."""
    found = find_all(root, cls)
    if len(found) != 1:
        raise ValueError(f"expected one widget with class {cls!r}, found {len(found)}")
    return found[0]


class PanelView(W.VBox):
    """The root widget of a panel: the shared CSS, then the panel's own children.

    `controller` holds its event handlers; `close()` also stops its subscriptions.
    """

    name = "panel"

    def __init__(self, children: list[W.Widget], **kwargs: Any) -> None:
        super().__init__([style_widget(), *children], **kwargs)
        css(self, "halion-panel", f"halion-panel-{self.name}")
        self.controller: Any = None

    def close(self) -> None:
        controller = getattr(self, "controller", None)
        if controller is not None:
            controller.close()
        for widget in list(walk(self))[1:]:
            widget.close()
        super().close()


def field_widget(f: FormField, value: Any = OMIT, label: str | None = None) -> W.Widget:
    """The input widget for one form field: Text, IntText/FloatText, Checkbox, Dropdown or a JSON box."""
    label = label if label is not None else f.name + ("" if f.required else " (optional)")
    tip = f.description or f.name
    style = {"description_width": "140px"}
    layout = W.Layout(width="95%")
    if value is OMIT:
        value = initial(f)
    if f.kind == "bool":
        return W.Checkbox(value=bool(value), description=label, tooltip=tip, style=style, layout=layout)
    if f.kind == "choice":
        options: list[tuple[str, Any]] = [(json.dumps(c), c) for c in f.choices]
        if not f.required:
            shown_default = "" if f.default is OMIT else f": {json.dumps(f.default)}"
            options.insert(0, (f"(default{shown_default})", OMIT))
        if value not in [o[1] for o in options]:
            value = options[0][1]
        return W.Dropdown(options=options, value=value, description=label, tooltip=tip, style=style, layout=layout)
    if f.kind == "int" and not f.loose_number:
        return W.IntText(value=value, description=label, tooltip=tip, style=style, layout=layout)
    if f.kind == "float" and not f.loose_number:
        return W.FloatText(value=value, description=label, tooltip=tip, style=style, layout=layout)
    if f.kind == "json":
        return W.Textarea(value=value, description=label, placeholder="JSON value", tooltip=tip,
                          style=style, layout=W.Layout(width="95%", height="60px"))
    placeholder = "blank: the default" if not f.required else ""
    return W.Text(value=str(value), description=label, placeholder=placeholder, tooltip=tip, style=style,
                  layout=layout)
