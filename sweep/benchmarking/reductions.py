"""Reductions against the engine's kernel-only figure and against rows, on one grid,
in one process (so the ratios share the machine's load).

    python -m sweep.benchmarking.reductions [--points-per-axis K] [--repeats R] [--json]

and the ``reductions`` section of ``sweep bench`` (skipped with the ``engine``
section, beside which it is measured).

Figures (vectors per second, median of R warm passes; compile excluded: every
function is compiled once before timing):

* ``kernel_only``: the :class:`~sweep.runner.ChunkRunner` pass of the engine's
  compute path (stage table + every chunk, waited for; no host work), as in
  ``sweep bench``'s engine figure;
* ``reduce_chunk_pass``: the same pass through the device part of the OA4/OA5
  reductions (:data:`sweep.tables.REDUCE_OA45`), partials copied to the host;
* ``reduce_run``: ``sweep.engine.run`` of the reduction spec into a fresh
  directory: chunk pass, partial files, merge, exact-quantile narrowing passes and
  summaries, i.e. what ``sweep reproduce oa5`` runs;
* ``rows6_run``: ``run`` keeping 6 outputs as rows (Parquet).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time

import numpy as np

SIX = ["admissible", "D1_nonempty", "rho1", "rho1_D", "rho1_F", "sbarbar1"]


def _median_time(fn, repeats: int) -> float:
    fn()  # warm: compiles
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def measure(points_per_axis=None, repeats: int = 3, dtype: str = "float64") -> dict:
    import jax

    from sweep.engine import ChunkRunner, run
    from sweep.reproduce import paper_spec
    from sweep.sinks import Combined, sinks_for

    plain = paper_spec("oa5", points_per_axis, dtype)
    red = paper_spec("oa5", points_per_axis, dtype, reduce=True, rows=False)
    rows6 = plain.with_overrides(outputs=SIX)
    n = plain.n_vectors
    runner = ChunkRunner(plain)

    def kernel_only():
        runner.recompute_stage()
        jax.block_until_ready([runner.dispatch(k).outputs for k in range(plain.n_chunks)])

    sinks = sinks_for(red)
    part = Combined(tuple(s.device_part for s in sinks))
    extra = runner.put({str(i): s.extra() for i, s in enumerate(sinks)})

    def reduce_chunk_pass():
        runner.recompute_stage()
        outs = [runner.dispatch(k, part, extra).outputs for k in range(plain.n_chunks)]
        jax.device_get(outs)

    def in_fresh_dir(spec):
        def go():
            d = tempfile.mkdtemp(prefix="sweep-bench-")
            try:
                run(spec, d, progress=False)
            finally:
                shutil.rmtree(d, ignore_errors=True)
        return go

    res = {"n_vectors": n, "points_per_axis": points_per_axis, "dtype": dtype, "n_chunks": plain.n_chunks,
           "chunk_size": plain.chunk_size, "device": str(jax.devices()[0].platform), "n_devices": jax.device_count(),
           "loadavg_before": list(os.getloadavg())}
    for name, fn in (("kernel_only", kernel_only), ("reduce_chunk_pass", reduce_chunk_pass),
                     ("reduce_run", in_fresh_dir(red)), ("rows6_run", in_fresh_dir(rows6))):
        t = _median_time(fn, repeats)
        res[name] = {"seconds": t, "vectors_per_s": n / t}
    ko = res["kernel_only"]["vectors_per_s"]
    for name in ("reduce_chunk_pass", "reduce_run", "rows6_run"):
        res[name]["of_kernel_only"] = res[name]["vectors_per_s"] / ko
    res["loadavg_after"] = list(os.getloadavg())
    return res


#: the section's name in ``sweep bench`` (see :mod:`sweep.benchmarking.sections`)
NAME = "reductions"


#: a refined grid measured by a full bench (float64) beside the paper grid: on the paper
#: grid (one chunk, 0.07 s of kernel) a run's fixed costs dominate; at K = 6 (58
#: chunks) the passes over the grid do, and the quantile windows apply
REFINED_K = 6


def run(cfg: dict, ctx: dict) -> dict:
    """The section: the paper grid, each dtype of the bench, ``cfg["repeats"]`` passes;
    a full bench adds :data:`REFINED_K` points per axis in float64."""
    if {NAME, "engine"} & set(cfg.get("skip", ())):
        return {"skipped": "measured beside the engine section, which was skipped"}
    res = {dt: measure(None, cfg["repeats"], dt) for dt in cfg["dtypes"]}
    if not cfg.get("quick") and "float64" in cfg["dtypes"]:
        res[f"float64, K={REFINED_K}"] = measure(REFINED_K, min(3, cfg["repeats"]), "float64")
    ctx["log"]("reductions: " + str({dt: round(r["reduce_run"]["of_kernel_only"], 3) for dt, r in res.items()}))
    return res


def markdown(result: dict) -> str:
    """The section's part of the markdown report."""
    if "skipped" in result:
        return f"## Reductions\n\nSkipped: {result['skipped']}.\n"
    lines = ["## Reductions (OA4/OA5 statistics on the device)", "",
             "Paper grid unless the row says K (points per axis).", "",
             "| dtype | pass | seconds | vectors/s | of kernel-only |", "|---|---|---|---|---|"]
    for dt, res in result.items():
        for k in ("kernel_only", "reduce_chunk_pass", "reduce_run", "rows6_run"):
            r = res[k]
            frac = f"{100 * r['of_kernel_only']:.0f}%" if "of_kernel_only" in r else ""
            lines.append(f"| {dt} | {k} | {r['seconds']:.3f} | {r['vectors_per_s']:,.0f} | {frac} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points-per-axis", type=int, default=None)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    from sweep.devices import expose_cpu_devices

    expose_cpu_devices()
    res = measure(a.points_per_axis, a.repeats, a.dtype)
    if a.json:
        print(json.dumps(res))
    else:
        print(f"coverage_oa5, {res['n_vectors']:,} vectors ({res['dtype']}, {res['n_devices']} x "
              f"{res['device']}, chunk {res['chunk_size']:,}); load average {res['loadavg_before'][0]:.1f}")
        for k in ("kernel_only", "reduce_chunk_pass", "reduce_run", "rows6_run"):
            r = res[k]
            frac = f"  {100 * r['of_kernel_only']:.0f}% of kernel-only" if "of_kernel_only" in r else ""
            print(f"  {k:18s} {r['seconds']:8.3f} s  {r['vectors_per_s'] / 1e6:8.2f} M vectors/s{frac}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
