"""Benchmark inputs: the paper's Tables OA4/OA5 grid (docs/model.md §8) and its sub-grids.

Every benchmark runs on the same vectors: the first ``n`` vectors of the paper's
497,664-vector cartesian grid (last axis fastest, as the engine orders it), tiled
if ``n`` is larger.  Kernels that need a skill (``terminal``: s2, ``period1``: s1)
get ``s = u·α`` with ``u`` ~ U(0.05, 0.95) from a fixed seed.
"""
from __future__ import annotations

import numpy as np

__all__ = ["PAPER_AXES", "PAPER_FIXED", "PAPER_N", "TERMINAL_AXES", "paper_grid", "kernel_inputs",
           "subgrid_index"]

#: the OA4/OA5 grid, in the order of sweep/specs/oa5.toml (last axis varies fastest)
PAPER_AXES: dict[str, list[float]] = dict(
    b=[1.03, 1.05, 1.08, 1.12], alpha1=[0.55, 0.65, 0.75], alpha2=[0.70, 0.82, 0.90],
    pi2=[0.25, 0.35, 0.45, 0.55], pi1=[0.45, 0.55, 0.65, 0.75], phi=[0.5, 1.2, 2.0],
    gamma=[0.1, 0.2, 0.3], delta=[0.05, 0.10, 0.20, 0.50], lam_R=[3.0, 5.0, 10.0, 20.0],
    eta=[0.2, 0.5, 1.0, 2.0, 5.0, 10.0],
)
PAPER_FIXED = dict(beta=0.95)
PAPER_N = int(np.prod([len(v) for v in PAPER_AXES.values()]))   # 497,664

#: axes the terminal stage of coverage_oa5 depends on (all but alpha1, pi1)
TERMINAL_AXES = tuple(k for k in PAPER_AXES if k not in ("alpha1", "pi1"))


def _digits(idx: np.ndarray, sizes) -> np.ndarray:
    """Row-major digits of flat indices (last axis fastest)."""
    return np.stack(np.unravel_index(idx, tuple(sizes)), axis=-1)


def paper_grid(n: int | None = None) -> dict[str, np.ndarray]:
    """float64 columns of the first ``n`` paper-grid vectors (tiled past 497,664)."""
    n = PAPER_N if n is None else int(n)
    idx = np.arange(n, dtype=np.int64) % PAPER_N
    dg = _digits(idx, [len(v) for v in PAPER_AXES.values()])
    cols = {k: np.asarray(v, np.float64)[dg[:, j]] for j, (k, v) in enumerate(PAPER_AXES.items())}
    return cols


def subgrid_index(n: int | None = None, axes=TERMINAL_AXES):
    """For the first ``n`` paper vectors: the unique points of their projection on
    ``axes`` (float64 columns) and, per vector, the index of its point."""
    n = PAPER_N if n is None else int(n)
    idx = np.arange(n, dtype=np.int64) % PAPER_N
    sizes = [len(v) for v in PAPER_AXES.values()]
    dg = _digits(idx, sizes)
    pos = [list(PAPER_AXES).index(a) for a in axes]
    sub_sizes = [sizes[j] for j in pos]
    sub_flat = np.ravel_multi_index(tuple(dg[:, j] for j in pos), tuple(sub_sizes))
    # only the sub-grid points these n vectors use (all of them once n >= 497,664)
    used, inverse = np.unique(sub_flat, return_inverse=True)
    sdg = _digits(used, sub_sizes)
    sub = {a: np.asarray(PAPER_AXES[a], np.float64)[sdg[:, i]] for i, a in enumerate(axes)}
    sub_flat = inverse.reshape(-1)
    return sub, sub_flat.astype(np.int32)


def kernel_inputs(kernel: str, n: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """float64 inputs of ``kernel`` for the first ``n`` paper vectors (+ skills)."""
    cols = paper_grid(n)
    m = len(next(iter(cols.values())))
    rng = np.random.default_rng(seed)
    if kernel in ("terminal", "terminal_bonus"):
        cols = {k: v for k, v in cols.items() if k not in ("alpha1", "pi1")}
        cols["s2"] = rng.uniform(0.05, 0.95, m) * cols["alpha2"]
    elif kernel in ("period1", "period1_bonus"):
        cols["s1"] = rng.uniform(0.05, 0.95, m) * cols["alpha1"]
    if kernel.endswith("_bonus"):
        # bonuses up to 0.1 per worker (the paper's OA.8 values are 0.05 and 0.10)
        cols["omega"] = rng.uniform(0.0, 0.1, m)
    return cols
