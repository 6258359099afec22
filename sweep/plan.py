"""Planning a run, without JAX: the Arrow schema of the rows, the factoring of the
kernel over the grid (:class:`FactorPlan`), lanes per device, and shards.

Nothing here touches a device; :mod:`sweep.compiled` builds the functions that
the plan describes.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from .errors import RunError
from .spec import Spec

__all__ = ["FactorPlan", "factor_plan", "output_schema", "columns_doc", "parse_shard", "shard_chunks",
           "vectors_in", "factor_setting", "lanes_per_device", "stage_sizes", "pow2_ceil", "FACTOR_MAX_SUB", "FACTOR_BATCH", "FACTOR_ENV"]


def output_schema(spec: Spec):
    """The Arrow schema of every part file of ``spec``: ``index`` (int64), one column
    per axis (run dtype; categorical axes as dictionary<int32, string> of choice
    names), then the kernel outputs kept (``spec.output_names``; float: run dtype,
    bool, int8), in the kernel's order."""
    import pyarrow as pa

    ks = spec.kernel_spec
    fdt = pa.float32() if spec.dtype == "float32" else pa.float64()
    fields = [pa.field("index", pa.int64(), nullable=False)]
    for a in spec.axes:
        typ = pa.dictionary(pa.int32(), pa.string()) if a.categorical else fdt
        fields.append(pa.field(a.name, typ, nullable=False))
    kind = {"float": fdt, "bool": pa.bool_(), "int8": pa.int8()}
    kept = set(spec.output_names)
    fields += [pa.field(o.name, kind[o.kind], nullable=False) for o in ks.outputs if o.name in kept]
    names = [f.name for f in fields]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise RunError(f"kernel {spec.kernel!r}: output name(s) {sorted(dup)} clash with "
                       f"'index' or an axis parameter; cannot lay out the Parquet columns")
    return pa.schema(fields)


def columns_doc(spec: Spec) -> list[dict]:
    docs = {o.name: o.doc for o in spec.kernel_spec.outputs}
    return [{"name": f.name, "type": str(f.type), "doc": docs.get(f.name, "")} for f in output_schema(spec)]



# ---------------------------------------------------------------------------
# factored evaluation (kernels.registry.Factor)

#: largest sub-grid (points) whose stage outputs are precomputed; past it, no factoring.
#: 2**24 holds the 8-point refinement of the OA.5 grid (8**8 stage points, about 28
#: bytes each per device): unfactored, its 1,073,741,824 vectors took 4.2 s per
#: million-vector chunk on the 2-core machine against 0.18 s factored (the stage
#: itself: about 60 s, compile included, peak RSS 3.2 GB).  Sub-grid indices are int32.
FACTOR_MAX_SUB = 1 << 24
#: most sub-grid points evaluated by one call of the stage function
FACTOR_BATCH = 1 << 20
#: environment switch: ``0``/``off`` never factors, ``1``/``on`` factors whenever it fits
FACTOR_ENV = "SWEEP_FACTOR"


@dataclass(frozen=True)
class FactorPlan:
    """How a run uses its kernel's :class:`~kernels.registry.Factor`: the sub-grid
    axes (spec order), their positions among the spec's axes, and the sub-grid size."""

    axes: tuple[str, ...]
    positions: tuple[int, ...]
    n_sub: int

    def to_dict(self) -> dict:
        return {"axes": list(self.axes), "n_sub": self.n_sub}


def factor_setting(factor: bool | None) -> bool | None:
    """True: factor whenever it fits; False: never; None: when it pays (2·n_sub ≤ n)."""
    if factor is not None:
        return bool(factor)
    env = os.environ.get(FACTOR_ENV, "").strip().lower()
    if env in ("0", "off", "false", "no"):
        return False
    if env in ("1", "on", "true", "yes"):
        return True
    return None


