"""The tool routes over a real Jupyter server: list, detail, switch, call; bad bodies are refused and change nothing."""
from __future__ import annotations

import json

import pytest


async def test_lists_every_tool_with_its_state(api, halion):
    halion.workspace.tools.disable("shout")
    status, body = await api("tools")
    assert status == 200
    tools = {t["name"]: t for t in body["tools"]}
    assert sorted(tools) == ["add", "fail", "shout"]
    assert tools["add"] == {"name": "add", "description": "Add two numbers.", "active": True, "postprocess": True,
                            "approval": False, "strict": True}
    assert tools["shout"]["active"] is False
    assert body["broken"] == {}


async def test_one_tool_has_schema_state_and_source(api):
    status, body = await api("tools", "add")
    assert status == 200
    assert body["state"] == {"active": True, "postprocess": True, "approval": False}
    assert body["parameters"]["required"] == ["a", "b"]
    assert body["schema"]["function"]["name"] == "add"
    assert "def add(a: int, b: int) -> int:" in body["source"]
    assert len(body["version"]) == 12


async def test_unknown_tool_is_404_naming_the_known_ones(api):
    status, body = await api("tools", "nope")
    assert (status, body["status"]) == (404, 404)
    assert "No tool named 'nope'" in body["message"] and "add" in body["message"]
    for method, parts, payload in (("PATCH", ("tools", "nope"), {"active": False}),
                                   ("POST", ("tools", "nope", "call"), {"arguments": {}})):
        status, body = await api(*parts, method=method, body=payload)
        assert status == 404, body


async def test_a_call_returns_the_result_and_is_logged_as_rest_with_the_user(api, halion):
    status, body = await api("tools", "add", "call", method="POST", body={"arguments": {"a": 2, "b": 3}}, user="alice")
    assert status == 200
    assert (body["ok"], body["result"], body["content"], body["user"], body["caller"]) == (True, 5, "5", "alice", "rest")
    row = halion.workspace.log.get(body["log_id"])
    assert (row.kind, row.name, row.caller, row.user, row.result) == ("tool", "add", "rest", "alice", 5)


async def test_a_tool_that_raises_is_an_outcome_not_a_server_error(api):
    status, body = await api("tools", "fail", "call", method="POST", body={"arguments": {"reason": "broken pipe"}})
    assert status == 200
    assert body["ok"] is False and body["error_kind"] == "raised" and "broken pipe" in body["error"]
    assert body["exception"] == "RuntimeError"


async def test_results_and_errors_are_redacted(api, halion):
    def echo(text: str) -> dict[str, str]:
        """Give the text back.

        Args:
            text: Anything.
        """
        return {"said": text}

    halion.workspace.tools.register(echo)
    halion.workspace.env.set("SERVICE_TOKEN", "tok-6f1d2e9a8b7c")
    status, body = await api("tools", "echo", "call", method="POST", body={"arguments": {"text": "tok-6f1d2e9a8b7c"}})
    assert status == 200
    assert body["result"] == {"said": "***"}
    assert "tok-6f1d2e9a8b7c" not in json.dumps(body)
    status, body = await api("tools", "fail", "call", method="POST", body={"arguments": {"reason": "tok-6f1d2e9a8b7c"}})
    assert "tok-6f1d2e9a8b7c" not in json.dumps(body)
    status, body = await api("log")
    assert "tok-6f1d2e9a8b7c" not in json.dumps(body)


@pytest.mark.parametrize("payload, expected", [
    ({"arguments": {"a": "two", "b": 3}}, "a"),
    ({"arguments": {"a": 1}}, "b: required argument is missing"),
    ({"arguments": {"a": 1, "b": 2, "c": 3}}, "c: unexpected argument"),
])
async def test_bad_arguments_are_400_with_each_problem(api, payload, expected):
    status, body = await api("tools", "add", "call", method="POST", body=payload)
    assert (status, body["status"], body["error_kind"]) == (400, 400, "arguments")
    assert any(expected in p for p in body["problems"]), body


