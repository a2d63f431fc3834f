"""Chains panel: build steps from tools, references, validate per step, run, save/load, share, draft."""
from __future__ import annotations

import json
from html import unescape
from pathlib import Path

import ipywidgets as W
import pytest

from halion_nb.models import Ref, Toolchain
from halion_nb.testing import FakeOpenAI, reply
from halion_nb.widgets import find, find_all, panel
from halion_nb.workspace import Workspace


@pytest.fixture
def tools(ws: Workspace) -> Workspace:
    def add(a: int, b: int = 2) -> int:
        """Add two integers."""
        return a + b

    def describe(n: int, unit: str = "points") -> str:
        """Describe a number."""
        return f"{n} {unit}"

    def fail(n: int) -> int:
        """Always fails."""
        raise ValueError(f"cannot handle {n}")

    for fn in (add, describe, fail):
        ws.tools.register(fn)
    return ws


def add_step(view: W.Widget, tool: str) -> W.Widget:
    find(view, "halion-chains-add-tool").value = tool
    find(view, "halion-chains-add-step").click()
    return find_all(view, "halion-chain-step")[-1]


def arg(step: W.Widget, name: str) -> W.Widget:
    return find(step, f"halion-chains-arg-{name}")


def build_two_steps(view: W.Widget) -> None:
    find(view, "halion-chains-name").value = "score"
    find(view, "halion-chains-add-input").click()
    row = find(view, "halion-chains-input")
    find(row, "halion-chains-input-name").value = "x"
    find(row, "halion-chains-input-type").value = "integer"
    first = add_step(view, "add")
    a = arg(first, "a")
    find(a, "halion-chains-arg-mode").value = "ref"
    find(a, "halion-chains-arg-ref").value = "inputs.x"
    find(arg(first, "b"), "halion-chains-arg-value").value = 10
    second = add_step(view, "describe")
    n = arg(second, "n")
    find(n, "halion-chains-arg-mode").value = "ref"
    refs = [value for _, value in find(n, "halion-chains-arg-ref").options]
    assert refs == [None, "inputs.x", "steps.add.output"]
    find(n, "halion-chains-arg-ref").value = "steps.add.output"


def test_build_validate_run(tools: Workspace) -> None:
    view = panel("chains", ws=tools)
    build_two_steps(view)
    find(view, "halion-chains-validate").click()
    assert "The chain is valid" in find(view, "halion-chains-output").value
    find(view, "halion-chains-run-input-x").value = 5
    find(view, "halion-chains-run").click()
    assert view.controller.wait(20)
    run = view.controller.last_run
    assert run.ok and run.output == "15 points"
    steps = find_all(view, "halion-chain-step")
    assert all("fa-check-circle'></i> ok" in find(s, "halion-chains-step-status").value for s in steps)
    assert "15" in find(steps[0], "halion-chains-step-result").value
    assert "15 points" in find(view, "halion-chains-output").value
    assert tools.log.count(kind="step") == 2 and tools.log.count(kind="chain") == 1


def test_problems_are_listed_per_step(tools: Workspace) -> None:
    view = panel("chains", ws=tools)
    find(view, "halion-chains-name").value = "broken"
    first = add_step(view, "add")
    find(arg(first, "a"), "halion-chains-arg-mode").value = "ref"  # required, and no reference picked
    tools.tools.disable("describe")
    add_step(view, "describe")
    find(view, "halion-chains-validate").click()
    steps = find_all(view, "halion-chain-step")
    first_problems = unescape(find(steps[0], "halion-chains-step-problems").value)
    assert "missing required argument 'a'" in first_problems and "inactive" not in first_problems
    assert "tool 'describe' is inactive" in unescape(find(steps[1], "halion-chains-step-problems").value)
    assert "problem(s)" in find(view, "halion-chains-problems").value
    find(view, "halion-chains-run").click()
    assert "Cannot run" in find(view, "halion-chains-problems").value


def test_a_failing_step_is_shown_and_later_steps_skipped(tools: Workspace) -> None:
    view = panel("chains", ws=tools)
    find(view, "halion-chains-name").value = "doomed"
    find(arg(add_step(view, "fail"), "n"), "halion-chains-arg-value").value = 7
    second = add_step(view, "describe")
    find(arg(second, "n"), "halion-chains-arg-mode").value = "ref"
    find(arg(second, "n"), "halion-chains-arg-ref").value = "steps.fail.output"
    find(view, "halion-chains-run").click()
    view.controller.wait(20)
    steps = find_all(view, "halion-chain-step")
    assert "fa-times-circle'></i> error" in find(steps[0], "halion-chains-step-status").value
    assert "cannot handle 7" in find(steps[0], "halion-chains-step-result").value
    assert "skipped" in find(steps[1], "halion-chains-step-status").value
    assert "failed" in unescape(find(view, "halion-chains-output").value)


