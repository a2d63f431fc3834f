"""Pydantic models for what crosses an edge: files on disk, log rows, the model's JSON."""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from .errors import ChainValidationError


class ToolState(BaseModel):
    """Runtime state of one tool, as stored in `.halion/tool_status.json`."""

    model_config = ConfigDict(extra="ignore")

    active: bool = True
    postprocess: bool = True
    approval: bool = False
    """True when each call waits for the person to approve it."""
    deferred: bool = False
    """Off only until `find_tools` loads it (its MCP server is deferred): the person did not switch it off."""


CallKind = Literal["model", "tool", "chain", "step"]


class CallRecord(BaseModel):
    """One row of the call log."""

    id: int
    ts: datetime
    kind: CallKind
    conversation_id: str | None = None
    name: str | None = None
    """Tool name, chain name or model name."""
    arguments: Any = None
    result: Any = None
    error: str | None = None
    duration_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    meta: dict[str, Any] = {}
    caller: str | None = None
    """Who ran it: chat, chain, panel, mcp, rest, batch or python."""
    user: str | None = None
    """The Jupyter user over REST; the OS user in a kernel."""
    version: str | None = None
    """For tool calls: the sha256 prefix of the tool's source that ran."""


VersionKind = Literal["tool", "chain", "live"]
"""`tool` and `chain`: a save; `live`: the source of a notebook tool that ran without being saved."""


class Version(BaseModel):
    """One recorded version of a tool or chain (`.halion/versions.sqlite`)."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: VersionKind
    name: str
    hash: str
    """The first 12 hex digits of `sha256`: for tools, what `Tool.version` and the log's `version` hold."""
    sha256: str = Field(repr=False)
    time: datetime
    who: str | None = None
    """The OS user in a kernel; the Jupyter user over REST."""
    message: str | None = None
    content: str = Field(repr=False)
    """The tool's source (its file without the `schema` literal) or the chain's JSON text."""
    number: int | None = None
    """Position in the name's saved history, 1 for the first save; None for a `live` record."""


ChainInputType = Literal["string", "integer", "number", "boolean", "array", "object"]
"""The JSON types a chain input may declare."""

_IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
NAME_RULE = "use letters, digits and _, not starting with a digit, at most 64 characters"


def _a_name(value: str) -> str:
    if not re.fullmatch(_IDENTIFIER, value):
        raise ValueError(f"{value[:80]!r} is not a name: {NAME_RULE}")
    return value


Name = Annotated[str, AfterValidator(_a_name), Field(json_schema_extra={"pattern": _IDENTIFIER})]
"""A chain, input or step name; the rule is said in words when a name breaks it (the schema keeps the pattern)."""
_REF_SYNTAX = "'inputs.NAME' or 'steps.ID.output', then an optional field path such as '.items[0].name'"
_REF_PATTERN = re.compile(r"([^.\[\]]+)((?:\.[^.\[\]]+|\[-?\d+\])*)")
_REF_SEGMENT = re.compile(r"\.([^.\[\]]+)|\[(-?\d+)\]")


