"""The reduction sink: statistics by group computed on the device, inside the chunk
function, so that a run keeps kilobytes instead of rows.

Layout (``OUT`` is the run's directory)::

    OUT/reduce/<name>/part-NNNNNN.parquet   chunk NNNNNN's partial statistics
    OUT/summary-<name>.parquet              the merged summary: one row per group

Partials are written with :func:`sweep.dataset.write_parquet_atomic` (temporary name, then
rename; spec hash and chunk number in the Parquet metadata), so a chunk's partial
is complete or absent, shards and Dask workers write their own, a chunk is counted
once, and a run killed at any point resumes from the partials it finds.  The
summary is written (atomically) by the call that finds every chunk done.

**Device part** (:class:`ReduceDevice`), per device and chunk: a lane takes part
when it is not padding and every ``where`` output holds (or, negated, does not).
Its group is the mixed-radix number of its ``by`` digits.  Then, by segment
reductions: the group's count; per float output the count of NaN values, the
count, sum and sum of squares of the others (float64, whatever the run's dtype),
min and max; per boolean output the count of True; per quantile output a
histogram of order-preserving integer keys (below).

**Sums.**  A device sums its lanes in blocks of :data:`BLOCK` lanes (a segment
sum over (block, group)), then the blocks' sums: each float64 partial carries at
most about (BLOCK + lanes/BLOCK)·2⁻⁵³ relative error of the sum of |values|
(≈ 2.3e-13 for a million-lane chunk).  Devices' partials are added on the host
with :func:`math.fsum` (exactly rounded), and chunks are merged in chunk order
with compensated (Neumaier) summation.  So a result does not depend on the
executor, shards, resume, or kill points at all (the same chunk is computed the
same way everywhere; CPU scatter is deterministic), and depends on the chunk
size and device count only through the per-device blocked sums: below 1e-12
relative to the sum of |values|.  ``std`` is the population standard deviation
from the sum and the sum of squares, ``sqrt(max(S2/n - (S1/n)², 0))``: its
relative error is that bound times mean²/variance.

**Exact quantiles** (equal to ``numpy.quantile(values, q, method="linear")`` of
the filtered non-NaN values; NaN when the group holds a NaN, as numpy gives).
A float64 value ``x`` maps to a uint64 key that sorts as ``x`` does (sign bit
set: all bits flipped; else the sign bit set).  The chunk pass keeps, per group,
a histogram of the top :func:`hist_bits` bits of the keys (counts only: a bin's
key range is its edges).  After the merge, for each rank that a quantile needs,
the bin holding it is found, and its range holds exactly that bin's count of keys.
Then, per output, a narrowing pass over the grid does one of two things, chosen
on the host before the pass: when the output's open ranges hold at most
:data:`GATHER_KEYS` keys in all, it gathers those keys (on CPU devices the host
picks them out of per-lane cells with numpy; elsewhere the device compacts them)
and the host sorts them and reads every rank exactly, ending the output; otherwise
it histograms the keys inside each range (the next bits below their common
prefix), with each new bin's exact min and max key (a bin whose min equals its max
is a known value: a mass point ends there), fixing at least
``min(NARROW_BITS, hist_bits)`` more bits, so at most (64 − the chunk pass's
bits)/bits passes.  When the host picks the keys out (CPU devices) the gather
bound is :data:`GATHER_KEYS_HOST`, so the paper grid and its K = 6 refinement
need one pass (K = 6: ρ1's ranks are gathered at once, ρ1^D+ρ1^F's median is a
mass point the histogram finds), larger grids a histogram pass and then a gather
pass.  Memory is bounded by :data:`HIST_CELLS` bins and :data:`GATHER_KEYS` (or
:data:`GATHER_KEYS_HOST`) keys per output, whatever the grid's size.
Narrowing passes run in the process that writes the summary and are not kept on
disk: a run killed during them recomputes them.

**Windows: the quantiles in the chunk pass.**  A narrowing pass recomputes the
quantile outputs over the whole grid (about half a kernel-only pass).  When one
process runs every chunk of a grid of several chunks on CPU devices (``sweep run``
and ``sweep reproduce`` with the local executor, no shard, nothing to resume),
:func:`plan_windows` first computes one chunk's lanes of vectors spread over the
grid (every s-th vector) and predicts, per group, a key window around each
quantile (its sample quantile ± :data:`WINDOW_HALF_WIDTH` in rank).  The chunk
pass then places every key among its group's windows; the host counts the places
and keeps the keys inside windows (:class:`_Windows`).  After the merge a rank's
place follows from those counts; inside a window it is read from the window's
keys, exactly; outside every window (a prediction that missed) it is narrowed as
above.  So the answer never depends on the prediction, only the time does: at
K = 6 no narrowing pass is left.  Windows live in memory only (bounded by
2 × :data:`GATHER_KEYS_HOST` keys per output, beyond which they are dropped and
their ranks narrowed); shards, Dask workers and resumed runs narrow.
"""
from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..dataset import (META_CHUNK, META_KERNEL, META_SPEC_HASH, _tmp_name, clean_temp_files, completed_files,
                       list_part_files, part_name, write_parquet_atomic)
from ..reduce_spec import Reduction, quantile_column, stat_column

__all__ = ["ReduceDevice", "ReduceSink", "close_reductions", "narrow_jointly", "plan_windows", "summary_path",
           "partials_dir", "BLOCK", "HIST_CELLS"]

#: lanes summed sequentially before block sums are added (error bound, see above)
BLOCK = 1024
#: most histogram bins (per output and device) of one pass
HIST_CELLS = 1 << 22
#: most key bits a narrowing pass's histogram fixes.  Its three histograms (count, min,
#: max key) have G·S·2^bits cells per device, copied to the host and merged every
#: chunk: at 2^16 bins per slot that host merge took 380 ms per chunk (K = 5, OA4/OA5
#: reductions, load 15) against 6 ms at 2^12, and the device pass fell from 2.1 to 1.9
#: times a kernel-only pass.  12 bits still take a K = 8 rank's bin (~5·10^7 keys)
#: below GATHER_KEYS in one pass; at most 48/12 = 4 histogram passes after a
#: 16-bit chunk pass.
NARROW_BITS = 12
#: keys a narrowing pass gathers per slot: a rank whose candidates are this few (over
#: all groups of the slot) is read exactly from them, ending its narrowing
GATHER_KEYS = 1 << 16
#: the same bound when the host picks the keys out (CPU devices, see
#: :class:`ReduceDevice`): there no device buffer bounds them, only host memory
#: (about 16 bytes a key while gathered: 256 MB per output at this bound), and
#: ranges this large are read in the pass that would otherwise histogram them.  On
#: the paper grid refined to K = 6 (60M vectors) ρ1's three ranks sit in bins of
#: 10.8M keys after the chunk pass: read at once, the second narrowing pass goes.
GATHER_KEYS_HOST = 1 << 24
META_REDUCTION = b"sweep.reduction"
#: windows (see :func:`plan_windows`) only for runs of at least this many chunks
#: (the sample costs about one chunk of a narrowing pass; a one-chunk run's sample
#: would be the whole grid)
WINDOW_MIN_CHUNKS = 2
#: half width of a window in rank fraction around the sample's quantile (narrowed
#: when the windows would keep more than GATHER_KEYS_HOST keys of an output)
WINDOW_HALF_WIDTH = 0.02
#: a group's sample below this many keys predicts nothing: its ranks are narrowed
WINDOW_MIN_SAMPLE = 256
#: up to this many windows with ranks are read by a mask each over the kept keys;
#: more (maps) by one sort of the kept keys by window
MASK_WINDOWS = 8

