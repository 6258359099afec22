"""Where the wall time of ``sweep reproduce oa5 --points-per-axis K`` goes.

    python -m sweep.benchmarking.reduction_profile --points-per-axis K [--out DIR] [--json]

Runs what the command runs (:func:`sweep.reproduce.reproduce`, reductions, no rows)
in this process, with the command line's persistent compilation cache
(:mod:`sweep.compile_cache`: run it twice for the warm figures), timers around its phases, and JAX's compile events
(``jax.monitoring``) counted per phase:

* ``import``: importing JAX and the engine;
* ``stage``: building the :class:`~sweep.runner.ChunkRunner` (the factored stage
  table: its compile and its pass);
* ``windows``: the sample that predicts the exact quantiles' key windows
  (:func:`sweep.sinks.reduce.plan_windows`: one chunk's lanes spread over the grid,
  its compile included);
* ``chunk pass``: every chunk through the reductions' device part, partials written
  (the first chunk's compile included);
* ``merge``: reading the partials back and merging them in chunk order;
* ``narrow i``: each exact-quantile narrowing pass (a pass over the grid; the first
  one compiles its function);
* ``summaries``: writing the summary files, and what remains (tables, cleanup).

A compile is one ``/jax/core/compile/backend_compile_duration`` event (XLA's
compile of one program; with a persistent cache hit there is none, and the load
is a ``/jax/compilation_cache/...`` event); tracing and lowering are counted from
their own events.  The phases run in sequence, so each compile falls in the
phase whose timer was running when it ended.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

_T0 = time.perf_counter()


def profile(points_per_axis: int | None, out: str | None = None) -> dict:
    from sweep.compile_cache import configure_compile_cache
    from sweep.devices import expose_cpu_devices

    expose_cpu_devices()
    cache_dir = configure_compile_cache()
    t = time.perf_counter()
    import jax  # noqa: F401
    import jax.monitoring as mon

    import importlib

    rep = importlib.import_module("sweep.reproduce")
    runner_mod = importlib.import_module("sweep.runner")
    run_mod = importlib.import_module("sweep.run")
    red = importlib.import_module("sweep.sinks.reduce")
    ex_mod = importlib.import_module("sweep.executors")

    phases: list = []   # [name, seconds]
    current = ["import"]
    events: list = []   # (phase, event, seconds)
    phases.append(["import", time.perf_counter() - t])

    def listener(event, secs, **_):
        if "compile" in event or "trac" in event or "lower" in event or "cache" in event:
            events.append((current[0], event, float(secs)))

    mon.register_event_duration_secs_listener(listener)

    def timed(name_fn, fn):
        def wrapper(*a, **k):
            name = name_fn() if callable(name_fn) else name_fn
            prev = current[0]
            current[0] = name
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                phases.append([name, time.perf_counter() - t0])
                current[0] = prev
        return wrapper

    n_narrow = [0]

    def narrow_name():
        n_narrow[0] += 1
        return f"narrow {n_narrow[0]}"

    orig_init = runner_mod.ChunkRunner.__init__
    runner_mod.ChunkRunner.__init__ = timed("stage", orig_init)
    orig_close = run_mod.close_sinks
    run_mod.close_sinks = timed("close (merge + narrow + summaries)", orig_close)
    red.narrow_jointly = timed(narrow_name, red.narrow_jointly)
    run_mod.plan_windows = timed("windows", run_mod.plan_windows)
    red.ReduceSink.merged = timed("merge", red.ReduceSink.merged)
    red.ReduceSink.write_summary = timed("summaries", red.ReduceSink.write_summary)
    ex_mod.LocalExecutor.execute = timed("chunk pass", ex_mod.LocalExecutor.execute)

    t = time.perf_counter()
    current[0] = "other"
    doc = rep.reproduce("oa5", points_per_axis=points_per_axis, progress=False, out=out)
    total_reproduce = time.perf_counter() - t
    wall = time.perf_counter() - _T0

    # per phase: seconds, compiles (count, seconds), tracing+lowering seconds
    agg: dict = {}
    order: list = []
    for name, secs in phases:
        if name not in agg:
            agg[name] = {"seconds": 0.0, "compiles": 0, "compile_s": 0.0, "trace_lower_s": 0.0,
                         "cache_hits": 0}
            order.append(name)
        agg[name]["seconds"] += secs
    for ph, ev, secs in events:
        a = agg.setdefault(ph, {"seconds": 0.0, "compiles": 0, "compile_s": 0.0, "trace_lower_s": 0.0,
                                "cache_hits": 0})
        if ph not in order:
            order.append(ph)
        if ev.endswith("backend_compile_duration"):
            a["compiles"] += 1
            a["compile_s"] += secs
        elif "trac" in ev or "lower" in ev:
            a["trace_lower_s"] += secs
        elif "cache_retrieval" in ev or "cache_hit" in ev:
            a["cache_hits"] += 1
    return {"points_per_axis": points_per_axis, "n_vectors": doc["n_vectors"], "wall_s": wall,
            "reproduce_s": total_reproduce, "phases": [{"phase": p, **agg[p]} for p in order],
            "events": sorted({e for _, e, _ in events}),
            "cache_dir": cache_dir, "bytes_written": _tree_bytes(out) if out else None}


def _tree_bytes(path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def _table(res: dict) -> str:
    lines = [f"K = {res['points_per_axis']}, {res['n_vectors']:,} vectors: wall {res['wall_s']:.1f} s"
             + (f", {res['bytes_written']:,} bytes written" if res["bytes_written"] is not None else ""),
             "", "| phase | wall s | XLA compiles | compile s | trace+lower s |", "|---|---|---|---|---|"]
    for p in res["phases"]:
        lines.append(f"| {p['phase']} | {p['seconds']:.1f} | {p['compiles']} | {p['compile_s']:.1f} | "
                     f"{p['trace_lower_s']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points-per-axis", type=int, default=None)
    ap.add_argument("--out", default=None, help="keep the outputs here (their size is reported)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = profile(args.points_per_axis, args.out)
    print(json.dumps(res, indent=1) if args.json else _table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
