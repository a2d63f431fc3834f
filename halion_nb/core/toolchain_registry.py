"""The workspace's toolchains: `chains/<name>.json`, one pretty-printed chain a file.

Files are the truth: `load` reads them all, `save` writes one atomically. A file that
cannot be read is reported by name and left exactly as it is; saving over it is refused
until the person says so (`overwrite=True`, which keeps the old file aside).
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import HalionError, NameTaken, StateFileError, ToolNotFoundError
from ..models import Toolchain, error_text
from .files import atomic_write_json, atomic_write_text, keep_aside
from .naming import check_name
from .surrogates import json_text
from .tool_registry import LoadReport
from .versions import VersionStore

log = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "chain.schema.json"
"""The published JSON Schema of a chain file, shipped in the package."""


def chain_json_schema() -> dict[str, Any]:
    """The JSON Schema of `chains/<name>.json`, generated from the `Toolchain` model."""
    schema = Toolchain.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Regenerate the shipped schema file (run after changing the chain models)."""
    return atomic_write_json(path, chain_json_schema())


def chain_to_json(chain: Toolchain) -> dict[str, Any]:
    """The dict written to a chain file: every field, but no `output` or `default` left null."""
    data = chain.model_dump(mode="json")
    if data["output"] is None:
        del data["output"]
    for item in data["inputs"]:
        if item["required"] and item["default"] is None:
            del item["default"]
    return data


def chain_text(chain: Toolchain) -> str:
    """The exact text of `chains/<name>.json` (what a version of the chain holds)."""
    return json_text(chain_to_json(chain), indent=2) + "\n"


def read_chain_file(path: Path) -> Toolchain:
    """Parse one chain file, or raise StateFileError saying what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise StateFileError(f"{path.name}: cannot be read ({exc}).") from exc
    except json.JSONDecodeError as exc:
        raise StateFileError(f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).") from exc
    except (ValueError, RecursionError) as exc:  # a number too long, nesting too deep
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(":")[0]
        raise StateFileError(f"{path.name}: not valid JSON ({why}).") from exc
    try:
        return Toolchain.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'chain'}: {error_text(e)}" for e in exc.errors())
        raise StateFileError(f"{path.name}: not a valid chain ({problems}).") from exc


@dataclass(repr=False)
class ChainLoadReport(LoadReport):
    """What `ToolchainRegistry.load` did: the chains loaded and each broken file with its error."""

    def __repr__(self) -> str:
        lines = [f"Loaded {len(self.loaded)} chain(s)" + (f": {', '.join(self.loaded)}" if self.loaded else ".")]
        lines += [f"Could not load {name}: {err}" for name, err in self.errors.items()]
        return "\n".join(lines)


class ToolchainRegistry:
    """Chains in memory, mirrored by `chains/*.json`."""

    def __init__(self, chains_dir: Path, versions: VersionStore | None = None) -> None:
        self.dir = Path(chains_dir)
        self.versions = versions
        """Where every save is recorded (`core/versions.py`); None: no history."""
        self._chains: dict[str, Toolchain] = {}
        self.broken: dict[str, str] = {}
        """Files the last `load` could not read, by chain name, with the reason."""

    def path_of(self, name: str) -> Path:
        return self.dir / f"{check_name(name, kind='chain')}.json"

    def load(self) -> ChainLoadReport:
        """Read every `chains/*.json`; broken files are reported (and left alone), the rest load."""
        report = ChainLoadReport()
        chains: dict[str, Toolchain] = {}
        for path in sorted(self.dir.glob("*.json")) if self.dir.is_dir() else []:
            try:
                check_name(path.stem, kind="chain")
                chain = read_chain_file(path)
                if chain.name != path.stem:
                    raise StateFileError(f"{path.name}: holds the chain '{chain.name}'; the file name must be "
                                         f"the chain's name ({chain.name}.json).")
            except Exception as exc:  # one broken file must not stop the others
                message = str(exc).removeprefix(f"{path.name}: ")
                report.errors[path.stem] = message
                log.warning("Could not load chains/%s: %s", path.name, message)
                continue
            chains[chain.name] = chain
            report.loaded.append(chain.name)
        self._chains, self.broken = chains, dict(report.errors)
        return report

    def get(self, name: str) -> Toolchain:
        try:
            return self._chains[name]
        except KeyError:
            if name in self.broken:
                raise ToolNotFoundError(f"Chain '{name}' could not be loaded: {self.broken[name]}") from None
            known = ", ".join(sorted(self._chains)) or "none yet"
            raise ToolNotFoundError(f"No chain named '{name}'. Known chains: {known}.") from None

    def __contains__(self, name: object) -> bool:
        return name in self._chains

    def __len__(self) -> int:
        return len(self._chains)

    def names(self) -> list[str]:
        return sorted(self._chains)

    def all(self) -> list[Toolchain]:
        return [self._chains[n] for n in self.names()]

    def save(self, chain: Toolchain, *, overwrite: bool = False, message: str | None = None,
             user: str | None = None) -> Path:
        """Write `chains/<name>.json` atomically and return its path; a changed chain gets a new version.

        A file of that name that could not be loaded is not overwritten unless `overwrite`
        is true, and then it is first kept aside as `<name>.json.corrupt-<time>`.
        """
        path = self.path_of(chain.name)
        if chain.name in self.broken and path.exists():
            if not overwrite:
                raise NameTaken(
                    f"chains/{path.name} exists but could not be loaded ({self.broken[chain.name]}); it was not "
                    "overwritten. Fix or delete it, or save with overwrite=True (the old file is kept aside)."
                )
            aside = keep_aside(path)
            log.warning("Kept the unreadable chains/%s as %s.", path.name, aside.name)
        text = chain_text(chain)
        atomic_write_text(path, text)
        self._chains[chain.name] = chain
        self.broken.pop(chain.name, None)
        if self.versions is not None:
            try:
                self.versions.record("chain", chain.name, text, who=user, message=message)
            except HalionError as exc:  # the file is saved; a broken history must not undo that
                log.warning("chains/%s was saved, but its version could not be recorded: %s", path.name, exc)
        return path

    def remove(self, name: str) -> None:
        """Forget a chain and delete its file (also the file of a chain that could not be loaded)."""
        path = self.path_of(name)
        if name not in self._chains and name not in self.broken:
            self.get(name)  # raises, naming the known chains
        self._chains.pop(name, None)
        self.broken.pop(name, None)
        path.unlink(missing_ok=True)

    def export(self, name: str, path: str | os.PathLike[str]) -> Path:
        """Write one chain to `path` (a file, or a folder to write `<name>.json` into)."""
        chain = self.get(name)
        target = Path(path).expanduser()
        if target.is_dir():
            target = target / f"{name}.json"
        return atomic_write_json(target, chain_to_json(chain))

    def import_(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Toolchain:
        """Read a chain file from anywhere and save it into this workspace.

        A chain of the same name is replaced only with `overwrite=True`.
        """
        chain = read_chain_file(Path(path).expanduser())
        if chain.name in self._chains and not overwrite:
            raise NameTaken(
                f"A chain named '{chain.name}' already exists; import with overwrite=True to replace it."
            )
        self.save(chain, overwrite=overwrite)
        return chain

    def __repr__(self) -> str:
        return f"<ToolchainRegistry {len(self)} chains: {', '.join(self.names())}>"
