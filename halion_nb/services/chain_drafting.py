"""Draft a toolchain with the model: the tools' catalogue as instructions, the strict reply, retries on problems."""
from __future__ import annotations

import json
import typing
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from ..errors import ChainValidationError
from ..models import Toolchain, ToolchainDraft

if TYPE_CHECKING:
    from ..core.tool import Tool
    from .chains import Chains

DRAFT_RETRIES = 2
"""How many times a drafted chain with problems goes back to the model to be fixed."""


def draft_chain(chains: Chains, goal: str, *, model: str | None = None, retries: int = DRAFT_RETRIES) -> Toolchain:
    """A chain over the active tools that reaches `goal`, checked with `chains.validate`; nothing is saved."""
    from .llm import parse_structured

    tools = chains.ws.tools.active()
    if not tools:
        raise ChainValidationError("There are no active tools to build a chain from: register or enable tools first.")
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": _draft_instructions(tools)},
        {"role": "user", "content": goal},
    ]
    problems: list[str] = []
    for _ in range(retries + 1):
        answer = typing.cast(ToolchainDraft, parse_structured(chains.ws, messages, ToolchainDraft, model=model,
                                                              purpose="chain_draft"))
        try:
            chain = answer.to_toolchain()
            problems = chains.validate(chain)
        except ChainValidationError as exc:
            problems = exc.problems
        if not problems:
            return chain
        messages += [
            {"role": "assistant", "content": answer.model_dump_json()},
            {"role": "user", "content": "That chain has problems:\n" + "\n".join(f"- {p}" for p in problems)
             + "\nSend the whole chain again with every problem fixed."},
        ]
    raise ChainValidationError(
        f"The model's chain still had problems after {retries + 1} attempts:\n"
        + "\n".join(f"- {p}" for p in problems), problems,
    )


def _returns(tool: Tool) -> Any:
    """What a tool returns, for the model: a JSON Schema when the return type allows it."""
    try:
        annotation = typing.get_type_hints(tool.function).get("return")
    except Exception:
        return "unknown"
    if annotation is None:
        return "unknown"
    try:
        return TypeAdapter(annotation).json_schema()
    except Exception:
        return getattr(annotation, "__name__", str(annotation))


def _draft_instructions(tools: list[Tool]) -> str:
    catalogue = [
        {"name": t.name, "description": t.description, "parameters": t.spec.loose_parameters, "returns": _returns(t)}
        for t in tools
    ]
    return (
        "You design toolchains: a named list of steps, each calling one of the tools below with arguments. "
        "Give the chain a name (letters, digits, underscores), a description, and the inputs the person will "
        "supply (name, JSON type, description, whether required). Each step has an id (an identifier, unique) "
        "and the tool it calls. Each argument gives exactly one of value_json (a literal as JSON text, e.g. "
        "'\"Paris\"' or '3') and ref (a reference): 'inputs.NAME' for a chain input, or 'steps.ID.output' for "
        "an earlier step's result, optionally with a field path such as 'steps.fetch.output.temperature' or "
        "'steps.search.output.items[0].title'. A step may only refer to steps before it. Give every required "
        "parameter of each tool. output_ref names what the chain returns (null: the last step's output). "
        "Set parallel to true only when steps that do not refer to each other may run at the same time.\n\n"
        "Tools:\n" + json.dumps(catalogue, indent=1, default=str)
    )
