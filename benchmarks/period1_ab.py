"""A/B of the ``period1`` kernel from two source trees in one process: the same random
admissible vectors, both programs compiled, then timed batch by batch in alternation,
so the load of a shared machine falls on both alike (ratios are what count there).

    git archive main kernels sweep | tar -x -C A     # the "before" tree
    git archive HEAD kernels sweep | tar -x -C B     # the "after" tree
    python benchmarks/period1_ab.py A B [N] [--batch 4096] [--seed 13] [--dtype float64]

Prints each tree's compile seconds and best-batch vectors/s, their ratio and the load
average, and the number of lanes where the two disagree beyond the equality contract
(``sweep.benchmarking.period1.within_contract``, taken from tree B).  The learning
profile is passed per lane, as ``benchmarks/period1_equality.py`` passes it.
"""
import argparse
import os
import sys
import time

import numpy as np


def load(tree):
    """``period1`` and the benchmarking helpers of one tree (fresh imports)."""
    sys.path.insert(0, os.path.abspath(tree))
    for m in [k for k in sys.modules if k.split(".")[0] in ("kernels", "sweep")]:
        del sys.modules[m]
    from kernels.period1 import period1
    from sweep.benchmarking import period1 as bench
    import kernels
    assert kernels.__file__.startswith(os.path.abspath(tree)), kernels.__file__
    sys.path.pop(0)
    return period1, bench


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("n", nargs="?", type=int, default=8192)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args(argv)
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    fns, bench = [], None
    for tree in (a.a, a.b):
        fn, bench = load(tree)
        fns.append(fn)
    v = bench.admissible_vectors(a.n, seed=a.seed)
    cols = {k: jnp.asarray(x, a.dtype) for k, x in v.items()}
    cols.update({k: jnp.full(a.n, x, a.dtype) for k, x in bench.FIXED.items()})
    nb = a.n // a.batch
    assert nb >= 1, "N must be at least one batch"

    def batch(i):
        return {k: x[i * a.batch:(i + 1) * a.batch] for k, x in cols.items()}

    compiled = []
    for tree, fn in zip((a.a, a.b), fns):
        t = time.time()
        compiled.append(jax.jit(fn).lower(batch(0)).compile())
        print(f"{tree}: compile {time.time() - t:.1f} s (load {os.getloadavg()[0]:.1f})", flush=True)
    best, outs = [float("inf")] * 2, [[], []]
    for rep in range(a.repeats):
        for w, f in enumerate(compiled):
            for i in range(nb):
                x = batch(i)
                t = time.time()
                o = jax.block_until_ready(f(x))
                best[w] = min(best[w], time.time() - t)
                if rep == 0:
                    outs[w].append({k: np.asarray(y) for k, y in o.items()})
    res = [{k: np.concatenate([o[k] for o in out]) for k in out[0]} for out in outs]
    for tree, b in zip((a.a, a.b), best):
        print(f"{tree}: {a.batch / b:,.0f} vectors/s ({a.dtype}, best of {nb} batches x {a.repeats})")
    bad = {k: int((~bench.within_contract(k, res[1][k], res[0][k])).sum()) for k in res[0]}
    bad = {k: c for k, c in bad.items() if c}
    print(f"speed ratio B/A {best[0] / best[1]:.2f}; load {os.getloadavg()[0]:.1f}; "
          f"lanes beyond the contract: {bad or 'none'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
