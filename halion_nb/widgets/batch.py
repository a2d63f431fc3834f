"""The progress bar of a batch run: done, failed, rate, time left; a Cancel button; the summary at the end.

Results arrive on the run's collecting thread; the bar repaints at most `per_second` times a
second (a thousand fast inputs must not flood the frontend with messages).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as W

from ..display.batch import batch_html, counts_line
from ._coalesce import Coalescer
from ._ui import css

if TYPE_CHECKING:
    from ..services.batch import BatchRun, Progress


class BatchProgress(W.VBox):
    """A live view of one `BatchRun`."""

    def __init__(self, run: BatchRun, per_second: float = 5.0) -> None:
        self.run = run
        self.bar = W.IntProgress(min=0, max=max(1, len(run.results)), layout=W.Layout(width="320px"))
        self.label = css(W.HTML(), "halion-batch-label")
        self.cancel_button = W.Button(description="Cancel", button_style="warning", icon="stop",
                                      layout=W.Layout(width="auto"))
        self.cancel_button.on_click(lambda _: self.run.cancel())
        self.summary = css(W.HTML(), "halion-batch-summary")
        super().__init__([W.HBox([self.bar, self.label, self.cancel_button]), self.summary])
        css(self, "halion-panel", "halion-batch")
        self.paints = Coalescer(self._paint, per_second=per_second)
        """Throttles repaints; `paints.applied` counts them."""
        self._unsubscribe = run.subscribe(lambda r: self.paints.push(r.progress()))
        self._paint(run.progress())

    def _paint(self, progress: Progress) -> None:
        self.bar.value = progress.done
        self.bar.bar_style = "danger" if progress.failed else "success" if progress.status == "done" else "info"
        self.label.value = f"<span>&nbsp;{counts_line(progress)}</span>"
        if progress.status != "running" and self.run.done:
            self._unsubscribe()
            self.cancel_button.layout.display = "none"
            self.summary.value = batch_html(self.run)

    def close(self) -> None:
        self._unsubscribe()
        self.paints.cancel()
        super().close()


def show(run: BatchRun) -> BatchProgress:
    """Display a live progress bar for `run` in the current cell's output."""
    from IPython.display import display

    view = BatchProgress(run)
    display(view)
    return view
