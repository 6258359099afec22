"""The jitted, sharded functions a run executes: the factored stage outputs and the
chunk function; compiled once per process and structure (``_COMPILED``).

Pipeline for one chunk ``k`` (vectors ``k*chunk_size ..``)::

    start index ──▶ jit(shard_map(chunk fn)) over a 1-D mesh of local devices
        each device: its slice of flat indices (int64) → axis digits → values
        gathered from per-axis value arrays of the run dtype → kernel → outputs
        ──▶ the sink's device part (rows: the outputs kept; reductions: partial
            statistics per group)

The chunk function is compiled once per (kernel, axis structure, padded chunk
size, dtype, device set, device part): start index, axis value arrays, fixed values,
grid sizes and the device part's runtime inputs are arguments, so every chunk
(and every grid with the same structure) reuses the executable.  Lanes past a
chunk's last vector (the last chunk's tail, or the extra lanes when the chunk does
not split evenly over the devices) are padding: their indices are clamped to that
vector, and the device part sees which lanes they are.

Factored evaluation: when the kernel registers a :class:`~kernels.registry.Factor`
(``fn(p) == combine(p, stage(p[factor.params]))``), :func:`stage_outputs`
evaluates ``stage`` once per sub-grid point and each lane gathers its row and
calls ``combine`` (see :func:`sweep.plan.factor_plan`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .grid import device_digits, device_sub_index, device_values, sub_strides, take_rows
from .plan import FactorPlan, stage_sizes
from .spec import Spec

__all__ = ["enable_x64", "describe_devices", "stage_outputs", "chunk_function", "pack_layout",
           "assemble_stage", "unpack", "Lanes", "KIND_DTYPES"]

KIND_DTYPES = {"bool": np.bool_, "int8": np.int8}


def enable_x64() -> None:
    import jax

    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)


def describe_devices(devices=None) -> str:
    """E.g. ``"cpu: 2 x cpu"`` or ``"gpu: 1 x NVIDIA H100 80GB HBM3"``."""
    import jax

    devices = list(devices or jax.local_devices())
    kinds = sorted({d.device_kind for d in devices})
    return f"{devices[0].platform}: {len(devices)} x {', '.join(kinds)}"


def _stage_function(ks, structure: tuple, fixed_names: tuple, per_device: int, dtype: str,
                    devices: tuple):
    """The jitted, sharded stage function of ``ks.factor`` over a sub-grid; cached.

    Arguments mirror the chunk function's, for the sub-grid: its flat indices
    ``start ..`` are unravelled into digits of the sub-grid axes (``structure``),
    values are gathered from their value arrays, fixed values are 0-d.
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

    def body(start, axis_values, fixed, sizes, strides, last):
        shard = jax.lax.axis_index("d").astype(jnp.int64)
        first = start + shard * per_device
        raw = first + jnp.arange(per_device, dtype=jnp.int64)
        idx = jnp.minimum(raw, last)
        # Padding lanes (past the sub-grid; their rows are never read) get NaN
        # parameters: a kernel flags NaN as out of domain and skips its root solves
        # there, so padding neither costs iterations nor fills a compacted solve.
        pad = raw > last
        params = {}
        for (targets, categorical), col in zip(structure, device_values(idx, axis_values, sizes, strides)):
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


def stage_outputs(ks, spec: Spec, plan: FactorPlan, axis_values: list, structure: list, fixed: dict,
                 devices: tuple) -> dict:
    """``ks.factor.stage`` at every point of the sub-grid of ``plan``:
    ``{"layout": ..., "arrays": ...}`` with the arrays of :func:`assemble_stage`
    (``stage_len`` rows of :func:`stage_sizes`, rows past ``n_sub`` are padding),
    replicated on every device of ``devices``."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec as P

    wanted = set(ks.factor.params)
    sub_axis_values, sub_structure = [], []
    for j in plan.positions:
        targets, categorical = structure[j]
        if categorical:
            cols = [i for i, t in enumerate(targets) if t in wanted]
            sub_axis_values.append(np.ascontiguousarray(axis_values[j][:, cols]))
            sub_structure.append((tuple(targets[i] for i in cols), True))
        else:
            sub_axis_values.append(axis_values[j])
            sub_structure.append((targets, False))
    sub_fixed = {k: v for k, v in fixed.items() if k in wanted}
    per_device, stage_len = stage_sizes(plan.n_sub, len(devices))
    fn, mesh = _stage_function(ks, tuple(sub_structure), tuple(sub_fixed), per_device, spec.dtype,
                               devices)
    sizes = np.asarray([len(spec.axes[j]) for j in plan.positions], np.int64)
    strides = np.asarray(sub_strides(sizes, range(len(sizes))), np.int64)
    replicated = NamedSharding(mesh, P())
    args = jax.device_put((sub_axis_values, sub_fixed, sizes, strides, np.int64(plan.n_sub - 1)), replicated)
    batch = per_device * len(devices)
    parts = jax.device_get([fn(np.int64(start), *args) for start in range(0, plan.n_sub, batch)])
    layout = pack_layout({k: np.dtype(v.dtype) for k, v in parts[0].items()})
    arrays = assemble_stage(layout, parts, stage_len)
    del parts
    return {"layout": layout, "arrays": jax.device_put(arrays, replicated)}


#: bits an integer/bool stage output takes in a packed word
def _bits(dt: np.dtype) -> int | None:
    if dt == np.bool_:
        return 1
    if dt.kind in "iu" and dt.itemsize <= 2:
        return 8 * dt.itemsize
    return None


def pack_layout(dtypes: dict) -> tuple:
    """How the stage outputs are laid out in the stage outputs: ``(plain, packed)``.

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