@pytest.mark.parametrize("raw, expected", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object, not an array"),
    (b'"text"', "must be a JSON object, not a string"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    (b'{"arguments": "{\\"a\\": 1}"}', "Field 'arguments' must be an object, not a string"),
    (b'{"arguments": [1, 2]}', "Field 'arguments' must be an object, not an array"),
    (b'{"args": {}}', "Unknown field(s) 'args'"),
])
async def test_bad_call_bodies_are_400_and_nothing_runs(api, halion, raw, expected):
    status, body = await api("tools", "add", "call", method="POST", body=raw)
    assert (status, body["status"]) == (400, 400), body
    assert expected in body["message"]
    assert halion.workspace.log.recent(5) == []


async def test_a_huge_body_is_413_and_nothing_runs(api, halion):
    halion.max_body_size = 1000
    status, body = await api("tools", "shout", "call", method="POST", body={"arguments": {"text": "x" * 5000}})
    assert (status, body["status"]) == (413, 413)
    assert "limit is 1000 bytes" in body["message"]
    assert halion.workspace.log.recent(5) == []


async def test_an_empty_body_calls_a_tool_without_arguments(api, halion):
    def ping() -> str:
        """Answer pong."""
        return "pong"

    halion.workspace.tools.register(ping)
    status, body = await api("tools", "ping", "call", method="POST")
    assert (status, body["result"]) == (200, "pong")


async def test_a_switched_off_tool_is_409(api, halion):
    halion.workspace.tools.disable("add")
    status, body = await api("tools", "add", "call", method="POST", body={"arguments": {"a": 1, "b": 2}})
    assert (status, body["error_kind"]) == (409, "inactive")


async def test_patch_switches_a_tool_and_asks_for_approval(api, halion):
    status, body = await api("tools", "add", method="PATCH", body={"active": False, "postprocess": False})
    assert status == 200
    assert body["state"] == {"active": False, "postprocess": False, "approval": False}
    assert halion.workspace.tools.is_active("add") is False
    status, body = await api("tools", "add", method="PATCH", body={"active": True, "approval": True})
    assert body["state"] == {"active": True, "postprocess": False, "approval": True}
    assert halion.workspace.tools.needs_approval("add")


@pytest.mark.parametrize("payload, expected", [
    ({}, "Nothing to change"),
    ({"active": "false"}, "Field 'active' must be true or false, not a string"),
    ({"active": 0}, "Field 'active' must be true or false, not an integer"),
    ({"active": False, "colour": "red"}, "Unknown field(s) 'colour'"),
    ([False], "must be a JSON object"),
])
async def test_bad_patch_bodies_are_400_and_change_nothing(api, halion, payload, expected):
    status, body = await api("tools", "add", method="PATCH", body=payload)
    assert status == 400 and expected in body["message"], body
    assert halion.workspace.tools.is_active("add") is True


async def test_tools_needing_approval_are_refused_over_rest_and_the_refusal_is_logged(api, halion):
    halion.workspace.tools.require_approval("add")
    status, body = await api("tools", "add", "call", method="POST", body={"arguments": {"a": 1, "b": 2}}, user="bob")
    assert (status, body["error_kind"]) == (403, "denied")
    assert "HalionApp.allow_approval" in body["message"]
    row = halion.workspace.log.get(body["log_id"])
    assert (row.user, row.caller, row.result) == ("bob", "rest", None) and row.error


async def test_a_method_the_route_lacks_is_a_json_405(api):
    status, body = await api("tools", method="DELETE")
    assert (status, body["status"]) == (405, 405)


async def test_bad_arguments_echoing_a_secret_are_redacted_in_the_error(api, halion):
    halion.workspace.env.set("SERVICE_TOKEN", "tok-6f1d2e9a8b7c")
    status, body = await api("tools", "add", "call", method="POST", body={"arguments": {"a": "tok-6f1d2e9a8b7c", "b": 1}})
    assert status == 400 and body["problems"]
    assert "tok-6f1d2e9a8b7c" not in json.dumps(body)
