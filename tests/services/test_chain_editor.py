"""ChainEditor: build, check and save a chain from Python, the way the Chains panel does."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from halion_nb.errors import ChainValidationError
from halion_nb.models import Ref, Toolchain
from halion_nb.services.chain_editor import UNSET, ChainEditor
from halion_nb.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    w = Workspace(tmp_path)

    def add(a: int, b: int = 2) -> int:
        """Add two integers."""
        return a + b

    def describe(n: int, unit: str = "points") -> str:
        """Describe a number."""
        return f"{n} {unit}"

    w.tools.register(add)
    w.tools.register(describe)
    yield w
    w.log.close()


def test_build_validate_run_and_save_from_python(ws: Workspace) -> None:
    ed = ChainEditor(ws.chains)
    ed.name = "score"
    ed.add_input("x", "integer")
    ed.add_step("add").set("a", Ref("inputs.x")).set("b", 10)
    ed.add_step("describe").set("n", {"ref": "steps.add.output"})
    assert ed.references(1) == ["inputs.x", "steps.add.output"] and ed.references(0) == ["inputs.x"]
    assert ed.problems is None and not ed.valid  # not checked yet
    assert ed.validate() == [] and ed.valid
    assert ed.run(x=5).output == "15 points"
    path, left = ed.save()
    assert left == [] and json.loads(path.read_text())["steps"][0]["arguments"] == {"a": {"ref": "inputs.x"}, "b": 10}
    assert ws.chains.get("score") == ed.chain()


def test_a_check_is_forgotten_as_soon_as_the_chain_changes(ws: Workspace) -> None:
    ed = ChainEditor(ws.chains)
    ed.name = "one"
    step = ed.add_step("add").set("a", 1)
    assert ed.validate() == [] and ed.valid
    step.set("a", UNSET)  # `a` is required
    assert ed.problems is None and not ed.valid  # the earlier "valid" no longer describes it
    assert ed.validate() == ["step 'add': missing required argument 'a'"]
    assert ed.step_problems(0) == ["missing required argument 'a'"]
    ed.name = "renamed"
    assert ed.problems is None and ed.step_problems(0) == []


def test_ids_are_made_unique_and_steps_move(ws: Workspace) -> None:
    ed = ChainEditor(ws.chains)
    for tool in ("add", "describe", "add"):
        ed.add_step(tool)
    assert [s.id for s in ed.steps] == ["add", "describe", "add_2"]
    ed.move_step(2, -1)
    ed.remove_step(0)
    assert [s.id for s in ed.steps] == ["add_2", "describe"]
    assert [i.name for i in (ed.add_input(), ed.add_input())] == ["input1", "input2"]


def test_what_keeps_it_from_being_a_chain_is_listed_by_step(ws: Workspace) -> None:
    ed = ChainEditor(ws.chains)
    ed.name = "9 lives"
    ed.add_input("x", required=False).default_json = "{not json"
    ed.add_step("add").set("a", Ref("inputs.x"))
    chain, problems = ed.build()
    assert chain is None and problems == ["input 'x': default is not valid JSON "
                                          "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"]
    ed.inputs[0].default_json = "3"
    chain, problems = ed.build()
    assert chain is None and len(problems) == 1 and problems[0].startswith("chain: name: '9 lives' is not a name")
    assert "^[" not in problems[0]  # no raw regex in the message
    with pytest.raises(ChainValidationError) as failed:
        ed.chain()
    assert failed.value.problems == problems


def test_loading_keeps_what_a_form_does_not_show(ws: Workspace) -> None:
    chain = Toolchain.model_validate({
        "name": "kept", "description": "keeps fields", "inputs": [{"name": "x", "type": "integer",
                                                                   "description": "the number"}],
        "steps": [{"id": "add", "tool": "add", "arguments": {"a": {"ref": "inputs.x"}, "b": 1}},
                  {"id": "say", "tool": "describe", "arguments": {"n": {"ref": "steps.add.output"}}}],
        "output": {"ref": "steps.add.output"},
    })
    ws.chains.save(chain)
    ed = ws.chains.edit("kept")
    assert ed.chain() == chain and ws.chains.edit().steps == []
    ed.remove_step(0)  # what the output read is gone: the output falls back to the last step
    assert ed.chain().output is None


def test_refs_split_and_join() -> None:
    ref = Ref("steps.search.output.items[0].title")
    assert (ref.base, ref.field_path) == ("steps.search.output", ".items[0].title")
    assert Ref.join(ref.base, ref.field_path) == ref and Ref.join("inputs.x", "a[1]") == Ref("inputs.x.a[1]")
    assert Ref.join("inputs.x") == Ref("inputs.x")
