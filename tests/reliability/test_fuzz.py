"""Fuzzing what comes from outside: the model's tool arguments, chain files, the status file.

Every input either works or is refused with a message a person (or the model) can act on;
no other exception escapes. Cases are counted in the reliability tally.
"""
from __future__ import annotations

import copy
import enum
import json
import reprlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, TypeAdapter
from typing_extensions import TypedDict

from halion_nb.core.tool import Tool
from halion_nb.display.printers import formats
from halion_nb.errors import ChainValidationError, HalionError, ToolArgumentError
from halion_nb.models import ToolState
from halion_nb.testing import FakeOpenAI, call, reply
from halion_nb.workspace import Workspace

FUZZ = settings(max_examples=250, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- a varied set of tools ---------------------------------------------------------------------

class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Point(BaseModel):
    x: int
    y: int
    label: Optional[str] = None


class Movie(TypedDict):
    title: str
    year: int


class Node(BaseModel):
    value: int
    kids: list["Node"] = []


def scalars(text: str, count: int, ratio: float, flag: bool) -> dict[str, Any]:
    """Plain scalar parameters.

    Args:
        text: Some text.
        count: A whole number.
        ratio: A float.
        flag: A switch.
    """
    return {"text": text, "count": count, "ratio": ratio, "flag": flag}


def choices(mode: Literal["fast", "slow"], color: Color, limit: Optional[int] = None, tag: str = "t") -> dict[str, Any]:
    """Literal, Enum, Optional and defaults."""
    return {"mode": mode, "color": color, "limit": limit, "tag": tag}


def collections(items: list[int], weights: dict[str, float], names: list[str] = []) -> dict[str, Any]:  # noqa: B006
    """Lists and a free-form dict (not strict)."""
    return {"items": items, "weights": weights, "names": names}


def nested(point: Point, movie: Movie, extra: list[Point] | None = None) -> dict[str, Any]:
    """A nested model and a TypedDict."""
    return {"point": point, "movie": movie, "extra": extra}


def constrained(
    n: Annotated[int, Field(ge=0, le=10, description="0 to 10")],
    code: Annotated[str, Field(min_length=2, max_length=5, pattern=r"^[a-z]+$")],
    share: Annotated[float, Field(gt=0, lt=1)] = 0.5,
) -> dict[str, Any]:
    """Annotated Field constraints."""
    return {"n": n, "code": code, "share": share}


def tree(root: Node) -> dict[str, Any]:
    """A recursive model."""
    return {"root": root}


def nothing() -> str:
    """No parameters at all."""
    return "done"


TOOLS: dict[str, Tool] = {fn.__name__: Tool.from_function(fn, fn.__name__)
                          for fn in (scalars, choices, collections, nested, constrained, tree, nothing)}

VALID: dict[str, dict[str, Any]] = {
    "scalars": {"text": "hi", "count": 3, "ratio": 0.25, "flag": True},
    "choices": {"mode": "fast", "color": "red", "limit": 4, "tag": "x"},
    "collections": {"items": [1, 2, 3], "weights": {"a": 1.5}, "names": ["n"]},
    "nested": {"point": {"x": 1, "y": 2, "label": "p"}, "movie": {"title": "M", "year": 1999},
               "extra": [{"x": 0, "y": 0, "label": None}]},
    "constrained": {"n": 5, "code": "abc", "share": 0.3},
    "tree": {"root": {"value": 1, "kids": [{"value": 2, "kids": []}]}},
    "nothing": {},
}


def test_the_valid_examples_are_valid() -> None:
    """The mutation base must itself pass, for every tool (and in strict form with nulls for defaults)."""
    for name, tool in TOOLS.items():
        assert isinstance(tool.call(VALID[name]), (dict, str))
        assert isinstance(tool.call(json.dumps(VALID[name])), (dict, str))
    assert TOOLS["choices"].call({"mode": "slow", "color": "green", "limit": None, "tag": None})["tag"] == "t"
    assert {t.name for t in TOOLS.values() if not t.strict} == {"collections"}


# -- strategies -------------------------------------------------------------------------------

scalars_st = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(10 ** 30), max_value=10 ** 30)
              | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20))
