"""Chunked execution of a spec on all local devices, with Parquet output and resume.

Pipeline for one chunk ``k`` (vectors ``k*chunk_size ..``)::

    start index ──▶ jit(shard_map(chunk fn)) over a 1-D mesh of local devices
        each device: its slice of flat indices (int64) → axis digits → values
        gathered from per-axis tables of the run dtype → kernel → outputs
    ──▶ host: trim padding, add index/axis columns ──▶ part-NNNNNN.parquet

The chunk function is compiled once per (kernel, axis structure, padded chunk
size, dtype, device set): start index, axis tables, fixed values and grid sizes
are runtime arguments, so every chunk (and every grid with the same structure)
reuses the executable.  The last chunk is padded by clamping indices to the last
vector and trimmed on the host.

Factored evaluation: when the kernel registers a :class:`~kernels.registry.Factor`
(``fn(p) == combine(p, stage(p[factor.params]))``) and the sub-grid spanned by the
axes that drive ``factor.params`` is small enough and at most half the grid, the
runner evaluates ``stage`` once per sub-grid point (in device batches, when it
is built) and keeps the results on every device; each lane of a chunk then
gathers its stage outputs at its sub-grid index (from its axis digits) and calls
``combine``.  For ``coverage_oa5`` on the paper's grid that is 41,472 root solves
instead of 497,664.  ``SWEEP_FACTOR=0`` (or ``factor=False``) turns it off.

The engine turns on ``jax_enable_x64``: flat indices must be int64 (grids of up to
2**62 vectors) and float64 runs need it anyway.  float32 runs stay float32: every
table and fixed value handed to the kernel is a float32 array.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .allocator import retain_freed_memory
from .dataset import META_CHUNK, META_KERNEL, META_SPEC_HASH, completed_chunks, write_part
from .errors import OutputError, RunError, SweepError
from .executors import get_executor
from .grid import (FLOAT_DIGITS_LIMIT, Grid, device_digits, device_sub_index, device_values, sub_strides,
                   take_rows)
from .manifest import prepare_output
from .progress import Progress
from .spec import Spec, parse_spec

__all__ = [
    "ChunkRunner",
    "ChunkTask",
    "FactorPlan",
    "factor_plan",
    "get_runner",
    "Pending",
    "RunResult",
    "run",
    "compute_chunk",
    "evaluate",
    "parse_shard",
    "shard_chunks",
    "describe_devices",
    "output_schema",
]

_KIND_DTYPES = {"bool": np.bool_, "int8": np.int8}


def _enable_x64() -> None:
    import jax

    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)


def describe_devices(devices=None) -> str:
    """E.g. ``"cpu: 2 x cpu"`` or ``"gpu: 1 x NVIDIA H100 80GB HBM3"``."""
    import jax

    devices = list(devices or jax.local_devices())
    kinds = sorted({d.device_kind for d in devices})
    return f"{devices[0].platform}: {len(devices)} x {', '.join(kinds)}"


def output_schema(spec: Spec):
    """The Arrow schema of every part file of ``spec``: ``index`` (int64), one column
    per axis (run dtype; categorical axes as dictionary<int32, string> of choice
    names), then the kernel outputs (float: run dtype, bool, int8)."""
    import pyarrow as pa

    ks = spec.kernel_spec
    fdt = pa.float32() if spec.dtype == "float32" else pa.float64()
    fields = [pa.field("index", pa.int64(), nullable=False)]
    for a in spec.axes:
        typ = pa.dictionary(pa.int32(), pa.string()) if a.categorical else fdt
        fields.append(pa.field(a.name, typ, nullable=False))
    kind = {"float": fdt, "bool": pa.bool_(), "int8": pa.int8()}
    fields += [pa.field(o.name, kind[o.kind], nullable=False) for o in ks.outputs]
    names = [f.name for f in fields]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise RunError(f"kernel {spec.kernel!r}: output name(s) {sorted(dup)} clash with "
                       f"'index' or an axis parameter; cannot lay out the Parquet columns")
    return pa.schema(fields)


def _columns_doc(spec: Spec) -> list[dict]:
    docs = {o.name: o.doc for o in spec.kernel_spec.outputs}
    return [{"name": f.name, "type": str(f.type), "doc": docs.get(f.name, "")} for f in output_schema(spec)]


# ---------------------------------------------------------------------------
# factored evaluation (kernels.registry.Factor)

#: largest sub-grid (points) whose stage table is precomputed; past it, no factoring
FACTOR_MAX_SUB = 1 << 23
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


def _factor_setting(factor: bool | None) -> bool | None:
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
    setting = _factor_setting(factor)
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


def _pow2_ceil(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


def _stage_sizes(n_sub: int, ndev: int) -> tuple[int, int]:
    """(points per device per stage call, padded table length).

    The table is ``n_sub`` rounded up to a multiple of 1/16 of the power of two
    above it (at least 256), so less than 1/8 of it is padding, and grids whose
    sub-grids round to the same length share the compiled stage and chunk
    functions.  One call evaluates the whole table when it has at most
    :data:`FACTOR_BATCH` points: a table assembled from several calls' sharded
    outputs needs one cross-device gather per call and output, which cost as
    much as the stage itself on a 41k-point sub-grid.
    """
    quantum = max(256, _pow2_ceil(n_sub) // 16)
    table = -(-max(1, n_sub) // quantum) * quantum
    batch = min(table, FACTOR_BATCH)
    return -(-batch // ndev), table


def _stage_function(ks, structure: tuple, fixed_names: tuple, per_device: int, dtype: str,
                    devices: tuple):
    """The jitted, sharded stage function of ``ks.factor`` over a sub-grid; cached.

    Arguments mirror the chunk function's, for the sub-grid: its flat indices
    ``start ..`` are unravelled into digits of the sub-grid axes (``structure``),
    values are gathered from their tables, fixed values are 0-d.
    """
    fac = ks.factor
    key = ("stage", ks.name, id(fac.stage), tuple(fac.params), structure, fixed_names, per_device,
           dtype, tuple(d.id for d in devices))  # sub-grids are small: float digits are always exact
    if key in _COMPILED:
        return _COMPILED[key]

    import jax
    import jax.numpy as jnp
    from jax.sharding import Mesh, PartitionSpec as P

    mesh = Mesh(np.array(devices), ("d",))
    wanted = set(fac.params)

    def body(start, tables, fixed, sizes, strides, last):
        shard = jax.lax.axis_index("d").astype(jnp.int64)
        raw = start + shard * per_device + jnp.arange(per_device, dtype=jnp.int64)
        idx = jnp.minimum(raw, last)
        # Padding lanes (past the sub-grid; their rows are never read) get NaN
        # parameters: a kernel flags NaN as out of domain and skips its root solves
        # there, so padding neither costs iterations nor fills a compacted solve.
        pad = raw > last
        params = {}
        for (targets, categorical), col in zip(structure, device_values(idx, tables, sizes, strides)):
            col = jnp.where(pad[:, None] if col.ndim == 2 else pad, jnp.asarray(jnp.nan, col.dtype), col)
            if categorical:
                params.update({t: col[:, j] for j, t in enumerate(targets)})
            else:
                params[targets[0]] = col
        params.update(fixed)
        # exactly what the contract hands the stage: p restricted to factor.params
        out = fac.stage({k: v for k, v in params.items() if k in wanted})
        return {k: jnp.broadcast_to(jnp.asarray(v), idx.shape) for k, v in out.items()}

    fn = jax.jit(jax.shard_map(body, mesh=mesh, in_specs=(P(), P(), P(), P(), P(), P()),
                               out_specs=P("d"), check_vma=False))
    _COMPILED[key] = (fn, mesh)
    return _COMPILED[key]


def _stage_table(ks, spec: Spec, plan: FactorPlan, tables: list, structure: list, fixed: dict,
                 devices: tuple) -> dict:
    """``ks.factor.stage`` at every point of the sub-grid of ``plan``:
    ``{"layout": ..., "arrays": ...}`` with the arrays of :func:`_assemble_function`
    (``table_len`` rows of :func:`_stage_sizes`, rows past ``n_sub`` are padding),
    replicated on every device of ``devices``."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec as P

    wanted = set(ks.factor.params)
    sub_tables, sub_structure = [], []
    for j in plan.positions:
        targets, categorical = structure[j]
        if categorical:
            cols = [i for i, t in enumerate(targets) if t in wanted]
            sub_tables.append(np.ascontiguousarray(tables[j][:, cols]))
            sub_structure.append((tuple(targets[i] for i in cols), True))
        else:
            sub_tables.append(tables[j])
            sub_structure.append((targets, False))
    sub_fixed = {k: v for k, v in fixed.items() if k in wanted}
    per_device, table_len = _stage_sizes(plan.n_sub, len(devices))
    fn, mesh = _stage_function(ks, tuple(sub_structure), tuple(sub_fixed), per_device, spec.dtype,
                               devices)
    sizes = np.asarray([len(spec.axes[j]) for j in plan.positions], np.int64)
    strides = np.asarray(sub_strides(sizes, range(len(sizes))), np.int64)
    replicated = NamedSharding(mesh, P())
    args = jax.device_put((sub_tables, sub_fixed, sizes, strides, np.int64(plan.n_sub - 1)), replicated)
    batch = per_device * len(devices)
    parts = [fn(np.int64(start), *args) for start in range(0, plan.n_sub, batch)]
    layout = _pack_layout({k: np.dtype(v.dtype) for k, v in parts[0].items()})
    assemble = _assemble_function(layout, len(parts), table_len, mesh)
    return {"layout": layout, "arrays": assemble(parts)}


