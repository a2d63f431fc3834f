"""Authoring tools with the model: draft, check without running, accept on request.

One job per module; this one gathers their public names (`ws.tools.draft` / `ws.tools.accept` use `ToolAuthor`):
- `tool_drafts`: the request to the model, its structured reply (`DraftReply`), retries, the `ToolDraft`;
- `draft_check`: `check_draft` reads the code with `ast` only (structure, schema, undefined names);
- `draft_annotations`: the whitelist interpreter that evaluates annotations without running the code;
- `draft_risks`: risky constructs a person should look at (other programs, eval, deletes, network);
- `draft_acceptance`: `accept_draft` runs the code, on the person's request, and registers the tool.
"""
from __future__ import annotations

from .draft_acceptance import accept_draft
from .draft_check import DraftCheck, check_draft
from .tool_drafts import MAX_RETRIES, SYSTEM_PROMPT, DraftReply, ToolAuthor, ToolDraft, draft_tool, make_draft

__all__ = ["MAX_RETRIES", "SYSTEM_PROMPT", "DraftCheck", "DraftReply", "ToolAuthor", "ToolDraft", "accept_draft",
           "check_draft", "draft_tool", "make_draft"]
