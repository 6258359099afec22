"""Dask executor: chunks computed by ``distributed`` worker processes.

``sweep run SPEC --out DIR --executor dask`` starts a :class:`distributed.LocalCluster`
of worker *processes* on this machine; ``--dask-address tcp://host:8786`` uses any
running scheduler instead (``dask scheduler`` + ``dask worker``, dask-jobqueue's
``SLURMCluster``/``PBSCluster``, Kubernetes, ...).  Programmatically, pass an
existing client: ``run(spec, out, executor=DaskExecutor(client=client))``.

How work is cut and where it runs:

* A Dask task is a *group* of consecutive chunks of the engine's to-do list, so
  per-task overhead (~ms of scheduling, a few kB of pickled spec) is negligible
  next to the kernel: small chunk sizes are grouped up to ``MIN_VECTORS_PER_TASK``
  vectors, but never so coarsely that the workers would run out of tasks.
* A worker runs the picklable :class:`~sweep.engine.ChunkTask` it is handed: it
  computes on the worker's own local devices, writes the part file itself (atomic
  temp file + rename) and compiles once per worker process (the engine caches the
  compiled chunk function per process).  Inside a group the next chunk is
  dispatched to the device before the previous one is written, as in the local
  executor.
* LocalCluster workers are processes with one thread each; on CPU each gets
  ``cores // n_workers`` XLA host devices (``XLA_FLAGS`` is set in the worker's
  environment before JAX starts there), so the workers together use every core once.
* Results come back as tasks complete (``as_completed``); only a bounded window
  of tasks is in flight, so a lazy to-do list of billions of chunks is fine.
* A task that raises is retried (``retries``); a worker that dies mid-task is
  replaced by its nanny and the scheduler reruns the task elsewhere (up to
  ``distributed.scheduler.allowed-failures`` deaths).  A retried group skips the
  chunks whose part file an earlier attempt already finished.  A chunk that still
  fails raises :class:`ChunkFailed` in the caller, and the engine reports it with
  what was kept.

Several processes writing into one directory is safe by design: a chunk is done
iff its part file exists with the spec hash, and part files only ever appear
complete (see :mod:`sweep.dataset`); two writers of one chunk write the same bytes.
"""
from __future__ import annotations

import math
import os
import sys
import time
import uuid
from itertools import islice
from typing import Callable, Iterable, Iterator

from .devices import cpu_cores, expose_cpu_devices, with_device_count
from .kernel_modules import load_kernel_modules

__all__ = ["DaskExecutor", "EXECUTOR", "ChunkFailed", "MIN_VECTORS_PER_TASK", "run_chunk_group"]

#: a task holds at least this many vectors (when the grid is big enough): at 1e5 to
#: 1e6 vectors/s per worker that is 0.1 s to 1 s of kernel per task, against ~1 ms
#: of Dask overhead per task.
MIN_VECTORS_PER_TASK = 1 << 17
#: and at least this many tasks per worker thread, so the load stays balanced
TASKS_PER_THREAD = 4


class ChunkFailed(RuntimeError):
    """A chunk failed on a Dask worker after all retries (or its worker kept dying)."""


# ---------------------------------------------------------------------------
# worker side


def _import_kernel_modules(modules: tuple[str, ...]) -> None:
    # Kernels registered by the user's own modules (SWEEP_KERNEL_MODULES in the
    # submitting process) must be registered in the worker too, before the spec's
    # kernel is looked up.  Imports are cached, so this is free after the first task.
    load_kernel_modules(name for name in modules if name not in sys.modules)


_XLA_CONFIGURED = False