#: bits an integer/bool stage output takes in a packed word
def _bits(dt: np.dtype) -> int | None:
    if dt == np.bool_:
        return 1
    if dt.kind in "iu" and dt.itemsize <= 2:
        return 8 * dt.itemsize
    return None


def _pack_layout(dtypes: dict) -> tuple:
    """How the stage outputs are laid out in the table: ``(plain, packed)``.

    ``plain`` is ``((name, dtype str, column), ...)``: outputs kept as values
    (floats, wide ints), stacked by dtype into one 2-D array each, so a lane
    fetches all its floats with one gather.  ``packed`` is ``((name, dtype str,
    word, shift, bits), ...)``: bools and int8/int16 codes share uint32 words.
    Gathers dominate the per-lane cost of a factored chunk, hence both."""
    plain, packed, word, shift, cols = [], [], 0, 0, {}
    for name in sorted(dtypes):
        bits = _bits(dtypes[name])
        if bits is None:
            dt = dtypes[name].str
            plain.append((name, dt, cols.get(dt, 0)))
            cols[dt] = cols.get(dt, 0) + 1
            continue
        if shift + bits > 32:
            word, shift = word + 1, 0
        packed.append((name, dtypes[name].str, word, shift, bits))
        shift += bits
    return tuple(plain), tuple(packed)