class Ref(BaseModel):
    """A reference to a chain input or an earlier step's output, with an optional field path.

    `inputs.city`, `steps.fetch.output`, `steps.fetch.output.temperature`,
    `steps.search.output.items[0].title` (`items.0.title` is the same). Written in a chain
    file as `{"ref": "..."}`; in Python `Ref("inputs.city")` works too.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ref: str = Field(description=f"What to read: {_REF_SYNTAX}.", json_schema_extra={"pattern": (
        r"^(inputs\.[A-Za-z_][A-Za-z0-9_]*|steps\.[A-Za-z_][A-Za-z0-9_]*\.output)(\.[^.\[\]]+|\[-?[0-9]+\])*$"
    )})
    _source: str = PrivateAttr("")
    _target: str = PrivateAttr("")
    _path: tuple[str, ...] = PrivateAttr(())

    def __init__(self, ref: str | None = None, /, **data: Any) -> None:
        if ref is not None:
            data["ref"] = ref
        super().__init__(**data)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        return {"ref": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _parse(self) -> Ref:
        whole = _REF_PATTERN.fullmatch(self.ref)
        parts = [whole[1]] + [key or index for key, index in _REF_SEGMENT.findall(whole[2])] if whole else []
        fixed = 2 if parts[:1] == ["inputs"] else 3
        if (parts[:1] not in (["inputs"], ["steps"]) or len(parts) < fixed
                or not re.fullmatch(_IDENTIFIER, parts[1]) or (fixed == 3 and parts[2] != "output")):
            raise ValueError(f"invalid reference {self.ref!r}: write {_REF_SYNTAX}")
        self._source, self._target, self._path = parts[0], parts[1], tuple(parts[fixed:])
        return self

    @property
    def source(self) -> Literal["inputs", "steps"]:
        """Where the value comes from: the chain's inputs or a step's output."""
        return self._source  # type: ignore[return-value]

    @property
    def target(self) -> str:
        """The input name or the step id."""
        return self._target

    @property
    def path(self) -> tuple[str, ...]:
        """Field path into the value: keys, attribute names or list indices (as text)."""
        return self._path

    @property
    def base(self) -> str:
        """What is read, without the field path: `inputs.city` or `steps.fetch.output`."""
        return f"inputs.{self._target}" if self._source == "inputs" else f"steps.{self._target}.output"

    @property
    def field_path(self) -> str:
        """The field path as written after `base` (`.items[0].name`), or ""."""
        return self.ref[len(self.base):]

    @classmethod
    def join(cls, base: str, field_path: str = "") -> Ref:
        """`Ref(base + field_path)`; a path written without its leading dot (`items[0]`) gets one."""
        field_path = field_path.strip()
        if field_path and field_path[0] not in ".[":
            field_path = "." + field_path
        return cls(base + field_path)

    def __str__(self) -> str:
        return self.ref


def _argument_kind(value: Any) -> str:
    return "ref" if isinstance(value, Ref) or (isinstance(value, dict) and "ref" in value) else "literal"


Argument = Annotated[
    Union[
        Annotated[Ref, Tag("ref")],
        Annotated[Any, Tag("literal"), WithJsonSchema(
            {"description": "A literal value (anything but an object with a 'ref' key)",
             "not": {"type": "object", "required": ["ref"]}}
        )],
    ],
    Discriminator(_argument_kind),
]
"""A step argument: a `Ref` (any object with a `ref` key) or a literal JSON value."""


class ChainInput(BaseModel):
    """A named, typed input of a chain; the chain's tool form takes these as its parameters."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    type: ChainInputType = "string"
    description: str = ""
    required: bool = True
    default: Any = None
    """Used when the input is not required and not given."""


class ToolchainStep(BaseModel):
    """One step: call `tool` with `arguments`, each a literal or a `Ref`."""

    model_config = ConfigDict(extra="forbid")

    id: Name = Field(description="Unique in the chain; later steps refer to it.")
    tool: str = Field(description="Name of a tool of the workspace.")
    arguments: dict[str, Argument] = {}

    def refs(self) -> dict[str, Ref]:
        """The arguments that are references, by argument name."""
        return {k: v for k, v in self.arguments.items() if isinstance(v, Ref)}

    def literals(self) -> dict[str, Any]:
        """The arguments that are literal values, by argument name."""
        return {k: v for k, v in self.arguments.items() if not isinstance(v, Ref)}


class Toolchain(BaseModel):
    """A named list of steps over the workspace's tools, stored as `chains/<name>.json`."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: str = ""
    inputs: list[ChainInput] = []
    steps: list[ToolchainStep] = []
    output: Ref | None = Field(None, description="What a run returns; default: the last step's output.")
    parallel: bool = Field(False, description="Run steps whose references allow it at the same time.")
    expose: bool = Field(False, description="Offer the chain to the chat model as a tool.")


class DraftArgument(BaseModel):
    """A step argument as the model writes it: exactly one of `value_json` and `ref`."""

    model_config = ConfigDict(extra="forbid")

    name: str
    value_json: str | None = Field(description="A literal value as JSON text (e.g. '\"Paris\"', '3'), or null.")
    ref: str | None = Field(description=f"A reference ({_REF_SYNTAX}), or null.")


class DraftInput(BaseModel):
    """A chain input as the model writes it (`ChainInput` with the default as JSON text)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    type: ChainInputType
    description: str
    required: bool
    default_json: str | None = Field(description="Default as JSON text when not required, else null.")


class DraftStep(BaseModel):
    """A step as the model writes it: arguments as a list of name/value pairs."""

    model_config = ConfigDict(extra="forbid")

    id: str
    tool: str
    arguments: list[DraftArgument]


