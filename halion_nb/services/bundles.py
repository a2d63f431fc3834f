"""Bundles: one JSON file holding a chain and the source of every tool it uses, to share a chain whole.

`export_bundle` writes it. `import_bundle` reads it and plans, writing nothing: what would be
added, what is identical and skipped, what conflicts (same name, other content: refused unless
`overwrite`). Imported tool code is someone else's code, so it is checked the way a drafted tool
is (`draft_check.check_draft`, `ast` only) and runs only when the person accepts the plan
(`report.accept()`). A bundle that cannot be trusted to mean what it says (not JSON, too big,
a newer format, a name that is not a plain identifier, code that does not match its hash) is
refused with a `BundleError`, and nothing is written.
"""
from __future__ import annotations

import inspect
import json
import linecache
import sys
import types
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from .._version import __version__
from ..core.files import atomic_write_text
from ..core.naming import check_name
from ..core.tool import Tool
from ..core.tool_files import render_tool_file, secret_in, strip_schema
from ..core.toolchain_registry import chain_to_json
from ..core.versions import content_hash
from ..errors import ChainValidationError, HalionError
from ..models import Toolchain, as_toolchain, error_text
from .draft_check import check_draft

if TYPE_CHECKING:
    from ..workspace import Workspace

FORMAT = "halion-bundle"
FORMAT_VERSION = 1
"""The bundle format this halion_nb writes and the newest it reads."""
MAX_BUNDLE_BYTES = 2_000_000
"""Largest bundle file read; anything bigger is refused unread."""
MAX_TOOLS = 64
"""Most tools one bundle may hold."""


class BundleError(HalionError):
    """A bundle that cannot be exported or imported as it is; nothing was written."""


class BundledTool(BaseModel):
    """One tool in a bundle: its name, its source and the source's version (12 hex digits of its sha256)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    source: str


class BundleFile(BaseModel):
    """The bundle file's fields (read once its format version is known to be readable)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["halion-bundle"]
    format_version: int
    chain: dict[str, Any]
    tools: list[BundledTool]
    exported: str | None = None
    halion_nb: str | None = None


# export
def export_bundle(ws: Workspace, name: str, path: str | Path) -> Path:
    """Write the chain `name` and its tools' source to `path` (a file, or a folder to write `<name>.bundle.json` into)."""
    text = bundle_json(ws, name)
    target = Path(path).expanduser()
    if target.is_dir():
        target = target / f"{name}.bundle.json"
    return atomic_write_text(target, text)


def bundle_json(ws: Workspace, name: str) -> str:
    """The text of the chain's bundle (what `export_bundle` writes; the Chains panel offers it as a download)."""
    chain = ws.chains.get(name)
    tools: list[dict[str, str]] = []
    for tool_name in dict.fromkeys(step.tool for step in chain.steps):
        tool = ws.tools.get(tool_name)
        source = tool.source
        if source is None or not tool.version:
            raise BundleError(f"Tool '{tool_name}' has no source code (a remote MCP tool or a function Python keeps "
                              "no source of), so the chain cannot travel in a bundle.")
        if secret_in(source) or ws.env.redact(source) != source:
            raise BundleError(f"Tool '{tool_name}' holds the value of a secret; a bundle never carries one. "
                              "Read it in the tool with os.environ instead.")
        tools.append({"name": tool_name, "version": tool.version, "source": source})
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, "halion_nb": __version__,
            "exported": datetime.now(UTC).isoformat(timespec="seconds"), "chain": chain_to_json(chain), "tools": tools}
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    size = len(text.encode("utf-8"))
    if size > MAX_BUNDLE_BYTES:
        raise BundleError(f"The bundle of '{name}' would be {size:,} bytes; a bundle holds at most "
                          f"{MAX_BUNDLE_BYTES:,} (its tools' source is too big).")
    return text


