"""Brute-force audit of the ``period1`` kernel (issue 17).

Draws admissible parameter vectors over the ranges of the paper's grids, half inside
the paper's region (s1 ∈ D1: every reachable s2 in D2, eq. OA1 and the monotone
policy hold) and half outside it (admissible A1–A4, s1 ∉ D1), adds every vector
named in the issue and the tests, runs the kernel (float64, one jit) and the
brute-force reference of ``tests/reference_bruteforce.py`` (2,001-point Φ1 matrix,
continuous refinement), and classifies every disagreement.

    python -m benchmarks.period1_audit --n 500 --workers 2 --out audit.json

Categories (a vector can have several):

* ``sym_count``      n_sym_eq differs
* ``sym_location``   h1*_min or h1*_max differs by more than 1e-6 and the brute
                     force does not verify the kernel's value as an equilibrium
* ``asym_missing``   the brute force has an asymmetric pair, the kernel none
* ``asym_false``     the kernel reports a pair that the brute force does not verify
* ``asym_location``  the kernel's pair differs from every brute-force pair by more
                     than 1e-6 and is not verified by the brute force
* ``asym_count``     n_asym_eq differs from the number of brute-force pairs
                     (informative: the kernel reports what its search found)
* ``undecidable``    the brute force saw a candidate whose deviation gain lies
                     between 1e-9 and 1e-6 relative (a tangency near the tolerance):
                     disagreements on such vectors are listed separately
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from tests import reference_bruteforce as bf  # noqa: E402

KEYS = bf.KEYS
PROFILE_BASE = dict(ell_a=1.0, ell_c=1.0, ell_kappa0=0.0, ell_kappa1=0.0, ell_normalize=1.0)
RANGES = dict(alpha1=(0.45, 0.85), pi1=(0.35, 0.9), phi=(0.3, 2.7), gamma=(0.02, 0.4),
              delta=(0.03, 0.6), lam_R=(2.0, 20.0), beta=(0.6, 1.0), b=(1.02, 1.5))


def sample(rng, n):
    p = {k: rng.uniform(lo, hi, n) for k, (lo, hi) in RANGES.items()}
    p["alpha2"] = p["alpha1"] + rng.uniform(0.0, 0.3, n) * (1.0 - p["alpha1"])
    p["pi2"] = p["pi1"] * rng.uniform(0.3, 1.0, n)
    p["eta"] = np.exp(rng.uniform(np.log(0.05), np.log(20.0), n))
    return p


def draw(n_in, n_out, seed):
    """(vectors, inside flags): n_in inside D1, n_out admissible outside D1."""
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    from kernels.catalog import get_kernel
    oa5 = jax.jit(get_kernel("coverage_oa5").fn)
    rng = np.random.default_rng(seed)
    inside, outside = [], []
    while len(inside) < n_in or len(outside) < n_out:
        p = sample(rng, 4096)
        cov = {k: np.asarray(v) for k, v in oa5({k: jnp.asarray(v) for k, v in p.items()}).items()}
        lower = np.maximum(cov["s_under"], cov["sbarbar1"])
        ok_in = cov["admissible"] & cov["D1_nonempty"] & (p["alpha1"] > lower + 1e-6)
        u = rng.uniform(0.0, 1.0, 4096)
        for i in np.flatnonzero(ok_in):
            if len(inside) < n_in:
                v = {k: float(p[k][i]) for k in KEYS if k != "s1"}
                v["s1"] = float(lower[i] + u[i] * (p["alpha1"][i] - lower[i]))
                inside.append(v)
        for i in range(4096):
            if len(outside) >= n_out:
                break
            v = {k: float(p[k][i]) for k in KEYS if k != "s1"}
            v["s1"] = float(u[i] * p["alpha1"][i])
            if bf.admissible(v) and not (ok_in[i] and v["s1"] > lower[i]):
                outside.append(v)
    return inside, outside


def named_vectors():
    """Every vector of issue 17 and of the period-1 tests."""
    from tests import test_period1_audit as t
    return [dict(v) for v in t.NAMED.values()]


def run_kernel(vectors, batch=64, order=0.0):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    from kernels.period1 import period1
    fn = jax.jit(period1)
    outs = []
    for s in range(0, len(vectors), batch):
        part = vectors[s:s + batch]
        pad = part + [part[-1]] * (batch - len(part))
        args = {k: jnp.asarray([{**PROFILE_BASE, **v}[k] for v in pad]) for k in (*KEYS, *PROFILE_BASE)}
        args["terminal_order"] = jnp.full(batch, order)
        o = {k: np.asarray(v) for k, v in fn(args).items()}
        outs += [{k: o[k][i].item() for k in o} for i in range(len(part))]
    return outs


def _brute(args):
    v, order = args
    t = time.time()
    g = bf.BruteForceGame(v, terminal_order=order).solve()
    return dict(sym=g.sym, asym=g.asym, marginal=[str(m) for m in g.marginal],
                seconds=time.time() - t)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=500, help="random admissible vectors (half inside D1)")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--order", type=float, default=0.0, help="terminal_order for both sides")
    ap.add_argument("--out", default=None, help="write every vector and result as JSON here")
    ap.add_argument("--brute-cache", default=None,
                    help="an earlier --out JSON: reuse its brute-force results for the same vectors "
                         "(to re-audit a changed kernel without redoing the reference)")
    a = ap.parse_args(argv)
    t0 = time.time()
    inside, outside = draw(a.n // 2, a.n - a.n // 2, a.seed)
    named = named_vectors()
    vectors = named + inside + outside
    region = ["named"] * len(named) + ["inside"] * len(inside) + ["outside"] * len(outside)
    t1 = time.time()
    kern = run_kernel(vectors, order=a.order)
    t2 = time.time()
    # spawn, not fork: the parent has JAX's threads running
    cache = {}
    if a.brute_cache:
        with open(a.brute_cache) as fh:
            cache = {json.dumps(r["vector"], sort_keys=True): r["brute"] for r in json.load(fh)["rows"]}
    todo = [i for i, v in enumerate(vectors) if json.dumps(v, sort_keys=True) not in cache]
    with ProcessPoolExecutor(a.workers, mp_context=multiprocessing.get_context("spawn")) as ex:
        fresh = dict(zip(todo, ex.map(_brute, [(vectors[i], a.order) for i in todo], chunksize=4)))
    brute = [fresh[i] if i in fresh else cache[json.dumps(v, sort_keys=True)] for i, v in enumerate(vectors)]
    t3 = time.time()
    rows = []
    counts = {}
    for v, reg, k, b in zip(vectors, region, kern, brute):
        game = None

        def verify(x, y, v=v):
            nonlocal game
            if game is None:
                game = bf.BruteForceGame(v, n=401, terminal_order=a.order)
            return game.verified(x, y)

        cats = bf.classify(k, b["sym"], b["asym"], verify)
        if b["marginal"] and cats:
            cats = ["undecidable"] + cats
        for c in cats:
            counts.setdefault(reg, {}).setdefault(c, 0)
            counts[reg][c] += 1
        counts.setdefault(reg, {}).setdefault("vectors", 0)
        counts[reg]["vectors"] += 1
        if not [c for c in cats if c != "asym_count"]:
            counts[reg].setdefault("agree", 0)
            counts[reg]["agree"] += 1
        rows.append(dict(region=reg, vector=v, categories=cats, brute=b,
                         kernel={kk: k[kk] for kk in ("n_sym_eq", "h1_star_min", "h1_star_max", "asym_eq",
                                                      "n_asym_eq", "asym_high", "asym_low", "in_D1",
                                                      "terminal_alternative", "terminal_order_matters")}))
    summary = dict(counts=counts, n=len(vectors), brute_reused=len(vectors) - len(todo), seconds=dict(draw=t1 - t0, kernel=t2 - t1, brute=t3 - t2),
                   brute_seconds_per_vector=float(np.mean([b["seconds"] for b in brute])))
    print(json.dumps(summary, indent=1))
    for r in rows:
        if [c for c in r["categories"] if c != "asym_count"]:
            print(r["region"], r["categories"], json.dumps(r["vector"]), r["kernel"],
                  "brute:", r["brute"]["sym"], r["brute"]["asym"], r["brute"]["marginal"])
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(dict(summary=summary, rows=rows), fh, indent=1, default=str)


if __name__ == "__main__":
    main()