def test_reorder_and_remove_steps(tools: Workspace) -> None:
    view = panel("chains", ws=tools)
    add_step(view, "add")
    add_step(view, "describe")
    add_step(view, "add")
    ids = lambda: [find(s, "halion-chains-step-id").value for s in find_all(view, "halion-chain-step")]  # noqa: E731
    assert ids() == ["add", "describe", "add_2"]
    find(find_all(view, "halion-chain-step")[2], "halion-chains-step-up").click()
    assert ids() == ["add", "add_2", "describe"]
    find(find_all(view, "halion-chain-step")[0], "halion-chains-step-down").click()
    assert ids() == ["add_2", "add", "describe"]
    find(find_all(view, "halion-chain-step")[1], "halion-chains-step-remove").click()
    assert ids() == ["add_2", "describe"]
    assert find(find_all(view, "halion-chain-step")[0], "halion-chains-step-up").disabled


def test_values_survive_a_rerender(tools: Workspace) -> None:
    view = panel("chains", ws=tools)
    first = add_step(view, "add")
    find(arg(first, "a"), "halion-chains-arg-value").value = 41
    add_step(view, "describe")  # re-renders every step
    first = find_all(view, "halion-chain-step")[0]
    assert find(arg(first, "a"), "halion-chains-arg-value").value == 41


def test_save_load_and_a_second_panel(tools: Workspace) -> None:
    view, other = panel("chains", ws=tools), panel("chains", ws=tools)
    build_two_steps(view)
    find(view, "halion-chains-save").click()
    assert "Saved" in find(view, "halion-chains-output").value
    saved = tools.chains.get("score")
    assert saved.steps[0].arguments == {"a": Ref("inputs.x"), "b": 10}
    assert json.loads((tools.path / "chains" / "score.json").read_text())["name"] == "score"
    assert ("score", "score") in find(other, "halion-chains-select").options
    find(other, "halion-chains-select").value = "score"
    find(other, "halion-chains-load").click()
    assert find(other, "halion-chains-name").value == "score"
    steps = find_all(other, "halion-chain-step")
    assert find(arg(steps[0], "a"), "halion-chains-arg-ref").value == "inputs.x"
    assert find(arg(steps[0], "b"), "halion-chains-arg-value").value == 10
    assert find(arg(steps[1], "n"), "halion-chains-arg-mode").value == "ref"
    assert other.controller.build()[0] == saved


def test_delete_asks_first(tools: Workspace) -> None:
    view = panel("chains", ws=tools)
    build_two_steps(view)
    find(view, "halion-chains-save").click()
    find(view, "halion-chains-delete").click()
    find(view, "halion-confirm-no").click()
    assert "score" in tools.chains.names()
    find(view, "halion-chains-delete").click()
    find(view, "halion-confirm-yes").click()
    assert "score" not in tools.chains.names()
    assert ("score", "score") not in find(view, "halion-chains-select").options


def test_export_and_import_json(tools: Workspace, tmp_path: Path) -> None:
    view = panel("chains", ws=tools)
    build_two_steps(view)
    find(view, "halion-chains-export-json").click()
    text = find(view, "halion-chains-json").value
    assert json.loads(text)["steps"][1]["arguments"] == {"n": {"ref": "steps.add.output"}}
    data = json.loads(text)
    data["name"] = "score_copy"
    data["steps"][0]["arguments"]["a"] = {"ref": "inputs.x.value"}
    data["steps"][0]["arguments"]["b"] = "not a number"  # kept, shown as JSON, reported by Validate
    fresh = panel("chains", ws=tools)
    find(fresh, "halion-chains-json").value = json.dumps(data)
    find(fresh, "halion-chains-import-json").click()
    assert find(fresh, "halion-chains-name").value == "score_copy"
    first = find_all(fresh, "halion-chain-step")[0]
    assert find(arg(first, "a"), "halion-chains-arg-path").value == ".value"
    assert find(arg(first, "b"), "halion-chains-arg-value").value == '"not a number"'
    chain, problems = fresh.controller.build()
    assert problems == [] and chain is not None and chain.steps[0].arguments["b"] == "not a number"
    find(fresh, "halion-chains-validate").click()
    assert "argument b: Input should be a valid integer" in find(fresh, "halion-chains-problems").value
    find(fresh, "halion-chains-json").value = "{not json"
    find(fresh, "halion-chains-import-json").click()
    assert "Not a chain" in find(fresh, "halion-chains-share-status").value
    target = tmp_path / "shared.json"
    find(view, "halion-chains-path").value = str(target)
    find(view, "halion-chains-export-file").click()
    assert Toolchain.model_validate_json(target.read_text()).name == "score"
    tools.chains.remove("score")
    find(fresh, "halion-chains-path").value = str(target)
    find(fresh, "halion-chains-import-file").click()
    assert "score" in tools.chains.names() and find(fresh, "halion-chains-name").value == "score"