# reading
def read_bundle(source: str | Path | bytes, label: str | None = None) -> tuple[Toolchain, list[BundledTool]]:
    """Parse and check a bundle (a path, or the file's bytes); BundleError says what makes it unusable."""
    where = label or ("the uploaded bundle" if isinstance(source, bytes) else Path(source).name)
    raw = source if isinstance(source, bytes) else _read_limited(Path(source).expanduser(), where)
    if len(raw) > MAX_BUNDLE_BYTES:
        raise BundleError(f"{where}: larger than {MAX_BUNDLE_BYTES:,} bytes, the most a bundle may hold. Nothing was written.")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BundleError(f"{where}: not UTF-8 text, so not a bundle. Nothing was written.") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}). "
                          "Nothing was written.") from None
    except (ValueError, RecursionError):
        raise BundleError(f"{where}: not valid JSON (a number too long or nesting too deep). Nothing was written.") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BundleError(f"{where}: not a halion bundle (no \"format\": \"{FORMAT}\"); a plain chain file imports with "
                          "ws.chains.import_(path). Nothing was written.")
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BundleError(f"{where}: its format_version {str(version)[:20]!r} is not a version number. Nothing was written.")
    if version > FORMAT_VERSION:
        raise BundleError(f"{where}: made by a newer halion_nb (bundle format {version}; this one reads up to "
                          f"{FORMAT_VERSION}). Upgrade halion_nb to import it. Nothing was written.")
    try:
        bundle = BundleFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'bundle'}: {error_text(e)}" for e in exc.errors()[:5])
        raise BundleError(f"{where}: not a valid bundle ({problems}). Nothing was written.") from None
    try:
        chain = as_toolchain(bundle.chain)
    except ChainValidationError as exc:
        raise BundleError(f"{where}: its chain is not valid ({'; '.join(exc.problems[:5])}). Nothing was written.") from None
    if len(bundle.tools) > MAX_TOOLS:
        raise BundleError(f"{where}: holds {len(bundle.tools)} tools; a bundle holds at most {MAX_TOOLS}. Nothing was written.")
    used = {step.tool for step in chain.steps}
    seen: set[str] = set()
    for tool in bundle.tools:
        try:
            check_name(tool.name)
        except HalionError as exc:
            raise BundleError(f"{where}: {exc} Nothing was written.") from None
        if tool.name in seen:
            raise BundleError(f"{where}: holds the tool '{tool.name}' twice. Nothing was written.")
        seen.add(tool.name)
        if tool.name not in used:
            raise BundleError(f"{where}: holds the tool '{tool.name}', which its chain does not use. Nothing was written.")
        if content_hash(tool.source)[:12] != tool.version:
            raise BundleError(f"{where}: the source of tool '{tool.name}' does not match its version {tool.version[:20]!r} "
                              "(the bundle was changed or damaged). Nothing was written.")
    return chain, bundle.tools


def _read_limited(path: Path, where: str) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(MAX_BUNDLE_BYTES + 1)
    except OSError as exc:
        raise BundleError(f"{where}: cannot be read ({exc.strerror or exc}).") from None


# import
@dataclass(kw_only=True, repr=False)
class ImportReport:
    """What importing a bundle does: added, identical (skipped), conflicts; and what the checks found.

    Nothing is written until `accept()`; then `applied` is true and `written` lists the files.
    """

    bundle: str
    chain: str
    added: list[str] = field(default_factory=list)
    """Tools (by name) and the chain (`chain:NAME`) that are new here."""
    identical: list[str] = field(default_factory=list)
    """Already here with the same content: skipped."""
    conflicts: list[str] = field(default_factory=list)
    """Here with other content: refused unless `overwrite`, then replaced."""
    uses: list[str] = field(default_factory=list)
    """Tools the chain uses that the bundle does not hold but this workspace has."""
    problems: list[str] = field(default_factory=list)
    """What stops the import (code that does not pass the checks, a missing tool)."""
    warnings: dict[str, list[str]] = field(default_factory=dict)
    """Per tool: constructs a person should look at before accepting (other programs, network, deletes...)."""
    overwrite: bool = False
    applied: bool = False
    written: list[Path] = field(default_factory=list)
    _ws: Any = field(default=None, compare=False)
    _toolchain: Toolchain | None = field(default=None, compare=False)
    _tools: dict[str, str] = field(default_factory=dict, compare=False)  # name -> code to write
    _bundled: dict[str, str] = field(default_factory=dict, compare=False)  # name -> code, every tool of the bundle
    _user: str | None = field(default=None, compare=False)

    @property
    def blocked(self) -> list[str]:
        """Why `accept` would refuse: the problems, and the conflicts unless `overwrite`."""
        out = list(self.problems)
        if self.conflicts and not self.overwrite:
            out.append("same name, other content here: " + ", ".join(self.conflicts)
                       + "; import with overwrite=True to replace them")
        return out

    @property
    def ok(self) -> bool:
        """True when `accept` can write the bundle."""
        return not self.blocked

    @property
    def code(self) -> dict[str, str]:
        """The source of each tool accepting would run and save, by name: read it first."""
        return dict(self._tools)

    def accept(self) -> ImportReport:
        """Run the new tools' code (the person's decision), save the tools and the chain; BundleError if blocked."""
        if self.applied:
            return self
        if not self.ok:
            raise BundleError(f"Bundle {self.bundle} was not imported:\n" + "\n".join(f"- {b}" for b in self.blocked)
                              + "\nNothing was written.")
        ws, chain = self._ws, self._toolchain
        assert ws is not None and chain is not None
        fresh = _plan(ws, chain, self._bundled)  # the workspace may have changed since the report was made
        if fresh.conflicts != self.conflicts or fresh.identical != self.identical:
            raise BundleError(f"Tools or chains changed here since bundle {self.bundle} was read; import it again. "
                              "Nothing was written.")
        built = _build_all(self._tools, ws.env.redact)  # raises before anything is written
        message = f"imported from {self.bundle}"
        for name, tool in built.items():
            ws.tools.register(tool.function, name=name, source=tool.given_source)
            self.written.append(ws.tools.save(name, message=message, user=self._user))
        if f"chain:{chain.name}" not in self.identical:
            self.written.append(ws.chains.save(chain, overwrite=self.overwrite, message=message, user=self._user))
        self.applied = True
        return self

    def lines(self) -> list[str]:
        """The report as lines of text."""
        head = f"Bundle {self.bundle}: chain '{self.chain}'"
        state = ("nothing new: all of it is here already" if self.ok and not (self.added or self.conflicts)
                 else "imported" if self.applied else "not importable" if not self.ok
                 else "ready to import: read the code (.code), then call .accept()")
        out = [f"{head} — {state}."]
        for label, names in (("added" if self.applied else "would add", self.added), ("identical, skipped", self.identical),
                             ("replaced" if self.overwrite else "conflicts", self.conflicts), ("uses yours", self.uses)):
            if names:
                out.append(f"{label}: {', '.join(names)}")
        out += [f"problem: {p}" for p in self.blocked]
        out += [f"warning ({name}): {w}" for name, found in self.warnings.items() for w in found]
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())