_SIGN = np.uint64(1 << 63)


def summary_path(out_dir, name: str) -> Path:
    return Path(out_dir) / f"summary-{name}.parquet"


def partials_dir(out_dir, name: str) -> Path:
    return Path(out_dir) / "reduce" / name


def hist_bits(cells: int) -> int:
    """Bits per histogram pass when ``cells`` (group, rank) slots share
    :data:`HIST_CELLS` bins: at most 16, at least 1."""
    return max(1, min(16, int(math.floor(math.log2(max(1, HIST_CELLS // max(1, cells)))))))


def _value_of_key(key: int) -> float:
    """The float64 whose order-preserving key is ``key`` (inverse of the device map)."""
    k = np.uint64(key)
    bits = k ^ _SIGN if k & _SIGN else ~k
    return float(np.array([bits], np.uint64).view(np.float64)[0])


# ---------------------------------------------------------------------------
# device part


@dataclass(frozen=True)
class ReduceDevice:
    """Device part of one reduction (hashable: it keys the compiled function).

    ``mode`` is ``"chunk"`` (the pass kept per chunk: counts, moments and the first
    histogram) or ``"narrow"`` (a narrowing pass: histograms inside the key
    ranges given at run time, ``slots`` of them per group)."""

    by: tuple          # axis positions
    by_sizes: tuple    # their sizes
    where: tuple       # (output, negated)
    define: tuple      # (name, ((sign, output), ...))
    floats: tuple      # outputs with moments (float/int kinds, or defined)
    bools: tuple       # boolean outputs counted
    quant: tuple       # outputs with quantiles
    mode: str = "chunk"
    slots: int = 1
    bits: int = 16
    cap: int = 0       # narrowing, device gather: most keys one device returns per output
    gather: tuple = ()  # narrowing: outputs read from their keys this pass (the others histogram)
    host_gather: bool = False  # narrowing: the host picks the keys out of per-lane cells (CPU)
    run_stride: int = 0  # by axes consecutive in the grid: C-order stride of the last one, else 0
    windows: int = 0   # chunk pass: key windows per group whose keys are handed over (see _Windows)
    lane_stride: int = 1  # every lane_stride-th vector of the grid (a sample, see plan_windows)

    @property
    def n_groups(self) -> int:
        return math.prod(self.by_sizes)

    def __call__(self, lanes):
        import jax
        import jax.numpy as jnp

        G = self.n_groups
        n = lanes.per_device
        outs = dict(lanes.outputs)
        for name, terms in self.define:
            acc = None
            for sign, o in terms:  # in the run dtype, left to right, like SQL a + b
                v = outs[o] if sign > 0 else -outs[o]
                acc = v if acc is None else acc + v
            outs[name] = acc
        mask = lanes.valid
        for name, neg in self.where:
            mask = mask & (~outs[name] if neg else outs[name])
        g = jnp.zeros((n,), jnp.int32)
        for pos, size in zip(self.by, self.by_sizes):
            g = g * jnp.int32(size) + lanes.digits[pos].astype(jnp.int32)
        seg = jax.ops.segment_sum
        # each kind of statistic: the reduction along an axis, the segment reduction
        # by group, how two partial values combine, and its identity
        reduce_ops = {"sum": jnp.sum, "min": jnp.min, "max": jnp.max}
        segment_ops = {"sum": seg, "min": jax.ops.segment_min, "max": jax.ops.segment_max}
        combine = {"sum": jnp.add, "min": jnp.minimum, "max": jnp.maximum}
        identity = {"sum": 0, "min": np.inf, "max": -np.inf}
        res = {}

        # One group (no `by`), or groups by consecutive axes of the C-order grid (e.g.
        # by η, the last axis of OA5): no scatter, which XLA's CPU backend runs one
        # element at a time.  Such groups follow the lanes' flat indices with period
        # P = G·stride: lane i, vector first + i, is in group ((first + i) mod P) //
        # stride (one group: P = 1).  Each statistic is taken per residue class i mod P
        # by reducing the lanes viewed as (blocks, rows, P), the residue classes are
        # then added into the G groups (which residue goes to which group depends on
        # the chunk's first index), and the last n mod (rows·P) lanes are added by a
        # small scatter.  A residue's sum adds rows <= BLOCK/P lanes of each block of
        # rows·P <= BLOCK lanes (when P <= BLOCK), then the n/(rows·P) ≈ n/BLOCK
        # blocks, then a group its stride residues: the error bound above.
        # Earlier layouts measured on this CPU, 10 statistics of 512k lanes: a
        # dynamically offset zero-padded buffer reduced over (blocks, rows, G,
        # stride), 30 ms in isolation; one padded view per statistic, 12 ms each
        # inside the chunk function (each recomputed the filter from the kernel's
        # gathered values); the scatter, 7 ms in isolation and slower inside.
        single = G == 1
        stride = 1 if single else self.run_stride
        period = G * stride
        dense = single or (stride > 0 and lanes.first is not None and period <= n)
        if dense:
            rows_blk = max(1, BLOCK // period)
            width = rows_blk * period
            n_full = n // width        # whole blocks; the last n - n_full·width lanes are the tail
            if single:
                group_of_residue = jnp.zeros((1,), jnp.int32)
            else:
                period_i = jnp.int64(period)
                group_of_residue = ((lanes.first % period_i + jnp.arange(period, dtype=jnp.int64)) % period_i
                                    // jnp.int64(stride)).astype(jnp.int32)
            tail_residue = jnp.asarray(np.arange(n_full * width, n) % period, np.int32)
        else:
            nb = -(-n // BLOCK)

        # Statistics are requested by ``put`` and taken at once by ``flush``: the
        # dense layout in one variadic reduction (below), otherwise segment scatters.
        pending = []   # (result key, "sum" | "min" | "max", lane values)

        def put(key, kind, v):
            if dense:
                pending.append((key, kind, v))
            elif kind == "sum" and jnp.issubdtype(v.dtype, jnp.floating):
                block = jnp.arange(n, dtype=jnp.int32) // jnp.int32(BLOCK)
                res[key] = seg(v, block * jnp.int32(G) + g, num_segments=nb * G).reshape(nb, G).sum(axis=0)
            else:
                res[key] = segment_ops[kind](v, g, num_segments=G)

        def flush():
            """The pending dense statistics in one pass over the lanes.

            One variadic reduction (every statistic of a lane in one loop) rather than
            one reduction each: XLA fuses each reduction's operand with its producers,
            so separate reductions each recomputed the filter mask and the outputs
            from the kernel's gathered values (profiled on the paper grid by η: seven
            12 ms passes per 512k lanes, for a ~50 ms kernel; now one of 17 ms)."""
            if not pending:
                return
            keys, kinds, vals = zip(*pending)
            per_residue = []
            if n_full:
                # within each block (contiguous, cache-resident) over its rows, then
                # over the blocks: reducing over the blocks first (a block's stride
                # between terms) took 78 ms
                heads = tuple(v[:n_full * width].reshape(n_full, rows_blk, period) for v in vals)
                inits = tuple(jnp.asarray(identity[k], v.dtype) for k, v in zip(kinds, vals))
                blocks = jax.lax.reduce(heads, inits,
                                        lambda a, b: tuple(combine[k](x, y) for k, x, y in zip(kinds, a, b)), (1,))
                per_residue = [reduce_ops[k](c, axis=0) for k, c in zip(kinds, blocks)]
            for i, (k, v) in enumerate(zip(kinds, vals)):
                r = per_residue[i] if per_residue else None
                if n_full * width < n:
                    t = segment_ops[k](v[n_full * width:], tail_residue, num_segments=period)
                    r = t if r is None else combine[k](r, t)
                res[keys[i]] = segment_ops[k](r, group_of_residue, num_segments=G)

        def count(m):  # a boolean's count is the sum of its int64 values
            return m.astype(jnp.int64)

        if self.mode == "chunk":
            put("count", "sum", count(mask))
            for o, needs in self.floats:  # only the moments some statistic reads
                x = outs[o].astype(jnp.float64)
                nan = jnp.isnan(x)
                m = mask & ~nan
                put(o + ".nan", "sum", count(mask & nan))
                put(o + ".n", "sum", count(m))
                if "sum" in needs:
                    xm = jnp.where(m, x, 0.0)
                    put(o + ".sum", "sum", xm)
                    if "sumsq" in needs:
                        put(o + ".sumsq", "sum", xm * xm)
                if "min" in needs:
                    put(o + ".min", "min", jnp.where(m, x, jnp.inf))
                if "max" in needs:
                    put(o + ".max", "max", jnp.where(m, x, -jnp.inf))
            for o in self.bools:
                put(o + ".true", "sum", count(mask & outs[o]))
            flush()
        S, b = self.slots, self.bits
        for o in self.quant:
            x = outs[o].astype(jnp.float64) + 0.0  # -0.0 -> +0.0: numpy sees them equal
            m = mask & ~jnp.isnan(x)
            u = jax.lax.bitcast_convert_type(x, jnp.uint64)
            neg = (u >> jnp.uint64(63)) == jnp.uint64(1)
            key = jnp.where(neg, ~u, u | jnp.uint64(1 << 63))
            cells = G * S * (1 << b)
            if self.mode == "chunk":
                # one slot, the whole key range: the top b bits
                cell = g.astype(jnp.int64) * (1 << b) + (key >> jnp.uint64(64 - b)).astype(jnp.int64)
                cell = jnp.where(m, cell, cells)
                res[o + ".hcount"] = seg(jnp.ones_like(cell), cell, num_segments=cells + 1)[:cells]
                if self.windows:
                    # Each lane's place among its group's W disjoint key windows
                    # (sorted; an unused window lies above every key): 2j+1 inside
                    # window j, 2j below it and above window j-1.  The host counts the
                    # places and keeps the keys inside windows (see _Windows).
                    wlo, whi = lanes.extra[o]["wlo"], lanes.extra[o]["whi"]
                    place = jnp.zeros((n,), jnp.int32)
                    for j in range(self.windows):
                        place = place + (key >= wlo[g, j]).astype(jnp.int32) + (key > whi[g, j]).astype(jnp.int32)
                    P = 2 * self.windows + 1
                    res[o + ".wcode"] = jnp.where(m, g * jnp.int32(P) + place, jnp.int32(G * P))
                    res[o + ".wkey"] = key
                continue
            lo, hi = lanes.extra[o]["lo"], lanes.extra[o]["hi"]
            # The host gives each group at most S disjoint key ranges (ranks sharing a
            # range share a slot), so a lane lies in one slot at most.
            slot = jnp.full((n,), S, jnp.int32)
            for j in range(S):
                inside = m & (key >= lo[g, j]) & (key <= hi[g, j])
                slot = jnp.where(inside, jnp.int32(j), slot)
            hit = slot < S
            if o in self.gather:
                # The host knows from the last histogram that this output's open
                # ranges hold at most GATHER_KEYS keys: it reads its ranks from the
                # keys themselves, so this pass needs no histogram for it.
                if self.host_gather:
                    # XLA's CPU compaction (nonzero: a cumsum and a scatter) cost
                    # 30-46 ms per 512k lanes against 2 ms for numpy on the host,
                    # where device memory is host memory: hand over each lane's cell.
                    res[o + ".gcell"] = jnp.where(hit, g * jnp.int32(S) + slot, jnp.int32(G * S))
                    res[o + ".gkey"] = key
                else:
                    sel = jnp.nonzero(hit, size=self.cap, fill_value=0)[0]
                    res[o + ".gkeys"] = key[sel]
                    res[o + ".ggrp"] = g[sel]
                    res[o + ".gslot"] = slot[sel]
                    res[o + ".gn"] = jnp.sum(hit.astype(jnp.int64))
                continue
            shift = lanes.extra[o]["shift"]
            sl = jnp.minimum(slot, S - 1)
            down = jnp.maximum(shift[g, sl] - b, 0).astype(jnp.uint64)
            bin_ = ((key >> down) & jnp.uint64((1 << b) - 1)).astype(jnp.int64)
            cell = jnp.where(hit, (g.astype(jnp.int64) * S + sl.astype(jnp.int64)) * (1 << b) + bin_, cells)
            res[o + ".hcount"] = seg(jnp.ones_like(cell), cell, num_segments=cells + 1)[:cells]
            # Each bin's exact key range: a bin holding one value (a mass point,
            # e.g. ρ1^D+ρ1^F = 1) ends its rank's narrowing.  The chunk pass skips
            # them (two scatters of every lane, most of its histogram's cost): the
            # host uses the bins' edges instead, and the first narrowing pass
            # finds such a mass point.
            res[o + ".hmin"] = jax.ops.segment_min(key, cell, num_segments=cells + 1)[:cells]
            res[o + ".hmax"] = jax.ops.segment_max(key, cell, num_segments=cells + 1)[:cells]
        return {k: v[None] for k, v in res.items()}  # leading axis: one row per device


# ---------------------------------------------------------------------------
# host side: partial files and their merge


def _combine_devices(out: dict) -> dict:
    """One chunk's device outputs ``[ndev, ...]`` → host arrays combined over devices
    (counts added, sums exactly rounded by fsum, min/max, histograms sparse)."""
    res = {}
    for k, v in out.items():
        v = np.asarray(v)
        kind = k.rsplit(".", 1)[-1]
        if kind in ("sum", "sumsq"):
            res[k] = v[0].copy() if v.shape[0] == 1 else np.array(
                [math.fsum(v[:, i]) for i in range(v.shape[1])], np.float64)
        elif kind in ("min", "hmin"):
            res[k] = v.min(axis=0)
        elif kind in ("max", "hmax"):
            res[k] = v.max(axis=0)
        else:
            res[k] = v.sum(axis=0)
    return res


def _to_arrow(arrays: dict):
    """Named 1-D arrays → a long Arrow table ``(array, pos, value)``: every value's
    64 bits as int64 (floats and uint64 keys bit for bit); histograms sparse."""
    import pyarrow as pa

    names, pos, vals, kinds = [], [], [], []
    hist_nz = {}
    for k, v in arrays.items():
        if k.endswith(".hcount"):
            hist_nz[k[: -len(".hcount")]] = np.flatnonzero(v)
    for k, v in arrays.items():
        base, kind = k.rsplit(".", 1) if "." in k else (k, "")
        idx = hist_nz[base] if kind in ("hcount", "hmin", "hmax") else np.arange(v.size)
        vv = np.ascontiguousarray(v[idx])
        names.append(np.full(idx.size, k, object))
        pos.append(idx.astype(np.int64))
        vals.append(vv.view(np.int64) if vv.dtype.itemsize == 8 else vv.astype(np.int64))
        kinds.append(v.dtype.str)
    table = pa.table({"array": pa.array(np.concatenate(names) if names else [], pa.string()),
                      "pos": pa.array(np.concatenate(pos) if pos else [], pa.int64()),
                      "value": pa.array(np.concatenate(vals) if vals else [], pa.int64())})
    dtypes = ",".join(f"{k}={d}" for k, d in zip(arrays, kinds))
    return table, {b"sweep.arrays": dtypes.encode(),
                   b"sweep.sizes": ",".join(f"{k}={v.size}" for k, v in arrays.items()).encode()}


def _from_table(table) -> dict:
    meta = table.schema.metadata
    dtypes = dict(x.split("=") for x in meta[b"sweep.arrays"].decode().split(",") if x)
    sizes = {k: int(v) for k, v in (x.split("=") for x in meta[b"sweep.sizes"].decode().split(",") if x)}
    name = table.column("array").to_numpy(zero_copy_only=False)
    pos = table.column("pos").to_numpy()
    val = table.column("value").to_numpy()
    out = {}
    for k, dt in dtypes.items():
        sel = name == k
        dt = np.dtype(dt)
        fill = {"hmin": np.iinfo(np.uint64).max, "hmax": 0}.get(k.rsplit(".", 1)[-1], 0)
        arr = np.full(sizes[k], fill, dt)
        arr[pos[sel]] = val[sel].view(dt) if dt.itemsize == 8 else val[sel].astype(dt)
        out[k] = arr
    return out


class _Merged:
    """Partials merged in chunk order: counts added exactly, sums compensated
    (Neumaier: ``s`` plus the running rounding errors ``c``), min/max exact."""

    def __init__(self):
        self.v: dict = {}
        self.c: dict = {}

    def add(self, part: dict) -> None:
        for k, x in part.items():
            kind = k.rsplit(".", 1)[-1]
            if k not in self.v:
                self.v[k] = x.copy()
                if kind in ("sum", "sumsq"):
                    self.c[k] = np.zeros_like(x)
                continue
            s = self.v[k]
            if kind in ("sum", "sumsq"):
                t = s + x
                big = np.abs(s) >= np.abs(x)
                with np.errstate(invalid="ignore"):
                    err = np.where(big, (s - t) + x, (x - t) + s)
                self.c[k] += np.where(np.isfinite(t), err, 0.0)
                self.v[k] = t
            elif kind in ("min", "hmin"):
                self.v[k] = np.minimum(s, x)
            elif kind in ("max", "hmax"):
                self.v[k] = np.maximum(s, x)
            else:
                self.v[k] = s + x

    def get(self, k):
        v = self.v[k]
        return v + self.c[k] if k in self.c else v


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's linear interpolation (``numpy.lib._function_base_impl._lerp``):
    symmetric form, exact at both ends."""
    d = b - a
    return a + d * t if t < 0.5 else b - d * (1 - t)


class ReduceSink:
    """One named reduction: per-chunk partials, then the merged summary."""

    kind = "reduce"

    def __init__(self, spec, red: Reduction):
        self.spec = spec
        self.red = red
        self.name = red.name
        ks = spec.kernel_spec
        kinds = {o.name: o.kind for o in ks.outputs}
        kinds.update({d: "float" for d, _ in red.define})
        pos = {a.name: j for j, a in enumerate(spec.axes)}
        # per numeric output, the moments its statistics read (NaN and non-NaN
        # counts always: they decide NaN results and the quantiles' ranks)
        reads = {"sum": ("sum",), "mean": ("sum",), "std": ("sum", "sumsq"), "min": ("min",), "max": ("max",)}
        self.floats = tuple((i.output, tuple(sorted({r for st in i.stats for r in reads.get(st, ())})))
                            for i in red.items if kinds[i.output] != "bool")
        self.bools = tuple(i.output for i in red.items if kinds[i.output] == "bool")
        self.quant = tuple(i.output for i in red.items if i.quantiles)
        by_pos = tuple(pos[b] for b in red.by)
        # by axes that are consecutive in the grid's (C) order: their groups are a
        # period of the flat index (see ReduceDevice), so they need no scatter
        consecutive = bool(by_pos) and by_pos == tuple(range(by_pos[0], by_pos[0] + len(by_pos)))
        stride = math.prod(len(a) for a in spec.axes[by_pos[-1] + 1:]) if consecutive else 0
        self.device_part = ReduceDevice(by_pos, tuple(len(spec.axes[j]) for j in by_pos), red.where,
                                        red.define, self.floats, self.bools, self.quant,
                                        bits=hist_bits(math.prod(len(spec.axes[j]) for j in by_pos)),
                                        run_stride=stride)
        self.base_part = self.device_part
        self.windows: _Windows | None = None

    def set_windows(self, windows: "_Windows | None") -> None:
        """Hand the chunk pass ``windows`` (see :func:`plan_windows`): its device part
        then places every quantile output's keys among them, and :meth:`write` keeps
        the places' counts and the keys inside windows in memory."""
        self.windows = windows
        self.device_part = self.base_part if windows is None else replace(self.base_part, windows=windows.W)

    # -- the sink interface ---------------------------------------------------
    def extra(self):
        w = self.windows
        return {} if w is None else {o: {"wlo": w.lo[o], "whi": w.hi[o]} for o in self.quant}

    def prepare(self, out_dir) -> None:
        d = partials_dir(out_dir, self.name)
        d.mkdir(parents=True, exist_ok=True)
        clean_temp_files(d)  # partials of killed writers (this host, dead processes)
        p = summary_path(out_dir, self.name)
        if p.exists() and _file_hash(p) != self.spec.hash:
            p.unlink()  # another spec's summary must not outlive its rows

    def done(self, out_dir, chunk_ids=None) -> set[int]:
        return completed_files(partials_dir(out_dir, self.name), self.spec.hash, chunk_ids)

    def write(self, out_dir, chunk: int, start: int, length: int, outputs: dict) -> None:
        if self.windows is not None:  # per-lane places and keys: kept in memory, not in the partial
            outputs = dict(outputs)
            self.windows.take(chunk, {k: outputs.pop(k) for k in list(outputs) if k.endswith((".wcode", ".wkey"))})
        table, meta = _to_arrow(_combine_devices(outputs))
        spec = self.spec
        meta.update({META_SPEC_HASH: spec.hash.encode(), META_CHUNK: str(chunk).encode(),
                     META_KERNEL: spec.kernel.encode(), META_REDUCTION: self.name.encode()})
        # A partial is a few kB, mostly fixed overhead: no column statistics (nothing
        # filters on them) and delta-coded positions cut it by ~18% (a K = 8 grid
        # writes 1,024 partials per reduction).
        write_parquet_atomic(partials_dir(out_dir, self.name) / part_name(chunk, spec.n_chunks), table, meta,
                             statistics_columns=[], dictionary_columns=["array"],
                             column_encoding={"pos": "DELTA_BINARY_PACKED", "value": "PLAIN"})

    def needs_summary(self, out_dir, complete: bool) -> bool:
        """Every chunk is done and the summary is not already there."""
        path = summary_path(out_dir, self.name)
        return complete and not (path.exists() and _file_hash(path) == self.spec.hash)

    def close(self, out_dir, complete: bool, factor: bool | None = None) -> bool:
        """Merge the partials into ``summary-<name>.parquet`` when every chunk is done
        (and the summary is not already there); True if it was written.  Several
        reductions of one run are closed together by :func:`close_reductions`."""
        return bool(close_reductions([self], out_dir, complete, factor))

    # -- merging ----------------------------------------------------------------
    def merged(self, out_dir) -> _Merged:
        import pyarrow.parquet as pq

        d = partials_dir(out_dir, self.name)
        parts = list_part_files(d)
        done = completed_files(d, self.spec.hash)
        acc = _Merged()
        for k in range(self.spec.n_chunks):  # chunk order: the merge is deterministic
            if k not in done:
                raise RuntimeError(f"{d}: partial of chunk {k} is missing")
            acc.add(_from_table(pq.read_table(parts[k])))
        return acc

    def write_summary(self, out_dir, factor=None, acc: "_Merged | None" = None, quant: dict | None = None) -> Path:
        """Write the summary from the merged partials ``acc`` and the exact quantiles
        ``quant`` (both computed here when not given)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if acc is None:
            acc = self.merged(out_dir)
        if quant is None and self.quant:
            state = self.quantile_states(acc)
            while narrow_jointly([(self, state)], out_dir, factor):
                pass
            quant = self.quantile_values(acc, state)
        red, spec = self.red, self.spec
        G = self.device_part.n_groups
        cols: dict = {}
        # group coordinates, C order over the by axes (the group number's order)
        axes = [spec.axes[j] for j in self.device_part.by]
        grids = np.unravel_index(np.arange(G), tuple(len(a) for a in axes)) if axes else ()
        for a, digit in zip(axes, grids):
            vals = list(a.values)
            cols[a.name] = pa.array([vals[i] for i in digit]) if a.categorical else \
                pa.array(np.asarray(vals, np.float64)[digit])
        count = acc.get("count")
        cols["count"] = pa.array(count)
        quant = quant or {}
        for item in red.items:
            o = item.output
            if o in self.bools:
                true = acc.get(o + ".true")
                for s in item.stats:
                    if s in ("count",):
                        cols[stat_column(s, o)] = pa.array(count)
                    elif s == "sum":
                        cols[stat_column(s, o)] = pa.array(true)
                    elif s == "share":
                        with np.errstate(invalid="ignore", divide="ignore"):
                            cols[stat_column(s, o)] = pa.array(np.where(count > 0, true / np.maximum(count, 1),
                                                                        np.nan))
                continue
            n, nan = acc.get(o + ".n"), acc.get(o + ".nan")
            has_nan = nan > 0
            empty = has_nan | (n == 0)

            def stat(s):
                if s == "count":
                    return n
                if s in ("min", "max"):
                    return np.where(empty, np.nan, acc.get(f"{o}.{s}"))
                s1 = acc.get(o + ".sum")
                with np.errstate(invalid="ignore", divide="ignore"):
                    mean = np.where(n > 0, s1 / np.maximum(n, 1), np.nan)
                    if s == "sum":
                        return np.where(has_nan, np.nan, s1)
                    if s == "mean":
                        return np.where(has_nan, np.nan, mean)
                    var = np.maximum(acc.get(o + ".sumsq") / np.maximum(n, 1) - mean * mean, 0.0)
                    return np.where(empty, np.nan, np.sqrt(var))  # std

            for s in item.stats:
                cols[stat_column(s, o)] = pa.array(stat(s))
            for q in item.quantiles:
                cols[quantile_column(q, o)] = pa.array(quant[(o, q)])
        table = pa.table(cols)
        meta = {META_SPEC_HASH: spec.hash.encode(), META_KERNEL: spec.kernel.encode(),
                META_REDUCTION: self.name.encode(),
                b"sweep.by": ",".join(red.by).encode(),
                b"sweep.where": ",".join(("!" if n else "") + w for w, n in red.where).encode()}
        table = table.replace_schema_metadata(meta)
        final = summary_path(out_dir, self.name)
        tmp = _tmp_name(final)
        try:
            pq.write_table(table, tmp, compression="zstd")
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return final

    # -- exact quantiles --------------------------------------------------------
    def quantile_states(self, acc: _Merged) -> dict:
        """Per (output, group, rank) that a quantile needs: its state
        ``{lo, hi, below, value}`` narrowed from the chunk pass's histogram (value
        None until known; see the module docstring)."""
        G = self.device_part.n_groups
        b0 = self.device_part.bits
        qs = {i.output: i.quantiles for i in self.red.items if i.quantiles}
        state: dict = {}
        for o in self.quant:
            n, nan = acc.get(o + ".n"), acc.get(o + ".nan")
            hc = acc.get(f"{o}.hcount").reshape(G, 1 << b0)
            if f"{o}.hmin" in acc.v:  # partials written with each bin's exact key range
                hmin, hmax = (acc.get(f"{o}.{k}").reshape(G, 1 << b0) for k in ("hmin", "hmax"))
            else:  # the bins' edges: bin j holds the keys whose top b0 bits are j
                lo = np.arange(1 << b0, dtype=np.uint64) << np.uint64(64 - b0)
                hmin = np.broadcast_to(lo, (G, 1 << b0))
                hmax = np.broadcast_to(lo | np.uint64((1 << (64 - b0)) - 1), (G, 1 << b0))
            for g in range(G):
                if nan[g] > 0 or n[g] == 0:
                    continue
                for r in _ranks(int(n[g]), qs[o]):
                    state[(o, g, r)] = _narrow(r, 0, hc[g], hmin[g], hmax[g])
        return state

    def quantile_values(self, acc: _Merged, state: dict) -> dict:
        """``{(output, q): values per group}`` from fully narrowed ``state``."""
        G = self.device_part.n_groups
        qs = {i.output: i.quantiles for i in self.red.items if i.quantiles}
        out = {}
        for o in self.quant:
            n, nan = acc.get(o + ".n"), acc.get(o + ".nan")
            for q in qs[o]:
                vals = np.full(G, np.nan)
                for g in range(G):
                    if nan[g] > 0 or n[g] == 0:
                        continue
                    pos = q * (int(n[g]) - 1)
                    k0 = int(math.floor(pos))
                    t = pos - k0
                    a = state[(o, g, k0)]["value"]
                    b = state[(o, g, min(k0 + 1, int(n[g]) - 1))]["value"] if t > 0 else a
                    vals[g] = _lerp(a, b, t)
                out[(o, q)] = vals
        return out

    def narrow_part(self, quant=None, gather=(), host_gather: bool = False) -> "ReduceDevice":
        """The device part of a narrowing pass over the outputs ``quant`` (default:
        every quantile output), reading those of ``gather`` from their keys (on the
        host when ``host_gather``) and histogramming the others.  The slots (two
        ranks per quantile) and bits are fixed for the run, so a run compiles one
        program per distinct (``quant``, ``gather``): two for most runs (a
        histogram pass, then a gather pass)."""
        slots = max(2 * len(i.quantiles) for i in self.red.items)
        quant = tuple(self.quant) if quant is None else tuple(o for o in self.quant if o in quant)
        gather = tuple(o for o in quant if o in gather)
        bits = min(NARROW_BITS, hist_bits(self.base_part.n_groups * slots))
        return replace(self.base_part, mode="narrow", slots=slots, bits=bits,
                       quant=quant, floats=(), bools=(), gather=gather,
                       host_gather=bool(gather) and host_gather,
                       cap=GATHER_KEYS if gather and not host_gather else 0)

    def narrow_request(self, open_: dict, part: "ReduceDevice | None" = None) -> tuple[dict, dict]:
        """Runtime inputs of a narrowing pass for the open ranks ``open_`` (each
        group's distinct key ranges, one slot each; none: every slot empty), and the
        slot of each open rank."""
        part = self.narrow_part() if part is None else part
        G, slots = part.n_groups, part.slots
        extra, where = {}, {}
        for o in part.quant:
            lo = np.ones((G, slots), np.uint64)   # lo > hi: an empty slot
            hi = np.zeros((G, slots), np.uint64)
            shift = np.zeros((G, slots), np.int64)
            ranges: dict = {}
            for (o2, g, r), st in sorted(open_.items(), key=lambda kv: kv[0][1:]):
                if o2 != o:
                    continue
                mine = ranges.setdefault(g, {})
                rng = (int(st["lo"]), int(st["hi"]))
                if rng not in mine:  # ranks in one range share its slot
                    j = mine[rng] = len(mine)
                    lo[g, j], hi[g, j] = st["lo"], st["hi"]
                    shift[g, j] = int(st["lo"] ^ st["hi"]).bit_length()
                where[(o, g, r)] = mine[rng]
            extra[o] = {"lo": lo, "hi": hi, "shift": shift}
        return extra, where


class _NarrowTake:
    """One reduction's share of a narrowing pass: histograms merged over chunks and
    the keys gathered, then the open ranks' states updated.

    Which of the two an output needs is known before the pass: each open rank's
    range holds exactly ``count`` keys (its bin's count in the last histogram), so
    an output whose distinct open ranges hold at most :data:`GATHER_KEYS` keys in
    all is read from its keys (every rank of it ends in this pass), and the others
    are histogrammed (no gather could end them).  Outputs with no open rank are
    left out of the pass."""

    def __init__(self, sink: ReduceSink, open_: dict, host_gather: bool = False, gather_all: bool = False):
        self.sink, self.open = sink, open_
        ranges: dict = {}
        for (o, g, _), st in open_.items():
            ranges.setdefault(o, {})[(g, int(st["lo"]), int(st["hi"]))] = int(st["count"])
        bound = GATHER_KEYS_HOST if host_gather else GATHER_KEYS
        gather = set(ranges) if gather_all else {o for o, rs in ranges.items() if sum(rs.values()) <= bound}
        self.part = sink.narrow_part(quant=set(ranges), gather=gather, host_gather=host_gather)
        self.extra, self.where = sink.narrow_request(open_, self.part)
        self.acc = _Merged()
        self.gathered = {o: [] for o in self.part.gather}

    def take(self, outputs) -> None:
        outputs = dict(outputs)
        S = self.part.slots
        for o in self.part.gather:
            if self.part.host_gather:
                cells, keys = (np.asarray(outputs.pop(f"{o}.{k}")) for k in ("gcell", "gkey"))
                for d in range(keys.shape[0]):
                    sel = np.flatnonzero(cells[d] < self.part.n_groups * S)
                    if sel.size:
                        c = cells[d][sel]
                        self.gathered[o].append((keys[d][sel], c // S, c % S))
                continue
            keys, grp, slot, cnt = (np.asarray(outputs.pop(f"{o}.{k}")) for k in ("gkeys", "ggrp", "gslot", "gn"))
            for d in range(keys.shape[0]):
                c = min(int(cnt[d]), self.part.cap)  # never above: the whole output holds at most cap
                if c:
                    self.gathered[o].append((keys[d, :c], grp[d, :c], slot[d, :c]))
        self.acc.add(_combine_devices(outputs))

    def update(self) -> None:
        part, acc, gathered = self.part, self.acc, self.gathered
        for (o, g, r), st in self.open.items():
            j = self.where[(o, g, r)]
            if o in part.gather:
                keys = np.concatenate([k[(gr == g) & (sl == j)] for k, gr, sl in gathered[o]] or
                                      [np.zeros(0, np.uint64)])
                if keys.size != st["count"]:  # cannot happen: counts are exact
                    raise RuntimeError(f"narrowing {o!r}: gathered {keys.size} keys of a range "
                                       f"that holds {st['count']}")
                keys.sort()
                st["value"] = _value_of_key(int(keys[r - st["below"]]))
                continue
            shape = (part.n_groups, part.slots, 1 << part.bits)
            hc, hmin, hmax = (acc.get(f"{o}.{k}").reshape(shape)[g, j] for k in ("hcount", "hmin", "hmax"))
            st.update(_narrow(r, st["below"], hc, hmin, hmax))


def narrow_jointly(items: list, out_dir, factor) -> bool:
    """One narrowing pass over the grid serving every reduction of ``items``
    (``[(sink, state)]``, sinks of one spec): each chunk is computed once for all
    of them.  Updates the states in place; False (and no pass) when no rank is open.

    A reduction with no open rank takes part with no output (its device part
    computes nothing); see :class:`_NarrowTake` for what each output's part does."""
    from ..runner import get_runner

    opens = [{k: st for k, st in state.items() if st["value"] is None} for _, state in items]
    if not any(opens):
        return False
    runner = get_runner(items[0][0].spec, factor)
    host = _host_gather(runner)
    takes = [_NarrowTake(sink, open_, host) for (sink, _), open_ in zip(items, opens)]
    _joint_pass(runner, takes, range(items[0][0].spec.n_chunks))
    for t in takes:
        t.update()
    return True


def _joint_pass(runner, takes: list, chunk_ids) -> None:
    """Compute the chunks ``chunk_ids`` once through the device parts of every
    :class:`_NarrowTake` of ``takes`` and hand each its outputs (``chunk_ids``
    None: the one strided sample their parts' ``lane_stride`` asks for)."""
    from .combined import Combined

    if len(takes) == 1:
        part, extra = takes[0].part, runner.put(takes[0].extra)
    else:
        part = Combined(tuple(t.part for t in takes))
        extra = runner.put({str(i): t.extra for i, t in enumerate(takes)})

    def take(outputs):
        for i, t in enumerate(takes):
            t.take(outputs if len(takes) == 1 else outputs[str(i)])

    if chunk_ids is None:
        take(runner.dispatch_strided(part, extra).outputs)
        return
    pending = None
    for k in chunk_ids:
        nxt = runner.dispatch(k, part, extra)  # the next chunk computes while this one is read
        if pending is not None:
            take(pending.outputs)
        pending = nxt
    if pending is not None:
        take(pending.outputs)


def _host_gather(runner) -> bool:
    """Whether narrowing passes pick the gathered keys out on the host: on CPU
    devices, whose memory is the host's (see :class:`ReduceDevice`)."""
    return runner.devices[0].platform == "cpu"


def close_reductions(sinks, out_dir, complete: bool, factor=None) -> list[str]:
    """Write the summary of every reduction sink of ``sinks`` (one spec) that needs
    one; returns their names.  Their exact quantiles are narrowed together: each
    narrowing pass computes the grid once for all of them (see
    :func:`narrow_jointly`), so a run with several quantile reductions (Tables OA4
    and OA5) makes as many passes as its slowest reduction needs, not their sum."""
    todo = [s for s in sinks if s.kind == "reduce" and s.needs_summary(out_dir, complete)]
    accs = [s.merged(out_dir) for s in todo]
    items = []
    for s, acc in zip(todo, accs):
        if s.quant:
            state = s.quantile_states(acc)
            if s.windows is not None:  # ranks inside the chunk pass's windows are read at once
                s.windows.resolve(acc, state, s.spec.n_chunks)
            items.append((s, state))
    for _ in range(64):  # each pass fixes at least `bits` more bits of 64
        if not narrow_jointly(items, out_dir, factor):
            break
    states = {id(s): st for s, st in items}
    for s, acc in zip(todo, accs):
        quant = s.quantile_values(acc, states[id(s)]) if s.quant else {}
        s.write_summary(out_dir, factor, acc=acc, quant=quant)
    return [s.name for s in todo]


_KEY_MAX = np.uint64(np.iinfo(np.uint64).max)


class _Windows:
    """Key windows of one reduction's quantile outputs during the chunk pass, and
    what the chunk pass found in them.

    ``lo[o]``, ``hi[o]``: per group, :attr:`W` disjoint key ranges in increasing
    order (an unused one is ``[max, max]``, above every key of a number).  Each
    chunk's device part gives every lane that takes part its *place*: 2j+1 inside
    window j, 2j between window j-1 and window j.  :meth:`take` counts the places
    and keeps the keys inside windows that span more than one key value (a window
    of one value needs only its count).  When every chunk of the grid has been
    taken, a rank's place follows from the counts alone, and a rank inside a
    window is that window's keys' order statistic: exact, whatever the prediction
    was (:meth:`resolve`).  A rank outside every window is narrowed by passes over
    the grid, as without windows.

    Held in memory by the process that ran the chunks, never written: a run that
    resumes, or whose chunks other processes computed, narrows instead."""

    def __init__(self, G: int, W: int, lo: dict, hi: dict):
        self.G, self.W, self.lo, self.hi = G, W, lo, hi
        P = 2 * W + 1
        self.keep = {}
        for o in lo:
            lut = np.zeros(G * P + 1, bool)
            g, j = np.nonzero(lo[o] < hi[o])
            lut[g * P + 2 * j + 1] = True
            self.keep[o] = lut
        self.parts: dict = {}    # chunk -> {output: (place counts, kept keys, their codes)}
        self.kept = dict.fromkeys(lo, 0)
        self.over: set = set()   # outputs whose kept keys passed the memory bound: dropped
        self._lock = threading.Lock()

    def take(self, chunk: int, arrays: dict) -> None:
        """One chunk's per-lane ``.wcode`` and ``.wkey`` arrays (called from the
        writer threads)."""
        P = 2 * self.W + 1
        per = {}
        for o in self.lo:
            code = np.asarray(arrays[o + ".wcode"]).reshape(-1)
            counts = np.bincount(code, minlength=self.G * P + 1)[: self.G * P]
            if o in self.over:  # its keys are dropped: only the counts still matter
                per[o] = (counts, None, None)
                continue
            sel = np.flatnonzero(self.keep[o][code])
            per[o] = (counts, np.asarray(arrays[o + ".wkey"]).reshape(-1)[sel], code[sel])
        with self._lock:
            old = self.parts.get(chunk)  # a chunk taken twice counts once
            self.parts[chunk] = per
            for o, (_, keys, _) in per.items():
                if keys is None or o in self.over:
                    continue
                self.kept[o] += keys.size - (0 if old is None or old[o][1] is None else old[o][1].size)
                if self.kept[o] > 2 * GATHER_KEYS_HOST:  # drop this output's keys, once
                    self.over.add(o)
                    for p in self.parts.values():
                        p[o] = (p[o][0], None, None)

    def resolve(self, acc: _Merged, state: dict, n_chunks: int) -> int:
        """Set the value of every open rank of ``state`` that lies inside a window;
        the number set (0 unless every chunk was taken here)."""
        with self._lock:
            parts = dict(self.parts)
        if set(parts) != set(range(n_chunks)):
            return 0
        P, done = 2 * self.W + 1, 0
        for o in self.lo:
            ranks = [(g, r, st) for (o2, g, r), st in state.items() if o2 == o and st["value"] is None]
            if not ranks:
                continue
            counts = np.sum([parts[k][o][0] for k in range(n_chunks)], axis=0).reshape(self.G, P)
            if not np.array_equal(counts.sum(axis=1), np.asarray(acc.get(o + ".n"), np.int64)):
                raise RuntimeError(f"windows of {o!r}: places counted do not add up to the group counts")
            keys = codes = None
            if o not in self.over:
                keys = np.concatenate([parts[k][o][1] for k in range(n_chunks)])
                codes = np.concatenate([parts[k][o][2] for k in range(n_chunks)])
            cum = np.cumsum(counts, axis=1)
            wanted: dict = {}
            for g, r, st in ranks:
                p = int(np.searchsorted(cum[g], r, side="right"))
                if p % 2 == 0:
                    continue  # outside every window
                j, below = (p - 1) // 2, int(cum[g, p] - counts[g, p])
                lo, hi = int(self.lo[o][g, j]), int(self.hi[o][g, j])
                if lo == hi:
                    st["value"] = _value_of_key(lo)
                    done += 1
                elif keys is not None:
                    wanted.setdefault((g, j), []).append((r - below, st))
            sliced = len(wanted) > MASK_WINDOWS
            if sliced:
                # many windows (maps have thousands of groups): order the kept keys by
                # window once, so each window's keys are a slice, not a mask per window
                order = np.argsort(codes)
                keys, codes = keys[order], codes[order]
            for (g, j), items in wanted.items():
                c = g * P + 2 * j + 1
                if sliced:
                    kg = keys[np.searchsorted(codes, c, "left"):np.searchsorted(codes, c, "right")]
                else:
                    kg = keys[codes == c]
                if kg.size != counts[g, 2 * j + 1]:  # cannot happen: every kept key is counted
                    raise RuntimeError(f"windows of {o!r}: kept {kg.size} keys of a window that holds "
                                       f"{counts[g, 2 * j + 1]}")
                kg = np.partition(kg, sorted({i for i, _ in items}))
                for i, st in items:
                    st["value"] = _value_of_key(int(kg[i]))
                    done += 1
        return done


def plan_windows(sinks, out_dir, factor=None) -> int:
    """Before a run's chunk pass: predict, for every quantile the reductions of
    ``sinks`` need, a window of keys that holds its ranks, so that the chunk pass
    keeps those keys and the narrowing passes over the grid are not needed
    (:class:`_Windows`).  Returns the sample's stride (0: no windows).

    The prediction computes one chunk's lanes of vectors spread over the whole
    grid (every s-th vector, s about the number of chunks and prime to every axis
    length, so that each axis's digits cycle through all its values) through a
    narrowing program that hands over every key, and takes each group's sample
    quantile ± :data:`WINDOW_HALF_WIDTH` in rank.  A wrong prediction costs time, never
    exactness: a rank outside its window is narrowed as before.  Only on CPU
    devices, where the per-lane places and keys the chunk pass hands over are
    already in host memory, and for runs of at least :data:`WINDOW_MIN_CHUNKS`."""
    from ..runner import get_runner

    items = [s for s in sinks if s.kind == "reduce" and s.quant]
    if not items or items[0].spec.n_chunks < WINDOW_MIN_CHUNKS:
        return 0
    spec = items[0].spec
    runner = get_runner(spec, factor)
    if not _host_gather(runner):
        return 0
    lanes = runner.per_device * len(runner.devices)
    stride = max(2, spec.n_vectors // lanes)
    while any(math.gcd(stride, n) > 1 for n in spec.shape):
        stride += 1
    sampled = min(lanes, -(-spec.n_vectors // stride))
    takes = []
    for s in items:
        everything = {"lo": np.uint64(0), "hi": _KEY_MAX, "count": 0}
        open_ = {(o, g, 0): dict(everything) for o in s.quant for g in range(s.base_part.n_groups)}
        t = _NarrowTake(s, open_, host_gather=True, gather_all=True)
        t.part = replace(t.part, lane_stride=stride)
        takes.append(t)
    _joint_pass(runner, takes, None)
    for s, t in zip(items, takes):
        s.set_windows(_predict(s, t.gathered, spec.n_vectors / sampled))
    return stride


def _predict(sink: ReduceSink, gathered: dict, scale: float) -> _Windows:
    """Windows from the sample keys ``gathered`` (``{output: [(keys, groups,
    slots)]}``); ``scale`` is the grid's vectors per sampled vector (to estimate
    how many keys the windows will keep)."""
    G = sink.base_part.n_groups
    qs = {i.output: i.quantiles for i in sink.red.items if i.quantiles}
    W = max(len(v) for v in qs.values())
    lo, hi = {}, {}
    for o in sink.quant:
        lo[o] = np.full((G, W), _KEY_MAX, np.uint64)
        hi[o] = np.full((G, W), _KEY_MAX, np.uint64)
        parts = gathered[o]
        keys = np.concatenate([k for k, _, _ in parts]) if parts else np.zeros(0, np.uint64)
        grp = np.concatenate([g for _, g, _ in parts]) if parts else np.zeros(0, np.int32)
        if G > 1:  # grouped by one sort (a mask per group would cost groups × keys)
            order = np.argsort(grp)
            keys, grp = keys[order], grp[order]
        edges = np.searchsorted(grp, np.arange(G + 1))  # one group: grp is all 0, already sorted
        # each group's keys in order; only groups large enough to predict are sorted
        by_group = [np.sort(keys[edges[g]:edges[g + 1]]) if edges[g + 1] - edges[g] >= WINDOW_MIN_SAMPLE
                    else keys[edges[g]:edges[g + 1]] for g in range(G)]
        delta = WINDOW_HALF_WIDTH
        for _ in range(4):  # narrow the windows until their keys fit in memory
            rows, kept = [], 0.0
            for g, kg in enumerate(by_group):
                m = kg.size
                if m < WINDOW_MIN_SAMPLE:
                    rows.append([])
                    continue
                spans = sorted((max(0, math.floor((q - delta) * (m - 1))), min(m - 1, math.ceil((q + delta) * (m - 1))))
                               for q in qs[o])
                wins: list = []
                for a, b in spans:  # disjoint in key order: windows that touch are one
                    # the sample's extremes do not bound the grid's: a window that
                    # reaches one reaches every key beyond it
                    k_lo = np.uint64(0) if a == 0 else kg[a]
                    k_hi = _KEY_MAX - np.uint64(1) if b == m - 1 else kg[b]
                    if wins and k_lo <= wins[-1][1]:
                        wins[-1] = (wins[-1][0], max(wins[-1][1], k_hi), wins[-1][2], b)
                    else:
                        wins.append((k_lo, k_hi, a, b))
                rows.append(wins)
                kept += sum((b - a + 1) * scale for k_lo, k_hi, a, b in wins if k_lo < k_hi)
            if kept <= GATHER_KEYS_HOST:
                break
            delta *= 0.9 * GATHER_KEYS_HOST / kept
        else:
            continue  # no windows for this output
        for g, wins in enumerate(rows):
            for j, (k_lo, k_hi, _, _) in enumerate(wins):
                lo[o][g, j], hi[o][g, j] = k_lo, k_hi
    return _Windows(G, W, lo, hi)


def _ranks(n: int, qs) -> list[int]:
    """0-based order statistics that ``numpy.quantile(method="linear")`` reads."""
    out = set()
    for q in qs:
        pos = q * (n - 1)
        k0 = int(math.floor(pos))
        out.add(k0)
        if pos - k0 > 0:  # t == 0: _lerp(a, b, 0) is a (finite values)
            out.add(min(k0 + 1, n - 1))
    return sorted(out)


def _narrow(r: int, below: int, hc, hmin, hmax) -> dict:
    """The state of rank ``r`` after a histogram: the bin holding it (bins in key
    order), its exact [min, max] key range, the count below it, and the value if the
    bin holds one key only."""
    csum = np.cumsum(hc)
    j = int(np.searchsorted(csum, r - below, side="right"))
    before = int(csum[j - 1]) if j > 0 else 0
    lo, hi = int(hmin[j]), int(hmax[j])
    value = _value_of_key(lo) if lo == hi else None
    return {"lo": np.uint64(lo), "hi": np.uint64(hi), "below": below + before, "value": value,
            "count": int(hc[j])}


def _file_hash(path) -> str | None:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, ValueError):
        return None
    h = meta.get(META_SPEC_HASH)
    return None if h is None else h.decode()
