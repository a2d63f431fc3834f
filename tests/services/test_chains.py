"""Checking, running, offering and drafting toolchains in a real workspace with real tools."""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from halion_nb.display.printers import formats
from halion_nb.errors import ChainValidationError, HalionError
from halion_nb.models import ChainInput, Ref, Toolchain, ToolchainStep
from halion_nb.services.chains import ChainRunError
from halion_nb.testing import FakeOpenAI, reply
from halion_nb.workspace import Workspace

CALLS: list[str] = []
_lock = threading.Lock()


def get_weather(city: str) -> dict:
    """Current weather of a city.

    Args:
        city: The city's name.
    """
    CALLS.append(f"get_weather {city}")
    return {"city": city, "temperature": 20.0, "hours": [{"t": 18.5}, {"t": 21.0}]}


def c_to_f(celsius: float, digits: int = 1) -> float:
    """Celsius to Fahrenheit."""
    CALLS.append("c_to_f")
    return round(celsius * 9 / 5 + 32, digits)


def explode(message: str) -> str:
    """Always fails."""
    CALLS.append("explode")
    raise RuntimeError(message)


def nap(label: str, seconds: float = 0.15) -> str:
    """Sleep a little, then return the label."""
    time.sleep(seconds)
    return label


def join_words(words: list[str], sep: str = " ") -> str:
    """Join words."""
    CALLS.append("join_words")
    return sep.join(words)


def pair(first: str, second: str) -> str:
    """Two texts joined by a plus."""
    CALLS.append("pair")
    return f"{first}+{second}"


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    CALLS.clear()
    w = Workspace(tmp_path / "ws")
    for fn in (get_weather, c_to_f, explode, nap, join_words, pair):
        w.tools.register(fn)
    yield w
    w.log.close()


def weather_chain(**changes: Any) -> Toolchain:
    data: dict[str, Any] = {
        "name": "weather_f",
        "description": "Temperature of a city in Fahrenheit.",
        "inputs": [{"name": "city", "type": "string", "description": "Which city."},
                   {"name": "digits", "type": "integer", "required": False, "default": 0}],
        "steps": [
            {"id": "fetch", "tool": "get_weather", "arguments": {"city": {"ref": "inputs.city"}}},
            {"id": "convert", "tool": "c_to_f",
             "arguments": {"celsius": {"ref": "steps.fetch.output.temperature"}, "digits": {"ref": "inputs.digits"}}},
        ],
    }
    data.update(changes)
    return Toolchain.model_validate(data)


# validation
def test_validation_lists_every_problem_with_its_step_at_once(ws: Workspace) -> None:
    ws.tools.disable("join_words")
    chain = Toolchain(name="broken", inputs=[ChainInput(name="city")], steps=[
        ToolchainStep(id="fetch", tool="get_wether", arguments={"city": Ref("inputs.city")}),
        ToolchainStep(id="convert", tool="c_to_f",
                      arguments={"celsius": Ref("steps.later.output.temperature"), "digits": "two"}),
        ToolchainStep(id="later", tool="get_weather", arguments={}),
        ToolchainStep(id="later", tool="join_words", arguments={"words": ["a", "b"]}),
    ])
    problems = ws.chains.validate(chain)
    assert len(problems) == 6, problems
    text = "\n".join(problems)
    assert "step 'fetch': unknown tool 'get_wether'" in text and "Known tools: c_to_f, explode" in text
    assert "step 'convert': argument 'celsius' refers to step 'later', which runs later" in text
    assert "step 'convert': argument digits: " in text and "valid integer" in text and '"two"' in text
    assert "step 'later': missing required argument 'city'" in text
    assert "step 'later': duplicate step id" in text
    assert "step 'later': tool 'join_words' is inactive" in text
    assert ws.chains.validate(weather_chain()) == []


def test_unknown_refs_arguments_and_output_are_problems(ws: Workspace) -> None:
    chain = Toolchain(name="odd", steps=[
        ToolchainStep(id="a", tool="c_to_f", arguments={"celsius": Ref("inputs.nope"), "scale": 2}),
        ToolchainStep(id="b", tool="c_to_f", arguments={"celsius": Ref("steps.b.output")}),
        ToolchainStep(id="c", tool="c_to_f", arguments={"celsius": Ref("steps.ghost.output")}),
    ], output="steps.zzz.output")
    problems = ws.chains.validate(chain)
    assert problems == [
        "step 'a': argument 'celsius' refers to unknown input 'nope' (inputs.nope); the chain's inputs are none",
        "step 'a': unexpected argument 'scale'; the parameters of 'c_to_f' are celsius, digits",
        "step 'b': argument 'celsius' refers to the step's own output (steps.b.output)",
        "step 'c': argument 'celsius' refers to unknown step 'ghost' (steps.ghost.output)",
        "output: refers to unknown step 'zzz' (steps.zzz.output)",
    ]


