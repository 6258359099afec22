"""Random parameter vectors over the ranges of the paper's grids, and A1–A4 to keep
the admissible ones, for the period-1 comparisons (the scalar scipy reference's
tests, the ``period1_speedup`` bench section, the benchmark scripts).  numpy only,
so the bench can draw them without scipy."""
from __future__ import annotations

import numpy as np

__all__ = ["RANGES", "admissible", "sample_vectors"]

#: the paper's grid ranges (docs/model.md §3); α2, π2, η and s1 are drawn relative to these
RANGES = dict(alpha1=(0.45, 0.85), pi1=(0.35, 0.85), phi=(0.3, 2.5), gamma=(0.05, 0.4),
              delta=(0.03, 0.6), lam_R=(2.0, 20.0), beta=(0.8, 1.0), b=(1.02, 1.5))


def sample_vectors(rng, n, eta=(0.05, 20.0)):
    """n random vectors over the ranges of the paper's grids (A1 built in: α2 ≥ α1,
    π2 ≤ π1; η log-uniform; s1 uniform on (0, α1)).  Other assumptions are left to
    the caller to filter on."""
    p = {k: rng.uniform(lo, hi, n) for k, (lo, hi) in RANGES.items()}
    p["alpha2"] = p["alpha1"] + rng.uniform(0.0, 0.3, n) * (1.0 - p["alpha1"])
    p["pi2"] = p["pi1"] * rng.uniform(0.3, 1.0, n)
    p["eta"] = np.exp(rng.uniform(np.log(eta[0]), np.log(eta[1]), n))
    p["s1"] = rng.uniform(0.0, 1.0, n) * p["alpha1"]
    return p


def admissible(p: dict) -> np.ndarray:
    """A1–A4 of docs/model.md §3 for the baseline learning profile ℓ = π(1−π)."""
    L1 = p["phi"] * p["pi1"] * (1 - p["pi1"])
    L2 = p["phi"] * p["pi2"] * (1 - p["pi2"])
    e1, e2 = p["gamma"] * (1 - p["pi1"]), p["gamma"] * (1 - p["pi2"])
    s_und = (e2 * p["alpha2"] + e1 * p["alpha1"] * (1 + e2)) / ((1 + e2) * (1 + e1))
    return ((p["alpha2"] >= p["alpha1"]) & (p["pi2"] <= p["pi1"]) & (L1 < 1) & (L2 < 1)
            & (p["s1"] > s_und) & (p["s1"] < p["alpha1"]) & (p["b"] > 1)
            & (p["lam_R"] > np.maximum(p["alpha1"], p["alpha2"]) ** (p["b"] - 1)))