def _assemble_function(layout: tuple, n_parts: int, table_len: int, mesh):
    """Jitted: the stage batches → ``{"plain": {name: column}, "words": uint32[table_len, n]}``,
    trimmed/zero-padded to ``table_len`` rows and replicated on every device; cached."""
    key = ("assemble", layout, n_parts, table_len, tuple(d.id for d in mesh.devices.flat))
    if key in _COMPILED:
        return _COMPILED[key]

    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding, PartitionSpec as P

    plain, packed = layout

    def fit(col):
        if col.shape[0] >= table_len:
            return col[:table_len]
        return jnp.concatenate([col, jnp.zeros((table_len - col.shape[0],), col.dtype)])

    def assemble(parts):
        cols = {k: fit(jnp.concatenate([p[k] for p in parts])) for k in parts[0]}
        n_words = 1 + max((w for _, _, w, _, _ in packed), default=-1)
        words = [jnp.zeros((table_len,), jnp.uint32) for _ in range(n_words)]
        for name, _, w, shift, bits in packed:
            v = cols[name]
            if v.dtype == jnp.bool_:
                u = v.astype(jnp.uint32)
            else:  # two's complement bits of a signed code, exactly
                u = jax.lax.bitcast_convert_type(v, jnp.dtype(f"uint{bits}")).astype(jnp.uint32)
            words[w] = words[w] | (u << jnp.uint32(shift))
        groups: dict = {}
        for name, dt, _ in plain:
            groups.setdefault(dt, []).append(cols[name])
        return {"plain": {dt: jnp.stack(g, axis=1) for dt, g in groups.items()},
                "words": jnp.stack(words, axis=1) if words else jnp.zeros((table_len, 0), jnp.uint32)}

    fn = jax.jit(assemble, out_shardings=NamedSharding(mesh, P()))
    _COMPILED[key] = fn
    return fn


