"""Which environment variables a tool's code reads, found without running it."""
from __future__ import annotations

import pytest

from halion_nb.core.env_detection import env_reads_outside, env_vars_in_source


def test_every_read_form_is_found() -> None:
    src = '''
import os

def tool(q: str) -> str:
    """Search."""
    a = os.environ["A_KEY"]
    b = os.environ.get("B_URL", "x")
    c = os.getenv("C_TOKEN")
    d = os.environ.setdefault("D_MODE", "fast")
    e = os.getenv(key="E_KEY")
    return a + b + c + d + e
'''
    assert env_vars_in_source(src) == ["A_KEY", "B_URL", "C_TOKEN", "D_MODE", "E_KEY"]


def test_nested_functions_lambdas_and_duplicates() -> None:
    src = '''
import os
def outer():
    def inner():
        return os.environ["INNER"]
    f = lambda: os.getenv("LAMBDA")
    class C:
        x = os.environ.get("IN_CLASS")
    return os.environ["INNER"], inner, f
'''
    assert env_vars_in_source(src) == ["INNER", "IN_CLASS", "LAMBDA"]


def test_aliases_are_followed() -> None:
    src = '''
import os as o
from os import environ as E, getenv
from os import getenv as ge
def f():
    return o.environ["ONE"], o.getenv("TWO"), E["THREE"], E.get("FOUR"), getenv("FIVE"), ge("SIX")
'''
    assert env_vars_in_source(src) == ["FIVE", "FOUR", "ONE", "SIX", "THREE", "TWO"]


def test_plain_from_os_import_environ() -> None:
    assert env_vars_in_source("from os import environ\nx = environ.get('K')\ny = environ['L']") == ["K", "L"]


def test_writes_and_presence_checks_are_not_reads() -> None:
    src = '''
import os
os.environ["W"] = "1"
del os.environ["W"]
os.environ.update({"U": "2"})
if "P" in os.environ:
    pass
'''
    assert env_vars_in_source(src) == []
    assert env_reads_outside(src, set()) == []


def test_drafted_body_without_import_and_indented() -> None:
    assert env_vars_in_source("    return os.environ['API_KEY']\n".replace("return", "x =")) == ["API_KEY"]


def test_other_objects_named_like_os_attributes_are_ignored() -> None:
    assert env_vars_in_source("cfg = {}\nx = cfg.get('NOT_ENV')\ny = settings.environ['NOPE']") == []


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(ValueError, match="line 3"):
        env_vars_in_source("import os\nx = 1\ndef f(:\n")


def test_reads_outside_declared() -> None:
    src = "import os\na = os.environ['A']\nb = os.getenv('B')"
    assert env_reads_outside(src, {"A"}) == ["B"]
    assert env_reads_outside(src, {"A", "B"}) == []


@pytest.mark.parametrize(
    "line",
    [
        "os.environ[name]",
        "os.environ.get(name)",
        "os.getenv(f'X_{n}')",
        "os.environ.get('A' + n)",
        "dict(os.environ)",
        "os.environ.copy()",
        "[k for k in os.environ]",
        "list(os.environ.items())",
        "subprocess.run(['x'], env=os.environ)",
        "g = os.environ.get",
        "g = os.getenv",
        "name in os.environ",
    ],
)
def test_dynamic_reads_are_flagged(line: str) -> None:
    src = f"import os, subprocess\nname = n = 'A'\nok = os.environ['DECLARED']\nx = {line}\n"
    assert env_reads_outside(src, {"DECLARED"}) == ["<dynamic>"]
    assert "<dynamic>" not in env_vars_in_source(src)


def test_dynamic_with_from_import_alias() -> None:
    src = "from os import environ as E\nx = dict(E)\ny = E['LIT']"
    assert env_reads_outside(src, set()) == ["LIT", "<dynamic>"]
