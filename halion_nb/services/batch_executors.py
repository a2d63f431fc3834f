"""The executor seam: where a batch's inputs run. Threads by default, any `concurrent.futures.Executor`,
a `dask.distributed.Client` or a scheduler address (extra `[dask]`)."""
from __future__ import annotations

import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_THREADS = 8
"""Threads of the default executor (tools mostly wait on the network)."""
MAX_CHUNK = 10
"""Most inputs one task carries to another process (fewer tasks to schedule; a lost task reruns them all)."""
DASK_HINT = 'Running a batch on Dask needs the dask extra: pip install "halion_nb[dask]"'
INSTALL_ON_WORKERS = ("The workers cannot import halion_nb ({why}); install it on every worker "
                      '(pip install "halion_nb[dask]") and run the batch again.')


@dataclass
class Seam:
    """An executor and how to treat it."""

    executor: Executor
    remote: bool
    """Tasks leave this process: tools travel pickled and the secrets they need travel with them."""
    label: str
    owned: bool = False
    """Made here, so closed here when the batch ends."""
    client: Any = None
    """The Dask client behind the executor, when there is one."""
    slots: int = 1
    """How many inputs the executor runs at once."""

    def chunk_size(self, count: int) -> int:
        """Inputs per task: one on threads; elsewhere a few, while every slot still gets several tasks."""
        return 1 if not self.remote else max(1, min(MAX_CHUNK, count // (self.slots * 8)))

    def close(self) -> None:
        if not self.owned:
            return
        try:
            self.executor.shutdown(wait=False)  # every future is done by now
            if self.client is not None:
                self.client.close()
        except Exception:  # closing must never keep a finished run from ending
            log.warning("could not close the batch's executor", exc_info=True)


def resolve(executor: Any, max_workers: int | None) -> Seam:
    """The seam for `executor`: None (a thread pool), an Executor, a Dask Client, or a scheduler address."""
    if executor is None:
        workers = max_workers or DEFAULT_THREADS
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="halion-batch")
        return Seam(pool, remote=False, label=f"{workers} threads", owned=True, slots=workers)
    if isinstance(executor, str):
        try:
            from distributed import Client
        except ImportError:
            raise ConfigError(DASK_HINT) from None
        try:
            client = Client(executor, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"Could not reach the Dask scheduler at {executor}: {exc}") from None
        return Seam(client.get_executor(pure=False), remote=True, label=f"Dask at {executor}", owned=True,
                    client=client, slots=_threads(client))
    if hasattr(executor, "get_executor") and hasattr(executor, "scheduler_info"):  # a distributed.Client
        return Seam(executor.get_executor(pure=False), remote=True, label=_dask_label(executor), client=executor,
                    slots=_threads(executor))
    if isinstance(executor, Executor):
        client = getattr(executor, "_client", None)  # distributed's ClientExecutor
        slots = _threads(client) if client else int(getattr(executor, "_max_workers", 1))
        if isinstance(executor, ThreadPoolExecutor):
            return Seam(executor, remote=False, label=f"{slots} threads", slots=slots)
        return Seam(executor, remote=True, label=_dask_label(client) if client else type(executor).__name__,
                    client=client, slots=slots)
    raise ConfigError(f"executor must be None (threads), a concurrent.futures Executor, a dask.distributed Client "
                      f"or a scheduler address, not {type(executor).__name__}.")


def check_workers(seam: Seam) -> None:
    """One clear error, before anything runs, when a Dask worker cannot import halion_nb."""
    if seam.client is None:
        return
    from .._version import __version__

    found = seam.client.run(eval, "__import__('halion_nb').__version__", {}, on_error="return")
    broken = {w: v for w, v in found.items() if isinstance(v, BaseException)}
    if broken:
        worker, error = next(iter(broken.items()))
        raise ConfigError(INSTALL_ON_WORKERS.format(why=f"{len(broken)} of {len(found)}, e.g. {worker}: {error}"))
    other = sorted({v for v in found.values() if v != __version__})
    if other:
        log.warning("Workers run halion_nb %s, this kernel %s.", ", ".join(other), __version__)


def is_missing_halion(error: BaseException) -> bool:
    """An error a worker raises when it cannot unpickle a task because halion_nb is not installed there."""
    name = getattr(error, "name", None) or ""
    return isinstance(error, ImportError) and (name == "halion_nb" or name.startswith("halion_nb."))


def _threads(client: Any) -> int:
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:  # noqa: BLE001 - a cluster that cannot say: plan for one slot
        return 1


def _dask_label(client: Any) -> str:
    try:
        workers = len(client.scheduler_info().get("workers", {}))
    except Exception:  # noqa: BLE001 - a display string must never fail
        return "Dask"
    return f"Dask, {workers} worker{'' if workers == 1 else 's'}"
