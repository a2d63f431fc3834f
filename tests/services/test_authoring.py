"""Drafting tools with the model (real openai SDK against the fake server); the draft is never run."""
from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from halion_nb.core.tool_schema import describe_function
from halion_nb.display.printers import formats
from halion_nb.errors import ConfigError, ToolDefinitionError
from halion_nb.services.authoring import ToolDraft, check_draft
from halion_nb.testing import FakeOpenAI, reply
from halion_nb.workspace import Workspace

GOOD = '''\
from typing import Literal


def shout(text: str, style: Literal["upper", "title"] = "upper") -> str:
    """Make text loud.

    Args:
        text: The text to change.
        style: Upper case, or title case.
    """
    return text.upper() if style == "upper" else text.title()
'''

TWO_PUBLIC = GOOD + '''

def helper(text: str) -> str:
    """Not a tool."""
    return text
'''


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> Iterator[Workspace]:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-key-for-tests")
    monkeypatch.delenv("HALION_REPLAY", raising=False)
    w = Workspace(tmp_path / "ws", model="gpt-test")
    yield w
    w.log.close()


def answer(code: str, name: str = "shout", env_vars: list[str] | None = None, rationale: str = "Loud text.") -> Any:
    return reply(json_content={"name": name, "code": code, "env_vars": env_vars or [], "rationale": rationale})