def test_run_refuses_an_invalid_chain_before_calling_any_tool(ws: Workspace) -> None:
    chain = weather_chain(steps=[
        {"id": "fetch", "tool": "get_weather", "arguments": {"city": {"ref": "inputs.city"}}},
        {"id": "convert", "tool": "c_to_f", "arguments": {}},
        {"id": "gone", "tool": "missing_tool", "arguments": {}},
    ])
    with pytest.raises(ChainValidationError) as info:
        ws.chains.run(chain, city="Paris")
    assert info.value.problems == ["step 'convert': missing required argument 'celsius'",
                                   ("step 'gone': unknown tool 'missing_tool'. Known tools: c_to_f, explode, "
                                    "get_weather, join_words, nap, pair")]
    assert "Chain 'weather_f' cannot run" in str(info.value) and "- step 'gone'" in str(info.value)
    assert CALLS == [] and ws.log.count() == 0


def test_bad_references_are_refused_when_the_chain_is_built() -> None:
    for bad in ("steps.fetch", "steps.fetch.result", "input.city", "inputs.a..b", "steps.a.output[x]"):
        with pytest.raises(ValueError, match="invalid reference"):
            Ref(bad)
    with pytest.raises(ValueError, match="invalid reference 'steps.fetch'"):
        ToolchainStep.model_validate({"id": "a", "tool": "t", "arguments": {"x": {"ref": "steps.fetch"}}})
    step = ToolchainStep.model_validate({"id": "a", "tool": "t", "arguments": {"x": {"key": 1}, "y": [1]}})
    assert step.literals() == {"x": {"key": 1}, "y": [1]} and step.refs() == {}
    assert Ref("steps.s.output.items[0].name").path == ("items", "0", "name")


# runs
def test_run_resolves_inputs_field_paths_and_list_indices(ws: Workspace) -> None:
    chain = weather_chain(steps=[
        {"id": "fetch", "tool": "get_weather", "arguments": {"city": {"ref": "inputs.city"}}},
        {"id": "convert", "tool": "c_to_f",
         "arguments": {"celsius": {"ref": "steps.fetch.output.temperature"}, "digits": {"ref": "inputs.digits"}}},
        {"id": "evening", "tool": "c_to_f", "arguments": {"celsius": {"ref": "steps.fetch.output.hours[1].t"}}},
        {"id": "label", "tool": "join_words",
         "arguments": {"words": ["in", "Paris"], "sep": {"ref": "steps.fetch.output.city"}}},
    ], output={"ref": "steps.convert.output"})
    run = ws.chains.run(chain, city="-")
    assert run.ok and run.error is None
    assert run.output == 68.0
    assert [s.status for s in run.steps] == ["ok"] * 4
    assert run.step("convert").arguments == {"celsius": 20.0, "digits": 0}
    assert run.step("evening").result == 69.8
    assert run.step("label").result == "in-Paris"
    assert all(s.duration_ms is not None and s.started and s.ended for s in run.steps)


def test_default_output_is_the_last_step_and_optional_inputs_take_defaults(ws: Workspace) -> None:
    run = ws.chains.run(weather_chain(), city="Oslo")
    assert run.output == 68.0 and run.inputs == {"city": "Oslo", "digits": 0}
    assert ws.chains.run(weather_chain(), city="Oslo", digits=2).output == 68.0


def test_inputs_are_checked_against_the_declared_ones(ws: Workspace) -> None:
    with pytest.raises(ChainValidationError) as info:
        ws.chains.run(weather_chain(), town="Paris")
    assert info.value.problems == [
        "input 'town': unknown input; the chain's inputs are city, digits",
        "input 'city': required input is missing",
    ]
    with pytest.raises(ChainValidationError, match="input digits: .*valid integer"):
        ws.chains.run(weather_chain(), city="Paris", digits="many")
    assert CALLS == []


