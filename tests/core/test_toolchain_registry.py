"""Chain files: `chains/<name>.json`, pretty-printed, one a file; broken files reported and left alone."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from halion_nb.core.toolchain_registry import SCHEMA_PATH, chain_json_schema
from halion_nb.errors import StateFileError, ToolNameError, ToolNotFoundError
from halion_nb.models import ChainInput, Ref, Toolchain, ToolchainStep
from halion_nb.workspace import Workspace


def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    w = Workspace(tmp_path / "ws")
    w.tools.register(shout)
    yield w
    w.log.close()


def loud_chain(name: str = "loud", **changes: object) -> Toolchain:
    chain = Toolchain(
        name=name,
        description="Shout twice.",
        inputs=[ChainInput(name="text", description="What to shout."),
                ChainInput(name="times", type="integer", required=False, default=2)],
        steps=[
            ToolchainStep(id="first", tool="shout", arguments={"text": Ref("inputs.text")}),
            ToolchainStep(id="second", tool="shout", arguments={"text": Ref("steps.first.output")}),
        ],
    )
    return chain.model_copy(update=changes)


def test_save_writes_one_pretty_printed_file_that_loads_back(ws: Workspace) -> None:
    path = ws.chains.save(loud_chain())
    assert path == ws.path / "chains" / "loud.json"
    text = path.read_text()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    assert list(data) == ["name", "description", "inputs", "steps", "parallel", "expose"]
    assert data["steps"][1] == {"id": "second", "tool": "shout", "arguments": {"text": {"ref": "steps.first.output"}}}
    assert data["inputs"][0] == {"name": "text", "type": "string", "description": "What to shout.", "required": True}
    assert data["inputs"][1]["default"] == 2

    fresh = Workspace(ws.path)
    assert fresh.chains.names() == ["loud"]
    assert fresh.chains.get("loud") == loud_chain()
    assert fresh.chains.load().loaded == ["loud"]


def test_literals_and_output_survive_the_round_trip(ws: Workspace) -> None:
    chain = Toolchain.model_validate({
        "name": "literal", "output": {"ref": "steps.a.output[0]"},
        "steps": [{"id": "a", "tool": "shout", "arguments": {"text": "hi", "opts": {"deep": [1, None]}}}],
    })
    ws.chains.save(chain)
    again = Workspace(ws.path).chains.get("literal")
    assert again == chain
    assert again.steps[0].arguments["opts"] == {"deep": [1, None]}
    assert again.output == Ref("steps.a.output[0]")


def test_names_follow_the_tool_rule(ws: Workspace) -> None:
    for bad in ("../evil", "has space", "class"):
        with pytest.raises((ToolNameError, ValueError)):
            ws.chains.save(loud_chain(name=bad))
    assert not (ws.path / "chains").exists() or list((ws.path / "chains").iterdir()) == []


def test_remove_forgets_and_deletes_the_file(ws: Workspace) -> None:
    path = ws.chains.save(loud_chain())
    ws.chains.remove("loud")
    assert not path.exists() and "loud" not in ws.chains
    with pytest.raises(ToolNotFoundError, match="No chain named 'loud'. Known chains: none yet."):
        ws.chains.get("loud")
    with pytest.raises(ToolNotFoundError):
        ws.chains.remove("loud")


def test_a_corrupt_file_is_reported_by_name_kept_and_not_overwritten(ws: Workspace) -> None:
    ws.chains.save(loud_chain())
    folder = ws.path / "chains"
    broken = folder / "broken.json"
    broken.write_text('{"name": "broken", "steps": [')
    wrong = folder / "wrong.json"
    wrong.write_text(json.dumps({"name": "wrong", "steps": [{"id": "a", "tool": "shout",
                                                             "arguments": {"x": {"ref": "steps.a"}}}]}))
    other = folder / "other.json"
    other.write_text(json.dumps(json.loads(loud_chain().model_dump_json())))  # holds the chain "loud"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    fresh = Workspace(ws.path)
    report = fresh.chains.load()
    assert report.loaded == ["loud"]
    assert set(report.errors) == {"broken", "wrong", "other"}
    assert report.errors["broken"].startswith("not valid JSON")
    assert "invalid reference 'steps.a'" in report.errors["wrong"]
    assert "the file name must be the chain's name" in report.errors["other"]
    assert "Could not load broken: not valid JSON" in repr(report)
    assert fresh.chains.report.errors == report.errors
    with pytest.raises(ToolNotFoundError, match="Chain 'broken' could not be loaded: not valid JSON"):
        fresh.chains.get("broken")

    with pytest.raises(StateFileError, match="it was not overwritten"):
        fresh.chains.save(loud_chain(name="broken"))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before

    fresh.chains.save(loud_chain(name="broken"), overwrite=True)
    kept = [p for p in folder.iterdir() if p.name.startswith("broken.json.corrupt-")]
    assert len(kept) == 1 and kept[0].read_bytes() == before["broken.json"]
    assert fresh.chains.get("broken").name == "broken"


def test_export_and_import_share_a_single_chain(ws: Workspace, tmp_path: Path) -> None:
    ws.chains.save(loud_chain())
    shared = tmp_path / "shared"
    shared.mkdir()
    exported = ws.chains.export("loud", shared)
    assert exported == shared / "loud.json"
    assert exported.read_text() == (ws.path / "chains" / "loud.json").read_text()

    other = Workspace(tmp_path / "other")
    assert other.chains.import_(exported) == loud_chain()
    assert (other.path / "chains" / "loud.json").exists() and other.chains.names() == ["loud"]
    with pytest.raises(StateFileError, match="already exists"):
        other.chains.import_(exported)
    assert other.chains.import_(ws.chains.export("loud", tmp_path / "copy.json"), overwrite=True).name == "loud"


def test_the_shipped_schema_is_in_sync_with_the_models() -> None:
    shipped = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert shipped == chain_json_schema(), (
        "halion_nb/chain.schema.json is stale; regenerate it with\n"
        "  python -c 'from halion_nb.core.toolchain_registry import write_schema; write_schema()'"
    )


def test_saved_files_match_the_shipped_schema(ws: Workspace) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    chain = loud_chain(output=Ref("steps.first.output"), parallel=True)
    chain.steps[0].arguments["style"] = {"loud": True}
    jsonschema.validate(json.loads(ws.chains.save(chain).read_text()), schema)
    bad = {"name": "x", "steps": [{"id": "a", "tool": "t", "arguments": {"v": {"ref": "nowhere"}}}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