def _unpack(layout: tuple, rows: dict) -> dict:
    """Stage outputs from gathered table rows (traced): the inverse of the packing of
    :func:`_assemble_function`, bit for bit."""
    import jax
    import jax.numpy as jnp

    plain, packed = layout
    out = {name: rows["plain"][dt][..., c] for name, dt, c in plain}
    words = rows["words"]
    for name, dtype, w, shift, bits in packed:
        u = (words[..., w] >> jnp.uint32(shift)) & jnp.uint32((1 << bits) - 1)
        dt = np.dtype(dtype)
        if dt == np.bool_:
            out[name] = u != jnp.uint32(0)
        else:
            out[name] = jax.lax.bitcast_convert_type(u.astype(jnp.dtype(f"uint{bits}")), dt)
    return out


# ---------------------------------------------------------------------------
# compiled chunk functions

_COMPILED: dict[tuple, Any] = {}


#: output key under which the chunk function returns the digits of the categorical axes
_DIGITS = "__sweep_axis_digits__"
#: output key prefix (+ axis position) of a numeric axis' values
_AXIS = "__sweep_axis_values__"


def _batched_call(ks, params: dict, fixed: dict, per_device: int) -> dict:
    """``ks.fn(params)``, as a sequential ``lax.map`` over sub-batches of
    ``ks.max_batch`` lanes when the kernel declares one and a device's share of the
    chunk is larger: memory then depends on ``max_batch``, not on the chunk size
    (``period1`` needs tens of kB per lane).  ``per_device`` is a multiple of
    ``max_batch`` in that case (see :func:`_per_device`)."""
    import jax

    mb = ks.max_batch
    lanes = {k: v for k, v in params.items() if k not in fixed}
    if not mb or per_device <= mb or not lanes:
        return ks.fn(params)
    nb = per_device // mb

    def one(batch):
        out = ks.fn({**batch, **fixed})
        return {k: jax.numpy.broadcast_to(v, (mb,)) for k, v in out.items()}

    out = jax.lax.map(one, {k: v.reshape(nb, mb) for k, v in lanes.items()})
    return {k: v.reshape(per_device) for k, v in out.items()}