def assemble_stage(layout: tuple, parts: list, stage_len: int) -> dict:
    """The stage batches (host arrays) → ``{"plain": {dtype: [stage_len, n]}, "words":
    uint32[stage_len, n]}``, trimmed/zero-padded to ``stage_len`` rows (numpy).

    Assembled on the host, then copied to every device by :func:`stage_outputs`, not
    by a jitted function with a replicated output: on CPU devices that compiles to an
    all-gather whose rendezvous sometimes never completed (XLA then aborts the process
    after 40 s; the one abort traced had the main thread dispatching a chunk): 3 of 5
    ``sweep.benchmarking.reductions`` runs died so on an idle 2-core machine, none of 9
    since.  The copy through the host costs one pass over the table, once per run."""
    plain, packed = layout

    def column(name):
        col = np.concatenate([np.asarray(p[name]) for p in parts])
        if col.shape[0] >= stage_len:
            return col[:stage_len]
        return np.concatenate([col, np.zeros((stage_len - col.shape[0],), col.dtype)])

    n_words = 1 + max((w for _, _, w, _, _ in packed), default=-1)
    words = np.zeros((stage_len, n_words), np.uint32)
    for name, _, w, shift, bits in packed:
        v = column(name)
        # bools as 0/1; signed codes by their two's complement bits, exactly
        u = v.astype(np.uint32) if v.dtype == np.bool_ else v.view(np.dtype(f"uint{bits}")).astype(np.uint32)
        words[:, w] |= u << np.uint32(shift)
    groups: dict = {}
    for name, dt, _ in plain:
        groups.setdefault(dt, []).append(column(name))
    return {"plain": {dt: np.stack(g, axis=1) for dt, g in groups.items()}, "words": words}


def unpack(layout: tuple, rows: dict) -> dict:
    """Stage outputs from gathered stage rows (traced): the inverse of the packing of
    :func:`assemble_stage`, bit for bit."""
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


def _batched_call(ks, params: dict, fixed: dict, per_device: int) -> dict:
    """``ks.fn(params)``, as a sequential ``lax.map`` over sub-batches of
    ``ks.max_batch`` lanes when the kernel declares one and a device's share of the
    chunk is larger: memory then depends on ``max_batch``, not on the chunk size
    (``period1`` needs tens of kB per lane).  ``per_device`` is a multiple of
    ``max_batch`` in that case (see :func:`lanes_per_device`)."""
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



@dataclass(frozen=True)
class Lanes:
    """What a sink's device part sees of one device's share of a chunk (traced).

    ``outputs``: every kernel output, cast to its stored dtype (a device part that
    returns only some of them lets XLA drop the work of the others); ``digits``:
    per axis, the lanes' digit (int); ``axis_values``: per numeric axis position,
    the lanes' values; ``valid``: False on padding lanes (past the chunk's last
    vector, which they recompute); ``extra``: the device part's runtime inputs;
    ``first``: the flat grid index of the device's first lane (lane ``i`` is vector
    ``first + i`` unless it is padding), so a device part may use the grid's
    C-order layout instead of the digits.
    """

    outputs: dict
    digits: tuple
    axis_values: dict
    structure: tuple
    valid: Any
    extra: Any
    per_device: int
    first: Any = None