def import_bundle(ws: Workspace, source: str | Path | bytes, *, overwrite: bool = False, accept: bool = False,
                  user: str | None = None, label: str | None = None) -> ImportReport:
    """Read and check a bundle and plan its import; write only when accepted.

    `accept=True` accepts at once when nothing blocks it and the checks warned about nothing;
    code with warnings is written only by `report.accept()`, after the person has read them.
    """
    chain, tools = read_bundle(source, label)
    where = label or ("the uploaded bundle" if isinstance(source, bytes) else Path(source).name)
    report = _plan(ws, chain, {t.name: t.source for t in tools})
    report.bundle, report.overwrite, report._user = where, overwrite, user
    for name, code in report._tools.items():
        check = check_draft(code, name)
        report.problems += [f"tool '{name}': {p}" for p in check.problems]
        if check.warnings:
            report.warnings[name] = list(check.warnings)
    if accept and report.ok and not report.warnings:
        report.accept()
    return report


def _plan(ws: Workspace, chain: Toolchain, code: dict[str, str]) -> ImportReport:
    report = ImportReport(bundle="", chain=chain.name, _ws=ws, _toolchain=chain, _bundled=dict(code))
    for name, source in code.items():
        existing = ws.tools.get(name).source if name in ws.tools else None
        if existing is None and not (ws.tools.path_of(name).exists() or name in ws.tools.broken):
            report.added.append(name)
        elif existing is not None and _same_code(existing, source):
            report.identical.append(name)
            continue
        else:
            report.conflicts.append(name)
        report._tools[name] = source
    for step_tool in dict.fromkeys(s.tool for s in chain.steps):
        if step_tool not in code:
            if step_tool in ws.tools:
                report.uses.append(step_tool)
            else:
                report.problems.append(f"the chain uses the tool '{step_tool}', which neither the bundle nor this "
                                       "workspace has")
    key = f"chain:{chain.name}"
    if chain.name in ws.chains:
        same = chain_to_json(ws.chains.get(chain.name)) == chain_to_json(chain)
        (report.identical if same else report.conflicts).append(key)
    elif chain.name in ws.chains.registry.broken:
        report.conflicts.append(key)
    else:
        report.added.append(key)
    return report


def _same_code(a: str, b: str) -> bool:
    if content_hash(a) == content_hash(b):
        return True
    try:
        return strip_schema(a).strip() == strip_schema(b).strip()
    except SyntaxError:
        return False


def _build_all(code: dict[str, str], redact: Any) -> dict[str, Tool]:
    """Run each tool's code in a module of its own and make the tools; on any failure undo them all (BundleError)."""
    saved = {name: sys.modules.get(f"halion_tools.{name}") for name in code}
    try:
        return {name: _build(name, source, redact) for name, source in code.items()}
    except BaseException:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(f"halion_tools.{name}", None)
            else:
                sys.modules[f"halion_tools.{name}"] = previous
        raise


def _build(name: str, code: str, redact: Any) -> Tool:
    filename = f"<tool {name}>"
    module = types.ModuleType(f"halion_tools.{name}")
    sys.modules[module.__name__] = module  # pydantic resolves a model's annotations through it
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    try:
        exec(compile(code, filename, "exec"), module.__dict__)  # noqa: S102 - the person accepted it
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - someone else's code may raise anything
        raise BundleError(f"Running the code of tool '{name}' from the bundle failed: {type(exc).__name__}: "
                          f"{redact(str(exc))}. Nothing was written.") from None
    fn = getattr(module, name, None)
    if not inspect.isfunction(fn):
        raise BundleError(f"The code of tool '{name}' defines no function named '{name}'. Nothing was written.")
    try:
        tool = Tool.from_function(fn, name, source=code)
        render_tool_file(tool)  # raises (a secret, code it cannot write) before anything is written
    except HalionError as exc:
        raise BundleError(f"{redact(str(exc))} Nothing was written.") from None
    return tool