def _per_device(ks, chunk_size: int, n_devices: int) -> int:
    """Lanes per device for one chunk: the chunk split evenly, rounded up to a
    multiple of the kernel's ``max_batch`` when it exceeds it (the extra lanes are
    padding, trimmed on the host)."""
    per = -(-chunk_size // n_devices)
    mb = ks.max_batch
    if mb and per > mb:
        per = -(-per // mb) * mb
    return per


def _chunk_function(ks, structure: tuple, fixed_names: tuple, per_device: int, dtype: str, devices: tuple,
                    factored: tuple | None = None, layout: tuple | None = None, exact_float: bool = True):
    """The jitted, sharded chunk function; cached so a process compiles it once.

    ``structure`` is, per axis, the kernel parameters it drives (one name for a
    numeric axis, the targets for a categorical axis) and whether it is categorical.
    ``factored`` is None (the kernel's ``fn`` per lane) or the positions of the
    sub-grid axes of a :class:`FactorPlan`: then the function takes the stage table
    (laid out as ``layout`` says, see :func:`_pack_layout`) and the sub-grid strides
    as two more arguments and calls ``factor.combine``.  ``exact_float``: every flat
    index is below :data:`~sweep.grid.FLOAT_DIGITS_LIMIT` (see
    :func:`~sweep.grid.device_digits`).
    """
    fac = ks.factor if factored is not None else None
    key = (ks.name, id(ks.fn), structure, fixed_names, per_device, dtype, exact_float,
           tuple(d.id for d in devices), tuple((o.name, o.kind) for o in ks.outputs),
           None if fac is None else (factored, layout, id(fac.stage), id(fac.combine)))
    if key in _COMPILED:
        return _COMPILED[key]

    import jax
    import jax.numpy as jnp
    from jax.sharding import Mesh, PartitionSpec as P

    mesh = Mesh(np.array(devices), ("d",))
    dt = jnp.dtype(dtype)

    def body(start, tables, fixed, sizes, strides, last, *stage):
        shard = jax.lax.axis_index("d").astype(jnp.int64)
        idx = start + shard * per_device + jnp.arange(per_device, dtype=jnp.int64)
        # Padding lanes (past the last vector) recompute the last vector; trimmed on the host.
        idx = jnp.minimum(idx, last)
        digits = device_digits(idx, sizes, strides, exact_float)
        params, axis_values = {}, {}
        for j, ((targets, categorical), col) in enumerate(
                zip(structure, device_values(idx, tables, sizes, strides, digits))):
            if categorical:
                params.update({t: col[:, i] for i, t in enumerate(targets)})
            else:
                params[targets[0]] = col
                axis_values[_AXIS + str(j)] = col
        # Fixed values stay 0-d: XLA evaluates fixed-only subexpressions once, not per lane.
        params.update(fixed)
        if fac is None:
            out = _batched_call(ks, params, fixed, per_device)
        else:
            table, substrides = stage
            if factored:
                sub = device_sub_index(idx, sizes, strides, substrides, factored, exact_float)
                rows = jax.tree_util.tree_map(lambda v: take_rows(v, sub), table)
            else:  # every factor parameter is fixed: one stage point, kept 0-d
                rows = jax.tree_util.tree_map(lambda v: v[0], table)
            out = fac.combine(params, _unpack(layout, rows))
        res = {}
        for o in ks.outputs:
            v = jnp.asarray(out[o.name])
            v = v.astype(dt if o.kind == "float" else _KIND_DTYPES[o.kind])
            res[o.name] = jnp.broadcast_to(v, idx.shape)
        # The axis columns of the part are already here: hand them to the host so it
        # neither unravels the indices again nor gathers (that was most of the host's
        # work per part): numeric axes as values, categorical axes as digits.
        res.update(axis_values)
        cat_digits = [d for d, (_, categorical) in zip(digits, structure) if categorical]
        if cat_digits:
            res[_DIGITS] = jnp.stack(cat_digits, axis=1)
        return res

    n_args = 6 if fac is None else 8
    # check_vma=False: kernels mix replicated (fixed) and per-lane values in loop
    # carries; every lane is independent, so no collective is ever needed.
    fn = jax.jit(jax.shard_map(body, mesh=mesh, in_specs=(P(),) * n_args,
                               out_specs=P("d"), check_vma=False))
    _COMPILED[key] = (fn, mesh)
    return _COMPILED[key]


@dataclass
class Pending:
    """A dispatched chunk: device outputs not yet waited for."""

    chunk: int
    start: int
    length: int
    outputs: dict


class ChunkRunner:
    """Builds the device-side inputs of a spec and dispatches its chunks."""

    def __init__(self, spec: Spec, devices=None, factor: bool | None = None):
        """``factor``: use the kernel's :class:`~kernels.registry.Factor` (see
        :func:`factor_plan`; None decides from the grid and ``SWEEP_FACTOR``).
        :attr:`plan` is the :class:`FactorPlan` used, or None."""
        _enable_x64()
        retain_freed_memory()
        import jax
        import pyarrow as pa
        from jax.sharding import NamedSharding, PartitionSpec as P

        self.spec = spec
        self.kernel = ks = spec.kernel_spec
        self.devices = tuple(devices or jax.local_devices())
        self.grid = Grid.from_spec(spec)
        self.schema = output_schema(spec)
        ndev = len(self.devices)
        # A grid smaller than one chunk is computed at its own size: padding it to
        # the chunk size (oa5.toml: 1,048,576 for 497,664 vectors) doubled the work.
        self.per_device = _per_device(ks, min(spec.chunk_size, spec.n_vectors), ndev)
        dt = np.dtype(spec.dtype)

        tables, structure = [], []
        for a in spec.axes:
            cat = ks.categorical(a.name)
            if cat is not None:
                tab = np.array([[cat.choices[c][t] for t in cat.targets] for c in a.values], np.float64)
                structure.append((tuple(cat.targets), True))
            else:
                tab = np.asarray(a.values, np.float64)
                structure.append(((a.name,), False))
            # Cast from the float64 spec values once, on the host: float32 runs never
            # see a float64 array.
            tables.append(tab.astype(dt))
        self._dictionaries = {j: pa.array(list(a.values), pa.string())
                              for j, a in enumerate(spec.axes) if a.categorical}
        fixed = {k: np.asarray(v, dtype=dt) for k, v in spec.resolved_fixed().items()}

        self.plan = plan = factor_plan(spec, factor)
        self._stage_inputs = (tables, structure, fixed)
        stage = None
        if plan is not None:
            # Dispatched asynchronously: the first chunk waits for it on the device.
            stage = _stage_table(ks, spec, plan, tables, structure, fixed, self.devices)
        self._fn, mesh = _chunk_function(ks, tuple(structure), tuple(fixed), self.per_device,
                                         spec.dtype, self.devices,
                                         None if plan is None else plan.positions,
                                         None if stage is None else stage["layout"],
                                         exact_float=spec.n_vectors <= FLOAT_DIGITS_LIMIT)
        geometry = (np.asarray(self.grid.sizes, np.int64), np.asarray(self.grid.strides, np.int64),
                    np.int64(spec.n_vectors - 1))
        replicated = NamedSharding(mesh, P())
        self._args = jax.device_put((tables, fixed) + geometry, replicated)
        if stage is not None:
            substrides = np.asarray(sub_strides(self.grid.sizes, plan.positions) or (0,), np.int64)
            self._args = self._args + (stage["arrays"], jax.device_put(substrides, replicated))

    def recompute_stage(self) -> None:
        """Evaluate the stage table again (dispatched, not waited for).

        A run computes it once, when the runner is built; benchmarks call this so
        that a timed pass over the chunks includes the whole work of a run (the
        root-solving stage and the per-vector pass), not only the latter."""
        if self.plan is None:
            return
        tables, structure, fixed = self._stage_inputs
        stage = _stage_table(self.kernel, self.spec, self.plan, tables, structure, fixed, self.devices)
        self._args = self._args[:-2] + (stage["arrays"], self._args[-1])

    def dispatch(self, k: int) -> Pending:
        """Start computing chunk ``k`` (returns at once: JAX dispatch is asynchronous)."""
        start, length = self.spec.chunk_bounds(k)
        outputs = self._fn(np.int64(start), *self._args)
        return Pending(k, start, length, outputs)

    def to_table(self, pending: Pending):
        """Wait for a dispatched chunk and lay it out as an Arrow table (trimmed)."""
        import pyarrow as pa

        n = pending.length
        index = np.arange(pending.start, pending.start + n, dtype=np.int64)
        out = pending.outputs
        digits = np.asarray(out[_DIGITS])[:n] if _DIGITS in out else None
        cols, c = [pa.array(index)], 0
        for j, a in enumerate(self.spec.axes):
            if a.categorical:
                # contiguous int32 indices (a column of the digits array is strided)
                cols.append(pa.DictionaryArray.from_arrays(
                    pa.array(np.ascontiguousarray(digits[:, c])), self._dictionaries[j]))
                c += 1
            else:
                cols.append(pa.array(np.asarray(out[_AXIS + str(j)])[:n]))
        for o in self.kernel.outputs:
            cols.append(pa.array(np.asarray(out[o.name])[:n]))
        return pa.Table.from_arrays(cols, schema=self.schema)


_RUNNERS: dict[tuple, ChunkRunner] = {}


def get_runner(spec: Spec, factor: bool | None = None) -> ChunkRunner:
    """The process-wide runner of ``spec`` (one set of device buffers per spec and
    ``factor`` setting, see :class:`ChunkRunner`)."""
    key = (spec.hash, spec.kernel, _factor_setting(factor))
    runner = _RUNNERS.get(key)
    if runner is None:
        if len(_RUNNERS) >= 4:  # a long-lived worker may see many specs: keep a few
            _RUNNERS.pop(next(iter(_RUNNERS)))
        runner = _RUNNERS[key] = ChunkRunner(spec, factor=factor)
    return runner


class ChunkTask:
    """Compute and write chunks of one spec into one directory.

    Self-contained and picklable: a worker process can do chunk ``k`` from this
    object alone (``task(k)``) and compiles once per process.  ``factor`` is passed
    to :class:`ChunkRunner` (:func:`run` sets it so that every worker does what
    the driver recorded in the manifest).
    """

    def __init__(self, spec: Spec, out_dir, factor: bool | None = None):
        self.spec = spec
        self.out_dir = str(out_dir)
        self.factor = factor

    def __setstate__(self, state):  # tasks pickled before ``factor`` existed
        self.__dict__.update({"factor": None, **state})

    def runner(self) -> ChunkRunner:
        return get_runner(self.spec, self.factor)

    def dispatch(self, k: int) -> Pending:
        return self.runner().dispatch(k)

    def finish(self, pending: Pending) -> int:
        """Wait for ``pending``, write its part file atomically; returns the row count."""
        table = self.runner().to_table(pending)
        meta = {META_SPEC_HASH: self.spec.hash.encode(), META_CHUNK: str(pending.chunk).encode(),
                META_KERNEL: self.spec.kernel.encode()}
        write_part(self.out_dir, pending.chunk, self.spec.n_chunks, table, meta,
                   dictionary_columns=self._dictionary_columns(),
                   statistics_columns=self._statistics_columns(),
                   column_encoding={"index": "DELTA_BINARY_PACKED"})
        return table.num_rows

    def _dictionary_columns(self) -> list[str]:
        # Choice names (strings) are where a dictionary pays; numeric grid values and
        # status codes compress as well under zstd without the hashing (see write_part).
        return [a.name for a in self.spec.axes if a.categorical]

    def _statistics_columns(self) -> list[str]:
        # min/max of the grid columns let DuckDB/polars/pyarrow skip parts when a
        # query filters on parameters; outputs are rarely filtered per part
        return ["index"] + list(self.spec.axis_names)

    def __call__(self, k: int) -> int:
        return self.finish(self.dispatch(k))


def compute_chunk(spec: Spec, out_dir, k: int) -> int:
    """Compute chunk ``k`` of ``spec`` and write its part file (for remote workers)."""
    return ChunkTask(spec, out_dir)(k)


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


def _vectors_in(spec: Spec, chunks) -> int:
    n = len(chunks) * spec.chunk_size
    last = spec.n_chunks - 1
    if last in chunks:  # the last chunk may be short
        n -= spec.n_chunks * spec.chunk_size - spec.n_vectors
    return n


# ---------------------------------------------------------------------------
# run

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

    def to_dict(self) -> dict:
        return asdict(self)


def run(spec: Spec, out_dir, *, overwrite: bool = False, progress: bool | None = None,
        shard=None, chunk_size: int | None = None, dtype: str | None = None,
        executor="local", factor: bool | None = None) -> RunResult:
    """Run ``spec`` into ``out_dir``, resuming whatever is already done there.

    ``chunk_size``/``dtype`` override the spec's (and so change its hash);
    ``shard`` is ``"I/N"`` or ``(I, N)`` (1-based, see :func:`shard_chunks`);
    ``progress`` None shows a bar when stderr is a terminal; ``executor`` is a name
    or an :class:`~sweep.executors.Executor`; ``factor`` chooses whether the
    kernel's :class:`~kernels.registry.Factor` is used (see :func:`factor_plan`;
    it changes how, not what, is computed, so it is not part of the spec hash).

    Raises :class:`SpecError` / :class:`OutputError` for bad input (nothing
    computed) and :class:`RunError` for failures while computing or writing; part
    files already written are kept and a re-run resumes from them.
    """
    t0 = time.perf_counter()
    spec = spec.with_overrides(chunk_size=chunk_size, dtype=dtype)
    try:
        shard_t = parse_shard(shard)
    except ValueError as exc:
        raise OutputError(str(exc)) from None
    ex = get_executor(executor) if isinstance(executor, str) else executor
    out = Path(out_dir)

    _enable_x64()
    device = describe_devices()
    plan = factor_plan(spec, factor)
    factored = None if plan is None else plan.to_dict()
    prepare_output(out, spec, overwrite=overwrite, columns=_columns_doc(spec), device=device,
                   factored=factored)

    scope = shard_chunks(spec.n_chunks, shard_t)
    done = completed_chunks(out, spec.hash, scope)
    todo = (k for k in scope if k not in done)  # lazy: a grid may have billions of chunks
    counter = {"chunks": 0, "vectors": 0}
    bar = Progress(_vectors_in(spec, scope), _vectors_in(spec, done), enabled=progress,
                   desc=spec.kernel)

    def on_done(k: int, rows: int) -> None:
        counter["chunks"] += 1
        counter["vectors"] += rows
        bar.update(rows)

    try:
        with bar:
            ex.execute(todo, ChunkTask(spec, out, factor=plan is not None), on_done)
    except SweepError:
        raise
    except (Exception, KeyboardInterrupt) as exc:
        kept = len(completed_chunks(out, spec.hash))
        what = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"
        raise RunError(f"sweep run failed ({what}). Kept: {kept} of {spec.n_chunks} chunks are "
                       f"complete in {out} (part files and {out / '_sweep.json'}); re-run the same "
                       f"command to resume") from exc

    total_done = len(completed_chunks(out, spec.hash))
    return RunResult(
        out_dir=str(out), spec_hash=spec.hash, kernel=spec.kernel, dtype=spec.dtype,
        n_vectors=spec.n_vectors, n_chunks=spec.n_chunks, chunk_size=spec.chunk_size,
        shard=None if shard_t is None else f"{shard_t[0]}/{shard_t[1]}",
        chunks_in_scope=len(scope), chunks_skipped=len(done), chunks_computed=counter["chunks"],
        vectors_computed=counter["vectors"], chunks_done_total=total_done,
        complete=total_done == spec.n_chunks, seconds=time.perf_counter() - t0, device=device,
        factor_subgrid=factored,
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
    row = runner.to_table(runner.dispatch(0)).to_pylist()[0]
    row.pop("index")
    return {"kernel": kernel, "dtype": spec.dtype, "params": spec.resolved_fixed(),
            "categoricals": {k: v for k, v in spec.fixed.items() if isinstance(v, str)},
            "outputs": row}
