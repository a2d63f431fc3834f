"""The chain routes: list, read, save (checked first), run as the Jupyter user; and the log route."""
from __future__ import annotations

import json

import pytest
from conftest import plus_one

from halion_nb.core.toolchain_registry import chain_to_json


async def test_lists_and_reads_chains_with_their_problems(api, halion):
    ws = halion.workspace
    ws.chains.save(plus_one())
    broken = plus_one().model_copy(update={"name": "broken_steps"})
    broken.steps[0].tool = "gone"
    ws.chains.save(broken)
    status, body = await api("chains")
    assert status == 200
    listed = {c["name"]: c for c in body["chains"]}
    assert listed["plus_one"] == {"name": "plus_one", "description": "Add one.", "steps": 1, "inputs": ["n"],
                                  "parallel": False, "expose": False, "problems": []}
    assert "unknown tool 'gone'" in listed["broken_steps"]["problems"][0]
    status, body = await api("chains", "plus_one")
    assert (status, body["chain"], body["problems"]) == (200, chain_to_json(plus_one()), [])


async def test_an_unknown_chain_is_404_and_an_unreadable_file_409(api, halion):
    assert (await api("chains", "nope"))[0] == 404
    assert (await api("chains", "nope", "run", method="POST", body={"inputs": {}}))[0] == 404
    (halion.workspace.path / "chains").mkdir(exist_ok=True)
    (halion.workspace.path / "chains" / "mangled.json").write_text("{nope")
    status, body = await api("chains", "mangled")  # the file appeared after the server started: read again
    assert status == 409 and "not valid JSON" in body["message"]


async def test_put_creates_then_replaces_a_chain_file(api, halion):
    data = chain_to_json(plus_one())
    status, body = await api("chains", "plus_one", method="PUT", body=data)
    assert (status, body["problems"]) == (201, [])
    saved = json.loads((halion.workspace.path / "chains" / "plus_one.json").read_text())
    assert saved == data
    data["description"] = "Add one, again."
    del data["name"]  # the URL names it
    status, body = await api("chains", "plus_one", method="PUT", body=data)
    assert (status, body["chain"]["description"]) == (200, "Add one, again.")
    assert halion.workspace.chains.get("plus_one").description == "Add one, again."


@pytest.mark.parametrize("change, expected", [
    ({"name": "other"}, "the URL names 'plus_one'"),
    ({"steps": "none"}, "steps: Input should be a valid list"),
    ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ({"steps": [{"id": "sum", "tool": "nope", "arguments": {}}]}, "unknown tool 'nope'"),
    ({"steps": [{"id": "sum", "tool": "add", "arguments": {"a": {"ref": "inputs.m"}, "b": 1}}]},
     "refers to unknown input 'm'"),
    ({"steps": [{"id": "bad id", "tool": "add", "arguments": {}}]}, "step 'bad id': id:"),
])
async def test_put_refuses_an_invalid_chain_and_saves_nothing(api, halion, change, expected):
    ws = halion.workspace
    ws.chains.save(plus_one())
    before = (ws.path / "chains" / "plus_one.json").read_bytes()
    status, body = await api("chains", "plus_one", method="PUT", body={**chain_to_json(plus_one()), **change})
    assert (status, body["status"]) == (400, 400)
    assert expected in body["message"], body
    assert (ws.path / "chains" / "plus_one.json").read_bytes() == before


@pytest.mark.parametrize("raw", [b"", b"{oops", b"[]", b"null"])
async def test_put_needs_a_json_object(api, raw):
    status, body = await api("chains", "plus_one", method="PUT", body=raw)
    assert status == 400 and body["message"]


async def test_put_over_an_unreadable_file_is_409_and_keeps_it(api, halion):
    folder = halion.workspace.path / "chains"
    folder.mkdir(exist_ok=True)
    (folder / "plus_one.json").write_text("{half a file")
    status, body = await api("chains", "plus_one", method="PUT", body=chain_to_json(plus_one()))
    assert status == 409 and "could not be loaded" in body["message"]
    assert (folder / "plus_one.json").read_text() == "{half a file"


async def test_a_run_returns_every_step_and_is_logged_with_the_user(api, halion):
    halion.workspace.chains.save(plus_one())
    status, body = await api("chains", "plus_one", "run", method="POST", body={"inputs": {"n": 41}}, user="alice")
    assert status == 200
    assert (body["ok"], body["output"], body["failed_step"]) == (True, 42, None)
    assert body["steps"] == [{"id": "sum", "tool": "add", "status": "ok", "arguments": {"a": 41, "b": 1},
                              "result": 42, "error": None, "duration_ms": body["steps"][0]["duration_ms"]}]
    rows = halion.workspace.log.recent(5)
    assert [(r.kind, r.caller, r.user) for r in rows] == [("chain", "rest", "alice"), ("step", "rest", "alice")]


