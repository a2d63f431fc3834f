"""`%halion chain list|show|run|draft|save|delete`: toolchains from a notebook line."""
from __future__ import annotations

import argparse
import json
from typing import Any

from IPython.display import display

from ..models import Toolchain
from ..workspace import workspace
from .command_spec import UsageError, arg, command

ACTIONS = ("list", "show", "run", "map", "draft", "save", "delete")
_USAGE = {
    "list": "%halion chain list",
    "show": "%halion chain show NAME",
    "run": "%halion chain run NAME key=value ...",
    "map": "%halion chain map NAME FILE [--dask ADDRESS]",
    "draft": '%halion chain draft "goal"',
    "save": "%halion chain save [NAME]",
    "delete": "%halion chain delete NAME",
}


def parse_inputs(chain: Toolchain, words: list[str]) -> dict[str, Any]:
    """`key=value` words as chain inputs: values are JSON when they parse, else text.

    An input declared as a string always takes the text as written (`zip=01234` stays "01234").
    """
    strings = {i.name for i in chain.inputs if i.type == "string"}
    inputs: dict[str, Any] = {}
    for word in words:
        key, eq, text = word.partition("=")
        if not eq or not key:
            raise UsageError(f"'{word}' is not key=value\nusage: {_USAGE['run']}")
        try:
            inputs[key] = text if key in strings else json.loads(text)
        except ValueError:
            inputs[key] = text
    return inputs


def _one_name(action: str, words: list[str], optional: bool = False) -> str | None:
    if len(words) > 1 or (not words and not optional):
        raise UsageError(f"chain {action} takes {'at most ' if optional else ''}one chain name\nusage: {_USAGE[action]}")
    return words[0] if words else None


def _map(ws: Any, words: list[str]) -> None:
    """Run the chain over the file's rows with a live progress bar; a run stopped as a whole fails the cell."""
    from .batch_display import show_progress

    address = None
    if "--dask" in words:
        at = words.index("--dask")
        if at + 1 >= len(words):
            raise UsageError(f"--dask needs the scheduler's address\nusage: {_USAGE['map']}")
        address = words.pop(at + 1)
        words.pop(at)
    if len(words) != 2:
        raise UsageError(f"give the chain's name and an inputs file\nusage: {_USAGE['map']}")
    run = ws.chains.map(words[0], words[1], executor=address, progress=False, wait=False)
    show_progress(run)
    run.wait()
    if run.error:
        raise UsageError(run.error)


@command(
    "chain", "Toolchains: list, show NAME, run NAME key=value ..., map NAME FILE [--dask ADDRESS], "
    "draft \"goal\", save [NAME], delete NAME.",
    arg("action", choices=ACTIONS), arg("words", nargs=argparse.REMAINDER),
)
def _chain(shell: Any, args: argparse.Namespace, cell: str | None) -> None:
    ws = workspace()
    action, words = args.action, list(args.words)
    if action == "list":
        display(ws.chains)
    elif action == "show":
        display(ws.chains.get(_one_name(action, words) or ""))
    elif action == "run":
        if not words:
            raise UsageError(f"give the chain's name\nusage: {_USAGE['run']}")
        chain = ws.chains.get(words[0])
        display(ws.chains.run(chain, **parse_inputs(chain, words[1:])))
    elif action == "map":
        _map(ws, words)
    elif action == "draft":
        goal = " ".join(words).strip()
        if not goal:
            raise UsageError(f"say what the chain should do\nusage: {_USAGE['draft']}")
        display(ws.chains.draft(goal))
        print("Not saved yet: %halion chain save (or save NAME) keeps it.")
    elif action == "save":
        chain = ws.chains.last_draft
        if chain is None:
            raise UsageError(f"nothing drafted yet: use %halion chain draft \"goal\" first\nusage: {_USAGE['save']}")
        name = _one_name(action, words, optional=True)
        if name:
            chain = chain.model_copy(update={"name": name})
        print(f"saved {ws.chains.save(chain)}")
    elif action == "delete":
        name = _one_name(action, words) or ""
        ws.chains.remove(name)
        print(f"deleted chain {name}")
