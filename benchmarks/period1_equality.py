"""The fast ``period1`` against ``period1_reference`` on N random admissible vectors
(default 20,000), float64, same vectors, same run.

    python benchmarks/period1_equality.py [N] [--seed S] [--batch B] [--all]

Vectors: ``sweep.benchmarking.period1_vectors.sample_vectors`` draws kept where A1–A4 hold
(``--all``: every draw, most of them outside the paper's region).  Both kernels are
compiled once for batches of B lanes (default 4,096) and run batch by batch.
Prints, per output, the number of lanes that differ beyond the contract (counts,
statuses and flags identical; floats within 1e-9·(1 + |reference|), NaN only
against NaN; the asymmetric pair's location and payoffs within
``sweep.benchmarking.period1.LOOSE``, with
the count beyond 1e-9 printed too), the largest float difference, the throughput of each kernel (best
of the batches, warm) and their ratio, with the load average.  Exit status 1 on
any disagreement (the lanes are printed).
"""
import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

from kernels.period1 import period1  # noqa: E402
from kernels.period1_reference import period1_reference  # noqa: E402
from sweep.benchmarking.period1 import TOL, within_contract  # noqa: E402
from sweep.benchmarking.period1_vectors import sample_vectors  # noqa: E402
from tests.reference_bruteforce import admissible  # noqa: E402

KEYS = ("alpha1", "alpha2", "pi1", "pi2", "phi", "gamma", "delta", "lam_R", "beta", "b", "eta", "s1")
PROFILE = dict(ell_a=1.0, ell_c=1.0, ell_kappa0=0.0, ell_kappa1=0.0, ell_normalize=1.0,
               terminal_order=0.0)


def vectors(n, seed, only_admissible):
    rng = np.random.default_rng(seed)
    cols = {k: [] for k in KEYS}
    got = 0
    while got < n:
        p = sample_vectors(rng, 2 * n)
        keep = [i for i in range(2 * n)
                if not only_admissible or admissible({k: float(p[k][i]) for k in KEYS})]
        for k in KEYS:
            cols[k].extend(p[k][keep].tolist())
        got += len(keep)
    return {k: np.asarray(v[:n]) for k, v in cols.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--all", action="store_true", help="keep inadmissible draws too")
    a = ap.parse_args(argv)
    p = vectors(a.n, a.seed, not a.all)
    nb = -(-a.n // a.batch)
    pad = nb * a.batch - a.n
    cols = {k: np.concatenate([v, np.repeat(v[-1:], pad)]) for k, v in p.items()}
    cols.update({k: np.full(nb * a.batch, v) for k, v in PROFILE.items()})

    def batch(i):
        return {k: jnp.asarray(v[i * a.batch:(i + 1) * a.batch]) for k, v in cols.items()}

    results, timing = {}, {}
    for name, fn in (("period1", period1), ("period1_reference", period1_reference)):
        t = time.time()
        f = jax.jit(fn).lower(batch(0)).compile()
        tc = time.time() - t
        outs, best = [], float("inf")
        for i in range(nb):
            x = batch(i)
            t = time.time()
            o = jax.block_until_ready(f(x))
            best = min(best, time.time() - t)
            outs.append({k: np.asarray(v) for k, v in o.items()})
        results[name] = {k: np.concatenate([o[k] for o in outs])[:a.n] for k in outs[0]}
        timing[name] = (tc, a.batch / best, os.getloadavg()[0])
        print(f"{name}: compile {tc:.1f} s, {a.batch / best:,.0f} vectors/s "
              f"(best of {nb} batches of {a.batch}; load {os.getloadavg()[0]:.1f})", flush=True)
    fast, slow = results["period1"], results["period1_reference"]
    bad = {}
    for k in slow:
        x, y = fast[k], slow[k]
        if x.dtype.kind == "f":
            both = ~np.isnan(x) & ~np.isnan(y)
            same = within_contract(k, x, y)
            strict = (np.isnan(x) & np.isnan(y)) | (np.abs(x - y) <= TOL * (1 + np.abs(y)))
            dmax = float(np.max(np.abs(x - y)[both])) if both.any() else 0.0
            print(f"  {k:24s} max |diff| {dmax:.2e}  disagreements {int((~same).sum())}"
                  f"  (beyond 1e-9: {int((~strict).sum())})")
        else:
            same = within_contract(k, x, y)
            print(f"  {k:24s} {'':25s}disagreements {int((~same).sum())}")
        if not same.all():
            bad[k] = np.flatnonzero(~same)
    adm = int(slow["admissible"].sum())
    print(f"{a.n} vectors ({adm} admissible), seed {a.seed}: "
          f"{'IDENTICAL within the contract' if not bad else 'DISAGREE: ' + str({k: v[:20].tolist() for k, v in bad.items()})}")
    print(f"speed-up period1 / period1_reference: {timing['period1'][1] / timing['period1_reference'][1]:.1f}x; "
          f"n_sym_eq counts {np.bincount(slow['n_sym_eq'].astype(int)).tolist()}, asym_eq {int(slow['asym_eq'].sum())}, "
          f"terminal_alternative {int(slow['terminal_alternative'].sum())}, "
          f"terminal_order_matters {int(slow['terminal_order_matters'].sum())}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