def test_a_failing_step_stops_the_run_and_keeps_what_was_done(ws: Workspace) -> None:
    chain = weather_chain(steps=[
        {"id": "fetch", "tool": "get_weather", "arguments": {"city": {"ref": "inputs.city"}}},
        {"id": "boom", "tool": "explode", "arguments": {"message": "the sensor is down"}},
        {"id": "convert", "tool": "c_to_f", "arguments": {"celsius": {"ref": "steps.fetch.output.temperature"}}},
    ])
    run = ws.chains.run(chain, city="Lima")
    assert not run.ok and run.output is None
    assert run.failed_step == "boom"
    assert run.error == "step 'boom' (explode) failed: RuntimeError: the sensor is down"
    assert [s.status for s in run.steps] == ["ok", "error", "skipped"]
    assert run.step("fetch").result["city"] == "Lima"
    assert run.step("convert").arguments is None
    assert CALLS == ["get_weather Lima", "explode"]
    assert "failed" in repr(run) and "boom error" in repr(run)  # plain repr(), outside IPython
    text = formats(run)["text/plain"]  # what a notebook shows
    assert "failed" in text and "✗ boom (explode) error" in text and "– convert (c_to_f) skipped" in text


def test_a_reference_that_does_not_resolve_fails_its_step_clearly(ws: Workspace) -> None:
    chain = weather_chain(steps=[
        {"id": "fetch", "tool": "get_weather", "arguments": {"city": {"ref": "inputs.city"}}},
        {"id": "convert", "tool": "c_to_f", "arguments": {"celsius": {"ref": "steps.fetch.output.temp"}}},
        {"id": "late", "tool": "c_to_f", "arguments": {"celsius": {"ref": "steps.fetch.output.hours[5].t"}}},
    ])
    run = ws.chains.run(chain, city="Rome")
    assert run.step("convert").status == "error"
    assert run.step("convert").error == ("reference 'steps.fetch.output.temp': steps.fetch.output has no key "
                                         "'temp' (keys: city, temperature, hours)")
    chain.steps.pop(1)
    run = ws.chains.run(chain, city="Rome")
    assert run.step("late").error == ("reference 'steps.fetch.output.hours[5].t': index 5 is out of range "
                                      "(steps.fetch.output.hours has 2 items)")


def test_a_resolved_value_of_the_wrong_type_is_a_step_error(ws: Workspace) -> None:
    chain = weather_chain(steps=[
        {"id": "fetch", "tool": "get_weather", "arguments": {"city": {"ref": "inputs.city"}}},
        {"id": "convert", "tool": "c_to_f", "arguments": {"celsius": {"ref": "steps.fetch.output.city"}}},
    ])
    run = ws.chains.run(chain, city="Rome")
    assert run.failed_step == "convert"
    assert run.step("convert").error.startswith("invalid arguments: celsius: Input should be a valid number")


def test_parallel_steps_overlap_and_dependents_wait(ws: Workspace) -> None:
    steps = [{"id": f"n{i}", "tool": "nap", "arguments": {"label": f"w{i}"}} for i in range(4)]
    steps.append({"id": "joined", "tool": "pair", "arguments": {
        "first": {"ref": "steps.n0.output"}, "second": {"ref": "steps.n3.output"}}})
    chain = Toolchain.model_validate({"name": "fan", "parallel": True, "steps": steps})
    run = ws.chains.run(chain)
    assert run.ok, run.error
    naps = run.steps[:4]
    for a, b in combinations(naps, 2):
        assert a.started < b.ended and b.started < a.ended, f"{a.id} and {b.id} did not overlap"
    assert run.step("joined").started >= max(s.ended for s in naps[0:4:3])
    assert run.output == "w0+w3"


def test_sequential_chains_run_one_step_after_another(ws: Workspace) -> None:
    steps = [{"id": f"n{i}", "tool": "nap", "arguments": {"label": "x", "seconds": 0.02}} for i in range(3)]
    run = ws.chains.run(Toolchain.model_validate({"name": "seq", "steps": steps}))
    for a, b in zip(run.steps, run.steps[1:]):
        assert a.ended <= b.started


def test_a_parallel_failure_skips_what_was_not_started(ws: Workspace) -> None:
    chain = Toolchain.model_validate({"name": "fan", "parallel": True, "steps": [
        {"id": "slow", "tool": "nap", "arguments": {"label": "done", "seconds": 0.1}},
        {"id": "boom", "tool": "explode", "arguments": {"message": "no"}},
        {"id": "after", "tool": "join_words", "arguments": {"words": {"ref": "steps.boom.output"}}},
    ]})
    run = ws.chains.run(chain)
    assert {s.id: s.status for s in run.steps} == {"slow": "ok", "boom": "error", "after": "skipped"}
    assert run.failed_step == "boom" and "join_words" not in CALLS


