"""Calls run off the server's event loop: a slow tool holds up nobody, two users' calls overlap and each is logged."""
from __future__ import annotations

import asyncio
import threading

WAIT = 30.0
"""Seconds a test waits for something that should happen at once (a bound against hanging, not a timing)."""


async def _until(event: threading.Event) -> None:
    for _ in range(int(WAIT / 0.01)):
        if event.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the tool never started")


async def test_a_slow_tool_does_not_block_get_tools(api, halion):
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        """Wait until the test lets go."""
        started.set()
        release.wait(WAIT)
        return "done"

    halion.workspace.tools.register(slow)
    call = asyncio.ensure_future(api("tools", "slow", "call", method="POST", body={}))
    try:
        await _until(started)
        status, body = await api("tools")
        assert status == 200 and "slow" in [t["name"] for t in body["tools"]]
        assert (await api("log"))[0] == 200
        assert not call.done()  # the slow call is still running while the server answered
    finally:
        release.set()
    status, body = await call
    assert (status, body["result"]) == (200, "done")


async def test_concurrent_calls_from_two_users_are_both_logged_with_their_user(api, halion):
    both = threading.Barrier(2, timeout=WAIT)  # each call waits for the other: they must run at the same time

    def meet(who: str) -> str:
        """Wait for the other caller.

        Args:
            who: Who is calling.
        """
        both.wait()
        return who

    halion.workspace.tools.register(meet)
    replies = await asyncio.gather(
        api("tools", "meet", "call", method="POST", body={"arguments": {"who": "a"}}, user="alice"),
        api("tools", "meet", "call", method="POST", body={"arguments": {"who": "b"}}, user="bob"),
    )
    assert [(status, body["result"], body["user"]) for status, body in replies] == [(200, "a", "alice"),
                                                                                   (200, "b", "bob")]
    rows = halion.workspace.log.recent(5, tool="meet")
    assert sorted((r.user, r.result, r.caller) for r in rows) == [("alice", "a", "rest"), ("bob", "b", "rest")]
