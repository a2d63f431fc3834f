"""Function → OpenAI tool schema, and validating what the model sends back."""
from __future__ import annotations

import enum
import json
from typing import Annotated, Any, Literal, Optional

import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

import halion_nb
from halion_nb import HalionError, ToolArgumentError, ToolDefinitionError
from halion_nb.core.tool import Tool


def make(fn: Any, name: str | None = None, description: str | None = None) -> Tool:
    return Tool.from_function(fn, name or fn.__name__, description=description)


def schema_nodes(node: Any) -> list[dict[str, Any]]:
    """Every JSON Schema node (not property-name maps) below and including `node`."""
    found: list[dict[str, Any]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if not isinstance(item, dict):
            continue
        found.append(item)
        for key, value in item.items():
            if key in ("properties", "$defs"):
                stack += list(value.values())
            elif isinstance(value, dict):
                stack.append(value)
            elif isinstance(value, list):
                stack += [v for v in value if isinstance(v, dict)]
    return found


def assert_strict(parameters: dict[str, Any]) -> None:
    """What OpenAI strict mode demands of a parameters schema."""
    assert parameters["type"] == "object"
    for node in schema_nodes(parameters):
        assert "default" not in node, node
        assert "title" not in node, node
        if "$ref" in node:
            assert set(node) == {"$ref"}, f"keywords beside $ref: {node}"
        if node.get("type") == "object":
            assert node.get("additionalProperties") is False, node
            assert sorted(node.get("required", [])) == sorted(node.get("properties", {})), node


class Unit(enum.Enum):
    CELSIUS = "c"
    FAHRENHEIT = "f"


class Location(BaseModel):
    city: str
    country: str = "FR"


class Window(TypedDict):
    start: int
    end: int


def forecast(
    location: Location,
    days: int = 3,
    unit: Unit = Unit.CELSIUS,
    detail: Literal["short", "long"] = "short",
    note: Optional[str] = None,
    tags: list[str] | None = None,
    window: Window | None = None,
    ratio: float = 0.5,
    hourly: bool = False,
    limit: Annotated[int, Field(description="At most this many rows.", ge=1, le=50)] = 10,
) -> dict[str, Any]:
    """Forecast for a place.

    Args:
        location: Where to look.
        days: How many days ahead.
        unit: Temperature unit.
        detail: How much to say.
        note: A free note.
        tags: Labels to attach.
        window: Hours of the day to cover.
        ratio: A fraction.
        hourly: One row per hour.
        limit: Ignored: the Field's description wins.
    """
    return {
        "location": location, "days": days, "unit": unit, "detail": detail, "note": note, "tags": tags,
        "window": window, "ratio": ratio, "hourly": hourly, "limit": limit,
    }


# --- the schema --------------------------------------------------------------------------


def test_schema_has_the_openai_tool_shape() -> None:
    tool = make(forecast)
    schema = tool.schema
    assert schema["type"] == "function"
    assert set(schema["function"]) == {"name", "description", "parameters", "strict"}
    assert schema["function"]["name"] == "forecast"
    assert schema["function"]["description"] == "Forecast for a place."
    assert schema["function"]["strict"] is True
    json.dumps(schema)  # plain JSON, sendable as is


def test_rich_types_make_a_strict_schema() -> None:
    tool = make(forecast)
    params = tool.schema["function"]["parameters"]
    assert tool.strict and tool.strict_reason is None
    assert_strict(params)
    props = params["properties"]
    assert list(props) == ["location", "days", "unit", "detail", "note", "tags", "window", "ratio", "hourly", "limit"]
    assert params["required"] == list(props)  # strict: optional parameters are required but nullable

    def variants(node: dict[str, Any]) -> list[dict[str, Any]]:
        defs = params.get("$defs", {})
        found = node.get("anyOf", [node])
        return [defs[v["$ref"].split("/")[-1]] if "$ref" in v else v for v in found]

    assert {"type": "null"} in variants(props["days"]) and {"type": "integer"} in variants(props["days"])
    assert any(v.get("enum") == ["c", "f"] for v in variants(props["unit"]))
    assert any(v.get("enum") == ["short", "long"] for v in variants(props["detail"]))
    assert {"type": "string"} in variants(props["note"]) and {"type": "null"} in variants(props["note"])
    assert any(v.get("type") == "array" and v["items"] == {"type": "string"} for v in variants(props["tags"]))
    assert {"type": "number"} in variants(props["ratio"])
    assert {"type": "boolean"} in variants(props["hourly"])
    location = variants(props["location"])[0]
    assert location["properties"]["city"] == {"type": "string"}
    assert location["required"] == ["city", "country"]
    window = next(v for v in variants(props["window"]) if v.get("type") == "object")
    assert set(window["properties"]) == {"start", "end"}
    limit = next(v for v in variants(props["limit"]) if v.get("type") == "integer")
    assert limit["minimum"] == 1 and limit["maximum"] == 50


def test_parameter_descriptions_come_from_the_docstring_and_fields() -> None:
    props = make(forecast).parameters["properties"]
    assert props["location"]["description"] == "Where to look."
    assert props["days"]["description"] == "How many days ahead."
    assert props["window"]["description"] == "Hours of the day to cover."
    assert props["limit"]["description"] == "At most this many rows."


def google(city: str, days: int = 1) -> str:
    """Weather report.

    Args:
        city: Name of the city.
        days (int): Days ahead.

    Returns:
        The report.
    """
    return city


def numpy_style(city: str, days: int = 1) -> str:
    """Weather report.

    Parameters
    ----------
    city : str
        Name of the city.
    days : int, optional
        Days ahead.

    Returns
    -------
    str
        The report.
    """
    return city


def sphinx_style(city: str, days: int = 1) -> str:
    """Weather report.

    :param city: Name of the city.
    :param days: Days ahead.
    :returns: The report.
    """
    return city


@pytest.mark.parametrize("fn", [google, numpy_style, sphinx_style], ids=["google", "numpy", "sphinx"])
def test_docstring_styles(fn: Any) -> None:
    tool = make(fn)
    assert tool.description == "Weather report."
    props = tool.parameters["properties"]
    assert props["city"]["description"] == "Name of the city."
    assert props["days"]["description"] == "Days ahead."


def test_description_argument_overrides_the_docstring_and_no_docstring_is_fine() -> None:
    assert make(google, description="Custom.").schema["function"]["description"] == "Custom."

    def bare(city: str) -> str:
        return city

    tool = make(bare)
    assert tool.description == ""
    assert "description" not in tool.parameters["properties"]["city"]


def test_loose_schema_keeps_defaults_for_display() -> None:
    tool = make(forecast)
    loose = tool.spec.loose_parameters["properties"]
    assert loose["days"]["default"] == 3
    assert loose["unit"]["default"] == "c"
    assert tool.spec.loose_parameters["required"] == ["location"]


def d_free(counts: dict[str, int]) -> None:
    """Free-form keys."""


def d_tuple(pair: tuple[int, str]) -> None:
    """A fixed-length pair."""


def d_any(value: Any) -> None:
    """Anything."""


def d_nested_dict(rows: list[dict[str, float]], name: str = "x") -> None:
    """A dict inside a list."""


class Loose(BaseModel):
    extra: dict[str, int]


def d_model_with_dict(item: Loose) -> None:
    """A model with a free-form field."""


@pytest.mark.parametrize(
    ("fn", "param", "words"),
    [
        (d_free, "counts", "dict"),
        (d_tuple, "pair", "tuple"),
        (d_any, "value", "Any"),
        (d_nested_dict, "rows", "dict"),
        (d_model_with_dict, "item", "dict"),
    ],
)
def test_types_strict_mode_cannot_express_fall_back_with_a_reason(fn: Any, param: str, words: str) -> None:
    tool = make(fn)
    assert tool.strict is False
    assert tool.schema["function"]["strict"] is False
    assert tool.strict_reason and param in tool.strict_reason and words in tool.strict_reason
    params = tool.schema["function"]["parameters"]
    assert param in params["properties"]
    if "name" in params["properties"]:  # the loose form keeps the default and the optional field
        assert params["properties"]["name"]["default"] == "x"
        assert params["required"] == ["rows"]


def d_varargs(*values: int) -> None: ...
def d_kwargs(a: int, **options: str) -> None: ...
def d_untyped(a: int, b) -> None: ...  # type: ignore[no-untyped-def]
def d_positional(a: int, /, b: int) -> None: ...
def d_unresolvable(a: "NoSuchType") -> None: ...  # type: ignore[name-defined]  # noqa: F821


@pytest.mark.parametrize(
    ("fn", "param"),
    [(d_varargs, "values"), (d_kwargs, "options"), (d_untyped, "b"), (d_positional, "a"), (d_unresolvable, "NoSuchType")],
    ids=["*args", "**kwargs", "untyped", "positional-only", "unresolvable-hint"],
)
def test_unsupported_signatures_are_refused_naming_the_parameter(fn: Any, param: str) -> None:
    with pytest.raises(ToolDefinitionError) as info:
        make(fn)
    assert param in str(info.value)
    assert isinstance(info.value, HalionError)


def test_no_parameters_is_a_valid_strict_tool() -> None:
    def now() -> str:
        """The time."""
        return "noon"

    tool = make(now)
    assert tool.strict
    assert_strict(tool.parameters)
    assert tool.parameters["properties"] == {}
    assert tool.call({}) == "noon" and tool.call(None) == "noon" and tool.call("") == "noon"


def test_parameter_named_like_a_pydantic_attribute_works() -> None:
    def clash(model_config: str, schema: int = 1, json: bool = False) -> str:
        """Parameters whose names clash with BaseModel attributes."""
        return f"{model_config}-{schema}-{json}"

    tool = make(clash)
    assert list(tool.parameters["properties"]) == ["model_config", "schema", "json"]
    assert tool.call({"model_config": "a", "schema": 2, "json": True}) == "a-2-True"


# --- calling ---------------------------------------------------------------------------


def test_call_with_a_dict_or_a_json_string_fills_defaults() -> None:
    tool = make(forecast)
    out = tool.call({"location": {"city": "Lyon"}})
    assert out["location"] == Location(city="Lyon", country="FR")
    assert (out["days"], out["unit"], out["detail"], out["note"], out["limit"]) == (3, Unit.CELSIUS, "short", None, 10)
    out = tool.call('{"location": {"city": "Oslo", "country": "NO"}, "unit": "f", "window": {"start": 1, "end": 5}}')
    assert out["location"].country == "NO"
    assert out["unit"] is Unit.FAHRENHEIT
    assert out["window"] == {"start": 1, "end": 5}


def test_nulls_forced_by_strict_mode_mean_the_default() -> None:
    tool = make(forecast)
    every_field_null = {name: None for name in tool.parameters["properties"] if name != "location"}
    out = tool.call(json.dumps({"location": {"city": "Nice", "country": None}, **every_field_null}))
    assert out["location"].country == "FR"  # nested model field too
    assert (out["days"], out["unit"], out["detail"], out["ratio"], out["hourly"], out["limit"]) == (
        3, Unit.CELSIUS, "short", 0.5, False, 10)
    assert out["note"] is None and out["tags"] is None


def test_a_null_for_a_required_parameter_is_still_an_error() -> None:
    with pytest.raises(ToolArgumentError) as info:
        make(forecast).call({"location": None})
    assert any(p.startswith("location") for p in info.value.problems)


def test_bad_values_list_every_bad_field() -> None:
    tool = make(forecast)
    with pytest.raises(ToolArgumentError) as info:
        tool.call({"location": {"city": 3}, "days": "soon", "unit": "kelvin", "limit": 99, "colour": "red"})
    err = info.value
    assert isinstance(err, halion_nb.ToolArgumentError) and isinstance(err, HalionError)
    problems = "\n".join(err.problems)
    for field in ("location.city", "days", "unit", "limit", "colour"):
        assert any(p.startswith(field) for p in err.problems), (field, problems)
        assert field in str(err)
    assert len(err.problems) == 5
    assert "unexpected" in next(p for p in err.problems if p.startswith("colour"))


def test_missing_required_argument_is_named() -> None:
    with pytest.raises(ToolArgumentError) as info:
        make(forecast).call({})
    assert info.value.problems == ["location: required argument is missing"]


@pytest.mark.parametrize("raw", ['{"location": {"city": "Paris"', "not json", "[1, 2]", '"text"'])
def test_arguments_that_are_not_a_json_object_are_reported(raw: str) -> None:
    with pytest.raises(ToolArgumentError) as info:
        make(forecast).call(raw)
    assert "forecast" in str(info.value)
    assert info.value.problems and info.value.problems[0].startswith("arguments")


def test_calling_the_tool_calls_the_plain_function() -> None:
    def add(a: int, b: int = 2) -> int:
        """Add."""
        return a + b

    tool = make(add)
    assert tool(1) == 3
    assert tool(1, b=5) == 6
    assert tool("x", "y") == "xy"  # no validation on a direct call: it is the function
    assert tool.call({"a": 1}) == 3
    assert tool.call('{"a": "4"}') == 6  # the model's JSON is validated (and coerced as pydantic does)


class Entry(BaseModel):
    title: str
    default: int = 0


def test_fields_named_title_or_default_survive_strict_mode() -> None:
    def note(title: str, entry: Entry, default: int = 0) -> str:
        """Keep a note."""
        return f"{title}-{entry.title}-{entry.default}-{default}"

    tool = make(note)
    params = tool.parameters
    assert tool.strict
    assert_strict(params)
    assert list(params["properties"]) == ["title", "entry", "default"]
    entry = params["properties"]["entry"]
    entry = params["$defs"][entry["$ref"].split("/")[-1]] if "$ref" in entry else entry
    assert list(entry["properties"]) == ["title", "default"]
    assert tool.call({"title": "a", "entry": {"title": "b", "default": None}, "default": None}) == "a-b-0-0"


class Circle(BaseModel):
    kind: Literal["circle"]
    radius: float
    label: str = "round"


class Square(BaseModel):
    kind: Literal["square"]
    side: float
    color: str = "red"
    border: int = 1


def draw(shape: Circle | Square, extra: list[Circle | Square] | None = None,
         pinned: Annotated[Circle | Square, Field(discriminator="kind")] | None = None) -> list[str]:
    """Draw shapes."""
    shapes = [shape, *(extra or []), *([pinned] if pinned else [])]
    return [f"{s.kind}:{getattr(s, 'label', '')}{getattr(s, 'color', '')}{getattr(s, 'border', '')}" for s in shapes]


def test_a_forced_null_means_the_default_in_whichever_variant_of_a_union_matches() -> None:
    tool = make(draw)
    assert tool.strict
    square = {"kind": "square", "side": 2, "color": None, "border": None}
    circle = {"kind": "circle", "radius": 1, "label": None}
    arguments = {"shape": square, "extra": [circle, square], "pinned": square}
    assert tool.call(arguments) == ["square:red1", "circle:round", "square:red1", "square:red1"]
    assert tool.call({"shape": circle, "extra": None, "pinned": None}) == ["circle:round"]
