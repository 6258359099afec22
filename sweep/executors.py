"""Executors: who computes which chunks, where.

The interface is deliberately small.  An executor gets the chunk ids still to
do, a :class:`~sweep.engine.ChunkTask` and a callback, and must call
``on_done(k, rows)`` once per chunk it completed.  A task is self-contained and
picklable (spec + output directory): ``task(k)`` computes chunk ``k`` and writes
its part file, compiling at most once per process, so a remote worker needs
nothing else.  Locally, ``task.dispatch(k)`` / ``task.finish(pending)`` split
that into the asynchronous device part and the host part so they can overlap.

Executors are looked up by name: ``local`` lives here; any other name ``X`` is
loaded from the module ``sweep.executor_X``, which must define ``EXECUTOR``
(a zero-argument callable returning an executor) — that is where a ``dask``
executor plugs in without touching the engine.
"""
from __future__ import annotations

import importlib
import os
import queue
import threading
from typing import Callable, Iterable, Protocol

from .errors import EXIT_USAGE, SweepError

__all__ = ["Executor", "LocalExecutor", "ExecutorUnavailable", "get_executor"]


class Executor(Protocol):
    name: str

    def execute(self, chunk_ids: Iterable[int], task, on_done: Callable[[int, int], None]) -> None:
        """Compute and write every chunk in ``chunk_ids`` (an iterable, possibly a
        lazy one), calling ``on_done(k, rows)`` after each; raise on the first failure."""


class LocalExecutor:
    """All local devices, one process: device compute of chunk k+1 overlaps the
    Parquet write of chunk k.

    The main thread dispatches chunks (JAX returns immediately: async dispatch);
    ``writers`` threads wait for the results, build the Arrow tables and write the
    part files (Parquet encoding releases the GIL, so on many-core hosts several
    writers keep up with a fast device).  The queue between them holds at most
    ``prefetch`` chunks, which bounds device and host memory.
    """

    name = "local"

    def __init__(self, prefetch: int = 2, writers: int | None = None):
        self.prefetch = max(1, int(prefetch))
        if writers is None:
            # One writer per 4 cores, at least 2 and at most 4.  Encoding Parquet
            # (zstd) releases the GIL; with factored kernels it is the bottleneck, and
            # a second writer raised end-to-end throughput from 1.72M to 1.89M vectors/s
            # on the 2-core paper-grid run (benchmarks/results).
            writers = min(4, max(2, (os.cpu_count() or 1) // 4))
        self.writers = max(1, int(writers))

    def execute(self, chunk_ids, task, on_done) -> None:
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        errors: list[BaseException] = []
        abandon = threading.Event()
        done_lock = threading.Lock()  # on_done is called from one thread at a time

        def writer() -> None:
            while True:
                pending = q.get()
                if pending is None:
                    return
                if abandon.is_set():
                    continue  # keep draining so the producer never blocks forever
                try:
                    rows = task.finish(pending)
                    with done_lock:
                        on_done(pending.chunk, rows)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                    errors.append(exc)
                    abandon.set()

        threads = [threading.Thread(target=writer, name=f"sweep-writer-{i}", daemon=True)
                   for i in range(self.writers)]
        for t in threads:
            t.start()
        try:
            for k in chunk_ids:
                if abandon.is_set():
                    break
                q.put(task.dispatch(k))
        except BaseException:
            abandon.set()  # e.g. KeyboardInterrupt: stop writing after the current parts
            raise
        finally:
            for _ in threads:
                q.put(None)
            for t in threads:
                t.join()
        if errors:
            raise errors[0]


def get_executor(name: str = "local", **options) -> Executor:
    """The executor called ``name`` (:class:`ExecutorUnavailable` if unknown)."""
    if name == "local":
        return LocalExecutor(**options)
    try:
        module = importlib.import_module(f"sweep.executor_{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"sweep.executor_{name}":
            raise
        raise ExecutorUnavailable(f"--executor {name}: no such executor (expected 'local', or a "
                                  f"module sweep.executor_{name} defining EXECUTOR)") from None
    return module.EXECUTOR(**options)


class ExecutorUnavailable(SweepError):
    """Unknown executor name: a usage error (exit status 2)."""

    exit_status = EXIT_USAGE
