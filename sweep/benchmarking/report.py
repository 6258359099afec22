"""Markdown rendering of a ``sweep bench`` report document (see :mod:`sweep.bench`)."""
from __future__ import annotations

__all__ = ["markdown"]


def _g(d, *path):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _f(x, fmt="{:,.0f}"):
    if x is None:
        return "–"
    if isinstance(x, str):
        return x
    try:
        return fmt.format(x)
    except (TypeError, ValueError):
        return str(x)


def _x(x):
    return _f(x, "{:.2f}×")


def _pct(x):
    return _f(None if x is None else 100 * x, "{:.1f}%")


def markdown(doc: dict) -> str:
    env = doc["environment"]
    peak = doc.get("peak_estimate", {})
    L = []
    w = L.append
    w("# sweep bench report\n")
    w(f"Generated {doc.get('started_utc')} in {_f(doc.get('seconds'), '{:.0f}')} s by:\n")
    w(f"    {doc.get('command', 'sweep bench')}\n")
    w("Environment: " + f"{env['cpu_model']} ({env['cores']} cores usable, {_f(env.get('cpu_mhz'), '{:.0f}')} MHz "
      f"nominal, {env['simd_bits']}-bit SIMD{', FMA' if env.get('fma') else ''}); device {env['device']}; "
      f"jax {env['jax']}, jaxlib {env['jaxlib']}, numpy {env['numpy']}, scipy {env['scipy']}; "
      f"GLIBC_TUNABLES {env.get('glibc_tunables') or '(unset)'}. "
      f"Load average at start {_f(env['loadavg'][0], '{:.2f}')}, at end "
      f"{_f((env.get('loadavg_end') or [None])[0], '{:.2f}')} (other processes share this machine; "
      "each figure records the load average when it was taken in the JSON).\n")
    if not doc.get("complete", True):
        w("**Partial report: the run was still going (or was stopped) when this was written.**\n")
    if doc["config"].get("quick"):
        w("**--quick run: small sizes and few repeats; a smoke test, not a measurement.**\n")

    # -- headline
    w("## Acceptance targets (coverage_oa5, float64, this run)\n")
    w("| target | measured | met |")
    w("|---|---|---|")
    for t in doc.get("targets", []):
        m = t["measured"]
        meas = _f(m, "{:.3f}") if "compile" in t["ratio"] else _x(m)
        w(f"| {t['name']} | {meas} | {'–' if t['met'] is None else ('yes' if t['met'] else '**no**')} |")
    w("")

    # -- kernels
    w("## Kernel-only throughput (device compute only, inputs on device, median of repeats)\n")
    w("All cores = `shard_map` over one JAX CPU device per core (the engine's layout); 1 core = fresh "
      "process with `--xla_force_host_platform_device_count=1 --xla_cpu_multi_thread_eigen=false "
      "intra_op_parallelism_threads=1` under `taskset -c 0`. Compile: fresh processes, XLA compile of the "
      "engine-shaped function, empty vs filled persistent cache (`jax_compilation_cache_dir`, min compile "
      "time 0 s, min entry size 0).\n")
    w("'cores got' = process CPU seconds ÷ wall seconds while timing: the cores the run actually obtained "
      "(other processes share this machine). An all/1-core ratio is only meaningful when the all-cores run "
      "got close to all cores.\n")
    w("| kernel | dtype | n | vectors/s (all cores) | µs/vector | cores got | 1 core vectors/s | all/1 core | "
      "cores got (all / 1) | cold compile s | warm compile s | warm/cold | warm/cold incl. tracing |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, kd in doc["kernels"].items():
        if not kd.get("available"):
            w(f"| {name} | – | – | {kd.get('note')} | | | | | | | | | |")
            continue
        for dt, r in kd["dtypes"].items():
            w(f"| {name} | {dt} | {_f(kd['n'])} | {_f(_g(r, 'throughput', 'vectors_per_s'))} | "
              f"{_f(_g(r, 'throughput', 'us_per_vector'), '{:.3f}')} | "
              f"{_f(_g(r, 'throughput', 'cpu_over_wall'), '{:.2f}')} | "
              f"{_f(_g(r, 'scaling', 'one_core', 'vectors_per_s'))} | {_x(_g(r, 'scaling', 'all_over_one'))} | "
              f"{_f(_g(r, 'scaling', 'all_cores', 'cpu_over_wall'), '{:.2f}')} / "
              f"{_f(_g(r, 'scaling', 'one_core', 'cpu_over_wall'), '{:.2f}')} | "
              f"{_f(_g(r, 'compile', 'cold_compile_s'), '{:.2f}')} | {_f(_g(r, 'compile', 'warm_compile_s'), '{:.2f}')} | "
              f"{_f(_g(r, 'compile', 'warm_over_cold'), '{:.3f}')} | "
              f"{_f(_g(r, 'compile', 'warm_over_cold_total'), '{:.3f}')} |")
    w("")

    # -- baselines
    b = doc.get("baselines")
    if b:
        k64 = _g(doc, "kernels", "coverage_oa5", "dtypes", "float64")
        kv = _g(k64, "throughput", "vectors_per_s")
        one = _g(k64, "scaling", "one_core", "vectors_per_s")
        fac = _g(doc, "factored", "float64", "vectors_per_s")
        w("## Baselines vs coverage_oa5 (float64, same vectors)\n")
        w(f"Kernel: {_f(kv)} vectors/s on all cores in the throughput section, {_f(one)} on 1 core; factored "
          f"prototype {_f(fac)} vectors/s. 'kernel ÷ baseline' uses the kernel timed alongside each baseline "
          "(interleaved repeats, same machine load). Baselines are single-threaded numpy/scipy "
          "(sweep/benchmarking/baselines.py, written from docs/model.md); the brentq loop is timed on an evenly spread sample.\n")
        w("| baseline | vectors timed | vectors/s | µs/vector | kernel ÷ baseline | kernel 1 core ÷ baseline | "
          "factored ÷ baseline | max abs diff vs kernel | tolerance | NaN/flag mismatches | agrees |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        labels = dict(bisection="numpy bisection (60 halvings)", find_root="scipy elementwise.find_root",
                      brentq_loop="scipy brentq, Python loop")
        for key in ("bisection", "find_root", "brentq_loop"):
            r = b.get(key)
            if not r:
                continue
            bv = r["vectors_per_s"]
            kv = r.get("paired_kernel_vectors_per_s") or kv
            w(f"| {labels[key]} | {_f(r['n'])} | {_f(bv)} | {_f(r['us_per_vector'], '{:.3f}')} | "
              f"{_x(kv / bv if kv else None)} | {_x(one / bv if one else None)} | {_x(fac / bv if fac else None)} | "
              f"{_f(r['agreement']['worst'], '{:.2e}')} | {r['tolerance']:g} | {r['agreement']['mismatches']} | "
              f"{'yes' if r['agrees'] else '**NO**'} |")
        w("")
        if b.get("skipped"):
            w(f"Not measured: {b['skipped']}.\n")

    # -- the engine's compute path (what `sweep run` computes), headline kernel-only figure
    eng = doc.get("engine") or {}
    if eng:
        w("## Kernel-only throughput of the engine's compute path (coverage_oa5, paper grid)\n")
        w("`sweep.engine.ChunkRunner` exactly as `sweep run` uses it: parameter values built on the device, "
          "the kernel's Factor evaluated once per sub-grid point when the engine's plan says it pays "
          "(41,472 terminal-stage points for 497,664 vectors). A timed pass is the whole compute of a run: "
          "the stage table (its root solves) and every chunk, dispatched and waited for; no Parquet. This "
          "is the kernel-only figure of the acceptance targets (the best chunk size; the end-to-end target "
          "divides by the same figure); the plain-function figures above show what the same kernel does "
          "without the grid structure.\n")
        w("| dtype | chunk size | chunks | factored | vectors/s (median) | best repeat | cores got | "
          "÷ numpy bisection | ÷ find_root | ÷ brentq loop |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        bl = doc.get("baselines") or {}
        for dt, rows in eng.items():
            for r in rows if isinstance(rows, list) else []:
                v = r["vectors_per_s"]
                rat = [_x(v / bl[k]["vectors_per_s"]) if bl.get(k) else "–"
                       for k in ("bisection", "find_root", "brentq_loop")]
                w(f"| {dt} | {_f(r['chunk_size'])} | {r['n_chunks']} | {'yes' if r['factored'] else 'no'} | "
                  f"{_f(v)} | {_f(r['best_vectors_per_s'])} | {r['cores_got']:.2f} | " + " | ".join(rat) + " |")
        w("")

    # -- chunk sizes
    rows = [(dt, r["chunks"]) for dt, r in (_g(doc, "kernels", "coverage_oa5", "dtypes") or {}).items()
            if r.get("chunks")]
    if rows:
        w("## Chunk-size sensitivity (coverage_oa5, kernel only, all cores; last chunk padded)\n")
        w("| dtype | chunk size | chunks | vectors/s (median) | vectors/s (best repeat) |")
        w("|---|---|---|---|---|")
        for dt, rs in rows:
            for r in rs:
                w(f"| {dt} | {_f(r['chunk_size'])} | {r['n_chunks']} | {_f(r['vectors_per_s'])} | "
                  f"{_f(r.get('best_vectors_per_s'))} |")
        w("")

    rows = [(dt, r["inner_batching"]) for dt, r in (_g(doc, "kernels", "coverage_oa5", "dtypes") or {}).items()
            if r.get("inner_batching")]
    if rows:
        w("## PROTOTYPE: one big chunk, kernel run on rows of B lanes inside it (`lax.scan`) (coverage_oa5)\n")
        w("Engine option measured here: the chunk (and Parquet part) stays large while each root-solving "
          "`while_loop` runs on B lanes per device.\n")
        w("| dtype | batch B | vectors/s (median) | vectors/s (best repeat) |")
        w("|---|---|---|---|")
        for dt, rs in rows:
            for r in rs:
                w(f"| {dt} | {_f(r['batch_size'])} | {_f(r['vectors_per_s'])} | {_f(r.get('best_vectors_per_s'))} |")
        w("")

    # -- iterations
    its = [(dt, r["iterations"]) for dt, r in (_g(doc, "kernels", "coverage_oa5", "dtypes") or {}).items()
           if r.get("iterations")]
    if its:
        w("## Root solves of coverage_oa5: Chandrupatla iterations per lane\n")
        w("Counted by instrumenting `kernels.roots` (lanes that iterate; corners, skipped and inadmissible "
          "lanes do not). Executed = what a `while_loop` over a chunk costs per vector: every lane computes "
          "until the chunk's slowest lane converges.\n")
        w("| dtype | solve | share of lanes iterating | mean | p50 | p90 | p99 | max | useful iters/vector | "
          "executed iters/vector (chunk 4,096) | executed (throughput call: n ÷ devices lanes per loop) |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        for dt, it in its:
            per_dev = it.get("per_device_chunk")
            for s in it["solves"]:
                ch = s["chunked"]
                c4 = ch.get(4096) or ch.get("4096") or {}
                big = ch.get(per_dev) or ch.get(str(per_dev)) or {}
                w(f"| {dt} | {s['solve']} | {_pct(s['share_iterating'])} | {_f(s.get('mean'), '{:.2f}')} | "
                  f"{_f(s.get('p50'), '{:.0f}')} | {_f(s.get('p90'), '{:.0f}')} | {_f(s.get('p99'), '{:.0f}')} | "
                  f"{_f(s.get('max'))} | {_f(_g(c4, 'useful_per_vector'), '{:.2f}')} | "
                  f"{_f(_g(c4, 'executed_per_vector'), '{:.2f}')} | {_f(_g(big, 'executed_per_vector'), '{:.2f}')} |")
        w("")

    # -- FLOPs
    w("## Work per vector and fraction of peak\n")
    w(f"Peak estimate (not measured): {peak.get('formula')} = {_f(_g(peak, 'float64'), '{:.3g}')} FLOP/s "
      f"float64, {_f(_g(peak, 'float32'), '{:.3g}')} FLOP/s float32.\n")
    rf = doc.get("roofline") or {}
    if rf:
        w("Empirical references on all cores (jnp, cache-resident arrays): " + "; ".join(
            f"{dt}: FMA {_f(_g(r, 'fma', 'ops_per_s'), '{:.3g}')} FLOP/s, x^e {_f(_g(r, 'pow', 'ops_per_s'), '{:.3g}')} "
            f"evaluations/s" for dt, r in rf.items()) + ".\n")
    probe = doc.get("while_loop_cost_probe")
    if probe:
        w(f"XLA's `cost_analysis()` and while loops: a `fori_loop` run 10 and 1000 times reports "
          f"{_f(probe['flops_trips_10'])} and {_f(probe['flops_trips_1000'])} flops: "
          f"{'the body is counted once, whatever the trip count' if probe['counts_body_once'] else 'trip count is taken into account'}. "
          "So the XLA column undercounts the root solves; the hand estimate multiplies by measured iteration counts "
          "(ops = adds, muls, divides, compares, selects; transcendentals = log, exp, sqrt, counted apart).\n")
    w("| kernel | dtype | XLA flops/vector | XLA transcendentals/vector | XLA bytes/vector | hand ops/vector "
      "(executed) | hand ops/vector (useful) | hand transcendentals/vector | achieved GFLOP/s (hand) | % of peak "
      "estimate | % of FMA reference | pow-bound vectors/s |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, kd in doc["kernels"].items():
        for dt, r in (kd.get("dtypes") or {}).items():
            c = r.get("cost") or {}
            h = r.get("hand_estimate") or {}
            vps = _g(r, "throughput", "vectors_per_s")
            ach = (h["flops_per_vector"] * vps) if (h and vps) else None
            pk = _g(peak, dt)
            fma = _g(rf, dt, "fma", "ops_per_s")
            pw = _g(rf, dt, "pow", "ops_per_s")
            powb = (pw / (h["transcendentals_per_vector"] / 2)) if (h and pw) else None
            w(f"| {name} | {dt} | {_f(c.get('flops_per_vector'))} | {_f(c.get('transcendentals_per_vector'))} | "
              f"{_f(c.get('bytes_per_vector'))} | {_f(h.get('flops_per_vector'))} | "
              f"{_f(h.get('useful_flops_per_vector'))} | {_f(h.get('transcendentals_per_vector'))} | "
              f"{_f(None if ach is None else ach / 1e9, '{:.2f}')} | "
              f"{_pct(ach / pk if (ach and pk) else None)} | {_pct(ach / fma if (ach and fma) else None)} | "
              f"{_f(powb)} |")
    w("")
    w("Hand estimates exist for coverage_oa5 only (its root solves are instrumented); for terminal and "
      "period1 only XLA's count is given (period1: from the cold-compile worker, float64). "
      "pow-bound vectors/s = measured x^e evaluations/s ÷ (hand transcendentals/vector ÷ 2): the rate if "
      "the kernel did nothing but its log/exp pairs.\n")

    # -- factored
    fac = doc.get("factored") or {}
    if fac:
        w("## PROTOTYPE: factored evaluation (sweep/benchmarking/measure.py, measured apart from the engine's own factoring)\n")
        w("The root-solving stage (`KernelSpec.factor.stage`) runs once per point of the sub-grid of the axes "
          "it depends on; results are gathered per vector (`jnp.take`) and the closed-form stage "
          "(`factor.combine`) runs per vector. Timed: stage + transfer + gather + combine (gather indices "
          "precomputed on the host), interleaved with the plain kernel on the same vectors ('÷ kernel').\n")
        w("| dtype | vectors | unique stage points | stage s | total s | vectors/s | ÷ kernel | max abs diff vs kernel | "
          "bitwise equal |")
        w("|---|---|---|---|---|---|---|---|---|")
        for dt, r in fac.items():
            if r.get("skipped"):
                w(f"| {dt} | {r['skipped']} | | | | | | | |")
                continue
            kv = r.get("paired_kernel_vectors_per_s")
            w(f"| {dt} | {_f(r['n'])} | {_f(r['unique_stage_points'])} | {_f(r['stage_s'], '{:.4f}')} | "
              f"{_f(r['total_s'], '{:.4f}')} | {_f(r['vectors_per_s'])} | {_x(r['vectors_per_s'] / kv if kv else None)} | "
              f"{_f(r['max_abs_diff_vs_kernel'], '{:.2e}')} | {'yes' if r['bitwise_equal'] else 'no'} |")
        w("")

    comp = doc.get("compaction") or {}
    if comp:
        w("## Compacted threshold solves (in the kernel: `kernels.roots.solve(compact=...)`)\n")
        w("ŝ2^D and s̄2^D are corners on most lanes: the solver tests the corners with the two bracket-end "
          "evaluations, gathers the lanes that need iterations into a buffer (`jnp.nonzero(size=cap)`), "
          "iterates there, scatters back, and falls back to the full-width iteration (`lax.cond`) when more "
          "lanes need it than fit. Measured: the shipped kernel against the same kernel traced with "
          "full-width threshold solves (`compact=None`), interleaved, on the same vectors.\n")
        w("| dtype | vectors | cap (share of lanes) | full-width vectors/s | compacted vectors/s | speedup (median) | "
          "speedup (best) | bitwise equal |")
        w("|---|---|---|---|---|---|---|---|")
        for dt, r in comp.items():
            w(f"| {dt} | {_f(r['n'])} | {r['cap_fraction']:g} | {_f(r['plain_vectors_per_s'])} | "
              f"{_f(r['compacted_vectors_per_s'])} | {_x(r['speedup'])} | {_x(r['best_speedup'])} | "
              f"{'yes' if r['bitwise_equal'] else 'no'} |")
        w("")

    # -- e2e
    e2e = doc.get("end_to_end")
    if e2e:
        w("## End to end: `sweep.engine.run` with Parquet output\n")
        if e2e.get("skipped"):
            w(f"Skipped: {e2e['skipped']}\n")
        else:
            w("Cold = first run in this process (includes the engine's compile); warm = later runs into fresh "
              "directories (compiled function reused; median of the repeats). 'host CPU s' = CPU seconds of "
              "turning the computed chunks into Parquet parts (Arrow tables, encoding, zstd, files), measured "
              "apart; 'compute CPU s' = the engine path's kernel-only time × the cores it got. On a CPU-only "
              "machine both share the same cores, so end-to-end ÷ kernel-only cannot exceed "
              "compute ÷ (compute + host): the 'bound' column.\n")
            w("| dtype | chunk size | engine factoring | vectors | chunks | cold s | warm s | warm CPU s | "
              "warm vectors/s | ÷ plain kernel | ÷ engine kernel-only | host CPU s | compute CPU s | bound | "
              "Parquet bytes |")
            w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
            eng = {dt: max((r for r in rows if isinstance(r, dict)), key=lambda r: r["vectors_per_s"], default=None)
                   for dt, rows in (doc.get("engine") or {}).items() if isinstance(rows, list)}
            for dt, rows in e2e.items():
                kv = _g(doc, "kernels", "coverage_oa5", "dtypes", dt, "throughput", "vectors_per_s")
                ek = eng.get(dt)
                for r in rows:
                    comp = ek["n"] / ek["vectors_per_s"] * ek["cores_got"] if ek and ek.get("n") == r["n"] else None
                    host = r.get("write_cpu_seconds")
                    bound = comp / (comp + host) if comp and host and r.get("factored") else None
                    w(f"| {dt} | {_f(r['chunk_size'])} | {'on' if r.get('factored') else 'off'} | "
                      f"{_f(r['n'])} | {r['n_chunks']} | "
                      f"{_f(r['cold_seconds'], '{:.2f}')} | {_f(r['warm_seconds'], '{:.3f}')} | "
                      f"{_f(r.get('warm_cpu_seconds'), '{:.3f}')} | "
                      f"{_f(r['warm_vectors_per_s'])} | {_x(r['warm_vectors_per_s'] / kv if kv else None)} | "
                      f"{_x(r['warm_vectors_per_s'] / ek['vectors_per_s'] if ek and r.get('factored') else None)} | "
                      f"{_f(host, '{:.3f}')} | {_f(comp, '{:.3f}') if r.get('factored') else '–'} | "
                      f"{_x(bound)} | {_f(r['warm_bytes_on_disk'])} |")
            w("")

    # -- extra sections (sweep.benchmarking.sections), each renders its own part
    from .sections import load_sections

    for section in load_sections():
        result = (doc.get("sections") or {}).get(section.NAME)
        if result is not None:
            w(section.markdown(result).rstrip("\n") + "\n")

    # -- ratios
    w("## All ratios\n")
    w("| ratio | value |")
    w("|---|---|")
    for k, v in (doc.get("ratios") or {}).items():
        w(f"| {k} | {_f(v, '{:.3f}')} |")
    w("")
    for n in doc.get("notes") or []:
        w(f"- {n}")
    return "\n".join(L) + "\n"


if __name__ == "__main__":   # python -m sweep.benchmarking.report FILE.json  -> FILE.md
    import json
    import sys
    from pathlib import Path

    src = Path(sys.argv[1])
    src.with_suffix(".md").write_text(markdown(json.loads(src.read_text())))
