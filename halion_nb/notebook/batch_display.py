"""Batch runs in a notebook: a live progress bar while `map` runs (registered cheaply at `%load_ext`).

`install(shell)` adds a view to `services.batch_views.progress_views`; ipywidgets and the bar load
only when a batch starts. `uninstall(shell)` takes it away again.
"""
from __future__ import annotations

from typing import Any

from ..services.batch_views import progress_views


def show_progress(run: Any) -> None:
    """Display the live progress bar of `run` (a `BatchRun`) in the current output."""
    from ..widgets.batch import show

    show(run)


def install(shell: Any) -> None:
    if show_progress not in progress_views:
        progress_views.append(show_progress)


def uninstall(shell: Any) -> None:
    if show_progress in progress_views:
        progress_views.remove(show_progress)
