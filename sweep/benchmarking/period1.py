"""``period1`` against its reference algorithm and against the scalar scipy loop, on
the same random admissible vectors, in one process (so the ratios share the load).

The ``period1_speedup`` section of ``sweep bench`` (runs when ``period1`` is among
``--kernels``; ``--skip period1_speedup`` skips it):

* ``period1`` and ``period1_reference`` (the algorithm before the speed-up, frozen
  in ``kernels.period1_reference``) in float64 on the same n vectors: vectors/s
  (median of the bench's repeats, all local devices, compile excluded), their
  ratio, and how many lanes' outputs differ beyond the equality contract
  (flags, counts, statuses identical; floats within 1e-9·(1 + |reference|), the
  asymmetric pair's location and payoffs within :data:`LOOSE`);
* ``period1`` in float32 on the same vectors: vectors/s;
* the scalar scipy reference (:mod:`sweep.benchmarking.period1_scalar`: F1 on an
  801-point scan, ``brentq`` roots, ``minimize_scalar`` deviation checks) as a
  Python loop over a sample of the vectors: vectors/s and its agreement on
  ``n_sym_eq``.  It computes the symmetric equilibria only (no asymmetric search),
  so the ratio understates what the kernel does per vector.

Vectors: :func:`sample_vectors` draws (the paper's ranges, A1 built in) kept
where A2–A4 hold (docs/model.md §3), seed 0.  Without scipy (an optional extra)
the scipy loop is skipped and says so.
"""
from __future__ import annotations

import os
import time

import numpy as np

from .period1_vectors import admissible, sample_vectors

#: the section's name in ``sweep bench`` (see :mod:`sweep.benchmarking.sections`)
NAME = "period1_speedup"

KEYS = ("alpha1", "alpha2", "pi1", "pi2", "phi", "gamma", "delta", "lam_R", "beta", "b", "eta", "s1")
FIXED = dict(ell_a=1.0, ell_c=1.0, ell_kappa0=0.0, ell_kappa1=0.0, ell_normalize=1.0, terminal_order=0.0)
TOL = 1e-9
#: the asymmetric pair's location and payoffs: the reference locates a best reply by golden
#: section, resolved to ~1e-7 (the fast kernel by Brent's method, to ~1.5e-8; both only to rounding
#: where Φ1 is flat), so compared wider
#: (tests/test_period1_equality.py: the fast kernel and the reference differ by up
#: to 5.1e-7 there on its named vectors)
LOOSE = {"asym_high": (1e-5, 0.0), "asym_low": (1e-5, 0.0),
         "payoff_high": (0.0, 1e-7), "payoff_low": (0.0, 1e-7)}