def test_draft_from_goal(tools: Workspace, live: FakeOpenAI) -> None:
    live.script(reply(json_content={
        "name": "plus_one", "description": "Add one and describe it", "parallel": False, "output_ref": None,
        "inputs": [{"name": "n", "type": "integer", "description": "a number", "required": True, "default_json": None}],
        "steps": [{"id": "inc", "tool": "add", "arguments": [
            {"name": "a", "value_json": None, "ref": "inputs.n"}, {"name": "b", "value_json": "1", "ref": None}]}],
    }))
    view = panel("chains", ws=tools)
    find(view, "halion-chains-goal").value = "add one to a number"
    find(view, "halion-chains-draft").click()
    assert view.controller.wait(20)
    assert "Draft plus_one loaded" in find(view, "halion-chains-draft-status").value
    assert find(view, "halion-chains-name").value == "plus_one"
    assert "plus_one" not in tools.chains.names()  # a draft is not saved
    find(view, "halion-chains-run-input-n").value = 41
    find(view, "halion-chains-run").click()
    view.controller.wait(20)
    assert view.controller.last_run.output == 42


def test_new_clears_the_builder(tools: Workspace) -> None:
    view = panel("chains", ws=tools)
    build_two_steps(view)
    find(view, "halion-chains-new").click()
    assert find_all(view, "halion-chain-step") == [] and find(view, "halion-chains-name").value == ""


def test_loading_and_saving_a_chain_keeps_what_the_builder_does_not_show(tools: Workspace) -> None:
    chain = Toolchain.model_validate({
        "name": "kept", "description": "keeps fields",
        "inputs": [{"name": "x", "type": "integer", "description": "the number to add to"}],
        "steps": [{"id": "add", "tool": "add", "arguments": {"a": {"ref": "inputs.x"}, "b": 1}},
                  {"id": "say", "tool": "describe", "arguments": {"n": {"ref": "steps.add.output"}}}],
        "output": {"ref": "steps.add.output"},
    })
    tools.chains.save(chain)
    view = panel("chains", ws=tools)
    find(view, "halion-chains-select").value = "kept"
    find(view, "halion-chains-load").click()
    find(view, "halion-chains-save").click()
    saved = tools.chains.get("kept")
    assert saved.inputs[0].description == "the number to add to"
    assert saved.output == Ref("steps.add.output")
    assert saved == chain


def test_importing_a_file_over_a_chain_of_the_same_name_asks_first(tools: Workspace, tmp_path: Path) -> None:
    mine = Toolchain.model_validate({"name": "same", "description": "mine",
                                     "steps": [{"id": "s", "tool": "add", "arguments": {"a": 1}}]})
    tools.chains.save(mine)
    shared = mine.model_copy(update={"description": "theirs"})
    target = tmp_path / "theirs.json"
    target.write_text(shared.model_dump_json())
    view = panel("chains", ws=tools)
    find(view, "halion-chains-path").value = str(target)
    find(view, "halion-chains-import-file").click()
    assert tools.chains.get("same").description == "mine"  # nothing replaced yet
    assert "already exists" in find(view, "halion-chains-share-status").value
    find(view, "halion-confirm-no").click()
    assert tools.chains.get("same").description == "mine"
    find(view, "halion-chains-import-file").click()
    find(view, "halion-confirm-yes").click()
    assert tools.chains.get("same").description == "theirs"


def test_valid_is_never_shown_next_to_problems_or_after_an_edit(tools: Workspace) -> None:
    view = panel("chains", ws=tools)
    build_two_steps(view)
    output, problems = find(view, "halion-chains-output"), find(view, "halion-chains-problems")
    find(view, "halion-chains-validate").click()
    assert "The chain is valid" in output.value and problems.value == ""
    n = find(arg(find_all(view, "halion-chain-step")[1], "n"), "halion-chains-arg-ref")
    n.value = None  # no reference picked: the required `n` is left out
    assert "The chain is valid" not in output.value  # the edit took the old check back
    find(view, "halion-chains-run").click()
    assert "problem(s)" in problems.value and "missing required argument 'n'" in unescape(problems.value)
    assert "The chain is valid" not in output.value
    find(view, "halion-chains-validate").click()
    assert "1 problem(s)" in problems.value and "The chain is valid" not in output.value
    n.value = "steps.add.output"
    assert problems.value == ""  # fixed: the stale problem list goes too
    find(view, "halion-chains-validate").click()
    assert "The chain is valid" in output.value and problems.value == ""
    assert view.controller.editor.valid


def test_a_huge_step_result_is_shown_bounded(tools: Workspace) -> None:
    def big(n: int) -> str:
        """Return n characters."""
        return "y" * n

    tools.tools.register(big)
    view = panel("chains", ws=tools)
    find(view, "halion-chains-name").value = "huge"
    find(arg(add_step(view, "big"), "n"), "halion-chains-arg-value").value = 2_600_000
    find(view, "halion-chains-run").click()
    assert view.controller.wait(20) and len(view.controller.last_run.output) == 2_600_000
    result = find(find_all(view, "halion-chain-step")[0], "halion-chains-step-result").value
    output = find(view, "halion-chains-output").value
    for shown in (result, output):
        assert len(shown) < 25_000 and "more characters" in shown