# call log
def test_every_run_and_step_is_in_the_call_log(ws: Workspace) -> None:
    ws.chains.run(weather_chain(), city="Paris")
    chain_rows = ws.log.recent(kind="chain")
    step_rows = ws.log.recent(kind="step")
    assert len(chain_rows) == 1 and len(step_rows) == 2
    row = chain_rows[0]
    assert row.name == "weather_f" and row.arguments == {"city": "Paris", "digits": 0} and row.result == 68.0
    assert row.error is None and row.duration_ms is not None
    assert [(r.name, r.meta["chain"], r.meta["step"]) for r in reversed(step_rows)] == [
        ("get_weather", "weather_f", "fetch"), ("c_to_f", "weather_f", "convert")]
    assert {r.meta["run"] for r in step_rows} == {row.meta["run"]}
    assert step_rows[0].arguments == {"celsius": 20.0, "digits": 0}


def test_a_failed_run_is_logged_with_its_error(ws: Workspace) -> None:
    chain = weather_chain(steps=[{"id": "boom", "tool": "explode", "arguments": {"message": "down"}}])
    ws.chains.run(chain, city="x")
    assert ws.log.recent(kind="step")[0].error == "RuntimeError: down"
    row = ws.log.recent(kind="chain")[0]
    assert "step 'boom' (explode) failed" in row.error and row.meta["failed_step"] == "boom"


# chains as tools
def test_as_tool_takes_the_inputs_as_parameters_and_runs_the_chain(ws: Workspace) -> None:
    tool = ws.chains.as_tool(weather_chain())
    function = tool.schema["function"]
    assert function["name"] == "weather_f"
    assert function["description"] == "Temperature of a city in Fahrenheit."
    params = tool.spec.loose_parameters
    assert params["properties"]["city"] == {"type": "string", "description": "Which city."}
    assert params["required"] == ["city"] and params["properties"]["digits"]["default"] == 0
    assert tool.call({"city": "Paris"}) == 68.0
    assert tool.call('{"city": "Paris", "digits": 1}') == 68.0
    assert ws.log.count(kind="chain") == 2
    with pytest.raises(HalionError, match="city: required argument is missing"):
        tool.call({})


def test_a_failing_chain_tool_raises_naming_the_step(ws: Workspace) -> None:
    chain = weather_chain(steps=[
        {"id": "fetch", "tool": "get_weather", "arguments": {"city": {"ref": "inputs.city"}}},
        {"id": "boom", "tool": "explode", "arguments": {"message": {"ref": "steps.fetch.output.city"}}},
    ])
    tool = ws.chains.as_tool(chain)
    with pytest.raises(ChainRunError) as info:
        tool.call({"city": "Quito"})
    assert isinstance(info.value, HalionError) and info.value.step == "boom"
    assert str(info.value) == "Chain 'weather_f' failed: step 'boom' (explode) failed: RuntimeError: Quito"
    assert info.value.run.step("fetch").status == "ok"


def test_exposed_chains_are_offered_to_the_model(ws: Workspace, caplog: pytest.LogCaptureFixture) -> None:
    ws.chains.save(weather_chain(expose=True))
    ws.chains.save(weather_chain(name="hidden"))
    ws.chains.save(weather_chain(name="c_to_f", expose=True))  # named like a tool
    ws.chains.save(weather_chain(name="needs_off_tool", expose=True,
                                 steps=[{"id": "a", "tool": "explode", "arguments": {"message": "x"}}]))
    ws.tools.disable("explode")
    with caplog.at_level(logging.WARNING, logger="halion_nb.services.chains"):
        offered = {t.name: t for t in ws.offered_tools()}
        ws.offered_tools()
    assert "weather_f" in offered and "hidden" not in offered and "needs_off_tool" not in offered
    assert offered["c_to_f"].function is c_to_f  # the tool, not the chain
    assert offered["weather_f"].call({"city": "Paris"}) == 68.0
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2, warnings  # each said once
    assert any("'c_to_f' is not offered" in w and "a tool has that name" in w for w in warnings)
    assert any("'needs_off_tool' is not offered" in w and "inactive" in w for w in warnings)