json_values = st.recursive(
    scalars_st,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25,
)
keys = st.sampled_from(["text", "count", "mode", "color", "point", "x", "y", "root", "value", "kids", "n", "code",
                        "items", "weights", "movie", "title", "year", "extra", "label", "ref", ""]) | st.text(max_size=8)


@st.composite
def mutated(draw: st.DrawFn, base: Any, depth: int = 0) -> Any:
    """`base` with a few random edits: keys dropped, added, values replaced, nulled, retyped, nested."""
    value = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        value = draw(_edit(value, depth))
    return value


@st.composite
def _edit(draw: st.DrawFn, value: Any, depth: int) -> Any:
    if isinstance(value, dict) and value and depth < 4 and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        value = dict(value)
        value[key] = draw(_edit(value[key], depth + 1))
        return value
    if isinstance(value, list) and value and depth < 4 and draw(st.booleans()):
        i = draw(st.integers(0, len(value) - 1))
        value = list(value)
        value[i] = draw(_edit(value[i], depth + 1))
        return value
    how = draw(st.sampled_from(["replace", "null", "drop", "add", "stringify", "wrap", "number"]))
    if how == "replace":
        return draw(json_values)
    if how == "null":
        return None
    if how == "drop" and isinstance(value, dict) and value:
        value = dict(value)
        del value[draw(st.sampled_from(sorted(value)))]
        return value
    if how == "add" and isinstance(value, dict):
        return {**value, draw(keys): draw(json_values)}
    if how == "stringify":
        return json.dumps(value)
    if how == "wrap":
        return [value]
    if how == "number":
        return draw(st.sampled_from([0, -1, 11, 1.5, 10 ** 20, float("inf"), float("nan"), True, "1", "0.5"]))
    return value


depths = st.sampled_from([0, 0, 0, 0, 0, 0, 30, 400, 2000])
"""How deep to bury one field's value (done in the test: hypothesis cannot print such values)."""


def deepen(arguments: Any, depth: int, as_list: bool) -> Any:
    """`arguments` with its first field's value nested `depth` levels deep, as lists or as tree nodes."""
    if not depth or not isinstance(arguments, dict) or not arguments:
        return arguments
    key = sorted(arguments, key=str)[0]
    value = arguments[key]
    for _ in range(depth):
        value = [value] if as_list else {"value": 1, "kids": [value]}
    return {**arguments, key: value}


def json_text(value: Any) -> str:
    try:
        return json.dumps(value)
    except (ValueError, TypeError, RecursionError):  # the case is kept, shown another way
        return reprlib.repr(value)


def truncated(text: str, cut: int) -> str:
    return text[: cut % (len(text) + 1)]


raw_text = st.one_of(
    st.text(max_size=80),
    st.binary(max_size=80).map(lambda b: b.decode("utf-8", errors="replace")),
    st.binary(max_size=80),  # bytes reach `Tool.call` too
    st.tuples(st.sampled_from(sorted(VALID)), st.integers(0, 400)).map(lambda p: truncated(json.dumps(VALID[p[0]]), p[1])),
    st.sampled_from(["", " ", "null", "[]", "{}", "{", "}", '"x"', "1", "true", "NaN", "{\"a\":}", "{'a': 1}",
                     "[" * 5000, '{"a":' * 5000, '{"count": ' + "9" * 5000 + "}", "\ufeff{}", "{}\x00"]),
)


# -- the property -----------------------------------------------------------------------------

class Cases:
    """Counts what the fuzzer tried and keeps every input that raised something unexpected."""

    def __init__(self) -> None:
        self.cases = 0
        self.accepted = 0
        self.crashes: list[str] = []


@pytest.fixture
def cases(tally: Any) -> Iterator[Cases]:
    found = Cases()
    yield found
    tally.add("fuzz", cases=found.cases, crashes=len(found.crashes))


