"""Security: hostile names write nothing anywhere, drafted code never runs on its own, the network
guard refuses at once, and a secret never reaches a file, a display or an error message."""
from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from halion_nb import export_tools, import_tools
from halion_nb.display.printers import formats
from halion_nb.errors import (
    ChainValidationError, HalionError, StateFileError, ToolLoadError, ToolNameError, ToolNotFoundError,
)
from halion_nb.models import ChainInput, Ref, Toolchain, ToolchainStep
from halion_nb.services.chains import ChainRunError
from halion_nb.testing import FakeOpenAI, NetworkBlocked, block_network, call, reply
from halion_nb.workspace import Workspace

HOSTILE = [
    "../x", "..", ".", "a/b", "a\\b", "/abs", "/etc/passwd", "C:\\x", "C:", "~", "~root", "%2e%2e", "x.py", "x.json",
    "con", "CON", "nul", "Nul", "aux", "prn", "com1", "LPT9", "schema", "Schema",
    "t\u0430ol",        # Cyrillic 'а'
    "\uff54\uff4f\uff4f\uff4c",  # full-width 'tool'
    "to\u200dol",       # zero-width joiner
    "tool\u200b",       # zero-width space
    "ｔool", "tool\n", "\ntool", "tool ", " tool", "", "a" * 65, "class", "None", "a\x00b", "-x", "1x",
]
"""Names that must be refused as tool and chain names, everywhere a name turns into a file."""


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    for name in ("HALION_REPLAY", "HALION_MODEL", "HALION_HOME", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    w = Workspace(tmp_path / "ws", model="gpt-test")
    yield w
    w.log.close()


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under `folder`, with size and mtime for files: what "nothing was written" is checked against."""
    out = {}
    for path in folder.rglob("*"):
        st = path.lstat()
        out[str(path.relative_to(folder))] = (0, 0) if path.is_dir() else (st.st_size, st.st_mtime_ns)
    return out


def outside(tmp_path: Path, ws: Workspace) -> dict[str, tuple[int, int]]:
    return {k: v for k, v in tree(tmp_path).items() if not (tmp_path / k).is_relative_to(ws.path)}


def echo(text: str) -> str:
    """Echo a text."""
    return text


# -- hostile names ------------------------------------------------------------------------------

def test_hostile_tool_names_are_refused_and_write_nothing(ws: Workspace, tmp_path: Path) -> None:
    ws.tools.register(echo)
    ws.tools.save("echo")
    before, inside = outside(tmp_path, ws), tree(ws.path)
    refused = 0
    for name in HOSTILE:
        fn = lambda text: text  # noqa: E731
        fn.__annotations__ = {"text": str, "return": str}
        fn.__doc__ = "Echo."
        fn.__name__ = name
        attempts = [
            lambda: ws.tools.register(echo, name=name or "\0"),  # name="" means "the function's name"
            lambda: ws.tools.register(fn),
            lambda: ws.tools.path_of(name),
            lambda: ws.tools.save(name),
            lambda: ws.tools.update_source(name, "def ok(x: int) -> int:\n    '''X.'''\n    return x\n"),
            lambda: ws.tools.remove(name, delete_file=True),
            lambda: ws.tools.enable(name),
        ]
        for attempt in attempts:
            with pytest.raises(HalionError) as caught:
                attempt()
            assert isinstance(caught.value, (ToolNameError, ToolNotFoundError)), caught.value
            refused += 1
    # a public function whose (valid Python) name is a look-alike: refused when it would become a file
    with pytest.raises(ToolNameError):
        ws.tools.update_source(None, "def t\u0430ol(x: int) -> int:\n    '''X.'''\n    return x\n")
    assert ws.tools.names() == ["echo"]
    assert outside(tmp_path, ws) == before and tree(ws.path) == inside
    assert refused == len(HOSTILE) * 7


def test_tool_files_with_reserved_or_hostile_names_are_not_run(ws: Workspace, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    (ws.path / "tools").mkdir(parents=True)
    for stem in ("schema", "con", "class", "t\u0430ol", "x.y", "-x"):
        (ws.path / "tools" / f"{stem}.py").write_text(f"open({str(marker)!r}, 'a').write('{stem}')\n")
    report = ws.tools.load()
    assert report.loaded == [] and len(report.errors) == 6
    assert not marker.exists(), "a file that cannot be a tool is not imported"


def a_chain(name: str) -> Toolchain:
    return Toolchain.model_construct(name=name, description="", inputs=[], output=None, parallel=False, expose=False,
                                     steps=[ToolchainStep(id="a", tool="echo", arguments={"text": "hi"})])


def test_hostile_chain_names_are_refused_by_save_export_import_and_remove(ws: Workspace, tmp_path: Path) -> None:
    ws.tools.register(echo)
    ws.chains.save(a_chain("fine"))
    shared = tmp_path / "shared"
    shared.mkdir()
    before, inside = outside(tmp_path, ws), tree(ws.path)
    for name in HOSTILE:
        for attempt in (lambda: ws.chains.save(a_chain(name)), lambda: ws.chains.save(a_chain(name), overwrite=True),
                        lambda: ws.chains.registry.path_of(name), lambda: ws.chains.remove(name),
                        lambda: ws.chains.export(name, shared), lambda: ws.chains.run(name)):
            with pytest.raises(HalionError):
                attempt()
        # a shared chain file with a harmless file name whose *name field* is hostile
        offered = shared / "offered.json"
        offered.write_text(json.dumps({"name": name, "steps": [{"id": "a", "tool": "echo", "arguments": {}}]}))
        with pytest.raises((StateFileError, ToolNameError)):
            ws.chains.import_(offered)
        with pytest.raises((StateFileError, ToolNameError)):
            ws.chains.import_(offered, overwrite=True)
        offered.unlink()
    assert ws.chains.names() == ["fine"]
    assert outside(tmp_path, ws) == before and tree(ws.path) == inside
    # names that pass the JSON pattern but are reserved: a file named so is reported, not loaded
    for stem in ("con", "schema", "class"):
        (ws.path / "chains" / f"{stem}.json").write_text(json.dumps({"name": stem, "steps": []}))
    assert set(ws.chains.load().errors) == {"con", "schema", "class"}


def test_export_tools_refuses_a_hostile_name_in_a_cell(tmp_path: Path) -> None:
    good = '%%tool\ndef good(x: int) -> int:\n    """Good."""\n    return x\n'
    cells = [good] + [f"%%tool --name {json.dumps(name)}\ndef f(x: int) -> int:\n    \"\"\"F.\"\"\"\n    return x\n"
                      for name in ("../evil", "/abs/evil", "C:\\\\evil", "con", "schema", "t\u0430ol", "a/b", "..")]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    project = tmp_path / "project"
    project.mkdir()
    notebook = project / "analysis.ipynb"
    nbformat.write(nb, notebook)
    before = tree(tmp_path)
    with pytest.raises(ToolLoadError) as caught:
        export_tools(notebook)
    assert "8 %%tool cell(s)" in str(caught.value) and "(1 written)" in str(caught.value)
    after = tree(tmp_path)
    assert set(after) - set(before) == {"project/tools", "project/tools/good.py"}
    assert all(after[k] == v for k, v in before.items())
    # and back: a tool file with a reserved name does not become a cell; the notebook is not written
    (project / "tools" / "con.py").write_text("def con(x: int) -> int:\n    return x\n")
    target = project / "back.ipynb"
    with pytest.raises(ToolNameError):
        import_tools(project / "tools", target)
    assert not target.exists()


# -- drafted code is never run --------------------------------------------------------------------

def evil_code(markers: Path) -> str:
    m = [str(markers / f"m{i}") for i in range(7)]
    return f'''\
import os
from pydantic import BaseModel, Field

open({m[0]!r}, "w").write("top-level code ran")


class Opts(BaseModel):
    level: int = Field(default_factory=lambda: __import__("os").system("touch {m[1]}"))


@(lambda f: (__import__("os").system("touch {m[6]}"), f)[1])
def evil(cmd: __import__("os").system("touch {m[2]}") = __import__("os").system("touch {m[3]}"),
         opts: "__import__('os').system('touch {m[4]}')" = None,
         more: Opts = Opts()) -> __import__("os").system("touch {m[5]}"):
    """Run a command.

    Args:
        cmd: The command.
        opts: Options.
        more: More options.
    """
    return "done"
'''


def test_a_drafted_tool_is_never_run_by_drafting_reviewing_or_showing_it(
        ws: Workspace, tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-secret-key-long")
    markers = tmp_path / "markers"
    markers.mkdir()
    code = evil_code(markers)
    answer = reply(json_content={"name": "evil", "code": code, "env_vars": [], "rationale": "Runs things."})
    fake_openai.script(*[answer] * 6)  # the draft goes back for fixes: up to 3 requests, twice

    draft = ws.tools.draft("run a command")
    assert draft.code == code and draft.name == "evil"
    assert not draft.ok and draft.warnings  # its types cannot be read without running it; the risks are listed
    assert any("evaluates code built at run time: __import__()" in w for w in draft.warnings)
    assert any("decorators run when the cell runs" in w for w in draft.warnings)
    assert any("runs code as soon as the cell runs" in w for w in draft.warnings)
    shown = [repr(draft), str(draft), str(formats(draft)), draft.model_dump_json()]
    assert all("evil" in s for s in shown)

    from halion_nb.widgets import find, panel

    view = panel("tools", ws=ws)
    find(view, "halion-tools-draft").click()
    find(view, "halion-tools-draft-description").value = "run a command"
    find(view, "halion-tools-draft-go").click()
    assert view.controller.wait(20)
    assert find(view, "halion-tools-source").value == code
    assert "Runs things." in find(view, "halion-tools-draft-review").value

    assert sorted(p.name for p in markers.iterdir()) == [], "drafted code ran without the person running it"
    assert "evil" not in ws.tools and not ws.tools.path_of("evil").exists()

    # the control: when the person does run it, the markers appear (so their absence above means something)
    with pytest.raises(HalionError):
        ws.tools.accept(draft, force=True)
    assert {"m0", "m2", "m3", "m5", "m6"} <= {p.name for p in markers.iterdir()}


# -- the network guard ----------------------------------------------------------------------------

def test_a_non_loopback_connection_is_refused_at_once(fake_openai: FakeOpenAI) -> None:
    attempts = [
        lambda: socket.create_connection(("203.0.113.7", 80), timeout=10),
        lambda: socket.socket().connect(("10.255.255.1", 443)),
        lambda: socket.socket().connect_ex(("198.51.100.1", 443)),
        lambda: socket.socket(socket.AF_INET6).connect(("2001:db8::1", 80, 0, 0)),
        lambda: socket.socket(socket.AF_INET6).connect(("::ffff:8.8.8.8", 53, 0, 0)),
        lambda: socket.getaddrinfo("example.com", 443),
        lambda: socket.create_connection(("api.openai.com", 443), timeout=10),
    ]
    with block_network() as guard:  # nested in the suite's own guard, so this test's attempts stay its own
        for attempt in attempts:
            start = time.perf_counter()
            with pytest.raises(NetworkBlocked, match="network access blocked"):
                attempt()
            assert time.perf_counter() - start < 0.5, "refused at once, not after a timeout"
        assert len(guard.violations) == len(attempts)
        host, port = fake_openai.base_url.split("//")[1].split("/")[0].split(":")
        socket.create_connection((host, int(port)), timeout=5).close()  # loopback still works
        assert len(guard.violations) == len(attempts)


# -- secrets --------------------------------------------------------------------------------------

SECRET = "hx-Rl7pQ2wZ9tVb4Nm6Kc"
"""No character that JSON or repr would escape: a leak shows up verbatim."""

TOKEN_TOOL = '''\
import os


def use_token(service: str, token: str = "") -> str:
    """Call a service with a token.

    Args:
        service: The service.
        token: A token to use instead of SERVICE_TOKEN.
    """
    used = token or os.environ["SERVICE_TOKEN"]
    if service == "fail":
        raise RuntimeError(f"service refused the token {used}")
    return f"{service} accepted {used}"
'''

COUNT_TOOL = '''\
def count(n: int) -> int:
    """Count to n.

    Args:
        n: How far.
    """
    return n
'''


def leaks(name: str, data: str | bytes) -> list[str]:
    if isinstance(data, str):
        return [name] if SECRET in data else []
    return [name] if SECRET.encode() in data or SECRET.encode("utf-16-le") in data else []


def test_a_secret_reaches_no_file_display_or_error(ws: Workspace, tmp_path: Path, fake_openai: FakeOpenAI,
                                                   monkeypatch: pytest.MonkeyPatch, tally: Any) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-secret-key-long")
    ws.env.set("SERVICE_TOKEN", SECRET)
    ws.tools.update_source(None, TOKEN_TOOL)
    ws.tools.update_source(None, COUNT_TOOL)
    carry = Toolchain(name="carry", inputs=[ChainInput(name="token")], steps=[
        ToolchainStep(id="a", tool="use_token", arguments={"service": "svc", "token": Ref("inputs.token")}),
        ToolchainStep(id="b", tool="use_token", arguments={"service": "env"}),
    ], output=Ref("steps.a.output"))
    fails = Toolchain(name="fails", inputs=[ChainInput(name="token")], steps=[
        ToolchainStep(id="a", tool="use_token", arguments={"service": "fail", "token": Ref("inputs.token")})])
    counting = Toolchain(name="counting", inputs=[ChainInput(name="n", type="integer")], steps=[
        ToolchainStep(id="a", tool="count", arguments={"n": Ref("inputs.n")})])
    mistyped = Toolchain(name="mistyped", inputs=[ChainInput(name="token")], steps=[
        ToolchainStep(id="a", tool="count", arguments={"n": Ref("inputs.token")})])
    for chain in (carry, fails, counting, mistyped):
        ws.chains.save(chain)

    shown: dict[str, str] = {}
    runs = [ws.chains.run("carry", token=SECRET), ws.chains.run("fails", token=SECRET),
            ws.chains.run("mistyped", token=SECRET)]
    assert SECRET in runs[0].output and not runs[1].ok and not runs[2].ok  # the secret really went through
    for i, run in enumerate(runs):
        shown[f"run {i} repr"] = repr(run)
        shown[f"run {i} views"] = str(formats(run))
        for step in run.steps:
            shown[f"run {i} step {step.id}"] = repr(step) + str(formats(step))
        if not run.ok:
            with pytest.raises(ChainRunError) as failed:
                run.raise_for_error()
            shown[f"run {i} error"] = str(failed.value)
    with pytest.raises(ChainValidationError) as wrong_input:
        ws.chains.run("counting", n=SECRET)
    shown["wrong chain input error"] = str(wrong_input.value) + "\n".join(wrong_input.value.problems)
    try:
        ws.chains.as_tool("fails").call({"token": SECRET})
    except ChainRunError as exc:
        shown["chain as tool error"] = str(exc)

    fake_openai.script(
        reply(tool_calls=[call("use_token", {"service": "svc"}), call("use_token", {"service": "fail"}),
                          call("count", {"n": SECRET})]),
        reply(f"Your token is {SECRET}."),
    )
    result = ws.chat("use my token")
    assert SECRET in json.dumps(fake_openai.requests[1]["messages"])  # the model did see it
    shown["chat str"], shown["chat repr"], shown["chat html"] = str(result), repr(result), str(formats(result))
    for i, record in enumerate(result.tool_calls):
        shown[f"chat tool call {i}"] = repr(record) + str(formats(record))
    shown["conversation"] = repr(ws.conversation)
    shown["log rows"] = repr(ws.log.recent(100))
    shown["env"], shown["env html"] = repr(ws.env), ws.env._repr_html_()
    shown["tools"], shown["tools html"] = repr(ws.tools), str(formats(ws.tools))
    shown["chains"], shown["chains markdown"] = repr(ws.chains), str(formats(ws.chains))

    for name in ws.tools.names():
        ws.tools.save(name)
    exported = tmp_path / "exported"
    exported.mkdir()
    for chain in ws.chains.names():
        ws.chains.export(chain, exported)

    found: list[str] = []
    for label, text in shown.items():
        found += leaks(label, text)
    files = [p for p in (ws.path / "tools").rglob("*")] + [p for p in (ws.path / "chains").rglob("*")]
    files += sorted((ws.path / ".halion").glob("calls.sqlite*")) + sorted(exported.iterdir())
    files += [p for p in (ws.path / ".halion").iterdir() if p.name != ".env" and p not in files]
    for path in files:
        if path.is_file():
            found += leaks(str(path.relative_to(tmp_path)), path.read_bytes())
    ws.log.close()  # checkpointed into the main file: scan it again
    found += leaks("calls.sqlite after close", (ws.path / ".halion" / "calls.sqlite").read_bytes())
    tally.add("secrets", found=len(found), places_scanned=len(shown) + len(files) + 1)
    assert found == [], f"the secret leaked into: {found}"
    assert SECRET in (ws.path / ".halion" / ".env").read_text()


# -- every form of a secret against every sink ------------------------------------------------------

MATRIX_SECRETS = {
    "SERVICE_TOKEN": "hx-Rl7pQ2wZ9tVb4Nm6Kc",
    "ODD_PASSWORD": 'pä"ss\\w/rd&<k> 9Zq-Tx4',  # JSON, URL, HTML and repr all escape it; non-ASCII for ensure_ascii
    "TLS_PRIVATE_KEY": ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIB\n"
                        "AQC7VJTUt9Us8cKBwko1a2b3c4d5e6f7g8h9i0jAkBlCmDnEoFp\n-----END PRIVATE KEY-----"),
}
MODEL_KEY = "sk-proj-Zq81mW0cVt5hYx2Lp9RfD3"
"""The model service key, quoted back by a 401."""

ENCODED = {
    "plain": "s",
    "JSON-escaped": "json.dumps(s, ensure_ascii=False)[1:-1]",
    "JSON ensure_ascii": "json.dumps(s)[1:-1]",
    "URL-quoted": "quote(s, safe='')",
    "URL quote_plus": "quote_plus(s)",
    "HTML-escaped": "html.escape(s)",
    "repr": "repr(s)[1:-1]",
    "near the 2,000-character cut": "'n' * 1990 + s",
    "near the 64 KiB log cut": "'f' * (64 * 1024 - 9) + s + ' tail'",
}
"""How the form tool writes each secret: the forms a sink may be handed."""
FORMS = [*ENCODED, "multi-line (a PEM key)", "split across stream chunks", "a tool argument", "quoted by a 401/400"]

FORM_TOOL = f'''\
import html
import json
import os
from urllib.parse import quote, quote_plus


def leak(form: str, which: str) -> str:
    """Return a secret in one encoding.

    Args:
        form: The encoding.
        which: The environment variable holding the secret.
    """
    s = os.environ[which]
    return {{{", ".join(f"{name!r}: {code}" for name, code in ENCODED.items())}}}[form]
'''

FAIL_TOOL = '''\
import os
from urllib.parse import quote


def refuse(which: str) -> str:
    """Fail with a secret in the message, plain and URL-quoted.

    Args:
        which: The environment variable holding the secret.
    """
    s = os.environ[which]
    raise RuntimeError(f"the service refused {s} (sent as {quote(s, safe='')})")
'''


KERNEL_CELLS = [
    "%load_ext halion_nb\nimport os\nfrom halion_nb import use_workspace\nws = use_workspace(os.environ['HALION_HOME'])",
    "%halion chat say them again",  # streamed, in pieces
    "%halion chat and fail",  # a 400 quoting secrets
    "%halion log -n 80",
    "ws.log.recent(80)",
    "ws.chains.run('leaky', which='ODD_PASSWORD')",
    "ws.tools",
    "ws.env",
    "ws.chat('and now?', stream=False)",  # a 401 quoting the key: the cell fails with a traceback
]
"""A real kernel on the same workspace: what the saved notebook holds after a session."""


def run_kernel(tmp_path: Path, ws: Workspace) -> str:
    """The executed notebook's JSON."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in KERNEL_CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells for o in c.outputs if o["output_type"] == "error"]
    failed = {e["ename"] for e in errors}  # the 401 cell; a failed %halion command may fail its cell too
    assert "AuthenticationFailed" in failed and failed <= {"AuthenticationFailed", "UsageError", "BadRequest"}, errors
    return nbformat.writes(nb)


def needles(secret: str) -> list[str]:
    """What would show the secret or a piece of it: its encodings, and every 8 characters of it (of each
    line of key material for a multi-line one) raw and JSON-escaped."""
    from html import escape
    from urllib.parse import quote, quote_plus

    whole = [secret, json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(secret)[1:-1], quote(secret, safe=""),
             quote_plus(secret), escape(secret), repr(secret)[1:-1]]
    lines = [line for line in secret.splitlines() if "PRIVATE KEY" not in line] or [secret]
    pieces = {p for text in lines for form in (text, json.dumps(text)[1:-1])
              for p in (form[i:i + 8] for i in range(len(form) - 7))}
    return sorted(set(whole) | pieces)


def test_every_form_of_a_secret_reaches_no_sink(ws: Workspace, tmp_path: Path, fake_openai: FakeOpenAI,
                                                monkeypatch: pytest.MonkeyPatch, tally: Any) -> None:
    from urllib.parse import quote

    from halion_nb.display.printers import formats
    from halion_nb.testing import error

    replay = tmp_path / "session.jsonl"
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("HALION_REPLAY", str(replay))  # live and recording
    ws.max_retries = 0
    for name, value in MATRIX_SECRETS.items():
        ws.env.set(name, value)
    ws.env.set("OPENAI_API_KEY", MODEL_KEY)
    ws.tools.update_source(None, FORM_TOOL)
    ws.tools.update_source(None, FAIL_TOOL)
    secrets = [*MATRIX_SECRETS.values(), MODEL_KEY]
    everything = " | ".join(secrets)

    fake_openai.script(
        reply(tool_calls=[call("leak", {"form": form, "which": which}) for form in ENCODED for which in MATRIX_SECRETS]
              + [call("refuse", {"which": which}) for which in MATRIX_SECRETS]
              + [call("leak", {"form": value, "which": "SERVICE_TOKEN"}) for value in MATRIX_SECRETS.values()]),
        reply(f"Here they are: {everything}.", chunk_size=3),
        error(401, f"Incorrect API key provided: {MODEL_KEY}."),
        error(400, f"Invalid 'messages[0]': {'m' * 185}{secrets[0]} (also {secrets[1]} and {secrets[2]})"),
        reply("noted"),
        reply(f"Again: {everything}.", chunk_size=3),  # the kernel's turns
        error(400, f"Invalid 'messages': {quote(secrets[0])} / {secrets[2]}"),
        error(401, f"Incorrect API key provided: {MODEL_KEY}."),
    )
    streamed: list[str] = []
    result = ws.chat("show me my secrets", on_text=streamed.append)
    assert result.text == f"Here they are: {everything}." and len(result.tool_calls) == 33
    results = json.dumps([r.result for r in result.tool_calls], ensure_ascii=False)
    assert all(json.dumps(v, ensure_ascii=False)[1:-1] in results for v in MATRIX_SECRETS.values()), "the tools ran"
    raised: list[BaseException] = []
    for _ in range(2):
        with pytest.raises(HalionError) as caught:
            ws.chat("again", stream=False)
        raised.append(caught.value)
    ws.chat("x" * 1990 + secrets[0] + " " + secrets[2], stream=False)  # the log keeps the last message's first 2,000

    chain = Toolchain(name="leaky", inputs=[ChainInput(name="which")], steps=[
        ToolchainStep(id="a", tool="leak", arguments={"form": "JSON-escaped", "which": Ref("inputs.which")}),
        ToolchainStep(id="b", tool="refuse", arguments={"which": Ref("inputs.which")})])
    ws.chains.save(chain)
    runs = [ws.chains.run("leaky", which=which) for which in MATRIX_SECRETS]
    for run in runs:
        with pytest.raises(ChainRunError) as caught:
            run.raise_for_error()
        raised.append(caught.value)
    ws.tools.disable("refuse")
    ws.tools.enable("refuse")  # tool_status.json written
    for name in ws.tools.names():
        ws.tools.save(name)
    exported = tmp_path / "exported"
    exported.mkdir()
    ws.chains.export("leaky", exported)
    monkeypatch.setenv("HALION_HOME", str(ws.path))
    monkeypatch.delenv("OPENAI_API_KEY")  # the kernel's workspace loads it from .halion/.env
    kernel_notebook = run_kernel(tmp_path, ws)
    assert fake_openai.pending == 0, "the kernel asked for its answers"
    assert "Again: *** | ***" in kernel_notebook, "the kernel showed the streamed answer, redacted"

    shown: dict[str, str] = {}
    for label, obj in [("chat result", result), *((f"tool call {i}", r) for i, r in enumerate(result.tool_calls)),
                       *((f"chain run {i}", r) for i, r in enumerate(runs)),
                       *((f"step {i}.{s.id}", s) for i, r in enumerate(runs) for s in r.steps),
                       ("tools", ws.tools), ("chains", ws.chains), ("env", ws.env), ("conversation", ws.conversation),
                       ("log rows", ws.log.recent(100))]:
        shown[f"{label} repr"], shown[f"{label} str"] = repr(obj), str(obj)
        for mime, text in formats(obj).items():
            shown[f"{label} {mime}"] = text
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "x", outputs=[nbformat.v4.new_output("display_data", data=formats(obj))])
        for obj in [result, *result.tool_calls, *runs, ws.tools, ws.chains]])
    sinks: dict[str, dict[str, str | bytes]] = {
        "exceptions": {f"exception {i}": " ".join([str(e), repr(e), *map(str, e.args)]) for i, e in enumerate(raised)},
        "on_text stream": {f"streamed up to piece {i}": "".join(streamed[:i]) for i in range(1, len(streamed) + 1)},
        "reprs, HTML and Markdown of results": shown,
        "notebook JSON": {"a real kernel's notebook": kernel_notebook, "display bundles": nbformat.writes(notebook)},
        "call log (database and WAL)": {p.name: p.read_bytes() for p in (ws.path / ".halion").glob("calls.sqlite*")},
        "replay recording": {replay.name: replay.read_bytes()},
        "tools/": {p.name: p.read_bytes() for p in (ws.path / "tools").rglob("*") if p.is_file()},
        "chains/ and exported chains": {str(p.relative_to(tmp_path)): p.read_bytes()
                                        for p in [*(ws.path / "chains").rglob("*.json"), *exported.iterdir()]},
        "tool_status.json": {"tool_status.json": (ws.path / ".halion" / "tool_status.json").read_bytes()},
        "other workspace state": {p.name: p.read_bytes() for p in (ws.path / ".halion").iterdir()
                                  if p.is_file() and p.name != ".env" and not p.name.startswith("calls.sqlite")
                                  and p.name != "tool_status.json"},
    }
    ws.log.close()  # checkpointed into the main file: scan it again
    sinks["call log (database and WAL)"]["after close"] = (ws.path / ".halion" / "calls.sqlite").read_bytes()
    assert len(streamed) > 5 and all(sinks[k] for k in ("tools/", "replay recording", "notebook JSON"))

    looked_for = [n for s in secrets for n in needles(s)]
    found = []
    for sink, places in sinks.items():
        for place, data in places.items():
            text = data if isinstance(data, str) else data.decode("utf-8", "replace")
            wide = "" if isinstance(data, str) else data.decode("utf-16-le", "replace")
            found += [f"{sink} / {place}: {n!r}" for n in looked_for if n in text or n in wide]
    tally.add("secrets", forms=len(FORMS), sinks=len(sinks), places_scanned=sum(map(len, sinks.values())),
              found=len(found))
    assert found == [], f"{len(found)} leak(s): " + "; ".join(found[:20])
    control = (ws.path / ".halion" / ".env").read_text()  # the one place they are kept: the scan finds them there
    assert "***" in shown["chat result str"] and sum(n in control for n in looked_for) > len(secrets)
