"""Views attach to IPython from outside the classes: without %load_ext, lazily, and put back on unload."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from halion_nb.display.printers import VIEWS
from halion_nb.services.chat import ChatResult, ToolCallRecord, Usage

IN_IPYTHON = textwrap.dedent('''
    import json, sys
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    markdown = shell.display_formatter.formatters["text/markdown"]
    theirs = lambda chain: "*someone else's view*"
    markdown.for_type_by_name("halion_nb.models", "Toolchain", theirs)
    import halion_nb                      # no %load_ext
    from halion_nb.workspace import Workspace
    from halion_nb.models import Toolchain
    ws = Workspace(sys.argv[1])
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b
    ws.tools.register(add)
    chain = Toolchain.model_validate({"name": "twice", "steps": [{"id": "s", "tool": "add", "arguments": {"a": 1, "b": 1}}]})
    views_loaded = sorted(m for m in sys.modules if m.startswith("halion_nb.display."))
    fmt = lambda obj: shell.display_formatter.format(obj)[0]
    shown = {"tools": fmt(ws.tools), "chain": fmt(chain), "run": fmt(ws.chains.run(chain))}
    halion_nb.unload_ipython_extension(shell)
    after_unload = {"tools": fmt(ws.tools), "chain": fmt(chain)}
    shell.run_line_magic("load_ext", "halion_nb")
    reloaded = fmt(ws.tools)
    ws.log.close()
    print(json.dumps({"views_loaded": views_loaded, "shown": shown, "after_unload": after_unload,
                      "reloaded": reloaded}))
''')


def test_a_workspace_displays_in_ipython_without_load_ext_and_unload_puts_back_the_old_printers(
        tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", IN_IPYTHON, str(tmp_path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["views_loaded"] == ["halion_nb.display.printers"]  # the views load when first shown
    shown = found["shown"]
    assert "halion-tools" in shown["tools"]["text/html"] and "add" in shown["tools"]["text/html"]
    assert "```mermaid" in shown["chain"]["text/markdown"] and "Toolchain twice" in shown["chain"]["text/plain"]
    assert "ChainRun twice: ok" in shown["run"]["text/plain"] and "```mermaid" in shown["run"]["text/markdown"]
    after = found["after_unload"]
    assert "text/html" not in after["tools"]  # ours are gone ...
    assert after["chain"]["text/markdown"] == "*someone else's view*"  # ... and the one we replaced is back
    assert "halion-tools" in found["reloaded"]["text/html"]


def test_plain_repr_outside_ipython_is_one_readable_redacted_line() -> None:
    secret = "sk-live-0123456789abcdef"
    hide = lambda text: text.replace(secret, "***")  # noqa: E731
    record = ToolCallRecord(id="c1", name="login", arguments={"token": secret}, result=f"ok {secret}",
                            duration_ms=3.0)
    result = ChatResult(text=f"Logged in with {secret}.", tool_calls=[record], messages=[], usage=Usage(),
                        rounds=2, stopped_reason="stop", redact=hide)
    for text in (repr(result), repr(record)):
        assert secret not in text and "***" in text and "\n" not in text
    assert repr(result) == "ChatResult(stop, 2 round(s), tool calls: login ✓): Logged in with ***."
    assert repr(record) == 'ToolCallRecord(login({"token": "***"}) → ok ***, 3 ms)'


def test_every_view_names_a_class_that_exists() -> None:
    import importlib

    for (module, name), specs in VIEWS.items():
        assert hasattr(importlib.import_module(module), name), f"{module}.{name}"
        for spec in specs.values():
            view_module, _, function = spec.partition(":")
            assert callable(getattr(importlib.import_module(f"halion_nb.display.{view_module}"), function)), spec


def test_an_outcome_shows_what_the_caller_received_redacted(tmp_path: Path) -> None:
    from halion_nb.display.printers import formats
    from halion_nb.workspace import Workspace

    ws = Workspace(tmp_path)
    secret = "tok-9f8e7d6c5b4a39281706"
    ws.env.set("SERVICE_TOKEN", secret)

    def token() -> str:
        """Return the service token."""
        return f"the token is {secret}"

    ws.tools.register(token)
    outcome = ws.tools.invoke("token")
    assert outcome.result == f"the token is {secret}"  # the data is not redacted ...
    views = formats(outcome)
    assert "the token is ***" in views["text/html"] and "🔧 token() ✓ the token is ***" in views["text/plain"]
    assert secret not in str(views)  # ... what is shown is
    ws.log.close()