def _configure_worker_xla() -> None:
    """On a worker started outside this module (``dask worker``, dask-jobqueue) with
    no XLA device count set: one XLA CPU device per core of this worker process's
    share (its CPU affinity divided by its threads), as ``sweep run`` does.  Only
    effective before JAX starts its CPU backend here, i.e. before the first chunk;
    an explicit ``XLA_FLAGS`` setting wins (LocalCluster workers get one)."""
    global _XLA_CONFIGURED
    if _XLA_CONFIGURED:
        return
    _XLA_CONFIGURED = True
    try:
        from distributed import get_worker

        threads = max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return  # not in a Dask worker (e.g. called directly): leave this process alone
    expose_cpu_devices(max(1, cpu_cores() // threads))


def _finished_rows(task, k: int) -> int | None:
    """Row count of chunk ``k`` if its part file is already complete (an earlier
    attempt of this task wrote it before its worker died), else None."""
    spec, out_dir = getattr(task, "spec", None), getattr(task, "out_dir", None)
    if spec is None or out_dir is None:
        return None
    if hasattr(task, "is_done"):  # the task's sinks know (rows and/or reductions)
        return spec.chunk_bounds(k)[1] if task.is_done(k) else None
    from .dataset import part_is_done

    if not part_is_done(out_dir, spec, k):  # spec hash, chunk number, row count
        return None
    return spec.chunk_bounds(k)[1]


def run_chunk_group(task, chunks: list[int], kernel_modules: tuple[str, ...] = ()) -> list[tuple[int, int]]:
    """Compute and write ``chunks`` in this (worker) process; returns ``[(k, rows), ...]``.

    Device compute of chunk k+1 overlaps the Parquet write of chunk k (JAX
    dispatch is asynchronous).  A failure names the chunk it happened in.
    """
    _configure_worker_xla()
    _import_kernel_modules(kernel_modules)
    split = hasattr(task, "dispatch") and hasattr(task, "finish")
    out: list[tuple[int, int]] = []
    pending = None  # (k, dispatched) not yet written
    k = None
    try:
        for k in chunks:
            rows = _finished_rows(task, k)
            if rows is not None:
                out.append((k, rows))
                continue
            if not split:
                out.append((k, int(task(k))))
                continue
            nxt = (k, task.dispatch(k))
            if pending is not None:
                k = pending[0]
                out.append((k, int(task.finish(pending[1]))))
            pending = nxt
        if pending is not None:
            k = pending[0]
            out.append((k, int(task.finish(pending[1]))))
    except Exception as exc:
        raise ChunkFailed(f"chunk {k}: {type(exc).__name__}: {exc}") from exc
    return out


# ---------------------------------------------------------------------------
# client side


def _client_platform() -> str:
    """The JAX platform of this process if JAX is already up (the engine starts it
    before executing), else from JAX_PLATFORMS; "cpu" when unknown."""
    jax = sys.modules.get("jax")
    if jax is not None:
        try:
            return jax.default_backend()
        except Exception:  # noqa: BLE001 - no backend: treat as CPU
            pass
    plats = os.environ.get("JAX_PLATFORMS", "")
    return plats.split(",")[0].strip() or "cpu"


def _groups(chunk_ids: Iterable[int], size: int) -> Iterator[list[int]]:
    """Runs of ``size`` consecutive to-do chunks (lazily)."""
    it = iter(chunk_ids)
    while True:
        group = list(islice(it, size))
        if not group:
            return
        yield group


class DaskExecutor:
    """Run chunks on a Dask cluster: a new LocalCluster, a scheduler address, or a client.

    ``address``: scheduler address (``tcp://host:8786``); None starts a
    LocalCluster of ``n_workers`` processes (default: one per core on CPU, one in
    all on an accelerator host, which then shards each chunk across its GPUs) with
    one thread each, closed when the run ends.  With an address, ``n_workers``
    means: wait until that many workers have joined before submitting.
    ``client``: an existing :class:`distributed.Client` (left open).
    ``chunks_per_task``: None chooses (see :data:`MIN_VECTORS_PER_TASK`).
    ``retries``: extra attempts for a task that raises.
    ``devices_per_worker``: XLA host devices per LocalCluster worker on CPU
    (default ``cores // n_workers``).
    ``cluster_kwargs``: passed on to :class:`distributed.LocalCluster`.
    """

    name = "dask"

    def __init__(self, address: str | None = None, n_workers: int | None = None, *, client=None,
                 chunks_per_task: int | None = None, retries: int = 2,
                 devices_per_worker: int | None = None, threads_per_worker: int = 1,
                 connect_timeout: float = 30.0, cluster_kwargs: dict | None = None):
        if address is not None and client is not None:
            raise ValueError("give a scheduler address or a client, not both")
        for label, v in (("n_workers", n_workers), ("chunks_per_task", chunks_per_task),
                         ("devices_per_worker", devices_per_worker)):
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f"{label}: expected an integer >= 1, got {v!r}")
        self.address = address
        self.n_workers = n_workers
        self.client = client
        self.chunks_per_task = chunks_per_task
        self.retries = max(0, int(retries))
        self.devices_per_worker = devices_per_worker
        self.threads_per_worker = max(1, int(threads_per_worker))
        self.connect_timeout = connect_timeout
        self.cluster_kwargs = dict(cluster_kwargs or {})
        #: what the last :meth:`execute` did (tasks, chunks per task, workers) — for tests/benchmarks
        self.last_run: dict = {}

    # -- connecting ----------------------------------------------------------
    def _local_cluster(self):
        from distributed import LocalCluster

        cores = cpu_cores()
        accel = _client_platform() not in ("cpu", "")
        n = self.n_workers or (1 if accel else cores)
        env = {}
        if not accel:
            per = self.devices_per_worker or max(1, cores // n)
            env["XLA_FLAGS"] = with_device_count(os.environ.get("XLA_FLAGS", ""), per)
        # The workers do the computing; a second process on one GPU must not
        # grab most of its memory up front.
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE", "false"))
        kwargs = dict(n_workers=n, threads_per_worker=self.threads_per_worker, processes=True,
                      dashboard_address=None, env=env)
        kwargs.update(self.cluster_kwargs)
        # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536 to hand freed
        # memory back to the OS.  Any explicit value also turns off glibc's dynamic
        # mmap threshold, so every chunk-sized array (> 128 kB) is mmap'd, faulted in
        # and unmapped again: measured +65% CPU per vector on coverage_oa5 (1.1 s of
        # system time per 2M vectors).  Chunks recur at one size; let glibc reuse them.
        import dask

        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            return LocalCluster(**kwargs)

    def _connect(self):
        """(client, things to close afterwards, newest first)."""
        from distributed import Client

        if self.client is not None:
            return self.client, []
        if self.address is not None:
            client = Client(self.address, timeout=self.connect_timeout)
            try:
                if self.n_workers:
                    client.wait_for_workers(self.n_workers)
            except BaseException:
                client.close()
                raise
            return client, [client]
        cluster = self._local_cluster()
        try:
            client = Client(cluster, timeout=self.connect_timeout)
        except BaseException:
            cluster.close()
            raise
        return client, [client, cluster]

    # -- executing -----------------------------------------------------------
    def _group_size(self, task, n_threads: int) -> int:
        if self.chunks_per_task:
            return self.chunks_per_task
        spec = getattr(task, "spec", None)
        if spec is None:
            return 1
        want = math.ceil(MIN_VECTORS_PER_TASK / spec.chunk_size)
        # never so coarse that some worker threads get nothing (n_chunks bounds the to-do list)
        cap = max(1, spec.n_chunks // (TASKS_PER_THREAD * max(1, n_threads)))
        return max(1, min(want, cap))

    def execute(self, chunk_ids, task, on_done: Callable[[int, int], None]) -> None:
        from distributed import as_completed

        client, to_close = self._connect()
        futures: dict = {}
        try:
            n_threads = sum(client.nthreads().values()) or self.n_workers or 1
            size = self._group_size(task, n_threads)
            modules = tuple(filter(None, (m.strip() for m in
                                          os.environ.get("SWEEP_KERNEL_MODULES", "").split(","))))
            token = uuid.uuid4().hex[:8]
            groups = _groups(chunk_ids, size)
            ac = as_completed()
            stats = {"tasks": 0, "chunks_per_task": size, "workers": len(client.nthreads())}

            def window() -> int:
                # one running and one queued per worker thread; refreshed as workers come and go
                return max(2, 2 * n_threads)

            def submit_next() -> bool:
                group = next(groups, None)
                if group is None:
                    return False
                fut = client.submit(run_chunk_group, task, group, modules, pure=False,
                                    retries=self.retries, key=f"sweep-chunks-{group[0]}-{token}")
                futures[fut] = group
                ac.add(fut)
                stats["tasks"] += 1
                return True

            while len(futures) < window() and submit_next():
                pass
            last_refresh = time.monotonic()
            for fut in ac:
                group = futures.pop(fut)
                try:
                    results = fut.result()
                except Exception as exc:  # noqa: BLE001 - re-raised with the chunks it concerns
                    raise self._failure(group, exc) from exc
                for k, rows in results:
                    on_done(k, rows)
                if time.monotonic() - last_refresh > 1.0:
                    n_threads = sum(client.nthreads().values()) or n_threads
                    last_refresh = time.monotonic()
                while len(futures) < window() and submit_next():
                    pass
            self.last_run = stats
        finally:
            if futures:
                try:
                    client.cancel(list(futures))
                except Exception:  # noqa: BLE001 - best effort on the way out
                    pass
            self._clean_temp_files(client, task)
            for thing in to_close:
                try:
                    thing.close()
                except Exception:  # noqa: BLE001
                    pass

    def _failure(self, group: list[int], exc: BaseException) -> ChunkFailed:
        from distributed import KilledWorker

        where = f"chunk {group[0]}" if len(group) == 1 else f"chunks {group[0]}..{group[-1]}"
        if isinstance(exc, KilledWorker):
            return ChunkFailed(f"{where}: the Dask workers running it kept dying ({exc})")
        if isinstance(exc, ChunkFailed):  # already names its chunk
            return ChunkFailed(f"{exc} (dask task of {where}, after {self.retries + 1} attempts)")
        return ChunkFailed(f"{where}: {type(exc).__name__}: {exc} (after {self.retries + 1} attempts)")

    @staticmethod
    def _clean_temp_files(client, task) -> None:
        """Remove temporary part files left by workers killed mid-write: on this host
        and on each worker's host (only files of dead processes of that host)."""
        out_dir = getattr(task, "out_dir", None)
        if out_dir is None:
            return
        from .dataset import clean_temp_files

        try:
            clean_temp_files(out_dir)
        except OSError:
            pass
        try:
            client.run(_clean_quietly, out_dir)
        except Exception:  # noqa: BLE001 - workers gone, or the directory not visible there
            pass


def _clean_quietly(out_dir) -> int:
    from .dataset import clean_temp_files

    try:
        return clean_temp_files(out_dir)
    except OSError:
        return 0


#: ``get_executor("dask", **options)`` -> ``DaskExecutor(**options)``
EXECUTOR = DaskExecutor
