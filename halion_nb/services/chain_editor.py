"""A chain being edited: its header, inputs, steps and their arguments, and whether it was checked.

Plain data and methods, no widgets: the Chains panel maps its widgets onto a `ChainEditor`, and
the same object builds a chain from Python (or for another frontend)::

    ed = ws.chains.edit()          # or ChainEditor(ws.chains), or ws.chains.edit("a_saved_chain")
    ed.name = "weather_f"
    ed.add_input("city")
    ed.add_step("get_weather").set("city", Ref("inputs.city"))
    ed.validate()          # [] when the chain can run
    ed.save()

`problems` is the outcome of the last `validate()` only while nothing has changed since, so a
view can never show "valid" next to a chain it no longer describes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from ..errors import ChainValidationError
from ..models import Ref, Toolchain, chain_error_text, error_text

if TYPE_CHECKING:
    from .chains import Chains


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""An argument left out, so that the tool's default applies."""


@dataclass
class EditorArgument:
    """One argument of a step: a literal `value`, or a reference (`ref` base plus a field `path`)."""

    mode: Literal["value", "ref"] = "value"
    value: Any = UNSET
    ref: str | None = None
    """`inputs.NAME` or `steps.ID.output`; None while no reference is picked (the argument is left out)."""
    path: str = ""
    """Field path into what `ref` reads, such as `.items[0].name`."""
    unread: str | None = None
    """Why a form's text for this value could not be read (e.g. "b: not valid JSON"); None when it could."""

    @classmethod
    def of(cls, value: Any) -> EditorArgument:
        """The argument holding `value`: a `Ref` (or `{"ref": ...}`) becomes a reference."""
        if isinstance(value, dict) and set(value) == {"ref"}:
            value = Ref(value["ref"])
        if isinstance(value, Ref):
            return cls("ref", ref=value.base, path=value.field_path)
        return cls("value", value)


@dataclass
class EditorStep:
    """A step: its id, its tool and the arguments given so far (by parameter name)."""

    id: str
    tool: str
    arguments: dict[str, EditorArgument] = field(default_factory=dict)

    def set(self, name: str, value: Any) -> EditorStep:
        """Give the argument `name` a literal value or a `Ref`; `UNSET` leaves it out."""
        self.arguments[name] = EditorArgument.of(value)
        return self


@dataclass
class EditorInput:
    """A chain input; `default_json` is the default as JSON text (used when not required)."""

    name: str
    type: str = "string"
    required: bool = True
    default_json: str = ""
    description: str = ""


