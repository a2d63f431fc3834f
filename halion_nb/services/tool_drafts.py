"""Draft a tool with the model: the request, the structured reply, retries on problems, the `ToolDraft`.

Nothing of a draft runs here: `draft_check.check_draft` reads it with `ast`, and only
`draft_acceptance.accept_draft` (on a person's request) runs its code.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import HalionError
from .draft_acceptance import accept_draft
from .draft_check import ENV_NAME, check_draft

if TYPE_CHECKING:
    from ..core.tool import Tool
    from ..workspace import Workspace

MAX_RETRIES = 2
"""Extra requests the model gets to fix a draft's problems."""


SYSTEM_PROMPT = """\
You write one tool for halion_nb, a notebook workbench where a chat model calls Python \
functions as tools. Answer with the tool's name, its complete code, the environment \
variables it reads and a short rationale.

The code is one notebook cell that must run on its own and follows these rules:
- exactly one public function, named exactly like the tool (a snake_case identifier); \
helpers, if any, start with an underscore;
- type hints on every parameter and on the return value, using JSON-friendly types: \
str, int, float, bool, list[...], dict[str, ...], Literal[...], Optional[...] or X | None, \
datetime/date, or a pydantic model / Enum / TypedDict defined in the cell;
- defaults are literals (numbers, strings, True/False/None);
- a docstring: a one-line summary the model reads to decide when to call the tool, then \
an "Args:" section describing every parameter (Google style);
- all imports at the top of the cell; nothing else runs when the cell runs (no prints, \
no calls at module level);
- configuration and secrets come from os.environ["NAME"]; list every such NAME in \
env_vars and never hard-code keys or tokens;
- return a JSON-serialisable value; raise ValueError with a clear message on bad input;
- avoid subprocess, eval/exec, deleting files and network access unless the task needs \
them; when it does, say why in the rationale.
"""