def admissible_vectors(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    cols = {k: np.empty(0) for k in KEYS}
    while len(cols["s1"]) < n:
        p = sample_vectors(rng, 2 * n)
        keep = admissible(p)
        cols = {k: np.concatenate([cols[k], p[k][keep]]) for k in KEYS}
    return {k: v[:n] for k, v in cols.items()}


def within_contract(name: str, fast: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per lane: does output ``name`` of the fast kernel meet the equality contract
    against the reference?  Counts, statuses and flags identical; floats within
    1e-9·(1 + |reference|), or :data:`LOOSE` for the asymmetric pair; NaN only
    where the reference is NaN."""
    if fast.dtype.kind != "f":
        return fast == ref
    atol, rtol = LOOSE.get(name, (TOL, TOL))
    return (np.isnan(fast) & np.isnan(ref)) | (np.abs(fast - ref) <= atol + rtol * np.abs(ref))


def disagreements(fast: dict, slow: dict) -> dict:
    """Output name → indices of the lanes where ``fast`` breaks the contract."""
    bad = {}
    for k, b in slow.items():
        lanes = np.flatnonzero(~within_contract(k, fast[k], b))
        if lanes.size:
            bad[k] = lanes
    return bad


def measure(n: int, repeats: int, scalar_n: int, dtypes=("float64", "float32")) -> dict:
    import jax

    from kernels import get_kernel

    from .measure import sharded_kernel, time_calls

    cols = admissible_vectors(n)
    res = {"n_vectors": n, "scalar_n": scalar_n, "loadavg_before": list(os.getloadavg())}
    outs = {}
    runs = [("period1", "float64"), ("period1_reference", "float64")]
    runs += [("period1", dt) for dt in dtypes if dt != "float64"]
    for kernel, dt in runs:
        t0 = time.perf_counter()
        call, args, _ = sharded_kernel(get_kernel(kernel).fn, cols, FIXED, dt)
        out = jax.block_until_ready(call(*args))          # compiles
        first = time.perf_counter() - t0
        reps = repeats if kernel == "period1" else max(1, min(2, repeats))
        t = time_calls(call, args, reps, warmup=0)
        t.update(vectors_per_s=n / t["median_s"], first_call_s=first)
        res[f"{kernel}_{dt}"] = t
        if dt == "float64":
            outs[kernel] = {k: np.asarray(v)[:n] for k, v in out.items()}
    res["speedup_float64"] = (res["period1_float64"]["vectors_per_s"]
                              / res["period1_reference_float64"]["vectors_per_s"])
    res["disagreements"] = {k: int(v.size) for k, v in
                            disagreements(outs["period1"], outs["period1_reference"]).items()}
    if res["disagreements"]:   # a disagreement is a bench failure (exit status 1 where supported)
        res["failed"] = f"period1 differs from period1_reference: {res['disagreements']}"
    # the scalar scipy loop on the first scalar_n vectors (scipy is an optional extra)
    try:
        from . import period1_scalar as scalar
    except ImportError:
        res["scalar_loop"] = {"skipped": "scipy is not installed"}
        res["loadavg_after"] = list(os.getloadavg())
        return res
    t0 = time.perf_counter()
    counts = []
    for i in range(scalar_n):
        game = scalar.Period1Game({**{k: float(cols[k][i]) for k in KEYS}, **FIXED})
        counts.append(len(game.symmetric_equilibria()))
    dt_s = time.perf_counter() - t0
    agree = int(sum(c == int(outs["period1"]["n_sym_eq"][i]) for i, c in enumerate(counts)))
    res["scalar_loop"] = {"seconds": dt_s, "vectors_per_s": scalar_n / dt_s, "n_sym_eq_agree": agree}
    res["speedup_vs_scalar"] = res["period1_float64"]["vectors_per_s"] / res["scalar_loop"]["vectors_per_s"]
    res["loadavg_after"] = list(os.getloadavg())
    return res


def run(cfg: dict, ctx: dict) -> dict:
    """The section: the bench's period1 sample size, its dtypes and repeats."""
    if "period1" not in cfg.get("kernels", ()):
        return {"skipped": "period1 is not among --kernels"}
    n = int(cfg.get("n_per_kernel", {}).get("period1", 4096))
    scalar_n = 3 if cfg.get("quick") else 20
    res = measure(n, int(cfg["repeats"]), scalar_n, tuple(cfg["dtypes"]))
    ctx["log"](f"period1_speedup: {res['speedup_float64']:.1f}x the reference, "
               f"{res['speedup_vs_scalar']:.0f}x the scipy loop, disagreements {res['disagreements']}")
    return res


def markdown(result: dict) -> str:
    """The section's part of the markdown report."""
    if "skipped" in result:
        return f"## period1 speed-up\n\nSkipped: {result['skipped']}.\n"
    lines = ["## period1 speed-up (same admissible vectors, one process)", "",
             f"{result['n_vectors']} random admissible vectors; load average "
             f"{result['loadavg_before'][0]:.1f} before, {result['loadavg_after'][0]:.1f} after.", "",
             "| what | dtype | vectors/s | median s | first call s (compile) |", "|---|---|---|---|---|"]
    for key, r in result.items():
        if isinstance(r, dict) and "median_s" in r:
            kernel, dt = key.rsplit("_", 1)
            lines.append(f"| {kernel} | {dt} | {r['vectors_per_s']:,.0f} | {r['median_s']:.3f} | {r['first_call_s']:.1f} |")
    s = result["scalar_loop"]
    if "skipped" in s:
        vs = f"scipy loop not measured: {s['skipped']}."
    else:
        lines.append(f"| scipy scalar loop (symmetric equilibria only) | float64 | {s['vectors_per_s']:,.2f} | "
                     f"{s['seconds']:.1f} for {result['scalar_n']} | |")
        vs = (f"period1 ÷ scipy loop: **{result['speedup_vs_scalar']:,.0f}×** "
              f"(n_sym_eq agrees on {s['n_sym_eq_agree']} of {result['scalar_n']}).")
    lines += ["", f"period1 ÷ period1_reference (float64): **{result['speedup_float64']:.1f}×**; " + vs,
              f"Lanes differing from the reference beyond the contract: "
              f"{result['disagreements'] or 'none'}."]
    return "\n".join(lines) + "\n"