@dataclass
class ChainEditor:
    """The chain being built; `build()` turns it into a `Toolchain`, `validate()` checks it against the tools."""

    chains: Chains = field(repr=False)
    name: str = ""
    description: str = ""
    parallel: bool = False
    expose: bool = False
    inputs: list[EditorInput] = field(default_factory=list)
    steps: list[EditorStep] = field(default_factory=list)
    output: Ref | None = None
    """The loaded chain's `output`, kept while what it reads is still in the chain."""
    _checked: tuple[str, list[str]] | None = field(default=None, repr=False)

    # whole chains
    def new(self) -> None:
        """Start an empty chain."""
        self.name, self.description, self.parallel, self.expose = "", "", False, False
        self.inputs, self.steps, self.output = [], [], None

    def load(self, chain: Toolchain | str) -> None:
        """Edit a chain (or the saved chain of that name)."""
        chain = self.chains.get(chain) if isinstance(chain, str) else chain
        self.name, self.description = chain.name, chain.description
        self.parallel, self.expose, self.output = chain.parallel, chain.expose, chain.output
        self.inputs = [EditorInput(i.name, i.type, i.required,
                                   "" if i.required or i.default is None else json.dumps(i.default), i.description)
                       for i in chain.inputs]
        self.steps = [EditorStep(s.id, s.tool, {k: EditorArgument.of(v) for k, v in s.arguments.items()})
                      for s in chain.steps]

    # inputs
    def add_input(self, name: str = "", type: str = "string", *, required: bool = True, default: Any = None,
                  description: str = "") -> EditorInput:
        """Declare an input (named `input1`, `input2`… when no name is given)."""
        taken = {i.name for i in self.inputs}
        name = name or next(f"input{n}" for n in range(1, len(taken) + 2) if f"input{n}" not in taken)
        item = EditorInput(name, type, required, "" if default is None else json.dumps(default), description)
        self.inputs.append(item)
        return item

    def remove_input(self, index: int) -> None:
        if 0 <= index < len(self.inputs):
            del self.inputs[index]

    # steps
    def add_step(self, tool: str, id: str | None = None) -> EditorStep:
        """Append a step calling `tool`; its id is the tool's name, made unique (`add_2`) when taken."""
        taken = {s.id for s in self.steps}
        step_id = id or (tool if tool not in taken else
                         next(f"{tool}_{n}" for n in range(2, len(taken) + 3) if f"{tool}_{n}" not in taken))
        step = EditorStep(step_id, tool)
        self.steps.append(step)
        return step

    def move_step(self, index: int, delta: int) -> None:
        target = index + delta
        if 0 <= index < len(self.steps) and 0 <= target < len(self.steps):
            self.steps[index], self.steps[target] = self.steps[target], self.steps[index]

    def remove_step(self, index: int) -> None:
        if 0 <= index < len(self.steps):
            del self.steps[index]

    def step(self, id: str) -> EditorStep:
        """The step with this id."""
        for step in self.steps:
            if step.id == id:
                return step
        raise KeyError(f"The chain being edited has no step '{id}'.")

    def references(self, index: int) -> list[str]:
        """What the step at `index` can read: the named inputs and the outputs of the steps before it."""
        return ([f"inputs.{i.name}" for i in self.inputs if i.name]
                + [f"steps.{s.id}.output" for s in self.steps[:index] if s.id])

    # chain <-> state
    def build(self) -> tuple[Toolchain | None, list[str]]:
        """The `Toolchain` this describes, or None and the problems that keep it from being one."""
        problems: list[str] = []
        inputs = []
        for item in self.inputs:
            default = None
            if not item.required and item.default_json.strip():
                try:
                    default = json.loads(item.default_json)
                except ValueError as exc:
                    problems.append(f"input '{item.name}': default is not valid JSON ({exc})")
            inputs.append({"name": item.name, "type": item.type, "required": item.required, "default": default,
                           "description": item.description})
        steps = []
        for index, step in enumerate(self.steps, 1):
            where = f"step '{step.id or index}'"
            arguments: dict[str, Any] = {}
            for param, arg in step.arguments.items():
                if arg.mode == "ref":  # an unpicked one is left out; validate() reports it if required
                    if arg.ref:
                        try:
                            arguments[param] = Ref.join(arg.ref, arg.path)
                        except ValidationError as exc:
                            problems.append(f"{where}: argument '{param}': {error_text(exc.errors()[0])}")
                elif arg.unread is not None:
                    problems.append(f"{where}: argument {arg.unread}")
                elif arg.value is not UNSET:
                    arguments[param] = arg.value
            steps.append({"id": step.id, "tool": step.tool, "arguments": arguments})
        if problems:
            return None, problems
        try:
            chain = Toolchain.model_validate({
                "name": self.name.strip(), "description": self.description.strip(), "inputs": inputs,
                "steps": steps, "parallel": self.parallel, "expose": self.expose, "output": self._kept_output(),
            })
        except ValidationError as exc:
            return None, [chain_error_text(e, [s.id for s in self.steps]) for e in exc.errors()]
        return chain, []

    def chain(self) -> Toolchain:
        """The `Toolchain` this describes, or ChainValidationError listing what keeps it from being one."""
        chain, problems = self.build()
        if chain is None:
            raise ChainValidationError("The chain is not complete:\n" + "\n".join(f"- {p}" for p in problems),
                                       problems)
        return chain

    def _kept_output(self) -> Ref | None:
        out = self.output
        if out is None:
            return None
        names = {i.name for i in self.inputs} if out.source == "inputs" else {s.id for s in self.steps}
        return out if out.target in names else None

    # checking
    def validate(self) -> list[str]:
        """Every problem of the chain, built and checked against the workspace's tools; remembered until an edit."""
        chain, problems = self.build()
        if chain is not None:
            problems = self.chains.validate(chain)
        self._checked = (self._state(), list(problems))
        return problems

    @property
    def problems(self) -> list[str] | None:
        """What the last `validate()` found, or None when the chain changed since (or was never checked)."""
        if self._checked is None or self._checked[0] != self._state():
            return None
        return list(self._checked[1])

    @property
    def valid(self) -> bool:
        """True when the chain, as it is now, was validated and has no problems."""
        return self.problems == []

    def step_problems(self, index: int) -> list[str]:
        """The current problems of the step at `index`, without the `step 'id': ` prefix."""
        prefix = f"step '{self.steps[index].id or index + 1}': "
        return [p[len(prefix):] for p in self.problems or [] if p.startswith(prefix)]

    def _state(self) -> str:
        return repr((self.name, self.description, self.parallel, self.expose, self.inputs, self.steps, self.output))

    # the workspace
    def save(self) -> tuple[Path, list[str]]:
        """Save the chain as `chains/<name>.json`; returns the path and the problems it still has."""
        chain = self.chain()
        path = self.chains.save(chain)
        return path, self.validate()

    def run(self, **inputs: Any) -> Any:
        """Run the chain as it is now (not saved) with these inputs; returns the `ChainRun`."""
        return self.chains.run(self.chain(), **inputs)
