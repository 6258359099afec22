"""Does XLA's CPU backend compute ``period1`` the same at every backend optimization
level?  Run it before compiling any program of this project with a non-default
``xla_backend_optimization_level`` (tests once did, to save compile time).

    python benchmarks/xla_opt_levels.py [N] [--levels 0 1 2 3]

For each level: ``period1`` on N random admissible vectors against the program
built with XLA's default options (the equality contract of
``sweep.benchmarking.period1.within_contract``), and the terminal root h2*(s2) of
Prop. 3 on the F1 scan's skills of the first 64 vectors (the full-width solve of
``kernels.terminal.h2_prop3``) against the default build.  Exit status 1 when a
level disagrees.

Measured with jaxlib 0.10.2 on the 2-core development machine (N = 2,048, seed 13):
level 0 returns a Chandrupatla iterate two steps short of convergence labelled
"converged" (2 of the 8,256 scan skills checked here, 284 of all 264,192; h2* off by
up to 1.5e-4, F2 − λRδ = 4e-7 there instead of ~1e-17).  With a
``jax.debug.print`` in the loop body the same solve is right, so it is the compiled
loop, not the arithmetic.  It moves ``period1``'s answers on 4 lanes (F1(1) by
3e-8, h2* at the equilibrium by up to 1.2e-5), one of which loses its only symmetric
equilibrium.  Levels 1, 2 and 3 agree with the default bit for bit on these checks.
"""
import argparse
import sys

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=2048)
    ap.add_argument("--levels", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--seed", type=int, default=13)
    a = ap.parse_args(argv)
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    from kernels import period1_search as ps
    from kernels.params import make_params
    from kernels.period1 import P1_PARAMS, period1, period1_setup
    from kernels.terminal import h2_prop3
    from sweep.benchmarking import period1 as bench

    v = bench.admissible_vectors(a.n, seed=a.seed)
    cols = {k: jnp.asarray(x, jnp.float64) for k, x in v.items()}
    cols.update({k: jnp.full(a.n, x, jnp.float64) for k, x in bench.FIXED.items()})
    few = {k: x[:64] for k, x in cols.items()}

    def scan_roots(c):
        p = make_params(c, P1_PARAMS)
        su = period1_setup(p, P1_PARAMS)
        q1 = ps.fit(su.q1, 2)
        s2 = ps.g(q1.s1, jnp.linspace(0.0, 1.0, ps.SCAN_POINTS), q1.alpha1, q1.pi1, q1.gamma, q1.L1)
        r = h2_prop3(s2, ps.fit(su.q2, 2))
        return r.x, r.status

    def build(fn, args, level):
        opts = {} if level is None else {"xla_backend_optimization_level": level}
        return jax.jit(fn).lower(args).compile(opts)

    def numpy(tree):
        return jax.tree_util.tree_map(np.asarray, tree)

    base = numpy(build(period1, cols, None)(cols))
    base_x, base_st = numpy(build(scan_roots, few, None)(few))
    failed = False
    for level in a.levels:
        out = numpy(build(period1, cols, level)(cols))
        bad = bench.disagreements(out, base)
        x, stat = numpy(build(scan_roots, few, level)(few))
        dx = np.where(np.isnan(x) & np.isnan(base_x), 0.0, np.abs(x - base_x))
        n_dx = int(np.sum(dx > 1e-12)) + int(np.sum(stat != base_st))
        lanes = sorted({int(i) for idx in bad.values() for i in idx})
        print(f"level {level}: period1 lanes off the contract {len(lanes)} {lanes[:8]}"
              f"{' ' + str(sorted(bad)) if bad else ''}; scan roots off by > 1e-12 or another "
              f"status: {n_dx} of {x.size} (max {np.nanmax(dx):.2e})")
        failed |= bool(lanes) or n_dx > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
