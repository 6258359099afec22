"""Lane compaction for phases that only some items of a batch need.

A fixed-size kernel that runs an expensive phase (a nested root solve, a
best-response search) over a whole batch pays for every lane even where the
phase's result is discarded.  :func:`map_compacted` instead gathers the items that
need the phase into blocks of a fixed number of items, runs the phase on each
block in a ``lax.while_loop`` (as many blocks as there are needed items, rounded
up) and scatters the results back.  Every item sees exactly the elementwise
arithmetic it would see in the full-width phase, so results do not depend on the
block size; items that do not need the phase get the fill value (NaN, 0, False).

This is the generalisation of the compacted threshold solves of
:func:`kernels.roots.solve` (``compact``), which fall back to the full width when
too many lanes need iterating; here overflow costs more blocks, never a full pass.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["map_compacted", "fill_like", "trace_once"]


def fill_like(shape_dtype):
    """The value an item that did not need the phase gets: NaN for floats, 0 for
    integers, False for booleans."""
    dt = shape_dtype.dtype
    if jnp.issubdtype(dt, jnp.floating):
        return jnp.full(shape_dtype.shape, jnp.nan, dt)
    return jnp.zeros(shape_dtype.shape, dt)


def _take(tree, idx, lead):
    """Rows ``idx`` of every leaf with ``lead`` leading axes flattened (0-d leaves,
    values fixed over the batch, stay 0-d)."""
    def one(v):
        if jnp.ndim(v) == 0:
            return v
        flat = jnp.reshape(v, (-1,) + jnp.shape(v)[lead:])
        return flat[idx]
    return jax.tree_util.tree_map(one, tree)


def trace_once(fn, *example):
    """(replay, out_shapes): ``fn`` traced once at ``example``; ``replay(*args)``
    re-emits the traced operations (identical program) without calling ``fn`` again.

    A loop whose carry must be allocated from fn's output shapes would otherwise
    trace fn twice (``jax.eval_shape`` and the loop body), and loops nested inside
    fn double again at every level: tracing time, not run time, but paid at every
    compile."""
    closed, shapes = jax.make_jaxpr(fn, return_shape=True)(*example)
    tree = jax.tree_util.tree_structure(shapes)

    def replay(*args):
        flat = jax.tree_util.tree_leaves(args)
        return jax.tree_util.tree_unflatten(tree, jax.core.eval_jaxpr(closed.jaxpr, closed.consts, *flat))

    return replay, shapes


def map_compacted(fn, need, lane_args, item_args, block: int):
    """``fn(valid, lane_args, item_args)`` on the items where ``need`` holds.

    need : bool (n,) or (n, S): items are lanes, or S slots per lane.
    lane_args : pytree whose leaves have leading shape (n,) (or are 0-d); an item
        receives its lane's row.
    item_args : pytree whose leaves have leading shape ``need.shape``.
    block : items per block (the width ``fn`` is traced at; capped at the number
        of items).

    ``fn`` must be elementwise over its leading (item) axis and must treat
    ``valid`` (False on padding items of the last block) as a mask.  Returns fn's
    outputs with leading shape ``need.shape``; items not needed hold
    :func:`fill_like` values.
    """
    shape = need.shape
    slots = 1 if need.ndim == 1 else shape[1]
    m = math.prod(shape)
    block = max(1, min(int(block), m))
    nblocks = -(-m // block)
    flat = jnp.reshape(need, (m,))
    count = jnp.sum(flat, dtype=jnp.int32)
    # needed item indices first, then m (padding) up to a whole number of blocks
    idx = jnp.nonzero(flat, size=m, fill_value=m)[0].astype(jnp.int32)
    idx = jnp.concatenate([idx, jnp.full((nblocks * block - m,), m, jnp.int32)])

    def call(ids):
        valid = ids < m
        safe = jnp.minimum(ids, m - 1)
        return fn(valid, _take(lane_args, safe // slots, 1), _take(item_args, safe, need.ndim))

    # traced once (nested map_compacted calls would otherwise be traced 2^depth times)
    replay, out_shapes = trace_once(call, idx[:block])
    out0 = jax.tree_util.tree_map(
        lambda s: fill_like(jax.ShapeDtypeStruct((m,) + s.shape[1:], s.dtype)), out_shapes)

    def body(c):
        j, out = c
        ids = lax.dynamic_slice_in_dim(idx, j * block, block)
        res = replay(ids)
        out = jax.tree_util.tree_map(lambda o, r: o.at[ids].set(r, mode="drop"), out, res)
        return j + 1, out

    def more(c):
        return c[0] * block < count

    _, out = lax.while_loop(more, body, (jnp.int32(0), out0))
    return jax.tree_util.tree_map(lambda o: jnp.reshape(o, shape + o.shape[1:]), out)
