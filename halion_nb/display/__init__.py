"""Rendering in one place: text, HTML and Markdown of tools, chats, chains and the call log.

Pure strings from plain data (duck-typed objects, dicts and the dataclasses of `halion_nb.models`). Nothing in
`models`, `core` or `services` imports this package; `halion_nb.display.printers` registers these views with
IPython's display formatters from outside.
"""