class ToolchainDraft(BaseModel):
    """The strict-mode form of `Toolchain` the model answers with: no free-form objects.

    `to_toolchain` turns it into a `Toolchain` or raises ValueError listing every problem.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str
    inputs: list[DraftInput]
    steps: list[DraftStep]
    output_ref: str | None = Field(description="Reference to what the chain returns; null for the last step's output.")
    parallel: bool

    def to_toolchain(self) -> Toolchain:
        """The `Toolchain` this describes, or ChainValidationError listing every problem."""
        problems: list[str] = []

        def decode(text: str, where: str) -> Any:
            try:
                return json.loads(text)
            except ValueError as exc:
                problems.append(f"{where}: not valid JSON ({exc})")
                return None

        def reference(text: str, where: str) -> Ref | None:
            try:
                return Ref(text)
            except ValidationError as exc:
                problems.append(f"{where}: {error_text(exc.errors()[0])}")
                return None

        inputs = [
            {"name": i.name, "type": i.type, "description": i.description, "required": i.required,
             "default": decode(i.default_json, f"input '{i.name}': default_json") if i.default_json else None}
            for i in self.inputs
        ]
        steps = []
        for step in self.steps:
            arguments: dict[str, Any] = {}
            for a in step.arguments:
                where = f"step '{step.id}': argument '{a.name}'"
                if (a.value_json is None) == (a.ref is None):
                    problems.append(f"{where}: give exactly one of value_json and ref")
                elif a.name in arguments:
                    problems.append(f"{where}: given twice")
                else:
                    arguments[a.name] = (reference(a.ref, where) if a.ref is not None
                                         else decode(a.value_json or "", f"{where}: value_json"))
            steps.append({"id": step.id, "tool": step.tool, "arguments": arguments})
        output = reference(self.output_ref, "output_ref") if self.output_ref else None
        if not problems:
            try:
                return Toolchain.model_validate({
                    "name": self.name, "description": self.description, "inputs": inputs,
                    "steps": steps, "output": output, "parallel": self.parallel,
                })
            except ValidationError as exc:
                problems += [self._locate(e) for e in exc.errors()]
        raise ChainValidationError(
            "The drafted chain is not a valid toolchain:\n" + "\n".join(f"- {p}" for p in problems), problems
        )

    def _locate(self, error: Any) -> str:
        loc = list(error["loc"])
        where = ".".join(map(str, loc))
        if loc[:1] == ["steps"] and len(loc) > 1 and isinstance(loc[1], int) and loc[1] < len(self.steps):
            where = f"step '{self.steps[loc[1]].id}': " + ".".join(map(str, loc[2:]))
        elif loc[:1] == ["inputs"] and len(loc) > 1 and isinstance(loc[1], int) and loc[1] < len(self.inputs):
            where = f"input '{self.inputs[loc[1]].name}': " + ".".join(map(str, loc[2:]))
        return f"{where}: {error_text(error)}"

    @classmethod
    def from_toolchain(cls, chain: Toolchain) -> ToolchainDraft:
        """The draft form of a chain (to show the model what it sent, or an example)."""
        return cls(
            name=chain.name, description=chain.description, parallel=chain.parallel,
            inputs=[DraftInput(name=i.name, type=i.type, description=i.description, required=i.required,
                               default_json=None if i.required else json.dumps(i.default)) for i in chain.inputs],
            steps=[DraftStep(id=s.id, tool=s.tool, arguments=[
                DraftArgument(name=k, ref=v.ref, value_json=None) if isinstance(v, Ref)
                else DraftArgument(name=k, ref=None, value_json=json.dumps(v)) for k, v in s.arguments.items()
            ]) for s in chain.steps],
            output_ref=chain.output.ref if chain.output else None,
        )


def as_toolchain(value: Any) -> Toolchain:
    """A `Toolchain` from itself, its dict or its JSON text; ChainValidationError listing what is wrong."""
    if isinstance(value, Toolchain):
        return value
    if isinstance(value, (str, bytes, bytearray)):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ChainValidationError(f"Not a chain: the text is not valid JSON ({exc}).", [str(exc)]) from None
    if not isinstance(value, dict):
        raise ChainValidationError(f"Not a chain: expected a Toolchain, a dict or JSON text, not "
                                   f"{type(value).__name__}.", [f"got {type(value).__name__}"])
    try:
        return Toolchain.model_validate(value)
    except ValidationError as exc:
        steps = value.get("steps")
        ids = [s.get("id", "") if isinstance(s, dict) else "" for s in steps] if isinstance(steps, list) else []
        problems = [chain_error_text(e, ids) for e in exc.errors()]
        raise ChainValidationError("Not a valid chain:\n" + "\n".join(f"- {p}" for p in problems), problems) from None


def chain_error_text(error: Any, step_ids: Sequence[str] = ()) -> str:
    """A pydantic error of a `Toolchain` as a line a person reads: `step 'fetch': tool: ...` (ids by position)."""
    loc = list(error["loc"])
    msg = error_text(error)
    if loc[:1] == ["steps"] and len(loc) > 1 and isinstance(loc[1], int) and loc[1] < len(step_ids):
        rest = ".".join(map(str, loc[2:]))
        return f"step '{step_ids[loc[1]] or loc[1] + 1}': {rest + ': ' if rest else ''}{msg}"
    if loc == ["name"]:
        return f"chain: name: {msg}"
    return f"{'.'.join(map(str, loc)) or 'chain'}: {msg}"


def error_text(error: Any) -> str:
    """A pydantic error's message without pydantic's 'Value error, ' prefix."""
    cause = (error.get("ctx") or {}).get("error")
    return str(cause) if cause is not None else str(error["msg"])
