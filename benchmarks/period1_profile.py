"""Where ``period1_reference``'s time goes: each phase of the algorithm jitted and
timed on its own (warm, one call) on N random admissible vectors, float64.

    python benchmarks/period1_profile.py [N]

Phases: the setup (admissibility, single-firm benchmark), the 129-point F1 scan with
its continuation values (a terminal solve with forward-mode derivative per point),
the Chandrupatla refinement of F1's sign changes (4 slots), the deviation check of
the symmetric candidates (best replies for 6 slots), the 129×129 best-reply scan,
the 2-cycle refinement (2 slots), the verification grid (61 points) and its best
replies (8 starts); then one whole game and the whole kernel (which adds the
second terminal-order solve when any lane of the batch is flagged).  Also prints
how many lanes actually need the slot phases.  Phase times do not add up to the
kernel: each phase is compiled apart and the load average moves.
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

import kernels.period1_reference as R  # noqa: E402
from kernels.params import make_params  # noqa: E402
from kernels.period1 import P1_PARAMS, _broadcast_all, period1_setup  # noqa: E402
from sweep.benchmarking.period1 import FIXED, admissible_vectors  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
a = {k: jnp.asarray(v) for k, v in admissible_vectors(n).items()}
a.update({k: jnp.full(n, v) for k, v in FIXED.items()})


def setup(a):
    p = _broadcast_all(make_params(a, P1_PARAMS))
    su = period1_setup(p, P1_PARAMS)
    return su.q1, su.q2._replace(zero_first=p["terminal_order"])


def tm(name, f, *x):
    c = jax.jit(f).lower(*x).compile()
    out = c(*x)
    jax.block_until_ready(out)
    t = time.time()
    jax.block_until_ready(c(*x))
    dt = time.time() - t
    print(f"{name:34s} {dt * 1e3:9.1f} ms {dt / n * 1e6:8.1f} µs/vector (load {os.getloadavg()[0]:.1f})", flush=True)
    return out


q1, q2 = tm("setup", setup, a)
grid = tm("F1 scan (129 points)", R.grid_values, q1, q2)
roots, has, ncross = tm("refine F1 sign changes (4 slots)", R.refine_crossings, q1, q2, grid)
print("   lanes by number of interior sign changes:", np.bincount(np.asarray(ncross)).tolist())
tm("symmetric_equilibria (all)", R.symmetric_equilibria, q1, q2, grid)


def sym_br(q1, q2, grid):
    y = jnp.broadcast_to(jnp.linspace(0.0, 1.0, 6), q1.s1.shape + (6,))
    return R.best_response(y, q1, q2, grid)


tm("  of which best replies (6 slots)", sym_br, q1, q2, grid)


def scan(grid, q2):
    r = R.grid_reply_scan(grid, q2)
    return R.interior_two_cycles(r, grid.xs)


yi, sl, hi = tm("best-reply scan 129×129 + 2-cycles", scan, grid, q2)
print("   interior 2-cycle slots in use:", np.asarray(hi).sum(0).tolist(), "of", n, "lanes")
tm("2-cycle refinement (2 slots)", lambda *x: R._two_cycle_refine(*x), yi, sl, hi, q1, q2, grid)
vg = tm("verification grid (61 points)", R.verification_grid, q1, q2)


def ver_br(q1, q2, vg):
    y = jnp.broadcast_to(jnp.linspace(0.0, 1.0, 8), q1.s1.shape + (8,))
    return R.best_response(y, q1, q2, vg, steps=R.VGOLDEN)


tm("verification best replies (8 starts)", ver_br, q1, q2, vg)


def game(q1, q2):
    g = R.grid_values(q1, q2)
    s = R.symmetric_equilibria(q1, q2, g)
    return R.asymmetric_search(q1, q2, g, s.pop("corner_replies"), True), s


tm("one game (symmetric + asymmetric)", game, q1, q2)
o = tm("period1_reference (whole kernel)", R.period1_reference, a)
print("   terminal_alternative lanes (second solve):", int(np.asarray(o["terminal_alternative"]).sum()),
      "asym_eq:", int(np.asarray(o["asym_eq"]).sum()), "n_sym_eq counts:", np.bincount(np.asarray(o["n_sym_eq"])).tolist())