class DraftReply(BaseModel):
    """What the model returns (structured output): strict-mode friendly, every field required."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The tool's name: the function's name, a snake_case Python identifier.")
    code: str = Field(description="The whole cell: imports, then the one public, typed, docstringed function.")
    env_vars: list[str] = Field(description="Names of the environment variables the code reads.")
    rationale: str = Field(description="Two or three sentences: what the tool does and any choice worth knowing.")


class ToolDraft(BaseModel):
    """A tool the model wrote, checked but never run. Review it, then accept it or discard it."""

    name: str
    code: str
    env_vars: list[str] = Field(default_factory=list)
    rationale: str = ""
    warnings: list[str] = Field(default_factory=list)
    """Risky constructs a person should look at before running the code."""
    problems: list[str] = Field(default_factory=list)
    """What keeps the code from being a valid tool; empty when the check passed."""
    request: str = ""
    """The description the draft was written from."""
    parameters: dict[str, Any] | None = None
    """The parameters schema the tool will have (built without running the code), if buildable."""
    missing_env: list[str] = Field(default_factory=list)
    """Declared variables not set in the workspace when the draft was made."""
    attempts: int = 1
    """Model requests it took (1 + retries)."""

    @property
    def ok(self) -> bool:
        """True when the draft has no problems (it may still have warnings)."""
        return not self.problems

    def accept(self, ws: Workspace, *, save: bool = True, force: bool = False) -> Tool:
        """Run the code (the person's decision), register the tool and save `tools/<name>.py`."""
        return accept_draft(ws, self, save=save, force=force)

    def __repr__(self) -> str:
        status = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        lines = [f"ToolDraft {self.name} ({status}, {len(self.warnings)} warning(s))"]
        if self.rationale:
            lines.append(f"  {self.rationale}")
        if self.env_vars:
            lines.append("  env vars: " + ", ".join(self._env_label(n) for n in self.env_vars))
        lines += [f"  problem: {p}" for p in self.problems]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += ["", self.code.rstrip()]
        return "\n".join(lines)

    __str__ = __repr__

    def _env_label(self, name: str) -> str:
        return f"{name} (missing)" if name in self.missing_env else name


class ToolAuthor:
    """Drafting and accepting for one workspace; `ws.tools.draft` / `ws.tools.accept` call it."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def draft(self, description: str, *, name: str | None = None, model: str | None = None,
              retries: int = MAX_RETRIES) -> ToolDraft:
        return draft_tool(self.ws, description, name=name, model=model, retries=retries)

    def accept(self, draft: ToolDraft, *, save: bool = True, force: bool = False) -> Tool:
        return accept_draft(self.ws, draft, save=save, force=force)


def draft_tool(ws: Workspace, description: str, *, name: str | None = None, model: str | None = None,
               retries: int = MAX_RETRIES) -> ToolDraft:
    """Ask the model for a tool doing `description`; check it, and let the model fix problems
    (at most `retries` more requests). Nothing of the draft is run."""
    from .llm import parse_structured

    description = (description or "").strip()
    if not description:
        raise HalionError("Describe the tool to draft, e.g. ws.tools.draft('convert a price between currencies').")
    retries = max(0, min(int(retries), MAX_RETRIES))
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": _request_text(ws, description, name)},
    ]
    attempts = 0
    while True:
        attempts += 1
        reply = parse_structured(ws, messages, DraftReply, model=model, purpose="draft")
        assert isinstance(reply, DraftReply)
        draft = make_draft(reply, request=description, ws=ws, attempts=attempts)
        if name and draft.name != name:
            draft.problems.append(f"the tool must be named '{name}', not '{draft.name}'")
        if draft.ok or attempts > retries:
            return draft
        shown = DraftReply(name=draft.name, code=draft.code, env_vars=draft.env_vars, rationale=draft.rationale)
        messages.append({"role": "assistant", "content": shown.model_dump_json()})  # redacted, as drafted
        messages.append({"role": "user", "content": _fix_text(draft)})


def _request_text(ws: Workspace, description: str, name: str | None) -> str:
    lines = [f"Write a tool that does this:\n{description}"]
    if name:
        lines.append(f"Name the tool (and its function) `{name}`.")
    existing = ws.tools.names()
    if existing:
        lines.append("Tools that already exist (pick another name unless asked to replace one): "
                     + ", ".join(existing) + ".")
    stored = ws.env.names()
    if stored:  # names only: values never leave the env manager
        lines.append("Environment variables already configured: " + ", ".join(stored) + ".")
    return "\n\n".join(lines)


def _fix_text(draft: ToolDraft) -> str:
    listed = "\n".join(f"- {p}" for p in draft.problems)
    return (f"The draft has these problems:\n{listed}\n\nFix them and answer again with the whole "
            "corrected tool (name, code, env_vars, rationale).")


def make_draft(reply: DraftReply, *, request: str = "", ws: Workspace | None = None,
               attempts: int = 1) -> ToolDraft:
    """A ToolDraft from the model's reply, with the static check's problems and warnings.

    With a workspace, every secret value of it is replaced by *** first: a draft (its code goes
    into a notebook cell and maybe a file) must not carry a key the model saw and hard-coded.
    """
    redact = ws.env.redact if ws is not None else (lambda text: text)
    code = redact(reply.code)
    name = redact(reply.name)
    env_vars = list(dict.fromkeys(redact(v).strip() for v in reply.env_vars if v.strip()))
    checked = check_draft(code, name, env_vars)
    problems = list(checked.problems)
    if code != reply.code:
        problems.append("the code contains a secret value of this workspace (shown as ***); never hard-code "
                        "it: read it with os.environ['NAME'] and list NAME in env_vars")
    warnings = list(checked.warnings)
    missing: list[str] = []
    if ws is not None:
        if name in ws.tools:
            warnings.append(f"a tool named '{name}' already exists; accepting this draft replaces it")
        missing = [n for n in env_vars if ENV_NAME.fullmatch(n) and not ws.env.is_set(n)]
    return ToolDraft(name=name, code=code, env_vars=env_vars, rationale=redact(reply.rationale.strip()),
                     warnings=warnings, problems=problems, request=redact(request),
                     parameters=checked.parameters, missing_env=missing, attempts=attempts)


