"""The helpers behind a responsive kernel: the worker thread and the update coalescer."""
from __future__ import annotations

import threading
import time

from halion_nb.widgets._coalesce import Coalescer
from halion_nb.widgets._threads import Worker


def test_coalescer_caps_the_rate_and_keeps_the_last_value() -> None:
    seen: list[int] = []
    c = Coalescer(seen.append, per_second=20)
    started = time.perf_counter()
    for i in range(2000):
        c.push(i)
        if i % 100 == 0:
            time.sleep(0.02)
    c.flush()
    elapsed = time.perf_counter() - started
    assert seen[-1] == 1999
    assert len(seen) <= elapsed * 20 + 2
    assert seen == sorted(seen)


def test_coalescer_first_push_applies_at_once_and_cancel_drops() -> None:
    seen: list[str] = []
    c = Coalescer(seen.append, per_second=10)
    c.push("a")
    assert seen == ["a"]
    c.push("b")
    c.cancel()
    time.sleep(0.15)
    assert seen == ["a"]


def test_worker_runs_off_the_calling_thread_one_job_at_a_time() -> None:
    w = Worker("test")
    release = threading.Event()
    where: list[str] = []
    done: list[int] = []
    assert w.start(lambda: (where.append(threading.current_thread().name), release.wait(5), 7)[2],
                   on_done=done.append)
    assert w.busy and not w.start(lambda: None)
    release.set()
    assert w.join(5) and done == [7] and where == ["test"]


def test_worker_reports_errors_and_survives_a_broken_callback() -> None:
    w = Worker("test")
    errors: list[BaseException] = []
    finished: list[bool] = []
    w.start(lambda: 1 / 0, on_error=errors.append, on_finally=lambda: finished.append(True))
    w.join(5)
    assert isinstance(errors[0], ZeroDivisionError) and finished == [True]
    w.start(lambda: 1, on_done=lambda _: 1 / 0, on_finally=lambda: finished.append(True))
    w.join(5)
    assert finished == [True, True]
