"""The lazy cartesian grid: flat index <-> multi-index <-> parameter values.

Axes are in spec order with the *last* axis varying fastest (C order), so the
flat index of digits ``(d_0, ..., d_{m-1})`` is ``sum_j d_j * stride_j`` with
``stride_j = prod(size_{j+1..m-1})``.  Nothing is ever materialized: a chunk's
parameter values are computed from its flat indices by mixed-radix arithmetic,
on the host with numpy (:meth:`Grid.values`) or on a device inside the jitted
chunk function (:func:`device_values`), where every axis is a small table of the
run dtype indexed by its digit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Grid", "FLOAT_DIGITS_LIMIT", "contiguous_runs", "device_digits", "device_sub_index", "device_values",
           "sub_strides", "take_rows"]


@dataclass(frozen=True)
class Grid:
    """Mixed-radix view of a spec's axes (host side, numpy, int64 indices)."""

    names: tuple[str, ...]
    sizes: tuple[int, ...]
    values_: tuple[tuple, ...]  # per axis: floats or categorical choice names
    categorical: tuple[bool, ...]

    @classmethod
    def from_spec(cls, spec) -> "Grid":
        return cls(
            tuple(a.name for a in spec.axes),
            tuple(len(a) for a in spec.axes),
            tuple(tuple(a.values) for a in spec.axes),
            tuple(a.categorical for a in spec.axes),
        )

    @property
    def n(self) -> int:
        return math.prod(self.sizes)

    @property
    def strides(self) -> tuple[int, ...]:
        out, acc = [], 1
        for s in reversed(self.sizes):
            out.append(acc)
            acc *= s
        return tuple(reversed(out))

    def unravel(self, flat) -> np.ndarray:
        """Digits, shape ``(len(flat), n_axes)`` int64, of flat indices."""
        flat = np.asarray(flat, dtype=np.int64)
        if flat.size and (flat.min() < 0 or flat.max() >= self.n):
            raise IndexError(f"flat index out of range 0..{self.n - 1}")
        cols = [(flat // st) % sz for st, sz in zip(self.strides, self.sizes)]
        return np.stack(cols, axis=-1) if cols else np.zeros(flat.shape + (0,), np.int64)

    def ravel(self, digits) -> np.ndarray:
        """Flat indices (int64) of digit rows, shape ``(..., n_axes)``."""
        digits = np.asarray(digits, dtype=np.int64)
        if digits.shape[-1] != len(self.sizes):
            raise ValueError(f"expected {len(self.sizes)} digits per row")
        if np.any(digits < 0) or np.any(digits >= np.array(self.sizes, dtype=np.int64)):
            raise IndexError("digit out of range for its axis")
        return digits @ np.array(self.strides, dtype=np.int64) if self.sizes else np.zeros(digits.shape[:-1], np.int64)

    def values(self, flat, dtype=np.float64) -> dict[str, np.ndarray]:
        """Axis values at flat indices: numeric axes cast to ``dtype``, categorical
        axes as arrays of choice names (object dtype)."""
        digits = self.unravel(flat)
        out = {}
        for j, name in enumerate(self.names):
            if self.categorical[j]:
                out[name] = np.array(self.values_[j], dtype=object)[digits[:, j]]
            else:
                out[name] = np.asarray(self.values_[j], dtype=np.float64).astype(dtype)[digits[:, j]]
        return out

    def index_of(self, **point) -> int:
        """Flat index of the grid point with the given axis values (exact match)."""
        digits = []
        for j, name in enumerate(self.names):
            try:
                digits.append(list(self.values_[j]).index(point[name]))
            except (KeyError, ValueError):
                raise KeyError(f"{name}={point.get(name)!r} is not on the grid") from None
        return int(self.ravel(np.array(digits, dtype=np.int64)))


def sub_strides(sizes, axes) -> tuple[int, ...]:
    """C-order strides of the sub-grid spanned by the axes ``axes`` (indices into
    ``sizes``, in grid order): the sub-grid index of a vector is
    ``sum_j digit[axes[j]] * stride[j]``.  ``()`` for an empty sub-grid (one point)."""
    out, acc = [], 1
    for j in reversed(tuple(axes)):
        out.append(acc)
        acc *= int(sizes[j])
    return tuple(reversed(out))


#: flat indices below this are unravelled in float64 arithmetic (see :func:`device_digits`)
FLOAT_DIGITS_LIMIT = 1 << 50


def device_digits(idx, sizes, strides, exact_float: bool = True):
    """Per-axis digits (int32 vectors) of flat indices ``idx`` — traced inside jit.

    ``sizes`` and ``strides`` are int64 vectors (runtime arguments, so grids of the
    same structure share one compilation).

    With ``exact_float`` (allowed when every index is below
    :data:`FLOAT_DIGITS_LIMIT`), the mixed-radix arithmetic is done in float64:
    ``q = floor((i + ½)·(1/stride))`` and ``d = q − size·floor((q + ½)·(1/size))``.
    That is exact: (i + ½)/stride is at least ½/stride from an integer, while the
    two roundings move it by at most (i + ½)/stride·2⁻⁵², smaller whenever
    i < 2⁵¹.  It matters for speed: CPUs have no vector integer division, so int64
    ``//`` and ``%`` run one scalar ``idiv`` per lane and axis (a third of a
    factored chunk's time), while the float form is four vectorized operations.
    Otherwise the int64 path (``lax.div``/``lax.rem``; indices are non-negative,
    so no floor-division sign fix-ups) is used.
    """
    return [_digit(idx, strides[j], sizes[j], exact_float) for j in range(sizes.shape[0])]


def _digit(idx, stride, size, exact_float: bool):
    """``(idx // stride) % size`` as int32 (traced; ``stride``, ``size`` int64 scalars),
    by the float64 or the int64 arithmetic of :func:`device_digits`."""
    import jax.numpy as jnp
    from jax import lax

    if not exact_float:
        return lax.rem(lax.div(idx, stride), size).astype(jnp.int32)
    s = size.astype(jnp.float64)
    q = jnp.floor((idx.astype(jnp.float64) + 0.5) * (1.0 / stride.astype(jnp.float64)))
    return (q - s * jnp.floor((q + 0.5) * (1.0 / s))).astype(jnp.int32)


def contiguous_runs(positions) -> tuple[tuple[int, int], ...]:
    """Maximal runs of consecutive axis positions: ``(0, 2, 3, 5)`` → ``((0, 0), (2, 3), (5, 5))``."""
    runs: list[list[int]] = []
    for j in positions:
        if runs and j == runs[-1][1] + 1:
            runs[-1][1] = j
        else:
            runs.append([j, j])
    return tuple((a, b) for a, b in runs)


def device_sub_index(idx, sizes, strides, substrides, positions, exact_float: bool = True):
    """Index in the sub-grid spanned by the axes ``positions`` (static, grid order)
    of flat indices ``idx``: ``sum_j digit[positions[j]] * substrides[j]`` — traced.

    Consecutive axes of the sub-grid keep their relative order in the full grid, so
    a run of them contributes one combined digit, ``(i // stride_last) % (product of
    the run's sizes)``, times the sub-grid stride of its last axis: one digit per
    run instead of one per axis.  (The gathers that use this index recompute it for
    every lane, so its cost is paid once per gathered table.)  Returns int32:
    sub-grids are at most ``FACTOR_MAX_SUB`` points.
    """
    import jax.numpy as jnp

    pos = {j: i for i, j in enumerate(positions)}
    sub = None
    for first, last in contiguous_runs(positions):
        size = sizes[first]
        for j in range(first + 1, last + 1):
            size = size * sizes[j]
        term = _digit(idx, strides[last], size, exact_float) * substrides[pos[last]].astype(jnp.int32)
        sub = term if sub is None else sub + term
    return sub


def take_rows(table, index):
    """``table[index]`` along axis 0 for indices known to be in range (traced).

    The engine's indices are digits and sub-grid positions, in range by
    construction, so the gather skips ``jnp.take``'s negative-index wrap-around
    and out-of-bounds fill (two compares and selects per lane and table)."""
    return table.at[index].get(mode="promise_in_bounds")


def device_values(idx, axis_values, sizes, strides, digits=None, exact_float: bool = True):
    """Per-axis table rows at flat indices ``idx`` — traced inside jit.

    ``idx`` is an int64 vector; ``sizes`` and ``strides`` are int64 vectors (runtime
    arguments, so grids of the same structure share one compilation); ``axis_values[j]``
    is axis ``j``'s values in the run dtype, shape ``(size_j,)`` or, for a
    categorical axis, ``(size_j, n_targets)``.  ``digits`` (from
    :func:`device_digits`) may be passed when the caller needs them too.
    """
    if digits is None:
        digits = device_digits(idx, sizes, strides, exact_float)
    return [take_rows(table, digit) for table, digit in zip(axis_values, digits)]
