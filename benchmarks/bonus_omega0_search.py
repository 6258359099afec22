"""Search for period-1 vectors where ``period1`` and ``period1_bonus`` at ω = 0 differ
(docs/model.md §9: the base terminal selection is not always an equilibrium off D2).

Step 1 (cheap, terminal kernels only): random admissible period-1 vectors of the
paper's ranges; at the reachable skills s2 = g(s1, x; A1) for x on a 17-point grid,
``terminal`` and ``terminal_bonus`` (ω = 0) are compared; a vector is kept when their
selected h2* differ at some reachable s2 (there the continuation values of the two
period-1 kernels differ); those that differ at x = 0 come first, largest η first.
Step 2: ``period1`` and ``period1_bonus`` (ω = 0) on the first ``--keep`` kept vectors;
each is printed with both kernels' h1*, counts and statuses and its full-precision
parameters, ready to paste into tests/test_bonus.py.  (Run with ``--keep 32``: all 32
had h1* = 1 in both kernels; the test's vector OMEGA0_P1 is the first of them.)

    python -m benchmarks.bonus_omega0_search [--n 20000] [--seed 0] [--keep 32]

Not part of the test suite: it compiles both period-1 kernels (minutes on 2 cores).
"""
from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from kernels.catalog import get_kernel  # noqa: E402
from sweep.benchmarking.period1_vectors import admissible, sample_vectors  # noqa: E402

KEYS = ("alpha1", "alpha2", "pi1", "pi2", "phi", "gamma", "delta", "lam_R", "beta", "b", "eta", "s1")
PROFILE = dict(ell_a=1.0, ell_c=1.0, ell_kappa0=0.0, ell_kappa1=0.0, ell_normalize=1.0)
NX = 17
LANES = 4096


def g1(p, x):
    L1 = p["phi"] * p["pi1"] * (1 - p["pi1"])
    s, a = p["s1"][:, None], p["alpha1"][:, None]
    step = (L1[:, None] * x - p["gamma"][:, None] * (1 - x) * (1 - p["pi1"][:, None])) * (a - s)
    return np.maximum(s + step, 0.0)


def batched(fn, args, lanes):
    """fn on fixed-size chunks of ``lanes`` (one compile), outputs concatenated."""
    n = len(next(iter(args.values())))
    out, compiled = {}, None
    for lo in range(0, n, lanes):
        chunk = {}
        for k, v in args.items():
            c = v[lo:lo + lanes]
            chunk[k] = jnp.asarray(np.pad(c, (0, lanes - len(c)), mode="edge"))
        if compiled is None:
            compiled = jax.jit(fn).lower(chunk).compile()
        for k, v in compiled(chunk).items():
            out.setdefault(k, []).append(np.asarray(v)[:min(lanes, n - lo)])
    return {k: np.concatenate(v) for k, v in out.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=int, default=16, help="period-1 vectors to evaluate")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    p = sample_vectors(rng, a.n)
    ok = admissible(p)
    p = {k: v[ok] for k, v in p.items()}
    n = len(p["s1"])
    xs = np.linspace(0.0, 1.0, NX)
    s2 = g1(p, xs)                                             # (n, NX)
    t_args = {k: np.repeat(p[k], NX) for k in ("alpha2", "pi2", "phi", "gamma", "delta", "lam_R",
                                                "beta", "b", "eta")}
    t_args["s2"] = s2.reshape(-1)
    t_args.update({k: np.full(n * NX, v) for k, v in PROFILE.items()})
    t = batched(get_kernel("terminal").fn, t_args, LANES)
    tb = batched(get_kernel("terminal_bonus").fn, {**t_args, "omega": np.zeros(n * NX)}, LANES)
    h, hb = t["h2_star"].reshape(n, NX), tb["h2_star"].reshape(n, NX)
    # a real difference (not the last digits of a root): another branch or NaN on one side
    d = ~((np.abs(h - hb) <= 1e-6) | (np.isnan(h) & np.isnan(hb)))
    differ = np.any(d, axis=1)
    print(f"{n} admissible vectors, {differ.sum()} with a reachable s2 where the terminal selections differ")
    # the rows where it differs at low engagement (x = 0, s2 = g(s1,0)) first, weak
    # responses (large η, where h1* is low) first among them: there the difference
    # reaches the period-1 equilibrium
    order = np.lexsort((-p["eta"], ~d[:, 0]))
    idx = order[differ[order]][:a.keep]
    for i in idx:
        print(f"  row {i}: eta={p['eta'][i]:.3g} differs at x = {xs[d[i]]}, "
              f"terminal h2* {h[i][d[i]]}, terminal_bonus h2* {hb[i][d[i]]}")
    if not len(idx):
        return
    k1 = 16
    p1_args = {k: p[k][idx] for k in KEYS}
    p1_args.update({k: np.full(len(idx), v) for k, v in PROFILE.items()})
    base = batched(get_kernel("period1").fn, p1_args, k1)
    bon = batched(get_kernel("period1_bonus").fn, {**p1_args, "omega": np.zeros(len(idx))}, k1)
    for j, i in enumerate(idx):
        print(f"row {i}: period1 h1*={base['h1_star'][j]!r} n_sym={base['n_sym_eq'][j]} "
              f"status={base['status_h1_star'][j]} | period1_bonus h1*={bon['h1_star'][j]!r} "
              f"n_sym={bon['n_sym_eq'][j]} n_nopay={bon['n_nopay_eq'][j]} status={bon['status_h1_star'][j]} "
              f"cont_missing={bon['cont_missing'][j]}")
        print("   dict(" + ", ".join(f"{k}={float(p[k][i])!r}" for k in KEYS) + ")")


if __name__ == "__main__":
    main()
