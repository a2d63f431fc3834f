"""Jupyter's own auth guards every route: a token is needed, and the authorizer decides read, write and execute."""
from __future__ import annotations

import pytest
from conftest import NoExecute, plus_one

ROUTES = [("GET", ("tools",)), ("GET", ("tools", "add")), ("PATCH", ("tools", "add")),
          ("POST", ("tools", "add", "call")), ("GET", ("chains",)), ("GET", ("chains", "c")),
          ("PUT", ("chains", "c")), ("POST", ("chains", "c", "run")), ("GET", ("log",)), ("GET", ("openapi.json",))]


@pytest.mark.parametrize("method, parts", ROUTES)
async def test_every_route_refuses_a_request_without_a_valid_token(api, halion, method, parts):
    body = {"arguments": {"a": 1, "b": 2}} if parts[-1] == "call" else {"active": False}
    status, reply = await api(*parts, method=method, body=body if method != "GET" else None,
                              headers={"Authorization": "token not-the-token"})
    assert (status, reply["status"]) == (403, 403)
    assert halion.workspace.log.recent(5) == []
    assert halion.workspace.tools.is_active("add")


@pytest.mark.parametrize("halion_config", [{"ServerApp": {"authorizer_class": NoExecute}}], indirect=True)
async def test_an_authorizer_refusing_execute_blocks_calls_and_runs_but_not_reading(api, halion):
    halion.workspace.chains.save(plus_one())
    status, body = await api("tools", "add", "call", method="POST", body={"arguments": {"a": 1, "b": 2}})
    assert (status, body["status"]) == (403, 403)
    assert "execute" in body["message"]
    status, body = await api("chains", "plus_one", "run", method="POST", body={"inputs": {"n": 1}})
    assert status == 403
    assert halion.workspace.log.recent(5) == []
    assert (await api("tools"))[0] == 200
    assert (await api("chains", "plus_one"))[0] == 200
    assert (await api("tools", "add", method="PATCH", body={"postprocess": False}))[0] == 200


@pytest.mark.parametrize("halion_config", [{"HalionApp": {"allow_approval": ["add"]}}], indirect=True)
async def test_the_server_config_can_allow_a_tool_that_needs_approval(api, halion):
    halion.workspace.tools.require_approval("add")
    halion.workspace.tools.require_approval("shout")
    status, body = await api("tools", "add", "call", method="POST", body={"arguments": {"a": 1, "b": 2}})
    assert (status, body["result"]) == (200, 3)
    status, body = await api("tools", "shout", "call", method="POST", body={"arguments": {"text": "hi"}})
    assert (status, body["error_kind"]) == (403, "denied")

