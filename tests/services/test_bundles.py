"""Chain bundles: a chain travels with its tools' source; hostile or conflicting bundles write nothing."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from halion_nb.display.printers import formats
from halion_nb.services.bundles import FORMAT_VERSION, MAX_BUNDLE_BYTES, BundleError
from halion_nb.workspace import Workspace

GREET = '''def greet(name: str) -> str:
    """Say hello.

    Args:
        name: who to greet
    """
    return "Hello, " + name
'''
SHOUT = '''def shout(text: str) -> str:
    """Upper-case the text.

    Args:
        text: what to shout
    """
    return text.upper() + "!"
'''
CHAIN = {"name": "welcome", "inputs": [{"name": "who", "type": "string"}], "steps": [
    {"id": "g", "tool": "greet", "arguments": {"name": {"ref": "inputs.who"}}},
    {"id": "s", "tool": "shout", "arguments": {"text": {"ref": "steps.g.output"}}}]}


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` with the hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A bundle exported from a workspace holding the `welcome` chain and its two tools."""
    ws = Workspace(tmp_path / "from")
    ws.tools.update_source(None, GREET)
    ws.tools.update_source(None, SHOUT)
    ws.chains.save(CHAIN)
    return ws.chains.export_bundle("welcome", tmp_path)


def edited(bundle: Path, change: Any) -> Path:
    data = json.loads(bundle.read_text())
    change(data)
    bundle.write_text(json.dumps(data))
    return bundle


def test_a_bundle_imports_into_a_fresh_workspace_and_its_chain_runs(bundle: Path, tmp_path: Path) -> None:
    data = json.loads(bundle.read_text())
    assert bundle.name == "welcome.bundle.json" and data["format_version"] == FORMAT_VERSION
    assert [(t["name"], t["version"]) for t in data["tools"]] == [
        ("greet", hashlib.sha256(GREET.encode()).hexdigest()[:12]), ("shout", hashlib.sha256(SHOUT.encode()).hexdigest()[:12])]
    target = tmp_path / "to"
    ws = Workspace(target)
    report = ws.chains.import_bundle(bundle)
    assert report.added == ["greet", "shout", "chain:welcome"] and report.ok and not report.applied
    assert "ready to import" in repr(report) and not target.exists()  # nothing written before accept
    assert "code of <code>greet</code>" in formats(report)["text/html"]
    report.accept()
    assert report.applied and len(report.written) == 3
    assert ws.chains.run("welcome", who="Ada").output == "HELLO, ADA!"
    again = Workspace(target)  # a restart: the files alone carry it
    assert again.chains.run("welcome", who="Bo").output == "HELLO, BO!"
    assert [v.message for v in again.tools.history("greet")] == ["imported from welcome.bundle.json"]
    row = again.log.recent(kind="step", tool="greet")[0]
    assert again.tools.source_at("greet", row.version) == GREET  # the same hash as where it came from
    assert "nothing new" in repr(again.chains.import_bundle(bundle, accept=True))


def test_accept_true_writes_at_once_and_bytes_import_too(bundle: Path, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "to")
    report = ws.chains.import_bundle(bundle.read_bytes(), accept=True)
    assert report.applied and ws.chains.run("welcome", who="Ada").output == "HELLO, ADA!"


def test_a_conflict_is_refused_unless_overwrite(bundle: Path, tmp_path: Path) -> None:
    target = tmp_path / "to"
    ws = Workspace(target)
    ws.tools.update_source(None, GREET.replace("Hello", "Hi"))
    ws.tools.update_source(None, SHOUT)  # identical: skipped
    before = tree(target)
    report = ws.chains.import_bundle(bundle, accept=True)
    assert report.conflicts == ["greet"] and report.identical == ["shout"] and not report.applied
    assert "overwrite=True" in " ".join(report.blocked)
    with pytest.raises(BundleError, match="was not imported"):
        report.accept()
    assert tree(target) == before and ws.tools.get("greet")(name="x") == "Hi, x"
    replaced = ws.chains.import_bundle(bundle, overwrite=True, accept=True)
    assert replaced.applied and ws.chains.run("welcome", who="Ada").output == "HELLO, ADA!"
    assert [v.message for v in ws.tools.history("greet")] == [None, "imported from welcome.bundle.json"]


