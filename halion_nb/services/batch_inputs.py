"""A batch's inputs: a list of dicts, a pandas DataFrame (one input per row) or a CSV / JSONL / JSON file."""
from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.encoding import to_jsonable
from ..errors import HalionError


class BatchInputError(HalionError, ValueError):
    """Inputs a batch cannot read; the message says which one and why."""


def read_inputs(inputs: Any) -> list[dict[str, Any]]:
    """One dict per input, in order.

    A DataFrame's rows become dicts of plain values (NaN becomes None); a CSV's cells are text,
    and an empty cell is left out so the input's default applies.
    """
    if isinstance(inputs, (str, os.PathLike)):
        return _read_file(Path(inputs).expanduser())
    if hasattr(inputs, "to_dict") and hasattr(inputs, "columns"):  # a pandas DataFrame, without importing pandas
        return [{str(k): v for k, v in to_jsonable(row).items()} for row in inputs.to_dict(orient="records")]
    if isinstance(inputs, Mapping):
        raise BatchInputError("Give the inputs as a list of dicts (one per input), not one dict.")
    try:
        items = list(inputs)
    except TypeError:
        raise BatchInputError(f"Inputs must be a list of dicts, a DataFrame or a file path, "
                              f"not {type(inputs).__name__}.") from None
    bad = [i for i, item in enumerate(items) if not isinstance(item, Mapping)]
    if bad:
        raise BatchInputError(f"Input {bad[0]} is a {type(items[bad[0]]).__name__}, not a dict of input names "
                              "to values.")
    return [dict(item) for item in items]


def _read_file(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise BatchInputError(f"No inputs file at {path}.")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchInputError(f"Could not read {path.name}: {exc}.") from None
    if suffix == ".csv":
        return [{k: v for k, v in row.items() if k and v != ""} for row in csv.DictReader(text.splitlines())]
    if suffix in (".jsonl", ".ndjson"):
        return [_object(line, f"{path.name} line {n}") for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if suffix == ".json":
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise BatchInputError(f"{path.name} is not valid JSON: {exc}.") from None
        if not isinstance(items, list):
            raise BatchInputError(f"{path.name} must hold a JSON list of objects, one per input.")
        return read_inputs(items)
    raise BatchInputError(f"{path.name}: inputs files are .csv (a header row, then one input per row), "
                          ".jsonl (one JSON object per line) or .json (a list of objects).")


def _object(line: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise BatchInputError(f"{where} is not valid JSON: {exc}.") from None
    if not isinstance(value, dict):
        raise BatchInputError(f"{where} is a JSON {type(value).__name__}, not an object of input names to values.")
    return value
