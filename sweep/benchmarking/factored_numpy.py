"""Tables OA4 and OA5 the way a careful numpy user would compute them: factored.

The baseline that ``sweep reproduce oa4``/``oa5`` must beat (docs/model.md §5, §7,
§8).  It uses no JAX and no kernel code: the model's formulas as written in
:mod:`sweep.benchmarking.baselines` (from docs/model.md), arranged around the
grid's structure the way one would by hand:

1. the cutoff s̿2 (eq. OA2) does not depend on η or α1, π1: it is solved once per
   point of the 7 axes (b, α2, π2, φ, γ, δ, λR), with scipy's vectorized
   ``elementwise.find_root`` (Chandrupatla) on the lanes that need a solve;
2. the terminal thresholds ŝ2^D, s̄2^D (Cor. 3) are solved once per point of the
   8 period-2 axes (those 7 and η);
3. for each (α1, π1) the period-1 quantities (D1, ρ1, ρ1^D, ρ1^F; docs/model.md §7)
   are closed forms over those 8-axis arrays; counts and sums are accumulated
   there, and the values whose quantiles the tables need are collected;
4. quantiles are exact: ``numpy.quantile(..., method="linear")`` (introselect,
   i.e. ``np.partition``) over the collected values.

One process, one core (numpy's elementwise work is single-threaded).  The result
has the keys of :func:`sweep.tables.summarize_reductions`, so the two can be
compared cell for cell (:func:`compare_tables`).

    python -m sweep.benchmarking.factored_numpy --points-per-axis K [--json]
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from .baselines import _bisect, _f_bar, _f_hat, _f_oa2, _find_root, _solve_vec

__all__ = ["TERMINAL_AXES", "PERIOD1_AXES", "grid_axes", "oa45_tables", "compare_tables"]

#: axes the terminal stage depends on, in the order of the 8-axis arrays (η last,
#: so a group by η is a column of a (-1, n_eta) view)
TERMINAL_AXES = ("b", "alpha2", "pi2", "phi", "gamma", "delta", "lam_R", "eta")
#: axes that enter only through closed forms
PERIOD1_AXES = ("alpha1", "pi1")


def grid_axes(points_per_axis: int | None = None) -> tuple[dict[str, np.ndarray], float]:
    """The OA4/OA5 grid (the paper's, or refined to K points per axis exactly as
    ``sweep reproduce --points-per-axis K`` refines it): axis values and β."""
    from ..reproduce import paper_spec  # the grid's definition only (no JAX)

    spec = paper_spec("oa5", points_per_axis)
    axes = {a.name: np.asarray(a.values, dtype=np.float64) for a in spec.axes}
    if set(axes) != set(TERMINAL_AXES) | set(PERIOD1_AXES):
        raise ValueError(f"unexpected OA5 axes {sorted(axes)}")
    if spec.fixed.get("profile", "pi(1-pi)") != "pi(1-pi)":
        raise ValueError("the factored baseline implements the baseline profile π(1−π) only")
    return axes, float(spec.fixed["beta"])


def _solver(name: str):
    if name == "find_root":
        return _find_root
    if name == "bisection":
        return lambda f, lo, hi, args: _bisect(f, lo, hi, args, 60)
    raise ValueError(f"unknown solver {name!r}")


def _terminal(axes: dict, beta: float, solver) -> dict:
    """Period-2 conditions and thresholds on the 8 terminal axes (flattened, η last)."""
    shape7 = tuple(len(axes[k]) for k in TERMINAL_AXES[:-1])
    mesh7 = np.meshgrid(*[axes[k] for k in TERMINAL_AXES[:-1]], indexing="ij")
    b, a2, pi2, phi, gam, dl, lr = (m.ravel() for m in mesh7)
    L2 = phi * pi2 * (1 - pi2)                      # φℓ(π2), baseline ℓ
    K2 = gam + L2 / (1 - pi2)
    e2 = gam * (1 - pi2)
    with np.errstate(all="ignore"):
        a2b1 = a2 ** (b - 1)
        A2_2 = L2 < 1
        A4_2 = lr > a2b1
        OA1 = (b - 1) * (lr - a2b1) < lr * dl / K2
        mono = lr * pi2 >= b * a2b1
    su2 = e2 * a2 / (1 + e2)                        # s̲2
    ok2 = A2_2 & A4_2 & OA1                         # every axis value is inside its domain
    sbb2 = _solve_vec(solver, _f_oa2, su2, a2, (a2, pi2, lr, b, e2, lr * dl / K2), ok2, False)
    # η joins: every 7-axis quantity repeated along a last axis of η values
    eta_v = axes["eta"]
    n_eta = eta_v.size
    rep = lambda x: np.repeat(x, n_eta)             # noqa: E731  (row-major: η varies fastest)
    b8, a28, pi28, lr8, dl8, e28, K28, L28 = map(rep, (b, a2, pi2, lr, dl, e2, K2, L2))
    sbb8 = rep(sbb2)
    eta8 = np.tile(eta_v, sbb2.size)
    beta8 = np.full(eta8.shape, beta)
    ok = rep(ok2 & mono) & np.isfinite(sbb8)
    lo = np.where(ok, sbb8, 0.5 * a28)
    hat = _solve_vec(solver, _f_hat, lo, a28, (a28, pi28, lr8, b8, e28, K28, dl8, beta8, eta8), ok, True)
    bar = _solve_vec(solver, _f_bar, lo, a28, (a28, pi28, lr8, b8, L28, K28, dl8, beta8, eta8), ok, True)
    flags2 = rep(ok2 & mono)                        # period-2 part of admissibility
    return dict(shape7=shape7, n_eta=n_eta, b=b8, a2=a28, pi2=pi28, lr=lr8, gam=rep(gam), phi=rep(phi),
                sbb2=sbb8, hat=hat, bar=bar, flags2=flags2)


def oa45_tables(points_per_axis: int | None = None, solver: str = "find_root") -> dict:
    """Tables OA4 and OA5 on the (refined) paper grid, factored numpy.

    Returns ``{"oa4": {"rows": [...], "n_vectors", "n_admissible", "n_nonempty"},
    "oa5": {"rows": [...], ...}, "seconds": {...}}`` with the keys of
    :func:`sweep.tables.summarize_reductions`.
    """
    t0 = time.perf_counter()
    axes, beta = grid_axes(points_per_axis)
    t = _terminal(axes, beta, _solver(solver))
    t1 = time.perf_counter()
    n_eta = t["n_eta"]
    b, a2, pi2, lr, gam, phi = t["b"], t["a2"], t["pi2"], t["lr"], t["gam"], t["phi"]
    sbb2, hat, bar = t["sbb2"], t["hat"], t["bar"]
    e2 = gam * (1 - pi2)
    su2 = e2 * a2 / (1 + e2)
    has_sbb2 = np.isfinite(sbb2)
    n_adm = n_ne = 0
    sum_rho1 = 0.0
    cnt_eta = np.zeros(n_eta, np.int64)
    sum_D, sum_F, sum_S = np.zeros(n_eta), np.zeros(n_eta), np.zeros(n_eta)
    rho1_vals: list[np.ndarray] = []
    sum_vals: list[list[np.ndarray]] = [[] for _ in range(n_eta)]
    for a1 in axes["alpha1"]:
        with np.errstate(all="ignore"):
            A4_1 = lr > a1 ** (b - 1)
        for pi1 in axes["pi1"]:
            L1 = phi * pi1 * (1 - pi1)
            e1 = gam * (1 - pi1)
            with np.errstate(all="ignore"):
                su = (su2 + e1 * a1) / (1 + e1)     # s̲: g(s̲,0;A1) = s̲2
                A3 = su < a1
                adm = t["flags2"] & (a2 >= a1) & (pi2 <= pi1) & (L1 < 1) & A3 & A4_1
                sbb1 = (sbb2 + e1 * a1) / (1 + e1)  # g(s̿1,0;A1) = s̿2
                lower = np.maximum(su, sbb1)
                width = a1 - lower
                ne = adm & has_sbb2 & (width > 0)   # D1 nonempty (A3 is part of adm)
            n_adm += int(np.count_nonzero(adm))
            k = int(np.count_nonzero(ne))
            if k == 0:
                continue
            n_ne += k
            idx = np.flatnonzero(ne)
            w = width[idx]
            a1su = a1 - su[idx]
            r1 = w / a1su
            s1D = (hat[idx] - L1[idx] * a1) / (1 - L1[idx])   # g(s1^D,1;A1) = ŝ2^D (eq. OA3)
            s1F = (bar[idx] + e1[idx] * a1) / (1 + e1[idx])   # g(s1^F,0;A1) = s̄2^D
            rD = np.clip(s1D - lower[idx], 0, w) / w
            rF = np.clip(a1 - s1F, 0, w) / w
            rS = rD + rF
            sum_rho1 += float(np.sum(r1))
            rho1_vals.append(r1)
            j = idx % n_eta                           # η is the fastest axis
            cnt_eta += np.bincount(j, minlength=n_eta)
            sum_D += np.bincount(j, rD, minlength=n_eta)
            sum_F += np.bincount(j, rF, minlength=n_eta)
            sum_S += np.bincount(j, rS, minlength=n_eta)
            for e in range(n_eta):
                sum_vals[e].append(rS[j == e])
    t2 = time.perf_counter()
    n_vectors = int(np.prod([len(v) for v in axes.values()]))
    rho1_all = np.concatenate(rho1_vals) if rho1_vals else np.empty(0)
    q = (np.quantile(rho1_all, [0.1, 0.5, 0.9], method="linear") if rho1_all.size
         else [math.nan] * 3)
    oa4_row = dict(nonempty_D1=n_ne / n_adm if n_adm else math.nan,
                   mean_rho1=sum_rho1 / n_ne if n_ne else None,
                   p10_rho1=float(q[0]), median_rho1=float(q[1]), p90_rho1=float(q[2]))
    del rho1_all, rho1_vals
    oa5_rows = []
    for e, eta in enumerate(axes["eta"]):
        c = int(cnt_eta[e])
        vals = np.concatenate(sum_vals[e]) if sum_vals[e] else np.empty(0)
        med = float(np.quantile(vals, 0.5, method="linear")) if c else None
        oa5_rows.append(dict(eta=float(eta), mean_rho1_D=sum_D[e] / c if c else None,
                             mean_rho1_F=sum_F[e] / c if c else None,
                             mean_sum=sum_S[e] / c if c else None, median_sum=med, n=c))
    t3 = time.perf_counter()
    counts = dict(n_vectors=n_vectors, n_admissible=n_adm)
    return {"oa4": {"table": "OA4", "rows": [oa4_row], **counts, "n_nonempty": n_ne},
            "oa5": {"table": "OA5", "rows": oa5_rows, **counts},
            "points_per_axis": points_per_axis, "solver": solver,
            "seconds": {"terminal": t1 - t0, "period1": t2 - t1, "quantiles": t3 - t2, "total": t3 - t0}}


def compare_tables(ours: dict, base: dict) -> dict:
    """Compare two renderings of Tables OA4/OA5 (``{"oa4": doc, "oa5": doc}``).

    The tables agree when every printed cell (:class:`sweep.tables.Column` format)
    and every count is identical; the largest raw difference is reported beside
    (root solvers that stop at float64 resolution differ in the last bits)."""
    from ..tables import TABLES

    cells, mismatches, worst = 0, [], 0.0
    for t in ("oa4", "oa5"):
        a, b = ours[t], base[t]
        for k in ("n_vectors", "n_admissible", "n_nonempty"):
            if k in a or k in b:
                cells += 1
                if a.get(k) != b.get(k):
                    mismatches.append(f"{t} {k}: ours {a.get(k)}, baseline {b.get(k)}")
        if len(a["rows"]) != len(b["rows"]):
            mismatches.append(f"{t}: {len(a['rows'])} rows vs {len(b['rows'])}")
            continue
        for ra, rb in zip(a["rows"], b["rows"]):
            for col in TABLES[t]["columns"]:
                cells += 1
                sa, sb = col.fmt(ra.get(col.key)), col.fmt(rb.get(col.key))
                if sa != sb:
                    mismatches.append(f"{t} {col.key} at {ra.get('eta', '-')}: ours {sa}, baseline {sb}")
                va, vb = ra.get(col.key), rb.get(col.key)
                if va is not None and vb is not None and math.isfinite(va) and math.isfinite(vb):
                    worst = max(worst, abs(float(va) - float(vb)))
    return dict(agree=not mismatches and cells > 0, cells=cells, mismatches=mismatches,
                max_abs_diff=worst)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points-per-axis", type=int, default=None)
    p.add_argument("--solver", default="find_root", choices=("find_root", "bisection"))
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    res = oa45_tables(a.points_per_axis, a.solver)
    if a.json:
        print(json.dumps(res, default=float))
    else:
        from ..tables import render

        for t in ("oa4", "oa5"):
            print(render(res[t], published=False))
        print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in res["seconds"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
