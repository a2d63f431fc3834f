"""Every HalionError crosses a process boundary intact: a pickle round trip keeps its type, message and fields."""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import pickle
import pkgutil
from typing import Any

import cloudpickle
import pytest

import halion_nb
from halion_nb.errors import HalionError
from halion_nb.models import Toolchain, ToolchainStep
from halion_nb.services.chains import ChainRun, ChainRunError, StepResult


def _import_everything() -> None:
    """Import each halion_nb module, so subclasses defined anywhere (services, mcp, server ...) are seen."""
    for module in pkgutil.walk_packages(halion_nb.__path__, "halion_nb."):
        try:
            importlib.import_module(module.name)
        except ImportError:  # an optional extra that is missing: its errors cannot be raised either
            pass


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


_import_everything()
ERRORS = sorted({c for c in [HalionError, *_subclasses(HalionError)] if c.__module__.startswith("halion_nb")},
                key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _chain_run() -> ChainRun:
    chain = Toolchain(name="weather", steps=[ToolchainStep(id="fetch", tool="get_weather", arguments={})])
    step = StepResult("fetch", "get_weather", status="error", arguments={"city": "Oslo"}, error="ValueError: no")
    return ChainRun(chain=chain, inputs={"city": "Oslo"}, steps=[step], error="step 'fetch' failed: no",
                    failed_step="fetch", redact=lambda text: text.replace("Oslo", "***"))


SAMPLES: dict[str, Any] = {
    "message": "something went wrong; do this to fix it",
    "problems": ["step 'a': unknown tool 'b'"],
    "status": 404,
    "run": _chain_run(),
}


def _make(cls: type) -> BaseException:
    """An instance built through the class's own constructor, with a sample for each parameter."""
    params = [p for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
              if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if cls.__init__ is BaseException.__init__ or not params:
        return cls(SAMPLES["message"])
    missing = [p.name for p in params if p.default is p.empty and p.name not in SAMPLES]
    assert not missing, f"{cls.__qualname__}: add a sample for {missing} to SAMPLES"
    kwargs = {p.name: SAMPLES[p.name] for p in params if p.name in SAMPLES}
    if any(p.kind == p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values()):
        kwargs["hint"] = "extra field"
    return cls(**kwargs)


def _plain(value: Any) -> Any:
    """Comparable data: dataclasses by their fields (a redact function is not data), containers item by item."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != "redact"}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def test_the_family_is_found_in_every_module() -> None:
    names = {c.__name__ for c in ERRORS}
    assert {"HalionError", "ChainRunError", "ToolArgumentError", "ChainValidationError", "UsageError"} <= names


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__qualname__)
def test_every_halion_error_survives_a_pickle_round_trip(cls: type, dumps: Any) -> None:
    error = _make(cls)
    back = pickle.loads(dumps(error))
    assert type(back) is cls
    assert str(back) == str(error)
    assert back.args == error.args
    assert _plain(vars(back)) == _plain(vars(error))


def test_a_chain_run_error_keeps_the_run_and_its_redacted_message() -> None:
    error = ChainRunError(_chain_run())
    back = pickle.loads(pickle.dumps(error))
    assert str(back) == "Chain 'weather' failed: step 'fetch' failed: no"
    assert back.step == "fetch"
    assert back.run.steps[0].error == "ValueError: no"
    assert back.run.inputs == {"city": "Oslo"}
    assert repr(back.run)  # still displays on the other side


def test_a_redacted_message_stays_redacted_after_the_trip() -> None:
    run = _chain_run()
    run.error = "step 'fetch' failed: no weather for Oslo"
    back = pickle.loads(pickle.dumps(ChainRunError(run)))
    assert "Oslo" not in str(back)
