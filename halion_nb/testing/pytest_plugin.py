"""Pytest plugin: forbid non-loopback connections in tests, and a ``fake_openai`` fixture.

Enable with ``pytest_plugins = ["halion_nb.testing.pytest_plugin"]`` in a root ``conftest.py``.
Mark a test ``@pytest.mark.allow_network`` to switch the guard off for it.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from . import FakeOpenAI, NetworkGuard, block_network

_GUARD = pytest.StashKey[NetworkGuard]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_network: let this test reach non-loopback addresses")


def _report(guard: NetworkGuard) -> None:
    if guard.violations:
        found, guard.violations[:] = list(guard.violations), []
        pytest.fail("the test tried to reach the network:\n" + "\n".join(found), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail a test that passed although it tried the network (it swallowed ``NetworkBlocked``)."""
    guard = item.stash.get(_GUARD, None)
    try:
        result = yield
    except BaseException:
        if guard is not None and guard.violations:  # failed anyway: list the attempts with its report
            item.add_report_section("call", "blocked network access", "\n".join(guard.violations))
            guard.violations.clear()
        raise
    if guard is not None:
        _report(guard)
    return result


@pytest.fixture(autouse=True)
def no_network(request: pytest.FixtureRequest) -> Iterator[None]:
    """Make every non-loopback connection raise ``NetworkBlocked``; a test that tried one fails."""
    if request.node.get_closest_marker("allow_network"):
        yield
        return
    with block_network() as guard:
        request.node.stash[_GUARD] = guard
        yield
    _report(guard)  # attempts made by fixtures, or by a test that failed anyway


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A started ``FakeOpenAI``; script it, point the SDK at ``fake_openai.base_url``."""
    with FakeOpenAI() as server:
        yield server