# drafting
def draft_answer(steps: list[dict[str, Any]], output_ref: str | None = None, **extra: Any) -> Any:
    data = {"name": "weather_f", "description": "Temperature in Fahrenheit.",
            "inputs": [{"name": "city", "type": "string", "description": "City", "required": True,
                        "default_json": None}],
            "steps": steps, "output_ref": output_ref, "parallel": False, **extra}
    return reply(json_content=data)


def arg(name: str, *, value: Any = None, ref: str | None = None) -> dict[str, Any]:
    return {"name": name, "value_json": None if ref else json.dumps(value), "ref": ref}


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> FakeOpenAI:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.delenv("HALION_REPLAY", raising=False)
    return fake_openai


GOOD_STEPS = [
    {"id": "fetch", "tool": "get_weather", "arguments": [arg("city", ref="inputs.city")]},
    {"id": "convert", "tool": "c_to_f",
     "arguments": [arg("celsius", ref="steps.fetch.output.temperature"), arg("digits", value=1)]},
]


def test_draft_sends_problems_back_once_and_returns_a_valid_unsaved_chain(ws: Workspace, model: FakeOpenAI) -> None:
    bad_steps = [
        {"id": "convert", "tool": "c_to_f", "arguments": [arg("celsius", ref="steps.fetch.output.temperature")]},
        {"id": "fetch", "tool": "get_weather", "arguments": [arg("town", value="Paris")]},
    ]
    model.script(draft_answer(bad_steps), draft_answer(GOOD_STEPS, "steps.convert.output"))
    chain = ws.chains.draft("the temperature of a city in Fahrenheit")
    assert len(model.requests) == 2
    assert isinstance(chain, Toolchain) and ws.chains.validate(chain) == []
    assert chain.steps[1].arguments == {"celsius": Ref("steps.fetch.output.temperature"), "digits": 1}
    assert chain.output == Ref("steps.convert.output")
    assert ws.chains.last_draft is chain
    assert ws.chains.names() == [] and not (ws.path / "chains").exists()
    first, second = model.requests
    assert first["response_format"]["type"] == "json_schema"
    system = first["messages"][0]["content"]
    assert "get_weather" in system and "steps.ID.output" in system
    feedback = second["messages"][-1]["content"]
    assert "step 'convert': argument 'celsius' refers to step 'fetch', which runs later" in feedback
    assert "step 'fetch': unexpected argument 'town'" in feedback
    assert second["messages"][-2]["role"] == "assistant"
    assert ws.chains.run(chain, city="Paris").output == 68.0


def test_draft_gives_up_after_the_retries_listing_the_problems(ws: Workspace, model: FakeOpenAI) -> None:
    broken = [{"id": "a", "tool": "no_such_tool", "arguments": [{"name": "x", "value_json": "1", "ref": "inputs.city"}]}]
    model.script(*[draft_answer(broken)] * 3)
    with pytest.raises(ChainValidationError) as info:
        ws.chains.draft("anything")
    assert len(model.requests) == 3
    assert "step 'a': argument 'x': give exactly one of value_json and ref" in info.value.problems
    assert "after 3 attempts" in str(info.value)
    assert ws.chains.last_draft is None


def test_draft_only_offers_active_tools(ws: Workspace, model: FakeOpenAI) -> None:
    ws.tools.disable("explode")
    model.script(draft_answer(GOOD_STEPS))
    ws.chains.draft("weather")
    system = model.requests[0]["messages"][0]["content"]
    assert '"get_weather"' in system and '"explode"' not in system


def test_save_takes_a_chain_as_a_dict_or_json_text_and_says_clearly_what_is_wrong(ws: Workspace) -> None:
    data = {"name": "from_dict", "steps": [{"id": "fetch", "tool": "get_weather",
                                            "arguments": {"city": {"ref": "inputs.city"}}}],
            "inputs": [{"name": "city"}]}
    assert ws.chains.save(data).name == "from_dict.json"
    assert ws.chains.get("from_dict").steps[0].arguments["city"] == Ref("inputs.city")
    ws.chains.save(json.dumps({**data, "name": "from_text"}))
    assert ws.chains.get("from_text").inputs[0].name == "city"
    for bad, says in [("{not json", "not valid JSON"), (42, "expected a Toolchain, a dict or JSON text"),
                      ({"name": "x", "steps": [{"id": "s"}]}, "step 's': tool: Field required")]:
        with pytest.raises(ChainValidationError) as failed:
            ws.chains.save(bad)  # type: ignore[arg-type]
        assert says in str(failed.value)
