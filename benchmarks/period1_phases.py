"""Where the fast ``period1`` kernel's time goes: its phases, cumulatively, on blocks
of :data:`kernels.period1.GAME_BLOCK` lanes as the kernel runs them, float64 (or float32), one
XLA device, random admissible vectors, the learning profile and ``terminal_order``
passed 0-d (as the engine passes fixed parameters).

    python benchmarks/period1_phases.py [N] [--seed 13] [--repeats 3]

Each line is one jitted function that runs the phases up to that point (each is
compiled apart, so a phase costs the difference between its line and the one it
builds on); best of ``repeats`` passes over N/GAME_BLOCK blocks.  Then:

* the cost of one continuation evaluation (values at 190 engagement levels per
  lane, the two scan grids' size) in bulk, without and with forward-mode
  derivative, as ns per point: what a phase would cost if it were only its
  evaluations;
* the whole kernel (``jax.jit(period1)`` on all N lanes at once), with its lower +
  compile seconds (in a process without a persistent compilation cache).

Single-threaded: one XLA device on one thread (set here unless XLA_FLAGS is set).
With XLA's default threads, independent phases of the program (the symmetric
check and the reply scan) run concurrently on the machine's cores, so a phase's
line moves by its share of the critical path, not by its cost.  Pin the process
to one core (``taskset -c 1``) for figures that are per core.  Run it on a quiet
machine; on a shared one the lines move by ±20% between runs.

    taskset -c 1 python benchmarks/period1_phases.py 4096 [--dtype float32]
"""
import argparse
import os
import sys
import time

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1 "
                      "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

from kernels import period1_search as S  # noqa: E402
from kernels.params import make_params  # noqa: E402
from kernels.period1 import GAME_BLOCK, P1_PARAMS, _broadcast_all, period1, period1_setup, symmetric_equilibria  # noqa: E402
from sweep.benchmarking.period1 import FIXED, admissible_vectors  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    a = ap.parse_args(argv)
    n, blk = a.n, GAME_BLOCK
    dt = jnp.dtype(a.dtype)
    lanes = {k: jnp.asarray(v, dt) for k, v in admissible_vectors(n, seed=a.seed).items()}
    fixed = {k: jnp.asarray(v, dt) for k, v in FIXED.items()}
    blocks = [dict({k: v[i * blk:(i + 1) * blk] for k, v in lanes.items()}, **fixed)
              for i in range(n // blk)]

    def setup(p):
        p = _broadcast_all(make_params(p, P1_PARAMS))
        su = period1_setup(p, P1_PARAMS)
        return su.q1, su.q2._replace(zero_first=p["terminal_order"])

    def grids(p):
        q1, q2 = setup(p)
        return (q1, q2) + S.scan_grids(q1, q2)

    def refine(p):
        q1, q2, g, _ = grids(p)
        return S.refine_crossings(q1, q2, g)

    def corner_replies(p):
        q1, q2, g, _ = grids(p)
        y = jnp.broadcast_to(jnp.array([0.0, 1.0], q1.s1.dtype), q1.s1.shape + (2,))
        return S.best_response(y, q1, q2, g, with_values=True)

    def symmetric(p):
        q1, q2, g, _ = grids(p)
        return symmetric_equilibria(q1, q2, g)

    def reply_scan(p):
        q1, q2, g, _ = grids(p)
        return S.grid_reply_scan(g, q2)

    def game(p):
        q1, q2, g, vg = grids(p)
        s = symmetric_equilibria(q1, q2, g)
        return S.asymmetric_search(q1, q2, g, vg, s.pop("corner_replies"), s.pop("corner_values"), True), s

    def best_of(f, args_list):
        jax.block_until_ready(f(args_list[0]))
        best = float("inf")
        for _ in range(a.repeats):
            t = time.perf_counter()
            for x in args_list:
                jax.block_until_ready(f(x))
            best = min(best, time.perf_counter() - t)
        return best

    print(f"{n} random admissible vectors (seed {a.seed}) in blocks of {blk}, {a.dtype}, "
          f"jax {jax.__version__}, {os.cpu_count()} CPUs")
    for name, f in (("setup", setup), ("+ scan grids (129 + 61 points)", grids),
                    ("grids + refine F1 crossings", refine), ("grids + corner best replies", corner_replies),
                    ("grids + symmetric check (all)", symmetric), ("grids + 129x129 reply scan", reply_scan),
                    ("one game (symmetric + asymmetric)", game)):
        dt = best_of(jax.jit(f), blocks)
        print(f"  {name:36s} {dt / n * 1e6:7.1f} µs/vector (load {os.getloadavg()[0]:.1f})", flush=True)

    k = S.SCAN_POINTS + S.VG
    xs = jnp.linspace(0.0, 1.0, k, dtype=lanes["s1"].dtype)

    def values(p):
        q1, q2 = setup(p)
        return S.values_at(jnp.broadcast_to(xs, q1.s1.shape + (k,)), q1, q2)

    def gains(p):
        q1, q2 = setup(p)
        return S.engagement_gain1(jnp.broadcast_to(xs, q1.s1.shape + (k,)), q1, q2)

    for name, f in (("continuation values", values), ("values and F1 (forward mode)", gains)):
        dt = best_of(jax.jit(f), blocks)
        print(f"  {name:36s} {dt / n / k * 1e9:7.1f} ns per point", flush=True)

    whole = dict(lanes, **fixed)
    t = time.perf_counter()
    c = jax.jit(period1).lower(whole).compile()
    comp = time.perf_counter() - t
    dt = best_of(lambda x: c(x), [whole])
    print(f"  {'whole kernel (all lanes, one call)':36s} {dt / n * 1e6:7.1f} µs/vector, lower + compile "
          f"{comp:.1f} s (load {os.getloadavg()[0]:.1f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
