"""Orchestration of a run: output directory and manifest, resume, shards, the
executor, progress, errors; and :func:`evaluate` (one vector, for ``sweep eval``).

A chunk is computed once, through the device parts of every sink of the spec
(:func:`sweep.sinks.sinks_for`), and is done when every sink holds it.
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .compiled import describe_devices, enable_x64
from .dataset import describe_resume, resume_state
from .leases import Leases
from .limits import check_memory, out_of_memory_advice
from .errors import OutputError, RunError, SweepError
from .executors import get_executor
from .manifest import prepare_output
from .plan import columns_doc, factor_plan, parse_shard, shard_chunks, vectors_in
from .progress import Progress
from .runner import ChunkRunner, Pending, get_runner
from .sinks import Combined, close_sinks, sinks_for
from .sinks.reduce import plan_windows
from .spec import Spec, parse_spec

__all__ = ["ChunkTask", "RunResult", "run", "compute_chunk", "evaluate", "done_chunks"]


def done_chunks(out_dir, sinks, chunk_ids=None) -> set[int]:
    """Chunks every one of ``sinks`` holds (a chunk one sink lacks is recomputed;
    the others rewrite the same content atomically)."""
    done = None
    for s in sinks:
        d = s.done(out_dir, chunk_ids)
        done = d if done is None else done & d
    return done or set()


class ChunkTask:
    """Compute and write chunks of one spec into one directory.

    Self-contained and picklable: a worker process can do chunk ``k`` from this
    object alone (``task(k)``) and compiles once per process.  ``factor`` is passed
    to :class:`ChunkRunner` (:func:`run` sets it so that every worker does what
    the driver recorded in the manifest).
    """

    def __init__(self, spec: Spec, out_dir, factor: bool | None = None, sinks=None):
        """``sinks``: the sinks this process writes through (default: a fresh set);
        not pickled, a worker process makes its own."""
        self.spec = spec
        self.out_dir = str(out_dir)
        self.factor = factor
        self._sinks = sinks

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __setstate__(self, state):  # tasks pickled before ``factor`` existed
        self.__dict__.update({"factor": None, **state})

    def runner(self) -> ChunkRunner:
        return get_runner(self.spec, self.factor)

    def sinks(self) -> list:
        if getattr(self, "_sinks", None) is None:
            self._sinks = sinks_for(self.spec)
        if getattr(self, "_part", None) is None:
            runner = self.runner()
            if len(self._sinks) == 1:  # the same executable as ChunkRunner's default
                self._part = self._sinks[0].device_part
                self._extra = runner.put(self._sinks[0].extra())
            else:
                self._part = Combined(tuple(s.device_part for s in self._sinks))
                self._extra = runner.put({str(i): s.extra() for i, s in enumerate(self._sinks)})
        return self._sinks

    def is_done(self, k: int) -> bool:
        """Whether every sink already holds chunk ``k`` (e.g. written by an earlier
        attempt of a retried task)."""
        return k in done_chunks(self.out_dir, self.sinks(), range(k, k + 1))

    def dispatch(self, k: int) -> Pending:
        self.sinks()
        return self.runner().dispatch(k, self._part, self._extra)

    def finish(self, pending: Pending) -> int:
        """Wait for ``pending`` and let every sink keep it (atomically); returns the
        number of vectors of the chunk."""
        sinks = self.sinks()
        for i, s in enumerate(sinks):
            out = pending.outputs if len(sinks) == 1 else pending.outputs[str(i)]
            s.write(self.out_dir, pending.chunk, pending.start, pending.length, out)
        return pending.length

    def __call__(self, k: int) -> int:
        return self.finish(self.dispatch(k))


def compute_chunk(spec: Spec, out_dir, k: int) -> int:
    """Compute chunk ``k`` of ``spec`` and write it (for remote workers)."""
    return ChunkTask(spec, out_dir)(k)


@dataclass
class RunResult:
    """What a call to :func:`run` did."""

    out_dir: str
    spec_hash: str
    kernel: str
    dtype: str
    n_vectors: int
    n_chunks: int
    chunk_size: int
    shard: str | None
    chunks_in_scope: int      # chunks this call was responsible for (its shard)
    chunks_skipped: int       # already done (resume)
    chunks_computed: int
    vectors_computed: int
    chunks_done_total: int    # done in the directory after the call, all shards
    complete: bool            # every chunk of the grid is done
    seconds: float
    device: str
    #: the sub-grid the kernel's Factor stage ran on: ``{"axes": [...], "n_sub": N}``, or
    #: None when the kernel's ``fn`` ran per vector (the manifest's ``factored`` entry)
    factor_subgrid: dict | None = None
    #: names of the reductions whose summary was written by this call
    summaries: list | None = None
    #: chunks whose parts failed their checks and were recomputed: ``{chunk: [problems]}``
    repaired: dict | None = None
    #: files found under data/ that were not the sweep's, moved to _quarantine/: ``[[from, to]]``
    quarantined: list | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def run(spec: Spec, out_dir, *, overwrite: bool = False, progress: bool | None = None,
        shard=None, chunk_size: int | None = None, dtype: str | None = None,
        executor="local", factor: bool | None = None, outputs=None) -> RunResult:
    """Run ``spec`` into ``out_dir``, resuming whatever is already done there.

    ``chunk_size``/``dtype``/``outputs`` override the spec's (and so change its
    hash); ``shard`` is ``"I/N"`` or ``(I, N)`` (1-based, see
    :func:`~sweep.plan.shard_chunks`); ``progress`` None shows a bar when stderr is
    a terminal; ``executor`` is a name or an :class:`~sweep.executors.Executor`;
    ``factor`` chooses whether the kernel's :class:`~kernels.registry.Factor` is
    used (see :func:`~sweep.plan.factor_plan`; it changes how, not what, is
    computed, so it is not part of the spec hash).

    Rows go to part files when the spec keeps rows; each ``[reduce]`` reduction
    keeps one small partial per chunk and, once every chunk is done, its summary
    (see :mod:`sweep.sinks.reduce`).

    Raises :class:`SpecError` / :class:`OutputError` for bad input (nothing
    computed) and :class:`RunError` for failures while computing or writing; files
    already written are kept and a re-run resumes from them.
    """
    t0 = time.perf_counter()
    spec = spec.with_overrides(chunk_size=chunk_size, dtype=dtype, outputs=outputs)
    try:
        shard_t = parse_shard(shard)
    except ValueError as exc:
        raise OutputError(str(exc)) from None
    ex = get_executor(executor) if isinstance(executor, str) else executor
    out = Path(out_dir)

    enable_x64()
    device = describe_devices()
    plan = factor_plan(spec, factor)
    factored = None if plan is None else plan.to_dict()
    check_memory(spec)  # a chunk that cannot fit in memory: refused before anything is written
    prepare_output(out, spec, overwrite=overwrite, columns=columns_doc(spec) if spec.writes_rows else [],
                   device=device,
                   factored=factored)
    sinks = sinks_for(spec)
    for s in sinks:
        s.prepare(out)

    leases = Leases(out)  # concurrent runs of this spec take different chunks; --overwrite waits
    scope = shard_chunks(spec.n_chunks, shard_t)
    damaged, moved = {}, []
    try:
        if any(s.kind == "rows" for s in sinks):  # parts verified in full; damaged ones recomputed
            verified, damaged, moved = resume_state(out, spec, scope)
    except BaseException:
        leases.close()
        raise
    done = done_chunks(out, sinks, scope)
    if any(s.kind == "rows" for s in sinks):
        done &= verified
    note = describe_resume(out, damaged, moved)
    if note:
        print(note, file=sys.stderr, flush=True)
    task = ChunkTask(spec, out, factor=plan is not None, sinks=sinks)
    todo = leases.claim((k for k in scope if k not in done),  # lazy: billions of chunks possible
                        task.is_done)
    counter = {"chunks": 0, "vectors": 0}
    bar = Progress(vectors_in(spec, scope), vectors_in(spec, done), enabled=progress,
                   desc=spec.kernel)

    def on_done(k: int, rows: int) -> None:
        leases.release(k)
        counter["chunks"] += 1
        counter["vectors"] += rows
        bar.update(rows)

    try:
        if not done and shard_t is None and getattr(ex, "name", None) == "local":
            # The whole grid in this process: each reduction's quantiles can be read
            # from key windows kept during the chunk pass instead of from narrowing
            # passes after it (before the first chunk: the task's device parts
            # are built then).
            plan_windows(sinks, out, factor=plan is not None)
        with bar:
            ex.execute(todo, task, on_done)
        total_done = len(done_chunks(out, sinks))
        complete = total_done == spec.n_chunks
        summaries = close_sinks(sinks, out, complete, factor=plan is not None)  # reductions narrow together
    except SweepError:
        raise
    except (Exception, KeyboardInterrupt) as exc:
        kept = len(done_chunks(out, sinks))
        what = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"
        what += out_of_memory_advice(exc, spec)  # says what to change when memory ran out
        raise RunError(f"sweep run failed ({what}). Kept: {kept} of {spec.n_chunks} chunks are "
                       f"complete in {out} (chunk files and {out / '_sweep.json'}); re-run the same "
                       f"command to resume") from exc
    finally:
        leases.close()

    return RunResult(
        out_dir=str(out), spec_hash=spec.hash, kernel=spec.kernel, dtype=spec.dtype,
        n_vectors=spec.n_vectors, n_chunks=spec.n_chunks, chunk_size=spec.chunk_size,
        shard=None if shard_t is None else f"{shard_t[0]}/{shard_t[1]}",
        chunks_in_scope=len(scope), chunks_skipped=len(done), chunks_computed=counter["chunks"],
        vectors_computed=counter["vectors"], chunks_done_total=total_done,
        complete=complete, seconds=time.perf_counter() - t0, device=device,
        factor_subgrid=factored, summaries=summaries or None,
        repaired={k: damaged[k] for k in sorted(damaged)} or None,
        quarantined=[list(m) for m in moved] or None,
    )


def evaluate(kernel: str, values: dict, *, dtype: str = "float64", source: str = "<command line>") -> dict:
    """All outputs of ``kernel`` at one parameter vector (``values``: numbers, or
    choice names for categoricals), validated like a spec's ``[fixed]`` table.

    Returns ``{"kernel", "dtype", "params": resolved numeric params, "outputs"}``
    with outputs as Python scalars.
    """
    spec = parse_spec({"kernel": kernel, "dtype": dtype, "chunk_size": 1, "fixed": dict(values)},
                      source=source)
    runner = ChunkRunner(spec)
    row = runner.to_arrow(runner.dispatch(0)).to_pylist()[0]
    row.pop("index")
    return {"kernel": kernel, "dtype": spec.dtype, "params": spec.resolved_fixed(),
            "categoricals": {k: v for k, v in spec.fixed.items() if isinstance(v, str)},
            "outputs": row}