def factor_plan(spec: Spec, factor: bool | None = None) -> FactorPlan | None:
    """The factoring of ``spec``'s kernel over its grid, or None when it is not used.

    The sub-grid axes are the axes that drive a parameter of ``factor.params`` (a
    numeric axis by its name, a categorical axis by any of its targets).  By
    default factoring is used when it at least halves the stage evaluations
    (``2 * n_sub <= n_vectors``); ``factor=True`` (or ``SWEEP_FACTOR=1``) uses it
    whenever the kernel has a factor, ``factor=False`` (or ``SWEEP_FACTOR=0``)
    never.  A sub-grid of more than :data:`FACTOR_MAX_SUB` points is never
    tabulated (device memory).
    """
    ks = spec.kernel_spec
    fac = ks.factor
    setting = factor_setting(factor)
    if fac is None or setting is False:
        return None
    fparams = set(fac.params)
    positions = []
    for j, a in enumerate(spec.axes):
        cat = ks.categorical(a.name)
        drives = cat.targets if cat is not None else (a.name,)
        if fparams.intersection(drives):
            positions.append(j)
    n_sub = math.prod(len(spec.axes[j]) for j in positions)
    if n_sub > FACTOR_MAX_SUB:
        return None
    if setting is None and 2 * n_sub > spec.n_vectors:
        return None
    return FactorPlan(tuple(spec.axes[j].name for j in positions), tuple(positions), n_sub)


def pow2_ceil(n: int) -> int:
    """The least power of two >= n (1 for n <= 1)."""
    return 1 << max(0, int(n) - 1).bit_length()


def stage_sizes(n_sub: int, ndev: int) -> tuple[int, int]:
    """(points per device per stage call, padded stage length).

    The stage length is ``n_sub`` rounded up to a multiple of 1/16 of the power of two
    above it (at least 256), so less than 1/8 of it is padding.  (Grids of one
    structure share compiled stage and chunk functions when their axes fall in the
    same length buckets: the axis value tables are arguments, padded to a power of
    two of at least 64 rows by :class:`sweep.runner.ChunkRunner`.)  One call evaluates the whole stage when it has at most
    :data:`FACTOR_BATCH` points: stage outputs assembled from several calls' sharded
    outputs needs one cross-device gather per call and output, which cost as
    much as the stage itself on a 41k-point sub-grid.
    """
    quantum = max(256, pow2_ceil(n_sub) // 16)
    table = -(-max(1, n_sub) // quantum) * quantum
    batch = min(table, FACTOR_BATCH)
    return -(-batch // ndev), table


def lanes_per_device(ks, chunk_size: int, n_devices: int) -> int:
    """Lanes per device for one chunk: the chunk split evenly, rounded up to a
    multiple of the kernel's ``max_batch`` when it exceeds it (the extra lanes are
    padding, trimmed on the host)."""
    per = -(-chunk_size // n_devices)
    mb = ks.max_batch
    if mb and per > mb:
        per = -(-per // mb) * mb
    return per


# ---------------------------------------------------------------------------
# shards

def parse_shard(shard) -> tuple[int, int] | None:
    """``"I/N"`` or ``(I, N)`` -> ``(I, N)`` with 1 <= I <= N (ValueError otherwise).

    Shards are **1-based** so ``--shard $SLURM_ARRAY_TASK_ID/N`` works with
    ``#SBATCH --array=1-N``.
    """
    if shard is None:
        return None
    if isinstance(shard, str):
        try:
            i, n = (int(x) for x in shard.split("/"))
        except ValueError:
            raise ValueError(f"--shard {shard!r}: expected I/N with integers 1 <= I <= N") from None
    else:
        i, n = shard
    if not (isinstance(i, int) and isinstance(n, int) and 1 <= i <= n):
        raise ValueError(f"--shard {i}/{n}: expected I/N with integers 1 <= I <= N")
    return i, n


def shard_chunks(n_chunks: int, shard: tuple[int, int] | None) -> range:
    """Chunk ids of shard ``(I, N)``: ``{k : k % N == I - 1}``; all chunks if None.

    Shards are disjoint and their union is every chunk, whatever N is.
    """
    if shard is None:
        return range(n_chunks)
    i, n = shard
    return range(i - 1, n_chunks, n)


def vectors_in(spec: Spec, chunks) -> int:
    n = len(chunks) * spec.chunk_size
    last = spec.n_chunks - 1
    if last in chunks:  # the last chunk may be short
        n -= spec.n_chunks * spec.chunk_size - spec.n_vectors
    return n

