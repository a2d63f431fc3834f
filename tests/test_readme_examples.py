"""The README's Python examples run as printed: a chain built in Python, a notebook pointed at FakeOpenAI."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import pytest

from halion_nb.workspace import Workspace

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def example(heading: str) -> str:
    found = re.search(rf"### {re.escape(heading)}\n.*?```python\n(.*?)\n```", README, re.S)
    assert found, f"README lost its '{heading}' example"
    return found.group(1)


def get_weather(city: str, unit: Literal["c", "f"] = "c") -> dict:
    """Current weather for a city.

    Args:
        city: City name.
        unit: Temperature unit.
    """
    return {"city": city, "temperature": 3, "unit": unit, "sky": "cloudy"}


def advice(temperature: float, sky: str) -> str:
    """What to wear for the weather.

    Args:
        temperature: Temperature in Celsius.
        sky: Sky description.
    """
    return "Wear a coat." if temperature < 10 else "Wear a t-shirt."


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "HALION_REPLAY"):
        monkeypatch.delenv(name, raising=False)
    w = Workspace(tmp_path)
    w.tools.register(get_weather)
    w.tools.register(advice)
    return w


def test_the_chain_example_builds_saves_and_runs(ws: Workspace) -> None:
    names: dict[str, Any] = {"ws": ws}
    exec(example("A chain in Python"), names)
    assert names["run"].ok and names["run"].output == "Wear a coat."
    assert (ws.path / "chains" / "what_to_wear.json").is_file()


def test_the_fake_openai_example_answers_the_notebook(ws: Workspace) -> None:
    names: dict[str, Any] = {"ws": ws}
    code = example("A notebook against FakeOpenAI").replace("server.stop()", "")
    exec(code, names)
    try:
        assert ws.conversation.messages[-1] == {"role": "assistant", "content": "It is 3 °C and cloudy in Oslo."}
        sent = names["server"].requests[-1]["messages"]
        assert [m["role"] for m in sent] == ["user", "assistant", "tool"] and '"sky": "cloudy"' in sent[-1]["content"]
    finally:
        names["server"].stop()