HOSTILE = {
    "not JSON": lambda p: p.write_text('{"format": "halion-bundle", '),
    "not UTF-8": lambda p: p.write_bytes(b"\xff\xfe{}"),
    "not a bundle": lambda p: p.write_text('{"name": "welcome", "steps": []}'),
    "huge": lambda p: p.write_text(" " * (MAX_BUNDLE_BYTES + 1) + "{}"),
    "newer format": lambda p: edited(p, lambda d: d.update(format_version=FORMAT_VERSION + 1, more="new")),
    "traversal in a tool name": lambda p: edited(p, lambda d: d["tools"][0].update(name="../../evil")),
    "traversal in the chain name": lambda p: edited(p, lambda d: d["chain"].update(name="../welcome")),
    "code not matching its hash": lambda p: edited(p, lambda d: d["tools"][0].update(
        source=d["tools"][0]["source"] + "import os\nos.system('rm -rf ~')\n")),
    "a tool the chain does not use": lambda p: edited(p, lambda d: d["tools"].append(
        {"name": "extra", "version": hashlib.sha256(b"x").hexdigest()[:12], "source": "x"})),
    "a tool twice": lambda p: edited(p, lambda d: d["tools"].append(d["tools"][0])),
}


@pytest.mark.parametrize("how", list(HOSTILE))
def test_hostile_and_corrupt_bundles_are_refused_and_write_nothing(how: str, bundle: Path, tmp_path: Path) -> None:
    HOSTILE[how](bundle)
    target = tmp_path / "to"
    ws = Workspace(target)
    ws.tools.update_source(None, SHOUT)
    before = tree(target)
    with pytest.raises(BundleError, match="Nothing was written") as err:
        ws.chains.import_bundle(bundle, accept=True, overwrite=True)
    assert "\n" not in str(err.value)
    assert tree(target) == before
    assert not (tmp_path / "evil.py").exists() and not list(tmp_path.rglob("evil*"))


def _with_code(bundle: Path, name: str, code: str) -> Path:
    def change(data: dict[str, Any]) -> None:
        tool = next(t for t in data["tools"] if t["name"] == name)
        tool.update(source=code, version=hashlib.sha256(code.encode()).hexdigest()[:12])
    return edited(bundle, change)


def test_code_with_warnings_is_reported_and_written_only_when_the_person_accepts(bundle: Path, tmp_path: Path) -> None:
    risky = "import subprocess\n\n" + SHOUT.replace('return text.upper() + "!"',
                                                    'return subprocess.run(["echo", text.upper() + "!"], '
                                                    'capture_output=True, text=True).stdout.strip()')
    _with_code(bundle, "shout", risky)
    target = tmp_path / "to"
    ws = Workspace(target)
    report = ws.chains.import_bundle(bundle, accept=True)
    assert not report.applied and not target.exists()
    assert "runs other programs" in " ".join(report.warnings["shout"]) and report.ok
    assert "warning (shout)" in repr(report)
    report.accept()  # the person read the warning and accepts
    assert ws.chains.run("welcome", who="Ada").output == "HELLO, ADA!"


def test_code_with_problems_or_failing_at_load_writes_nothing(bundle: Path, tmp_path: Path) -> None:
    target = tmp_path / "to"
    ws = Workspace(target)
    _with_code(bundle, "shout", SHOUT.replace('"""Upper-case the text.\n\n    Args:\n        text: what to shout\n    """\n', ""))
    report = ws.chains.import_bundle(bundle)
    assert not report.ok and "has no docstring" in " ".join(report.blocked)
    with pytest.raises(BundleError):
        report.accept()
    _with_code(bundle, "shout", "raise RuntimeError('boom at import')\n\n" + SHOUT)
    report = ws.chains.import_bundle(bundle)
    with pytest.raises(BundleError, match="boom at import.*Nothing was written"):
        report.accept()
    assert not target.exists() and "greet" not in ws.tools


def test_a_tool_with_a_secret_or_no_source_is_not_exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace(tmp_path)
    ws.tools.update_source(None, GREET)
    ws.chains.save({"name": "one", "steps": [{"id": "g", "tool": "greet", "arguments": {"name": "x"}}]})
    ws.env.set("GREETING_TOKEN", "sk-secret-value-1234567890")
    ws.tools.update_source("greet", GREET.replace('"Hello, "', '"sk-secret-value-1234567890"'), save=False)
    with pytest.raises(BundleError, match="secret"):
        ws.chains.export_bundle("one", tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()
