"""`Workspace`: the composition root tying one folder to tools, chains, log, env and chat."""
from __future__ import annotations

import os
import sys
import types
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar, overload

from .core.call_log import CallLog
from .core.approval import Approver
from .core.env_manager import EnvManager
from .core.invocation import Invoker
from .core.tool import Tool
from .core.tool_manager import ToolManager
from .core.tool_registry import ToolRegistry
from .core.versions import VersionStore

if TYPE_CHECKING:
    from .mcp.client import McpServers
    from .services.chains import Chains
    from .services.authoring import ToolAuthor
    from .services.batch import BatchRunner
    from .services.chat import ChatResult, Conversation
    from .services.conversations import ConversationInfo

F = TypeVar("F", bound=Callable[..., Any])


class Workspace:
    """One folder holding `tools/`, `chains/` and `.halion/`; folders appear on first write.

    Args:
        path: The folder; default `$HALION_HOME`, else the current directory.
        model: Chat model name; default `$HALION_MODEL`, else a sensible default.
        replay: A `.jsonl` recording to replay offline (or record into); default `$HALION_REPLAY`.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, model: str | None = None,
                 replay: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path or os.environ.get("HALION_HOME") or os.getcwd()).expanduser().resolve()
        self.state_dir = self.path / ".halion"
        self._model = model
        self._replay = replay
        self.env = EnvManager(self.state_dir / ".env", sources=self._tool_sources)
        self.env.load()
        self.tools = ToolRegistry(self.path / "tools", ToolManager(self.state_dir / "tool_status.json"),
                                  author=self._tool_author, batch=self._batch_runner)
        self.log = CallLog(self.state_dir / "calls.sqlite", redact=self.env.redact)
        self.versions = VersionStore(self.state_dir / "versions.sqlite", redact=self.env.redact)
        """Every saved version of every tool and chain, apart from the call log (`core/versions.py`)."""
        self.tools.versions = self.versions
        self.tools.invoker = Invoker(self.tools, log=self.log, redact=self.env.redact,
                                     timeout=lambda: float(self.tool_timeout), approver=lambda: self.approver)
        self.load_report = self.tools.load()
        """What opening loaded from `tools/*.py`, with each broken file and its error."""
        self._conversation: Conversation | None = None
        self.max_rounds = 8
        """Model rounds per chat turn before the turn ends with a clear message."""
        self.tool_timeout = 60.0
        """Seconds a tool call may take before it is reported to the model as timed out."""
        self.request_timeout = 60.0
        """Seconds the model service may take to answer one request."""
        self.max_retries = 2
        """Retries the `openai` SDK makes on connection errors, 408, 409, 429 and 5xx."""
        if (self.state_dir / "mcp.json").exists():
            # the property registers the MCP servers' tools from their last listing; no server starts yet
            self.mcp  # noqa: B018
        self.approver: Approver | None = None
        """Asked before a tool that needs approval runs: `fn(request) -> bool | Decision`; None declines."""
        from .core.images import MAX_BYTES, MAX_SIDE
        from .services.conversations import ConversationStore
        from .services.usage import Limits, Prices

        self.prices = Prices()
        """Dollars per million tokens per model (dated defaults; `ws.prices["m"] = (in, out)` overrides)."""
        self.limits = Limits()
        """Bounds for one chat turn: max_tokens, max_tool_calls, max_cost (None: no bound)."""
        self.image_max_side = MAX_SIDE
        """Longest side in pixels of an image sent to the model (larger ones are scaled down)."""
        self.image_max_bytes = MAX_BYTES
        """Largest image in bytes sent to the model after scaling (a larger one is described, not sent)."""
        self.conversation_store = ConversationStore(self.state_dir / "conversations", redact=self.env.redact)
        """Every conversation as it goes, redacted: `.halion/conversations/<id>.jsonl`."""

    def _tool_author(self) -> "ToolAuthor":
        from .services.authoring import ToolAuthor

        return ToolAuthor(self)

    def _batch_runner(self) -> "BatchRunner":
        from .services.batch import BatchRunner

        return BatchRunner(self)

    def _tool_sources(self) -> dict[str, str]:
        return {t.name: t.source or "" for t in self.tools.all()}

    @property
    def model(self) -> str:
        """The chat model: `Workspace(model=...)`, else `$HALION_MODEL`, else gpt-4.1-mini."""
        return self._model or os.environ.get("HALION_MODEL") or "gpt-4.1-mini"

    @model.setter
    def model(self, name: str) -> None:
        self._model = name

    @property
    def replay(self) -> Path | None:
        value = self._replay or os.environ.get("HALION_REPLAY")
        return Path(value) if value else None

    def offered_tools(self, approve: Approver | None = None) -> list[Tool]:
        """The tools sent to the model: every active tool, then every chain marked `expose: true`
        (whose steps that need approval ask `approve`, default `ws.approver`)."""
        return self.tools.active() + self.chains.exposed_tools(approve=approve)

    def describe_mode(self) -> str:
        """One sentence saying how this workspace reaches a model: live, recording or replaying."""
        from .services.llm import mode

        which = mode(self)
        where = os.environ.get("OPENAI_BASE_URL") or "OpenAI"
        return {
            "live": f"Live: model {self.model} at {where}.",
            "record": f"Live: model {self.model} at {where}, recording to {self.replay}.",
            "replay": f"Offline: replaying recorded model responses from {self.replay} (no API key needed).",
        }[which]

    @cached_property
    def chains(self) -> "Chains":
        """Toolchains: `chains/*.json`, validation, runs, drafting."""
        from .services.chains import Chains

        return Chains(self)

    @cached_property
    def mcp(self) -> "McpServers":
        """MCP servers whose tools join `ws.tools` (`.halion/mcp.json`), and serving tools out (extra `[mcp]`)."""
        from .mcp.client import McpServers

        return McpServers(self)

    def close(self) -> None:
        """Stop the MCP servers this workspace started (and its MCP serving); the files stay as they are."""
        if "mcp" in self.__dict__:
            self.mcp.close()

    @property
    def conversation(self) -> "Conversation":
        """The current conversation (`ws.chat` continues it; `ws.new_chat` replaces it)."""
        if self._conversation is None:
            self.new_chat()
        assert self._conversation is not None
        return self._conversation

    def new_chat(self, system: str | None = None) -> "Conversation":
        """Start a fresh conversation and make it the current one."""
        from .services.chat import Conversation

        self._conversation = Conversation(self, system=system)
        return self._conversation

    def chat(self, message: str, *, model: str | None = None, stream: bool | None = None,
             on_text: Callable[[str], None] | None = None, approve: "Approver | None" = None,
             context: dict[str, Any] | None = None, images: list[Any] | None = None) -> "ChatResult":
        """Send `message` in the current conversation; the model may call the active tools.

        `approve(request) -> bool | Decision` answers tools that need approval (default `ws.approver`);
        `context={"df": df}` adds a bounded preview of each variable; `images=[...]` sends images.
        """
        return self.conversation.send(message, model=model, stream=stream, on_text=on_text, approve=approve,
                                      context=context, images=images)

    def conversations(self) -> "list[ConversationInfo]":
        """The stored conversations, newest first: id, started, first message, turns, tokens."""
        return self.conversation_store.list()

    def resume(self, conversation_id: str | None = None) -> "Conversation":
        """Continue a stored conversation (the newest when no id is given; an id prefix is enough)."""
        from .services.chat import Conversation
        from .services.conversations import ID
        from .errors import HalionError

        if conversation_id is not None and ID.match(conversation_id) and \
                self.conversation_store.path(conversation_id).exists():  # a damaged file says so
            self._conversation = Conversation.resumed(self, conversation_id)
            return self._conversation
        stored = self.conversations()
        if not stored:
            raise HalionError("no stored conversation to resume yet; ws.chat(...) starts one.")
        if conversation_id is None:
            found = stored[0]
        else:
            matches = [c for c in stored if c.id.startswith(conversation_id)]
            if len(matches) != 1:
                raise HalionError(f"{'no' if not matches else 'more than one'} stored conversation matches "
                                  f"'{conversation_id}'; ws.conversations() lists them.")
            found = matches[0]
        self._conversation = Conversation.resumed(self, found.id)
        return self._conversation

    def __repr__(self) -> str:
        return f"<Workspace {self.path} · {len(self.tools)} tools>"


_current: Workspace | None = None


def workspace() -> Workspace:
    """The current workspace (the one the magics use), created on first use."""
    global _current
    if _current is None:
        _current = Workspace()
    return _current


def use_workspace(ws: Workspace | str | os.PathLike[str] | None) -> Workspace:
    """Make `ws` (a Workspace or a folder) the current workspace and return it."""
    global _current
    _current = ws if isinstance(ws, Workspace) else Workspace(ws)
    return _current


@overload
def tool(fn: F) -> Tool: ...
@overload
def tool(*, name: str | None = None, description: str | None = None) -> Callable[[F], Tool]: ...
def tool(fn: Callable[..., Any] | None = None, *, name: str | None = None,
         description: str | None = None) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Decorator: register the function as a tool in the current workspace.

    The decorated name becomes the `Tool`, which still calls like the plain function.
    """
    def register(f: Callable[..., Any]) -> Tool:
        return workspace().tools.register(f, name=name, description=description)

    return register(fn) if fn is not None else register


class _CallableModule(types.ModuleType):
    """Importing this submodule rebinds `halion_nb.workspace` to it: calling it must still work."""

    def __call__(self) -> Workspace:
        return workspace()


sys.modules[__name__].__class__ = _CallableModule