def messages_text(request: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content")) for m in request["messages"])


def test_a_good_draft_passes_in_one_request(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(answer(GOOD))
    draft = ws.tools.draft("make text loud")
    assert isinstance(draft, ToolDraft)
    assert (draft.name, draft.problems, draft.warnings, draft.attempts) == ("shout", [], [], 1)
    assert draft.ok and draft.rationale == "Loud text." and draft.request == "make text loud"
    [request] = fake_openai.requests
    assert request["model"] == "gpt-test"
    assert request["response_format"]["type"] == "json_schema"  # structured output, through the SDK
    assert "make text loud" in messages_text(request)
    assert "shout" not in ws.tools  # nothing registered until accepted
    # the schema built from the AST equals the one built from the real function
    namespace: dict[str, Any] = {}
    exec(GOOD, namespace)  # the test runs it, to compare; halion_nb never did
    assert draft.parameters == describe_function(namespace["shout"], "shout").parameters


def test_problems_go_back_to_the_model_which_fixes_them(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(answer(TWO_PUBLIC), answer(GOOD))
    draft = ws.tools.draft("make text loud")
    assert draft.ok and draft.attempts == 2 and "def helper" not in draft.code
    first, second = fake_openai.requests
    assert "2 public functions (shout, helper)" not in messages_text(first)
    assert "2 public functions (shout, helper)" in messages_text(second)
    assert second["messages"][-2]["role"] == "assistant"  # the model sees its own previous draft


def test_at_most_two_retries_and_the_problems_stay_listed(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(*[answer(TWO_PUBLIC)] * 4)
    draft = ws.tools.draft("make text loud")
    assert len(fake_openai.requests) == 3 and fake_openai.pending == 1
    assert draft.attempts == 3 and not draft.ok
    assert any("helper" in p for p in draft.problems)
    assert "Problems" in formats(draft)["text/markdown"] and "problem:" in repr(draft)


def test_risky_code_is_warned_about_and_never_run(ws: Workspace, fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    code = textwrap.dedent(f'''\
        import os
        import shutil
        import subprocess
        from pathlib import Path

        Path({str(marker)!r}).write_text("imported")


        def clean(folder: str) -> str:
            """Delete a folder and report.

            Args:
                folder: Which folder.
            """
            Path({str(marker)!r}).write_text("called")
            token = os.environ["UNDECLARED_TOKEN"]
            subprocess.run(["ls", folder])
            shutil.rmtree(folder)
            return eval("1 + 1") and token
        ''')
    fake_openai.script(answer(code, name="clean"))
    draft = ws.tools.draft("clean a folder")
    assert draft.ok  # risky is not invalid: a person decides
    text = "\n".join(draft.warnings)
    for expected in ("runs other programs", "subprocess.run()", "deletes files", "shutil.rmtree()",
                     "evaluates code", "eval()", "UNDECLARED_TOKEN", "runs code as soon as the cell runs, not only when the tool is called: line 6"):
        assert expected in text, expected
    shown = formats(draft)["text/markdown"] + repr(draft) + str(draft)  # review it
    assert "⚠️" in shown and "```python" in shown
    assert not marker.exists()
    assert "clean" not in ws.tools


def test_accept_runs_registers_and_saves(ws: Workspace, fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    marker = tmp_path / "accepted.txt"
    code = GOOD.replace("from typing import Literal\n",
                        f"from pathlib import Path\nfrom typing import Literal\n\nPath({str(marker)!r}).write_text('x')\n")
    fake_openai.script(answer(code))
    draft = ws.tools.draft("make text loud")
    assert not marker.exists()
    tool = ws.tools.accept(draft)
    assert marker.exists()  # the person's decision: only now does the code run
    assert tool.source == code and tool("hi", style="title") == "Hi"
    saved = ws.tools.path_of("shout")
    assert saved.is_file() and "schema = " in saved.read_text()
    fresh = Workspace(ws.path)
    assert fresh.tools.load().loaded == ["shout"]


def test_accept_a_draft_with_a_model_parameter(ws: Workspace) -> None:
    code = HEADER + '''

def place(point: Point, color: Color = Color.RED) -> str:
    """Describe a point.

    Args:
        point: Where.
        color: Which colour.
    """
    return f"{point.label} at {point.x},{point.y} in {color.value}"
'''
    draft = ToolDraft(name="place", code=code)
    tool = ws.tools.accept(draft)
    assert tool.call({"point": {"x": 1, "y": 2}, "color": "blue"}) == "p at 1.0,2.0 in blue"
    assert tool.parameters == check_draft(code, "place").parameters


def test_accept_reports_code_that_fails_without_showing_secrets(ws: Workspace) -> None:
    ws.env.set("SOME_TOKEN", "tok-very-secret-42")
    code = 'import os\nraise RuntimeError("bad " + os.environ["SOME_TOKEN"])\n' + GOOD
    with pytest.raises(ToolDefinitionError) as info:
        ws.tools.accept(ToolDraft(name="shout", code=code))
    assert "RuntimeError: bad ***" in str(info.value) and "tok-very-secret-42" not in str(info.value)
    assert "shout" not in ws.tools


def test_a_requested_name_is_enforced(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(answer(GOOD), answer(GOOD.replace("shout", "yell"), name="yell"))
    draft = ws.tools.draft("make text loud", name="yell")
    assert draft.ok and draft.name == "yell" and draft.attempts == 2
    assert "must be named 'yell'" in messages_text(fake_openai.requests[1])


def test_accept_refuses_a_draft_with_problems(ws: Workspace) -> None:
    draft = ToolDraft(name="shout", code=TWO_PUBLIC, problems=["two public functions"])
    with pytest.raises(ToolDefinitionError, match="still has problems"):
        draft.accept(ws)
    assert "shout" not in ws.tools
    assert draft.accept(ws, force=True, save=False).name == "shout"


def test_secret_values_are_never_sent_with_the_request(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    ws.env.set("WEATHER_API_KEY", "s3cr3t-value-123")
    code = GOOD.replace("from typing import Literal", "import os\nfrom typing import Literal").replace(
        "return text", 'os.environ["WEATHER_API_KEY"]\n    return text')
    fake_openai.script(answer(code, env_vars=["WEATHER_API_KEY", "OTHER_KEY"]))
    draft = ws.tools.draft("weather")
    body = json.dumps(fake_openai.requests[0])
    assert "WEATHER_API_KEY" in body and "s3cr3t-value-123" not in body
    assert draft.env_vars == ["WEATHER_API_KEY", "OTHER_KEY"] and draft.missing_env == ["OTHER_KEY"]
    assert "%halion env set OTHER_KEY" in formats(draft)["text/markdown"]


def test_a_hard_coded_secret_is_hidden_and_sent_back_as_a_problem(ws: Workspace, fake_openai: FakeOpenAI) -> None:
    ws.env.set("WEATHER_API_KEY", "s3cr3t-value-123")
    leaky = GOOD.replace("return text", 'key = "s3cr3t-value-123"\n    return text')
    fake_openai.script(answer(leaky, rationale="Uses s3cr3t-value-123."), answer(GOOD))
    draft = ws.tools.draft("weather")
    assert draft.ok and draft.attempts == 2
    retry = json.dumps(fake_openai.requests[1]["messages"])
    assert "contains a secret value" in retry and "s3cr3t-value-123" not in retry

    fake_openai.script(*[answer(leaky, rationale="Uses s3cr3t-value-123.")] * 3)
    kept = ws.tools.draft("weather")
    shown = kept.model_dump_json() + repr(kept) + formats(kept)["text/markdown"]
    assert "s3cr3t-value-123" not in shown and 'key = "***"' in kept.code
    assert any("secret value" in p for p in kept.problems)


def test_a_registry_without_workspace_cannot_draft(tmp_path: Path) -> None:
    from halion_nb.core.tool_manager import ToolManager
    from halion_nb.core.tool_registry import ToolRegistry

    with pytest.raises(ConfigError, match="Workspace"):
        ToolRegistry(tmp_path, ToolManager(tmp_path / "s.json")).draft("x")


# -- the static check ------------------------------------------------------------------------

def check(code: str, name: str = "f", env: tuple[str, ...] = ()) -> Any:
    return check_draft(textwrap.dedent(code), name, env)


SIGNATURES = [
    "x: int, y: float = 1.5, flag: bool = False",
    "when: date, items: list[dict[str, int]], note: Optional[str] = None",
    "mode: Literal['a', 'b', 3] = 'a', maybe: int | None = None, *, tags: List[str] = []",
    "color: Color = Color.RED, point: Point | None = None, row: Row | None = None",
    "n: Annotated[int, Field(ge=1, description='How many')] = 1, x: 'float' = 0.0",
]
HEADER = '''\
from datetime import date
from enum import Enum
from typing import Annotated, List, Literal, Optional
from pydantic import BaseModel, Field
from typing_extensions import TypedDict


class Color(str, Enum):
    RED = "red"
    BLUE = "blue"


class Point(BaseModel):
    """A point."""
    x: float
    y: float = 0.0
    label: str = Field("p", description="Its name")


class Row(TypedDict, total=False):
    key: str
    value: int
'''


@pytest.mark.parametrize("signature", SIGNATURES)
def test_schema_from_the_ast_matches_the_real_function(signature: str) -> None:
    code = HEADER + f'\n\ndef f({signature}) -> str:\n    """Do it.\n\n    Args:\n        x: An x.\n    """\n    return ""\n'
    checked = check(code)
    assert checked.problems == [] and checked.warnings == []
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    real = describe_function(namespace["f"], "f")
    assert checked.parameters == real.parameters and checked.description == real.description


@pytest.mark.parametrize(("code", "problem"), [
    ("def f(x: int) -> int:\n    return x", "has no docstring"),
    ('def f(x) -> int:\n    """Doc."""\n    return x', "parameter 'x' has no type hint"),
    ('def f(*args: int) -> int:\n    """Doc."""\n    return 1', "'*args' is not supported"),
    ('def g(x: int) -> int:\n    """Doc."""\n    return x', "named 'g' but the tool's name is 'f'"),
    ('def f(x: int -> int:\n    pass', "does not parse"),
    ('import numpy as np\ndef f(x: np.ndarray) -> int:\n    """Doc."""\n    return 1', "cannot be read without running"),
    ('class Thing:\n    pass\ndef f(x: Thing) -> int:\n    """Doc."""\n    return 1', "cannot be read without running"),
    ('def f(x: int = len("ab")) -> int:\n    """Doc."""\n    return x', "is not a literal"),
    ('def f(x: int) -> str:\n    """Doc."""\n    return json.dumps(x)', "'json' is used (line 3) but never imported"),
    ('async def f(x: int) -> int:\n    """Doc."""\n    return x', "async"),
    ('def _f(x: int) -> int:\n    """Doc."""\n    return x', "no public function"),
    ('def f(x: Literal[len]) -> int:\n    """Doc."""\n    return 1', "cannot be read"),
    ('from typing import TypedDict\nclass R(TypedDict):\n    a: int\ndef f(x: R) -> int:\n    """Doc."""\n    return 1',
     "typing_extensions.TypedDict"),  # what describe_function says of the real function on 3.11
])
def test_problems(code: str, problem: str) -> None:
    problems = check("from typing import Literal\n" + code if "Literal" in code else code).problems
    assert any(problem in p for p in problems), problems


def test_annotations_are_never_evaluated_beyond_the_whitelist(tmp_path: Path) -> None:
    marker = tmp_path / "m"
    code = f'''
import os
def f(x: __import__("pathlib").Path({str(marker)!r}).write_text("x")) -> int:
    """Doc."""
    return 1
'''
    checked = check(code)
    assert not checked.ok and not marker.exists()


@pytest.mark.parametrize(("code", "warning"), [
    ("import socket", "reaches the network: import socket"),
    ("from urllib.request import urlopen\nurlopen", "reaches the network: from urllib.request import urlopen"),
    ("import requests as r\nr.get('x')", "requests.get()"),
    ("import http.client", "reaches the network: import http.client"),
    ("import os as o\no.popen('ls')", "runs other programs: os.popen()"),
    ("from os import system\nsystem('ls')", "os.system() (line"),
    ("import os\nos.execvp('a', [])", "os.execvp()"),
    ("import os\nos.remove('x')", "deletes files: os.remove()"),
    ("from pathlib import Path\nPath('x').unlink()", "deletes files: .unlink()"),
    ("exec('1')", "evaluates code built at run time: exec()"),
    ("compile('1', 'f', 'eval')", "compile()"),
    ("import os\nfor k in os.environ: pass", "reads the environment by a computed name"),
    ("import os\nos.getenv('HOME')", "reads environment variables it does not declare: HOME"),
])
def test_warnings(code: str, warning: str) -> None:
    imports = [line for line in code.splitlines() if line.startswith(("import", "from"))]
    rest = [line for line in code.splitlines() if not line.startswith(("import", "from"))]
    body = "\n".join(imports) + '\n\ndef f(x: int) -> int:\n    """Doc."""\n' + textwrap.indent(
        "\n".join(rest) or "pass", "    ") + "\n    return x\n"
    checked = check(body)
    assert any(warning in w for w in checked.warnings), checked.warnings


def test_declared_env_vars_and_harmless_code_give_no_warnings() -> None:
    code = '''
import os
from urllib.parse import quote

def f(city: str) -> str:
    """Doc."""
    return quote(city) + os.environ["WEATHER_KEY"] + os.getenv("UNITS", "metric")
'''
    assert check(code, env=("WEATHER_KEY", "UNITS")).warnings == []
