"""The variables a workspace needs and has, the same for `%halion env`, the Env panel and Python."""
from __future__ import annotations

from pathlib import Path

from halion_nb.services.env_overview import EnvVariable, env_overview
from halion_nb.workspace import Workspace

WEATHER = '''import os

def weather(city: str) -> str:
    """Weather in a city."""
    key = os.environ["WEATHER_API_KEY"]
    return f"sunny in {city}"
'''


def test_each_variable_a_tool_reads_or_the_env_file_stores_is_listed_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("WEATHER_API_KEY", raising=False)
    ws = Workspace(tmp_path)
    ws.tools.update_source(None, WEATHER, save=False)
    ws.env.set("OTHER_TOKEN", "a-value-never-read-out-7f6e5d")
    assert env_overview(ws) == [EnvVariable("OTHER_TOKEN", (), True, True),
                                EnvVariable("WEATHER_API_KEY", ("weather",), False, False)]
    monkeypatch.setenv("WEATHER_API_KEY", "from-the-process")
    assert env_overview(ws)[1] == EnvVariable("WEATHER_API_KEY", ("weather",), True, False)
    ws.log.close()