def check_call(tool: Tool, arguments: Any, found: Cases) -> None:
    """The arguments either validate and call, or raise a readable ToolArgumentError."""
    found.cases += 1
    try:
        result = tool.call(arguments)
    except ToolArgumentError as exc:
        message = str(exc)
        assert message.startswith((f"Invalid arguments for '{tool.name}'", f"Arguments for '{tool.name}'")), message
        assert exc.problems, message
        params = set(tool.spec.field_names)
        sent = arguments
        if isinstance(sent, (str, bytes)):
            try:
                sent = json.loads(sent)
            except (ValueError, RecursionError):
                sent = None
        given_keys = set(sent) if isinstance(sent, dict) else set()
        for problem in exc.problems:
            if problem in ("arguments: not a JSON object",) or problem.startswith("arguments: not valid JSON"):
                assert "JSON" in message
                continue
            if problem == "arguments: nested too deeply":
                assert "nested too deeply" in message
                continue
            assert problem in message
            if problem.startswith("arguments:"):
                assert given_keys, problem
            else:  # names the field it is about: a parameter, or an argument that was sent
                assert any(problem.startswith((f"{k}:", f"{k}.")) for k in params | {str(k) for k in given_keys}), problem
        return
    except Exception as exc:
        found.crashes.append(f"{tool.name}({json_text(arguments)[:200]}): {type(exc).__name__}: {exc}"[:500])
        raise
    found.accepted += 1
    if tool.name != "nothing":
        assert set(result) == set(tool.spec.field_names)


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_near_valid_arguments_are_called_or_refused_readably(name: str, cases: Cases) -> None:
    tool = TOOLS[name]

    @FUZZ
    @given(mutated(VALID[name]), st.booleans(), depths, st.booleans())
    def prop(arguments: Any, as_text: bool, depth: int, as_list: bool) -> None:
        arguments = deepen(arguments, depth, as_list)
        check_call(tool, json_text(arguments) if as_text else arguments, cases)

    prop()
    assert cases.crashes == []


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_arbitrary_json_values_are_called_or_refused_readably(name: str, cases: Cases) -> None:
    tool = TOOLS[name]

    @settings(FUZZ, max_examples=150)
    @given(json_values | st.dictionaries(keys, json_values, max_size=5), st.booleans())
    def prop(arguments: Any, as_text: bool) -> None:
        check_call(tool, json_text(arguments) if as_text else arguments, cases)

    prop()
    assert cases.crashes == []


def test_arbitrary_text_and_bytes_are_refused_readably(cases: Cases) -> None:
    @settings(FUZZ, max_examples=300)
    @given(st.sampled_from(sorted(TOOLS)), raw_text)
    def prop(name: str, text: str | bytes) -> None:
        check_call(TOOLS[name], text, cases)

    prop()
    assert cases.crashes == []


@pytest.mark.parametrize("arguments", [
    "[" * 100_000,
    '{"items": ' + "[" * 3000 + "]" * 3000 + "}",
    '{"count": ' + "9" * 5000 + "}",
    b"\x80\xff{}",
    '{"root": ' + '{"value": 1, "kids": [' * 480 + '{"value": 1}' + "]}" * 480 + "}",
], ids=["deep-array", "deep-in-field", "huge-number", "bad-utf8", "deep-model"])
def test_pathological_json_is_refused_not_crashed(arguments: Any, cases: Cases) -> None:
    """Nesting past Python's recursion limit, numbers past its digit limit, bytes that are not UTF-8."""
    for tool in TOOLS.values():
        check_call(tool, arguments, cases)
    deep: Any = {"value": 1}
    for _ in range(2000):
        deep = {"value": 1, "kids": [deep]}
    check_call(TOOLS["tree"], {"root": deep}, cases)
    check_call(TOOLS["scalars"], {"text": deep}, cases)
    assert cases.crashes == []


