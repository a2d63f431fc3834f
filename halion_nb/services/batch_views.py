"""Who shows a batch run while it runs: the notebook extension adds its progress bar here.

Kept apart from `batch.py` (and importing nothing) so `%load_ext` can register a view without
loading the batch machinery; services never import the UI themselves.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

progress_views: list[Callable[[Any], None]] = []
"""Called with each `BatchRun` that `map` starts with `progress=True`, before its inputs are submitted."""
