"""``terminal`` against ``terminal_bonus`` throughput, interleaved in one process.

On a shared machine two kernels timed one after the other (as ``sweep bench`` does)
see different loads; interleaving the timed calls round by round keeps the ratio
meaningful.  Inputs: the first n vectors of the paper grid
(sweep.benchmarking.inputs.kernel_inputs, ω uniform on [0, 0.1]); the fixed
parameters (β = 0.95 and the baseline learning profile) are passed either as scalars,
as ``sweep bench`` and the engine pass fixed parameters, or (``--arrays``) as
per-vector arrays.

    python -m benchmarks.terminal_bonus_ratio [--n 16384] [--rounds 7] [--arrays]
"""
from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from kernels.catalog import get_kernel  # noqa: E402
from sweep.benchmarking.inputs import kernel_inputs  # noqa: E402

FIXED = dict(beta=0.95, ell_a=1.0, ell_c=1.0, ell_kappa0=0.0, ell_kappa1=0.0, ell_normalize=1.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=16384)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--arrays", action="store_true", help="fixed parameters as per-vector arrays")
    a = ap.parse_args()
    cols = kernel_inputs("terminal_bonus", a.n)
    for k, v in FIXED.items():
        cols[k] = np.full(a.n, v) if a.arrays else np.float64(v)
    tb_args = {k: jnp.asarray(v) for k, v in cols.items()}
    t_args = {k: v for k, v in tb_args.items() if k != "omega"}
    fns = {"terminal": (jax.jit(get_kernel("terminal").fn), t_args),
           "terminal_bonus": (jax.jit(get_kernel("terminal_bonus").fn), tb_args)}
    for f, x in fns.values():
        jax.block_until_ready(f(x))             # compile and warm up
    times = {k: [] for k in fns}
    for _ in range(a.rounds):
        for k, (f, x) in fns.items():
            t = time.perf_counter()
            jax.block_until_ready(f(x))
            times[k].append(time.perf_counter() - t)
    med = {k: float(np.median(v)) for k, v in times.items()}
    rates = {k: a.n / v for k, v in med.items()}
    ratios = [tb / t for t, tb in zip(times["terminal"], times["terminal_bonus"])]
    print(f"n={a.n} rounds={a.rounds} fixed parameters as {'arrays' if a.arrays else 'scalars'}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(", ".join(f"{k} {r:,.0f} vectors/s" for k, r in rates.items()))
    print(f"ratio of medians {med['terminal_bonus'] / med['terminal']:.2f}; per round "
          + " ".join(f"{r:.2f}" for r in ratios))


if __name__ == "__main__":
    main()