def chunk_function(ks, structure: tuple, fixed_names: tuple, per_device: int, dtype: str, devices: tuple,
                   factored: tuple | None = None, layout: tuple | None = None, exact_float: bool = True,
                   device_part=None):
    """The jitted, sharded chunk function; cached so a process compiles it once.

    ``structure`` is, per axis, the kernel parameters it drives (one name for a
    numeric axis, the targets for a categorical axis) and whether it is categorical.
    ``factored`` is None (the kernel's ``fn`` per lane) or the positions of the
    sub-grid axes of a :class:`FactorPlan`: then the function takes the stage outputs
    (laid out as ``layout`` says, see :func:`pack_layout`) and the sub-grid strides
    as two more arguments and calls ``factor.combine``.  ``exact_float``: every flat
    index is below :data:`~sweep.grid.FLOAT_DIGITS_LIMIT` (see
    :func:`~sweep.grid.device_digits`).  ``device_part``: the sink's device-side
    part, a hashable callable ``(Lanes) -> {name: array with a leading per-device
    axis}`` (default: every output as rows, see :class:`sweep.sinks.rows.RowsDevice`);
    its runtime inputs are the function's 7th argument.
    """
    if device_part is None:
        from .sinks.rows import RowsDevice

        device_part = RowsDevice(tuple(o.name for o in ks.outputs))
    fac = ks.factor if factored is not None else None
    key = (ks.name, id(ks.fn), structure, fixed_names, per_device, dtype, exact_float,
           tuple(d.id for d in devices), tuple((o.name, o.kind) for o in ks.outputs), device_part,
           None if fac is None else (factored, layout, id(fac.stage), id(fac.combine)))
    if key in _COMPILED:
        return _COMPILED[key]

    import jax
    import jax.numpy as jnp
    from jax.sharding import Mesh, PartitionSpec as P

    mesh = Mesh(np.array(devices), ("d",))
    dt = jnp.dtype(dtype)

    # A device part may ask for every ``lane_stride``-th vector from ``start`` instead
    # of consecutive ones: a sample spread over the whole grid (see
    # sweep.sinks.reduce.plan_windows).  Its lanes are then not a run of the grid,
    # so ``Lanes.first`` is None.
    lane_stride = int(getattr(device_part, "lane_stride", 1))

    def body(start, axis_arrays, fixed, sizes, strides, last, extra, *stage):
        shard = jax.lax.axis_index("d").astype(jnp.int64)
        lane = shard * per_device + jnp.arange(per_device, dtype=jnp.int64)
        if lane_stride == 1:
            first = start + shard * per_device
            raw = start + lane
        else:
            first = None
            raw = start + lane * jnp.int64(lane_stride)
        # Padding lanes (past the chunk's last vector, ``last``) recompute that vector;
        # the sink trims them (rows) or masks them out (reductions).
        idx = jnp.minimum(raw, last)
        digits = device_digits(idx, sizes, strides, exact_float)
        params, axis_values = {}, {}
        for j, ((targets, categorical), col) in enumerate(
                zip(structure, device_values(idx, axis_arrays, sizes, strides, digits))):
            if categorical:
                params.update({t: col[:, i] for i, t in enumerate(targets)})
            else:
                params[targets[0]] = col
                axis_values[j] = col
        # Fixed values stay 0-d: XLA evaluates fixed-only subexpressions once, not per lane.
        params.update(fixed)
        if fac is None:
            out = _batched_call(ks, params, fixed, per_device)
        else:
            stage_cols, substrides = stage
            if factored:
                sub = device_sub_index(idx, sizes, strides, substrides, factored, exact_float)
                rows = jax.tree_util.tree_map(lambda v: take_rows(v, sub), stage_cols)
            else:  # every factor parameter is fixed: one stage point, kept 0-d
                rows = jax.tree_util.tree_map(lambda v: v[0], stage_cols)
            out = fac.combine(params, unpack(layout, rows))
        res = {}
        for o in ks.outputs:
            v = jnp.asarray(out[o.name])
            v = v.astype(dt if o.kind == "float" else KIND_DTYPES[o.kind])
            res[o.name] = jnp.broadcast_to(v, idx.shape)
        return device_part(Lanes(res, tuple(digits), axis_values, structure, raw <= last, extra,
                                 per_device, first))

    n_args = 7 if fac is None else 9
    # check_vma=False: kernels mix replicated (fixed) and per-lane values in loop
    # carries; every lane is independent, so no collective is ever needed.
    fn = jax.jit(jax.shard_map(body, mesh=mesh, in_specs=(P(),) * n_args,
                               out_specs=P("d"), check_vma=False))
    _COMPILED[key] = (fn, mesh)
    return _COMPILED[key]

