"""Issue 24.1: whether a tool needs approval is the owner's decision, never a REST client's."""
from __future__ import annotations

import json

import pytest


async def test_patch_approval_false_is_refused_and_the_tool_still_needs_approval(api, halion):
    halion.workspace.tools.require_approval("add")
    status, body = await api("tools", "add", method="PATCH", body={"approval": False}, user="bob")
    assert status == 403, body
    assert "approval" in body["message"] and "notebook" in body["message"]
    assert halion.workspace.tools.needs_approval("add")
    status, body = await api("tools", "add", "call", method="POST", body={"arguments": {"a": 1, "b": 2}})
    assert (status, body["error_kind"]) == (403, "denied")


@pytest.mark.parametrize("raw", [
    '{"approval": false}',
    '{"approval": true, "approval": false}',
    '{"approval": false, "approval": true}',
    '{"\\u0061pproval": false}',
    '{"approval": null}',
    '{"approval": "false"}',
    '{"approval": 0}',
    '{"active": true, "approval": false}',
])
async def test_hostile_bodies_cannot_switch_approval_off_and_change_nothing(api, halion, raw):
    tools = halion.workspace.tools
    tools.require_approval("add")
    tools.disable("add")
    status, body = await api("tools", "add", method="PATCH", body=raw)
    assert status in (400, 403), (status, body)
    assert tools.needs_approval("add") and not tools.is_active("add")  # nothing changed, not even `active`


async def test_duplicate_keys_are_refused_everywhere(api, halion):
    status, body = await api("tools", "add", "call", method="POST", body='{"arguments": {"a": 1, "a": 5, "b": 2}}')
    assert status == 400 and "more than once" in body["message"], body


async def test_switching_approval_on_stays_possible(api, halion):
    status, body = await api("tools", "add", method="PATCH", body={"approval": True})
    assert status == 200 and body["state"]["approval"] is True
    assert halion.workspace.tools.needs_approval("add")


async def test_a_lone_surrogate_in_rest_arguments_is_400_not_500(api, halion):
    status, body = await api("tools", "shout", "call", method="POST", body='{"arguments": {"text": "a\\ud83d"}}')
    assert status == 400 and body["error_kind"] == "arguments" and "lone surrogate" in body["message"], body
    row = halion.workspace.log.get(body["log_id"])
    assert row.name == "shout" and row.error


async def test_a_chain_with_a_lone_surrogate_literal_round_trips_over_rest(api, halion):
    raw = '{"steps": [{"id": "s", "tool": "shout", "arguments": {"text": "x\\ud83d"}}]}'
    status, body = await api("chains", "odd", method="PUT", body=raw)
    assert status == 201, body
    status, body = await api("chains", "odd")
    assert status == 200 and body["chain"]["steps"][0]["arguments"]["text"] == "x\ud83d"
    status, body = await api("chains", "odd", "run", method="POST", body={})
    assert status == 200 and "lone surrogate" in json.dumps(body)