async def test_a_failing_step_is_a_finished_run_with_the_error(api, halion):
    chain = plus_one().model_copy(update={"name": "fails"})
    chain.steps[0].tool, chain.steps[0].arguments = "fail", {"reason": "disk full"}
    halion.workspace.chains.save(chain)
    status, body = await api("chains", "fails", "run", method="POST", body={"inputs": {"n": 1}})
    assert status == 200
    assert (body["ok"], body["failed_step"]) == (False, "sum")
    assert "disk full" in body["error"] and body["steps"][0]["status"] == "error"


@pytest.mark.parametrize("payload, expected", [
    ({"inputs": {"n": "many"}}, "input n"),
    ({"inputs": {}}, "input 'n': required input is missing"),
    ({"inputs": {"n": 1, "m": 2}}, "input 'm': unknown input"),
    ({"inputs": [1]}, "Field 'inputs' must be an object, not an array"),
    ({"input": {"n": 1}}, "Unknown field(s) 'input'"),
])
async def test_wrong_inputs_are_400_and_nothing_runs(api, halion, payload, expected):
    halion.workspace.chains.save(plus_one())
    status, body = await api("chains", "plus_one", "run", method="POST", body=payload)
    assert status == 400 and expected in body["message"], body
    assert halion.workspace.log.recent(5) == []


async def test_a_chain_that_cannot_run_now_is_409(api, halion):
    halion.workspace.chains.save(plus_one())
    halion.workspace.tools.disable("add")
    status, body = await api("chains", "plus_one", "run", method="POST", body={"inputs": {"n": 1}})
    assert status == 409 and "inactive" in body["message"]
    assert body["problems"]


async def test_a_step_needing_approval_refuses_the_run_before_anything_runs(api, halion):
    halion.workspace.chains.save(plus_one())
    halion.workspace.tools.require_approval("add")
    status, body = await api("chains", "plus_one", "run", method="POST", body={"inputs": {"n": 1}})
    assert (status, body["refused"]) == (403, ["add"])
    assert halion.workspace.log.recent(5) == []


async def test_the_log_filters_and_shows_caller_and_user(api, halion):
    for user, args in (("alice", {"a": 1, "b": 1}), ("bob", {"a": 2, "b": 2}), ("bob", {"a": "x", "b": 2})):
        await api("tools", "add", "call", method="POST", body={"arguments": args}, user=user)
    status, body = await api("log")
    assert status == 200
    assert [(r["user"], r["caller"], r["kind"], r["name"]) for r in body["rows"]] == [
        ("bob", "rest", "tool", "add"), ("bob", "rest", "tool", "add"), ("alice", "rest", "tool", "add")]
    assert len((await api("log", params={"n": 1}))[1]["rows"]) == 1
    assert [r["result"] for r in (await api("log", params={"user": "alice"}))[1]["rows"]] == [2]
    errors = (await api("log", params={"errors": "true"}))[1]["rows"]
    assert len(errors) == 1 and errors[0]["error"]
    assert (await api("log", params={"kind": "chain"}))[1]["rows"] == []
    assert len((await api("log", params={"tool": "add", "caller": "rest"}))[1]["rows"]) == 3


@pytest.mark.parametrize("params, expected", [
    ({"n": "ten"}, "'n' must be a whole number"),
    ({"n": "-1"}, "'n' must be between 0 and 1000"),
    ({"n": "5000"}, "'n' must be between 0 and 1000"),
    ({"kind": "cat"}, "'kind' must be one of model, tool, chain, step"),
    ({"errors": "maybe"}, "'errors' must be true or false"),
])
async def test_bad_log_parameters_are_400(api, params, expected):
    status, body = await api("log", params=params)
    assert status == 400 and expected in body["message"]


async def test_an_unreadable_log_is_a_json_500_saying_what_to_do(api, halion):
    log_file = halion.workspace.log.path
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_bytes(b"this is not sqlite" * 100)
    status, body = await api("log")
    assert (status, body["status"]) == (500, 500)
    assert "not a readable SQLite database" in body["message"] and "Move it aside" in body["message"]
    assert log_file.read_bytes() == b"this is not sqlite" * 100


async def test_a_chain_saved_over_rest_records_the_jupyter_user_in_its_history(api, halion):
    status, _ = await api("chains", "plus_one", method="PUT", body=chain_to_json(plus_one()), user="alice")
    assert status == 201
    assert [v.who for v in halion.workspace.chains.history("plus_one")] == ["alice"]
