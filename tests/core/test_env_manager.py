"""Secrets in .halion/.env: stored safely, loaded on open, never shown."""
from __future__ import annotations

import html
import json
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from halion_nb.core.env_manager import EnvManager
from halion_nb.errors import ConfigError, StateFileError, ToolNotFoundError

SECRET = "sk-live-7f3a9c2e1b"
NASTY = [
    "with spaces  ",
    "  leading",
    'dq"inside"',
    "sq'inside'",
    "hash # not a comment",
    "#starts-with-hash",
    "multi\nline\r\nvalue",
    "a=b=c",
    "back\\slash\\n-not-newline",
    "ends-with-backslash\\",
    "tab\there",
    "ünïcødé ✓",
    "",
]


@pytest.fixture
def env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for i in range(len(NASTY)):
        monkeypatch.delenv(f"V{i}", raising=False)
    for name in ("MY_API_KEY", "OTHER_TOKEN", "PLAIN", "NEEDED_KEY", "UNUSED"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / ".halion" / ".env"


def test_constructing_creates_nothing(env_file: Path) -> None:
    m = EnvManager(env_file)
    m.unset("PLAIN")
    assert not env_file.parent.exists()
    assert m.load() == [] and m.names() == []


def test_set_writes_0600_sets_process_env_and_reloads(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    EnvManager(env_file).set("MY_API_KEY", SECRET)
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert os.environ["MY_API_KEY"] == SECRET
    monkeypatch.delenv("MY_API_KEY")
    fresh = EnvManager(env_file)
    assert fresh.load() == ["MY_API_KEY"]
    assert os.environ["MY_API_KEY"] == SECRET and fresh.is_set("MY_API_KEY")


def test_load_does_not_override_the_process(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    EnvManager(env_file).set("MY_API_KEY", SECRET)
    monkeypatch.setenv("MY_API_KEY", "from-the-shell")
    assert EnvManager(env_file).load() == []
    assert os.environ["MY_API_KEY"] == "from-the-shell"


def test_nasty_values_round_trip_through_dotenv(env_file: Path) -> None:
    """Each value reads back identically through the installed python-dotenv, or (only a value ending in
    a backslash, which dotenv releases have parsed differently) is refused with nothing changed."""
    m, expected = EnvManager(env_file), {}
    for i, value in enumerate(NASTY):
        before = env_file.read_text() if env_file.exists() else None
        try:
            m.set(f"V{i}", value)
        except ConfigError:
            assert value.endswith("\\") and (env_file.read_text() if env_file.exists() else None) == before
            continue
        expected[f"V{i}"] = value
    assert len(expected) >= len(NASTY) - 1
    assert dotenv_values(env_file) == expected
    assert dotenv_values(env_file, interpolate=False) == expected
    assert {n: os.environ[n] for n in expected} == expected


def test_interpolation_syntax_is_stored_verbatim(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m = EnvManager(env_file)
    m.set("PLAIN", "pa${HOME}ss")
    monkeypatch.delenv("PLAIN")
    EnvManager(env_file).load()
    assert os.environ["PLAIN"] == "pa${HOME}ss"
    assert dotenv_values(env_file, interpolate=False)["PLAIN"] == "pa${HOME}ss"


def test_set_leaves_no_temp_file_and_keeps_the_old_file_on_failure(
    env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = EnvManager(env_file)
    m.set("MY_API_KEY", SECRET)
    m.set("OTHER_TOKEN", "tok-1234")
    assert sorted(p.name for p in env_file.parent.iterdir()) == [".env", ".env.lock"]

    def boom(*a: object, **k: object) -> None:
        raise OSError("disk full")

    before = env_file.read_text()
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        m.set("PLAIN", "never-written")
    assert env_file.read_text() == before
    assert sorted(p.name for p in env_file.parent.iterdir()) == [".env", ".env.lock"]


def test_unset_and_names(env_file: Path) -> None:
    m = EnvManager(env_file)
    m.set("MY_API_KEY", SECRET)
    m.set("PLAIN", "value")
    assert m.names() == ["MY_API_KEY", "PLAIN"]
    m.unset("MY_API_KEY")
    m.unset("UNUSED")
    assert m.names() == ["PLAIN"] and "MY_API_KEY" not in os.environ
    assert m.status(["PLAIN", "MY_API_KEY"]) == {"PLAIN": True, "MY_API_KEY": False}


@pytest.mark.parametrize("bad", ["1ABC", "A-B", "A B", "", "sk-live-7f3a9c2e1b"])
def test_bad_names_are_refused_without_echoing_them(env_file: Path, bad: str) -> None:
    with pytest.raises(ConfigError) as e:
        EnvManager(env_file).set(bad, "value")
    assert not bad or bad not in str(e.value)
    assert not env_file.exists()


def test_non_str_value_is_refused(env_file: Path) -> None:
    with pytest.raises(ConfigError, match="must be a str"):
        EnvManager(env_file).set("PLAIN", 12345)  # type: ignore[arg-type]


def test_displays_show_names_never_values(env_file: Path) -> None:
    m = EnvManager(env_file, sources=lambda: {"search": "import os\nk = os.environ['NEEDED_KEY']"})
    m.set("MY_API_KEY", SECRET)
    for shown in (repr(m), m._repr_html_()):
        assert SECRET not in shown
        assert "MY_API_KEY" in shown and "NEEDED_KEY" in shown and "missing" in shown


def test_required_and_missing(env_file: Path) -> None:
    sources = {
        "search": "import os\nk = os.environ['NEEDED_KEY']\nu = os.getenv('MY_API_KEY')",
        "calc": "def calc(x: int) -> int:\n    return x",
        "broken": "def (:",
    }
    m = EnvManager(env_file, sources=lambda: sources)
    m.set("MY_API_KEY", SECRET)
    assert m.required("search") == ["MY_API_KEY", "NEEDED_KEY"]
    assert m.required("import os\nos.getenv('PLAIN')") == ["PLAIN"]
    assert m.missing() == {"search": ["NEEDED_KEY"]}
    with pytest.raises(ToolNotFoundError):
        m.required("nope")


def test_secrets_include_secret_looking_process_vars(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTHER_TOKEN", "ghp_abcdefgh")
    monkeypatch.setenv("PLAIN", "not-a-secret-name")
    m = EnvManager(env_file)
    m.set("UNUSED", "abc")  # too short to redact
    s = m.secrets()
    assert "ghp_abcdefgh" in s and "not-a-secret-name" not in s and "abc" not in s


def test_redact_hides_values_and_their_escaped_forms(env_file: Path) -> None:
    m = EnvManager(env_file)
    assert m.redact("nothing to hide") == "nothing to hide"
    m.set("MY_API_KEY", SECRET)
    m.set("OTHER_TOKEN", 'quo"te\nline')
    value = 'quo"te\nline'
    text = f"key={SECRET}; repr={ {'v': value} } json={json.dumps(value)}"
    out = m.redact(text)
    assert SECRET not in out and "quo" not in out and out.count("***") == 3
    assert m.redact({"k": SECRET}) == "{'k': '***'}"
    assert m.redact(42) == "42"


def test_redact_overlapping_secrets_leaves_no_piece(env_file: Path) -> None:
    m = EnvManager(env_file)
    m.set("MY_API_KEY", "abcdef-1234567890")
    m.set("OTHER_TOKEN", "1234567890-ghijkl")
    m.set("PLAIN", "f-1234567890-g")
    m.set("UNUSED", "sk-abcdefghijklmnop")
    assert m.redact("<abcdef-1234567890-ghijkl> <xsk-abcdefghijklmnopx>") == "<***> <x***x>"


def test_garbled_file_raises_without_values(env_file: Path) -> None:
    env_file.parent.mkdir(parents=True)
    env_file.write_text(f'MY_API_KEY="{SECRET}"\nOTHER_TOKEN="unterminated-tok-999\n')
    m = EnvManager(env_file)
    with pytest.raises(StateFileError) as e:
        m.load()
    msg = str(e.value)
    assert str(env_file) in msg and "line 2" in msg
    assert SECRET not in msg and "unterminated" not in msg
    with pytest.raises(StateFileError):
        m.set("PLAIN", "x")  # never overwrite a file it cannot read
    assert "unterminated-tok-999" in env_file.read_text()
    assert SECRET not in repr(m)


def test_non_utf8_file_raises_without_values(env_file: Path) -> None:
    env_file.parent.mkdir(parents=True)
    env_file.write_bytes(b"MY_API_KEY=secret\xff\xfe-value\n")
    with pytest.raises(StateFileError) as e:
        EnvManager(env_file).load()
    assert "secret" not in str(e.value).replace("secrets file", "")


def test_file_edited_by_hand_is_reread(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m = EnvManager(env_file)
    m.set("PLAIN", "one1")
    env_file.write_text('# comment\nexport PLAIN="two22"\nOTHER_TOKEN=tok-abc  # note\n')
    assert m.names() == ["OTHER_TOKEN", "PLAIN"]
    assert "tok-abc" in m.secrets()


VALUES = st.text(st.sampled_from(list("ab \t\n\r\\\"'#=${}\u00e9\u2713")) | st.characters(), max_size=12)
"""Values made of what dotenv parsers treat specially: quotes, backslashes, #, =, ${}, line ends, spaces."""

READ_BACK = textwrap.dedent("""
    import json, sys
    from halion_nb.core.env_manager import EnvManager
    print(json.dumps([EnvManager(path)._read() for path in json.loads(sys.argv[1])]))
""")


def test_a_value_is_stored_and_read_back_exactly_or_refused_cleanly(tmp_path: Path) -> None:
    """The contract, whatever the installed python-dotenv's parser does: after each `set`, the value
    reads back identically (this EnvManager, a fresh one, a new process, os.environ), or the set is
    refused with a ConfigError that leaves the file, the environment and the other values as they were."""
    stored: list[tuple[str, dict[str, str]]] = []
    refused = []

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(VALUES, min_size=1, max_size=4))
    def check(values: list[str]) -> None:
        path = Path(tempfile.mkdtemp(dir=tmp_path)) / ".halion" / ".env"
        m, expected = EnvManager(path), {}
        names = [f"HALION_PROP_V{i}" for i in range(len(values))]
        try:
            for name, value in zip(names, values):
                before = path.read_text() if path.exists() else None
                try:
                    m.set(name, value)
                except ConfigError as exc:
                    refused.append(value)
                    assert path.read_text() if path.exists() else None == before
                    assert name not in os.environ
                    assert len(value) < 4 or value not in str(exc)
                    continue
                expected[name] = value
                assert os.environ[name] == value
                assert EnvManager(path)._read() == expected == m._read()
        finally:
            for name in names:
                os.environ.pop(name, None)
        if expected:
            stored.append((str(path), expected))

    check()
    assert stored, "some values were stored"
    assert all("\0" in v for v in refused) or len(refused) < len(stored), "refusing is the exception"
    read = subprocess.run([sys.executable, "-c", READ_BACK, json.dumps([p for p, _ in stored])],
                          capture_output=True, text=True, check=True)
    assert json.loads(read.stdout) == [values for _, values in stored]


def test_nul_is_refused_without_touching_the_file(env_file: Path) -> None:
    m = EnvManager(env_file)
    m.set("PLAIN", "kept")
    before = env_file.read_text()
    with pytest.raises(ConfigError, match="NUL"):
        m.set("OTHER_TOKEN", "secret\0value")
    assert env_file.read_text() == before and "OTHER_TOKEN" not in os.environ


WRITER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from halion_nb.core.env_manager import EnvManager
    path, who, count, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    while not go.exists():
        time.sleep(0.001)
    m = EnvManager(path)
    for i in range(count):
        m.set(f"{who}_KEY_{i}", f"value-{who}-{i}")
""")


def test_two_processes_setting_values_at_once_lose_none(env_file: Path) -> None:
    EnvManager(env_file).set("PLAIN", "already-there")
    go = env_file.parent / "go"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(env_file), who, "60", str(go)])
               for who in ("A", "B")]
    go.touch()
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    values = EnvManager(env_file)._read()
    expected = {f"{who}_KEY_{i}": f"value-{who}-{i}" for who in "AB" for i in range(60)}
    assert {k: v for k, v in values.items() if k != "PLAIN"} == expected, f"{len(values) - 1} of 120 kept"
    assert values["PLAIN"] == "already-there"


def test_json_words_stored_as_values_are_not_redacted_out_of_json(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEATURE_FLAG", raising=False)
    env = EnvManager(env_file)
    env.set("FEATURE_FLAG", "true")
    env.set("MY_API_KEY", SECRET)
    text = json.dumps({"stream": True, "key": SECRET})
    assert json.loads(env.redact(text)) == {"stream": True, "key": "***"}


def test_a_numeric_value_is_never_redacted_inside_numbers_or_json(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEARCH_LIMIT", raising=False)
    env = EnvManager(env_file)
    env.set("SEARCH_LIMIT", "1000")
    env.set("MY_API_KEY", SECRET)
    text = json.dumps({"total": 21000, "limit": 1000, "page": "1000", "key": SECRET})
    assert json.loads(env.redact(text)) == {"total": 21000, "limit": 1000, "page": "1000", "key": "***"}


def test_a_url_quoted_or_html_escaped_secret_is_redacted(env_file: Path) -> None:
    from urllib.parse import quote, quote_plus

    env = EnvManager(env_file)
    value = "p@ss w/rd&<key>é"
    env.set("MY_API_KEY", value)
    for shown in (quote(value), quote(value, safe=""), quote_plus(value), html.escape(value),
                  json.dumps(value, ensure_ascii=True)[1:-1], repr(value)[1:-1]):
        assert env.redact(f"GET /x?token={shown} failed") == "GET /x?token=*** failed", shown
    stream = env.stream_redactor()
    assert stream.feed("token p@ss") == "token " and stream.feed(" w/rd&<key>é!") == "***!"