def test_the_chat_loop_survives_any_arguments_the_model_sends(
        tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, cases: Cases) -> None:
    """End to end through the SDK: the bad arguments become a tool message, the turn finishes, nothing raises."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-secret-key-long")
    monkeypatch.delenv("HALION_REPLAY", raising=False)
    ws = Workspace(tmp_path / "ws", model="gpt-test")
    for fn in (scalars, choices, nested, tree):
        ws.tools.register(fn)

    def turn(name: str, arguments: str) -> None:
        cases.cases += 1
        fake_openai.script(reply(tool_calls=[call(name, arguments)]), reply("done"))
        try:
            result = ws.chat("go")
        except Exception as exc:
            cases.crashes.append(f"chat {name}({arguments[:200]!r}): {type(exc).__name__}: {exc}"[:500])
            raise
        assert result.text == "done" and len(result.tool_calls) == 1
        record = result.tool_calls[0]
        assert record.error is None or record.error.startswith(("Invalid arguments for", "Arguments for")), record.error
        sent = fake_openai.requests[-1]["messages"][-1]
        assert sent["role"] == "tool" and (record.error is None or sent["content"].startswith("Error: "))

    for text in ("[" * 5000, '{"text": ' + "[" * 3000 + "]" * 3000 + "}", '{"count": ' + "9" * 5000 + "}", "",
                 "{", "null", '{"root": ' + '{"value": 1, "kids": [' * 480 + '{"value": 1}' + "]}" * 480 + "}"):
        turn("tree" if "root" in text else "scalars", text)

    @settings(FUZZ, max_examples=60)
    @given(st.sampled_from(["scalars", "choices", "nested", "tree"]), st.data())
    def prop(name: str, data: st.DataObject) -> None:
        value = data.draw(mutated(VALID[name]) | json_values)
        text = data.draw(st.sampled_from([json_text(value), json_text(value)[:-1], json_text(value) + "}"]))
        turn(name, text)

    prop()
    ws.log.close()
    assert cases.crashes == []


# -- chain files ------------------------------------------------------------------------------

def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


def repeat(text: str, times: int = 2) -> str:
    """Repeat a text."""
    return text * times


VALID_CHAIN: dict[str, Any] = {
    "name": "fz",
    "description": "Shout, then repeat.",
    "inputs": [{"name": "text", "type": "string", "description": "What to shout.", "required": True},
               {"name": "times", "type": "integer", "required": False, "default": 2}],
    "steps": [{"id": "loud", "tool": "shout", "arguments": {"text": {"ref": "inputs.text"}}},
              {"id": "again", "tool": "repeat",
               "arguments": {"text": {"ref": "steps.loud.output"}, "times": {"ref": "inputs.times"}}}],
    "output": {"ref": "steps.again.output"},
    "parallel": False,
    "expose": True,
}


@pytest.fixture
def chain_ws(tmp_path: Path) -> Iterator[Workspace]:
    """One workspace for every example (a fresh one per example would cost more than the check)."""
    ws = Workspace(tmp_path / "ws")
    ws.tools.register(shout)
    ws.tools.register(repeat)
    good = dict(VALID_CHAIN, name="good")
    (ws.path / "chains").mkdir(parents=True)
    (ws.path / "chains" / "good.json").write_text(json.dumps(good, indent=2))
    yield ws
    ws.log.close()


chain_contents = st.one_of(
    mutated(VALID_CHAIN).map(lambda v: json_text(v).encode()),
    st.tuples(mutated(VALID_CHAIN), st.integers(0, 2000)).map(lambda p: truncated(json_text(p[0]), p[1]).encode()),
    json_values.map(lambda v: json_text(v).encode()),
    st.text(max_size=100).map(str.encode),
    st.binary(max_size=100),
    st.sampled_from([b"", b"\xef\xbb\xbf{}", b"[" * 5000, b'{"name": "fz", "steps": ' + b"[" * 3000 + b"]" * 3000 + b"}",
                     b'{"name": "fz", "description": "' + b"x" * 100 + b'", "steps": [], "inputs": [{"name": "t", "default": '
                     + b"9" * 5000 + b"}]}"]),
)
chain_stems = st.sampled_from(["fz", "fz", "fz", "good2", "con", "schema", "a.b", "x" * 70, "class", "ñame", "1abc"])


def test_random_chain_files_load_or_are_reported_by_name(chain_ws: Workspace, cases: Cases) -> None:
    ws = chain_ws
    folder = ws.path / "chains"

    @settings(FUZZ, max_examples=300)
    @given(chain_stems, chain_contents)
    def prop(stem: str, content: bytes) -> None:
        cases.cases += 1
        for old in folder.iterdir():
            if old.name != "good.json":
                old.unlink()
        path = folder / f"{stem}.json"
        path.write_bytes(content)
        try:
            report = ws.chains.load()
            assert "good" in report.loaded
            assert (stem in report.loaded) != (stem in report.errors), report
            if stem in report.errors:
                assert report.errors[stem].strip() and f"Could not load {stem}" in repr(report)
                with pytest.raises(HalionError, match=stem):
                    ws.chains.get(stem)
            else:
                chain = ws.chains.get(stem)
                problems = ws.chains.validate(chain)
                assert isinstance(problems, list)
                if not problems:
                    run = ws.chains.run(chain, text="hi")
                    assert run.ok or run.error
                    if chain.expose and stem not in ws.tools:
                        assert stem in {t.name for t in ws.chains.exposed_tools()}
            repr(ws.chains)
            formats(ws.chains)
        except ChainValidationError:
            pass  # the inputs a fuzzed chain declares may not take text="hi": refused with its reasons
        except AssertionError:
            raise
        except Exception as exc:
            cases.crashes.append(f"{stem}.json {content[:200]!r}: {type(exc).__name__}: {exc}"[:500])
            raise
        assert path.read_bytes() == content, "a chain file that was read must be left exactly as it was"

    prop()
    assert cases.crashes == []


# -- the status file --------------------------------------------------------------------------

VALID_STATUS = {"shout": {"active": False, "postprocess": True}, "repeat": {"active": True, "postprocess": False}}
status_contents = st.one_of(
    mutated(VALID_STATUS).map(lambda v: json_text(v).encode()),
    st.tuples(mutated(VALID_STATUS), st.integers(0, 200)).map(lambda p: truncated(json_text(p[0]), p[1]).encode()),
    json_values.map(lambda v: json_text(v).encode()),
    st.text(max_size=60).map(str.encode),
    st.binary(max_size=60),
    st.sampled_from([b"", b"{}", b"[" * 5000, b'{"shout": ' + b"[" * 3000 + b"]" * 3000 + b"}", b"\x00" * 10]),
)
_STATES = TypeAdapter(dict[str, ToolState])


def readable(content: bytes) -> dict[str, ToolState] | None:
    """What a correct reader makes of the status file, or None when it cannot be read."""
    try:
        return _STATES.validate_python(json.loads(content.decode("utf-8")))
    except (ValueError, RecursionError):
        return None


def test_random_status_files_still_answer_and_are_kept(chain_ws: Workspace, cases: Cases) -> None:
    ws = chain_ws
    status = ws.tools.manager.path
    status.parent.mkdir(parents=True, exist_ok=True)

    @settings(FUZZ, max_examples=250)
    @given(status_contents)
    @example(b'{"shout": {"active": false}, "repeat": {"active": false}}')  # every tool switched off
    def prop(content: bytes) -> None:
        cases.cases += 1
        for old in status.parent.glob("tool_status.json.corrupt-*"):
            old.unlink()
        status.write_bytes(content)
        expected = readable(content)
        fresh = Workspace(ws.path)
        fresh.tools.register(shout)
        fresh.tools.register(repeat)
        try:
            for registry in (ws.tools, fresh.tools):
                for name in ("shout", "repeat"):
                    active = registry.is_active(name)
                    assert isinstance(active, bool) and isinstance(registry.postprocess(name), bool)
                    if expected is None:
                        assert active is True
                        assert registry.manager.problem and str(status) in registry.manager.problem
                    else:
                        assert registry.manager.problem is None
                        assert active is expected.get(name, ToolState()).active
                # active() agrees with is_active(), also when the file switches every tool off
                assert sorted(t.name for t in registry.active() if t.name in ("shout", "repeat")) == sorted(
                    n for n in ("shout", "repeat") if registry.is_active(n))
            assert status.read_bytes() == content, "reading must never change the status file"
            fresh.tools.disable("repeat")  # the next change: a bad file is set aside, not overwritten
            assert fresh.tools.is_active("repeat") is False and ws.tools.is_active("repeat") is False
            kept = list(status.parent.glob("tool_status.json.corrupt-*"))
            if expected is None:
                assert [p.read_bytes() for p in kept] == [content]
            else:
                assert kept == []
                assert fresh.tools.is_active("shout") is expected.get("shout", ToolState()).active
            assert readable(status.read_bytes()) is not None
        except AssertionError:
            raise
        except Exception as exc:
            cases.crashes.append(f"status {content[:200]!r}: {type(exc).__name__}: {exc}"[:500])
            raise
        finally:
            fresh.log.close()

    prop()
    assert cases.crashes == []
