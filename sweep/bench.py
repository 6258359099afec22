"""``sweep bench``: kernel throughput, compile time, core scaling, chunk sizes,
baselines and end-to-end runs, written as a JSON document and a markdown report.

    sweep bench [--json] [--kernels K ...] [--dtypes D ...] [--n N] [--quick]
                [--out DIR] [--name STEM] [--repeats R] [--skip SECTION ...]

Sections (``--skip`` any of them): ``throughput`` (kernel-only vectors/s, all
cores), ``scaling`` (1 core vs all cores, fresh subprocesses), ``compile`` (cold vs
persistent-cache compile, fresh subprocesses), ``chunks`` (chunk-size
sensitivity), ``cost`` (XLA cost analysis + hand estimate), ``iterations`` (root
iteration counts), ``factored`` (prototype of factored evaluation), ``compaction``
(the kernel's compacted threshold solves vs full width), ``baselines``
(numpy/scipy, coverage_oa5 only), ``roofline`` (FMA and pow references),
``e2e`` (``sweep.engine.run`` with Parquet output), and the extra sections listed
in :mod:`sweep.benchmarking.sections`.

Output: ``DIR/STEM.json`` and the markdown report ``DIR/STEM.md`` (``--out DIR``,
default the current directory; ``--name STEM``, default ``bench``).  The
repository's committed results are made with ``--out benchmarks/results --name
latest``.  With ``--json`` the JSON document is also printed on stdout (and
nothing else there).

Exit status: 0 done; 1 a baseline disagrees with the kernel beyond its tolerance
(the report is still written, with the disagreement), or a failure at run time;
2 bad arguments (nothing is written).

The measuring code is the installed package :mod:`sweep.benchmarking`; the
repository's ``benchmarks/`` keeps scripts, results and findings.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from .devices import expose_cpu_devices
from .errors import EXIT_RUNTIME, EXIT_USAGE
from .jsonout import jsonable as _jsonable   # NaN -> null, inf -> "inf", as every CLI command

__all__ = ["cmd_bench", "add_arguments", "run_bench", "SECTIONS", "DEFAULT_KERNELS", "TOLERANCES"]

#: the built-in sections; extra ones come from sweep.benchmarking.sections
BUILTIN_SECTIONS = ("throughput", "scaling", "compile", "chunks", "cost", "iterations", "factored",
                    "compaction", "baselines", "engine", "roofline", "e2e")
DEFAULT_KERNELS = ("coverage_oa5", "terminal", "period1")
#: max |baseline − kernel| allowed on the float64 outputs (over lanes where both are finite)
TOLERANCES = {"bisection": 1e-8, "find_root": 1e-10, "brentq_loop": 1e-10}
#: the throughput acceptance targets (2-core machine, one run)
TARGETS = {"kernel_vs_bisection": 20.0, "kernel_vs_find_root": 10.0, "kernel_vs_brentq_loop": 200.0,
           "all_vs_one_core": 1.7, "warm_over_cold_compile_max": 0.20, "e2e_over_kernel_min": 0.5}
#: chunk sizes at which the engine's compute path is measured (the e2e sizes reuse them)
ENGINE_CHUNKS = (65536, 1048576)


def _import_benchmarks():
    from .benchmarking import baselines, inputs, measure, report

    return baselines, inputs, measure, report


def _sections() -> tuple[str, ...]:
    from .benchmarking.sections import load_sections

    return BUILTIN_SECTIONS + tuple(m.NAME for m in load_sections())


SECTIONS = BUILTIN_SECTIONS


class BenchUsage(Exception):
    """A bad ``sweep bench`` argument (exit status 2, nothing written)."""


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``sweep bench`` options to ``parser``."""
    sections = _sections()
    parser.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    parser.add_argument("--kernels", nargs="+", default=list(DEFAULT_KERNELS), metavar="K",
                        help="kernels to measure (absent ones are skipped with a note)")
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"],
                        choices=("float64", "float32"), metavar="D")
    parser.add_argument("--n", type=int, default=None, metavar="N",
                        help="vectors for coverage_oa5 and the baselines (default: the paper's 497,664)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, fewer repeats (a smoke run, not a measurement)")
    parser.add_argument("--out", default=".", metavar="DIR",
                        help="directory for the report (created if missing; default: the current directory)")
    parser.add_argument("--name", default="bench", metavar="STEM",
                        help="file names DIR/STEM.json and DIR/STEM.md (default: bench)")
    parser.add_argument("--repeats", type=int, default=None, metavar="R", help="timed repeats (median)")
    parser.add_argument("--skip", nargs="+", default=[], choices=sections, metavar="SECTION",
                        help=f"sections to skip: {', '.join(sections)}")
    return parser


def _config(args) -> dict:
    from_inputs = _import_benchmarks()[1]
    quick = bool(args.quick)
    n = args.n if args.n is not None else (16384 if quick else from_inputs.PAPER_N)
    if n < 16:
        raise BenchUsage(f"--n {n}: must be at least 16")
    if args.repeats is not None and args.repeats < 1:
        raise BenchUsage(f"--repeats {args.repeats}: must be at least 1")
    return dict(
        kernels=list(args.kernels), dtypes=list(args.dtypes), n=int(n), quick=quick,
        # the expensive kernels get fewer vectors (stated in the report)
        n_per_kernel={"coverage_oa5": int(n), "terminal": int(min(n, 131072)),
                      "terminal_bonus": int(min(n, 131072)),
                      "period1": int(min(n, 512 if quick else 4096)),
                      "period1_bonus": int(min(n, 256 if quick else 1024))},
        repeats=args.repeats or (2 if quick else 5),
        compile_repeats=1 if quick else 2,
        compile_n=1024,
        brentq_sample=int(min(n, 200 if quick else 2000)),
        chunk_sizes=[c for c in ([4096, 65536] if quick else [4096, 16384, 65536, 262144, 1048576])],
        batch_sizes=[1024, 4096] if quick else [1024, 4096, 16384, 65536],
        e2e_chunk_sizes=[65536] if quick else list(ENGINE_CHUNKS),
        skip=list(args.skip),
    )


# ---------------------------------------------------------------------------
# subprocesses

def _worker(cfg: dict, one_core: bool, cores: int, timeout: float = 900) -> dict:
    """Run :mod:`sweep.benchmarking.worker` in a fresh interpreter with its own XLA flags."""
    env = dict(os.environ)
    base = " ".join(f for f in env.get("XLA_FLAGS", "").split()
                    if "xla_force_host_platform_device_count" not in f
                    and "multi_thread_eigen" not in f and "intra_op_parallelism" not in f)
    if one_core:
        flags = ("--xla_force_host_platform_device_count=1 --xla_cpu_multi_thread_eigen=false "
                 "intra_op_parallelism_threads=1")
    else:
        flags = f"--xla_force_host_platform_device_count={cores}"
    env["XLA_FLAGS"] = f"{base} {flags}".strip()
    cmd = [sys.executable, "-m", "sweep.benchmarking.worker", json.dumps(cfg)]
    pin = None
    if one_core:
        if shutil.which("taskset"):
            cmd = ["taskset", "-c", str(min(os.sched_getaffinity(0)))] + cmd
        else:  # same effect as taskset, applied in the child before exec
            pin = lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # noqa: E731
    try:
        # cwd: a neutral directory, so `-m` imports the same installed package as
        # this process (not a `sweep/` that happens to lie in the caller's directory)
        r = subprocess.run(cmd, env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True,
                           timeout=timeout, preexec_fn=pin)
    except subprocess.TimeoutExpired:
        return dict(error=f"timed out after {timeout} s")
    if r.returncode != 0:
        return dict(error=(r.stderr or r.stdout)[-2000:])
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return dict(error=f"no JSON from worker: {r.stdout[-500:]} {r.stderr[-1500:]}")


def _median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else 0.5 * (xs[m - 1] + xs[m])


def _compile_times(kernel: str, dtype: str, cfg: dict, cores: int, log) -> dict:
    """Cold (empty persistent cache) vs warm (cache filled by the cold process)."""
    cold, warm = [], []
    # period1 compiles for minutes: one cold/warm pair is all we can afford there
    reps = 1 if kernel in HEAVY_KERNELS else cfg["compile_repeats"]
    for _ in range(reps):
        with tempfile.TemporaryDirectory(prefix="jax-cache-") as d:
            w = dict(mode="compile", kernel=kernel, dtype=dtype, n=cfg["compile_n"], cache_dir=d)
            cold.append(_worker(w, False, cores))
            warm.append(_worker(w, False, cores))
    log(f"  compile {kernel} {dtype}: cold {[r.get('compile_s') for r in cold]} "
        f"warm {[r.get('compile_s') for r in warm]}")
    c = _median([r.get("compile_s") for r in cold])
    wm = _median([r.get("compile_s") for r in warm])
    ct = _median([r.get("total_s") for r in cold])
    wt = _median([r.get("total_s") for r in warm])
    return dict(cold=cold, warm=warm, cold_compile_s=c, warm_compile_s=wm,
                warm_over_cold=(wm / c) if c and wm is not None else None,
                cold_total_s=ct, warm_total_s=wt,
                warm_over_cold_total=(wt / ct) if ct and wt is not None else None,
                n=cfg["compile_n"],
                what="compile_s: XLA compile (lower().compile()); total_s adds tracing+lowering, "
                     "which the persistent cache cannot skip")


def _scaling(kernel: str, dtype: str, n: int, cfg: dict, cores: int, log) -> dict:
    w = dict(mode="throughput", kernel=kernel, dtype=dtype, n=n, repeats=cfg["repeats"])
    one = _worker(w, True, cores)
    allc = _worker(w, False, cores)
    r = None
    if "vectors_per_s" in one and "vectors_per_s" in allc:
        r = allc["vectors_per_s"] / one["vectors_per_s"]
    log(f"  scaling {kernel} {dtype}: 1 core {one.get('vectors_per_s')} all {allc.get('vectors_per_s')}")
    return dict(one_core=one, all_cores=allc, all_over_one=r, cores=cores)


# ---------------------------------------------------------------------------
# hand estimate of the work per vector (coverage_oa5)

#: Hand-counted elementwise ops per lane (adds, muls, divides, compares, selects;
#: transcendentals separately) from kernels/domains.py and kernels/roots.py:
#: f evaluations of the three thresholds, one Chandrupatla step excluding f, the
#: solver's set-up, and the closed forms outside the solves (flags, s̲, period 1).
HAND_OPS = dict(
    f_oa2=dict(flops=21, transc=2),       # (b−1)M(s,0) − T·g(s,0): M has one s^b = exp(b·log s)
    f_hat=dict(flops=31, transc=4),       # η̄(s)/η − 1: g0^(b−1) and s^b
    f_bar=dict(flops=28, transc=4),       # F2(1;s)/(λRδ) − 1: g1^(b−1) and s^b
    step=dict(flops=84, transc=2),        # Chandrupatla step: IQI test has 2 sqrt
    setup=dict(flops=30, transc=0),       # bracket checks, statuses, final selects
    closed=dict(flops=150, transc=8),     # flags (3 powers α^(b−1)), s̲, ρ's
)


#: solves that coverage_oa5 iterates compacted (kernels.domains.terminal_thresholds)
COMPACTED_SOLVES = ("s2_hat_D", "s2_bar_D")


def hand_estimate(iterations: dict, chunk: int) -> dict | None:
    """Ops per vector = Σ_solves [(2 + executed iterations)·f + iterations·step + setup]
    + closed forms, with executed iterations per lane = the while loop's trip count
    in a chunk of ``chunk`` lanes (masked lanes compute too).  For the compacted
    threshold solves the loop runs on a buffer of ``THRESHOLD_COMPACT`` of the lanes
    (when the iterating lanes fit) for at most the slowest lane's iterations, so
    executed per vector = that share × the maximum count (an upper bound)."""
    from kernels.domains import THRESHOLD_COMPACT

    solves = iterations.get("solves") or []
    fs = {"sbarbar2": "f_oa2", "s2_hat_D": "f_hat", "s2_bar_D": "f_bar"}
    if len(solves) != 3:
        return None
    fl = HAND_OPS["closed"]["flops"]
    tr = HAND_OPS["closed"]["transc"]
    useful_fl = fl
    for s in solves:
        f = HAND_OPS[fs.get(s["solve"], "f_hat")]
        ch = s["chunked"].get(chunk) or s["chunked"].get(str(chunk))
        it = ch["executed_per_vector"]
        us = ch["useful_per_vector"]
        if (THRESHOLD_COMPACT is not None and s["solve"] in COMPACTED_SOLVES
                and s.get("share_iterating", 1.0) <= THRESHOLD_COMPACT):
            it = min(it, THRESHOLD_COMPACT * s.get("max", 0))
        fl += (2 + it) * f["flops"] + it * HAND_OPS["step"]["flops"] + HAND_OPS["setup"]["flops"]
        tr += (2 + it) * f["transc"] + it * HAND_OPS["step"]["transc"]
        useful_fl += (2 + us) * f["flops"] + us * HAND_OPS["step"]["flops"] + HAND_OPS["setup"]["flops"]
    return dict(flops_per_vector=fl, transcendentals_per_vector=tr, useful_flops_per_vector=useful_fl,
                chunk=chunk, ops=HAND_OPS)


# ---------------------------------------------------------------------------
# the run

#: kernels whose compile takes minutes: their subprocess sections run in the first dtype only
HEAVY_KERNELS = ("period1", "period1_bonus")


def run_bench(cfg: dict, log=lambda s: None, checkpoint=lambda doc: None) -> dict:
    """Run every section of ``cfg`` and return the report document (see module doc).

    coverage_oa5 and the sections that compare against it run first; ``checkpoint``
    is called with the document after each section, so a long run that is stopped
    still leaves its finished figures behind."""
    baselines, inputs, measure, _ = _import_benchmarks()

    t_start = time.perf_counter()
    from kernels import kernel_names

    env = measure.environment()
    skip = set(cfg["skip"])
    doc = dict(schema="sweep-bench/1", started_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
               environment=env, peak_estimate=measure.peak_estimate(env), config=cfg, kernels={},
               notes=[], complete=False)
    available = set(kernel_names())

    def save():
        doc["ratios"], doc["targets"] = _ratios(doc)
        doc["seconds"] = time.perf_counter() - t_start
        doc["environment"]["loadavg_end"] = list(os.getloadavg())
        checkpoint(doc)

    kernels = list(cfg["kernels"])
    if "coverage_oa5" in kernels:   # the kernel everything else is compared with goes first
        kernels.remove("coverage_oa5")
        kernels.insert(0, "coverage_oa5")
    for kernel in kernels:
        if kernel not in available:
            doc["kernels"][kernel] = dict(available=False, note=f"{kernel!r} is not in the kernel registry "
                                                                 f"(have: {sorted(available)}); skipped")
            log(f"{kernel}: not registered, skipped")
            continue
        doc["kernels"][kernel] = _kernel_sections(kernel, cfg, env, measure, inputs, log)
        save()
        if kernel != "coverage_oa5":
            continue
        if "baselines" not in skip:
            doc["baselines"] = _baselines(cfg, baselines, inputs, measure, log)
            save()
        if "engine" not in skip and measure.engine_available():
            # The kernel as `sweep run` computes it (factored on cartesian grids),
            # without Parquet: the headline kernel-only figure of the targets.
            doc["engine"] = {dt: [measure.engine_compute(dt, c, cfg["repeats"]) for c in ENGINE_CHUNKS]
                             for dt in cfg["dtypes"]}
            log("engine: " + str({dt: [(r["chunk_size"], r["factored"], round(r["vectors_per_s"]))
                                       for r in rows] for dt, rows in doc["engine"].items()}))
            save()
        if "factored" not in skip:
            doc["factored"] = {dt: measure.factored_prototype("coverage_oa5", cfg["n"], dt, cfg["repeats"])
                               for dt in cfg["dtypes"]}
            log(f"factored: {[(dt, d.get('speedup_vs_kernel')) for dt, d in doc['factored'].items()]}")
            save()
        if "compaction" not in skip:
            doc["compaction"] = {dt: measure.compaction_prototype(cfg["n"], dt, repeats=cfg["repeats"])
                                 for dt in cfg["dtypes"]}
            log(f"compaction: {[(dt, d['speedup'], d['bitwise_equal']) for dt, d in doc['compaction'].items()]}")
            save()
        if "e2e" not in skip:
            if measure.engine_available():
                doc["end_to_end"] = {dt: measure.end_to_end(cfg["n"], dt, cfg["e2e_chunk_sizes"])
                                     for dt in cfg["dtypes"]}
                log("e2e: " + str({dt: [(r["chunk_size"], r.get("factored"), round(r["warm_vectors_per_s"]))
                                        for r in rows]
                                   for dt, rows in doc["end_to_end"].items()}))
            else:
                doc["end_to_end"] = dict(skipped="sweep.engine is not available")
            save()
    if "roofline" not in skip:
        doc["roofline"] = {dt: measure.roofline(dt) for dt in cfg["dtypes"]}
        doc["while_loop_cost_probe"] = measure.while_loop_cost_probe()
    from .benchmarking.sections import load_sections

    for section in load_sections():   # the extra sections, one module each
        if section.NAME not in skip:
            doc.setdefault("sections", {})[section.NAME] = section.run(
                cfg, dict(environment=env, log=log, doc=doc))
            save()
    doc["complete"] = True
    save()
    return doc


def _kernel_sections(kernel, cfg, env, measure, inputs, log) -> dict:
    """Throughput, cost, scaling, compile (+ chunks, iterations for coverage_oa5) of one kernel."""
    skip = set(cfg["skip"])
    cores = env["cores"]
    fixed = dict(inputs.PAPER_FIXED)
    n = cfg["n_per_kernel"].get(kernel, min(cfg["n"], 65536))
    cols = inputs.kernel_inputs(kernel, n)
    kd = dict(available=True, n=n, dtypes={})
    for j, dt in enumerate(cfg["dtypes"]):
        r: dict = {}
        sub = j == 0 or kernel not in HEAVY_KERNELS
        if "throughput" not in skip:
            r["throughput"] = measure.kernel_throughput(kernel, cols, fixed, dt, cfg["repeats"])
            log(f"{kernel} {dt}: {r['throughput']['vectors_per_s']:.4g} vectors/s (n={n}, cores got "
                f"{r['throughput']['cpu_over_wall']:.2f})")
        if "cost" not in skip and kernel not in HEAVY_KERNELS:
            r["cost"] = measure.cost_analysis(kernel, dt, n=min(n, 65536))
        if "scaling" not in skip and sub:
            r["scaling"] = _scaling(kernel, dt, n, cfg, cores, log)
        if "compile" not in skip and sub:
            r["compile"] = _compile_times(kernel, dt, cfg, cores, log)
            if kernel in HEAVY_KERNELS and "cost" not in skip:
                # from the cold compile's executable (one device per core: per-device lanes)
                c = (r["compile"]["cold"] or [{}])[0].get("cost")
                if c:
                    r["cost"] = c
        if not sub:
            r["note"] = f"{kernel}: compile takes minutes here; scaling/compile measured in {cfg['dtypes'][0]} only"
        if kernel == "coverage_oa5" and "chunks" not in skip:
            reps = max(2, cfg["repeats"] // 2)
            r["chunks"] = measure.chunk_sensitivity(kernel, cols, fixed, dt, cfg["chunk_sizes"], reps)
            log(f"  chunks: {[(c['chunk_size'], round(c['vectors_per_s'])) for c in r['chunks']]}")
            r["inner_batching"] = measure.inner_batching(kernel, cols, fixed, dt, cfg["batch_sizes"], reps)
            log(f"  row batches: {[(c['batch_size'], round(c['vectors_per_s'])) for c in r['inner_batching']]}")
        if kernel == "coverage_oa5" and "iterations" not in skip:
            per_dev = -(-n // env["n_devices"])
            sizes = sorted(set(cfg["chunk_sizes"] + cfg["batch_sizes"] + [per_dev]))
            r["iterations"] = measure.iteration_counts(kernel, cols, fixed, dt, sizes)
            r["iterations"]["per_device_chunk"] = per_dev   # lanes per device in the throughput call
            h = hand_estimate(r["iterations"], per_dev)
            if h:
                r["hand_estimate"] = h
        kd["dtypes"][dt] = r
    return kd


def _baselines(cfg, baselines, inputs, measure, log) -> dict:
    """The three baselines on the same vectors as the float64 kernel, checked against it."""
    import numpy as np

    n = cfg["n"]
    cols = inputs.paper_grid(n)
    p = dict(cols)
    p.update(inputs.PAPER_FIXED)
    kern = measure.kernel_outputs("coverage_oa5", cols, inputs.PAPER_FIXED, "float64")
    # The kernel is timed again right next to each baseline (interleaved repeats), so
    # the ratio compares runs made under the same machine load.
    kcall, kargs, _ = measure.sharded_kernel(_oa5_fn(), cols, inputs.PAPER_FIXED, "float64")
    out = dict(n=n)
    have_scipy = importlib.util.find_spec("scipy") is not None
    if not have_scipy:
        # an installation without the "test" extra: the numpy baseline still runs
        out["find_root"] = out["brentq_loop"] = None
        out["skipped"] = ("scipy is not installed: the scipy baselines (find_root, brentq_loop) were "
                          "skipped; pip install 'skillsweep[test]' to run them")
        log("baselines: " + out["skipped"])
    for name, fn in (("bisection", baselines.oa5_bisection), ("find_root", baselines.oa5_find_root)):
        if name != "bisection" and not have_scipy:
            continue
        fn({k: (v[:64] if np.ndim(v) else v) for k, v in p.items()})   # warm-up (imports, caches)
        ts, ks_, res = [], [], None
        for _ in range(max(1, min(3, cfg["repeats"]))):
            ks_.append(measure.time_calls(kcall, kargs, 1)["median_s"])
            t = time.perf_counter()
            res = fn(p)
            ts.append(time.perf_counter() - t)
        sec = _median(ts)
        agree = baselines.compare(res, kern)
        out[name] = dict(n=n, seconds=sec, vectors_per_s=n / sec, us_per_vector=1e6 * sec / n,
                         repeats=len(ts), agreement=agree, tolerance=TOLERANCES[name],
                         agrees=agree["worst"] <= TOLERANCES[name] and agree["mismatches"] == 0,
                         paired_kernel_vectors_per_s=n / _median(ks_),
                         best_vectors_per_s=n / min(ts), paired_kernel_best_vectors_per_s=n / min(ks_),
                         loadavg=list(os.getloadavg()))
        log(f"baseline {name}: {n / sec:.4g} vectors/s (kernel alongside {n / _median(ks_):.4g}), "
            f"worst diff {agree['worst']:.3g}")
    if not have_scipy:
        return out
    m = cfg["brentq_sample"]
    sel = np.unique(np.linspace(0, n - 1, m).astype(np.int64))   # evenly spread over the grid
    ps = {k: (v[sel] if np.ndim(v) else v) for k, v in p.items()}
    baselines.oa5_brentq_loop({k: (v[:8] if np.ndim(v) else v) for k, v in ps.items()})  # warm-up
    k1 = measure.time_calls(kcall, kargs, 1)["median_s"]
    t = time.perf_counter()
    res = baselines.oa5_brentq_loop(ps)
    sec = time.perf_counter() - t
    k2 = measure.time_calls(kcall, kargs, 1)["median_s"]
    agree = baselines.compare(res, {k: v[sel] for k, v in kern.items()})
    out["brentq_loop"] = dict(n=int(sel.size), seconds=sec, vectors_per_s=sel.size / sec,
                              us_per_vector=1e6 * sec / sel.size, agreement=agree,
                              tolerance=TOLERANCES["brentq_loop"],
                              agrees=agree["worst"] <= TOLERANCES["brentq_loop"] and agree["mismatches"] == 0,
                              sample="evenly spaced flat indices of the same grid",
                              paired_kernel_vectors_per_s=n / _median([k1, k2]),
                              loadavg=list(os.getloadavg()))
    log(f"baseline brentq_loop: {sel.size / sec:.4g} vectors/s, worst diff {agree['worst']:.3g}")
    return out


def _oa5_fn():
    from kernels import get_kernel

    return get_kernel("coverage_oa5").fn


def _get(d, *path):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _ratios(doc: dict):
    """Headline ratios and the acceptance targets (coverage_oa5, float64)."""
    ratios: dict = {}
    k64 = _get(doc, "kernels", "coverage_oa5", "dtypes", "float64")
    kv = _get(k64, "throughput", "vectors_per_s")
    one = _get(k64, "scaling", "one_core", "vectors_per_s")
    for b in ("bisection", "find_root", "brentq_loop"):
        bv = _get(doc, "baselines", b, "vectors_per_s")
        pk = _get(doc, "baselines", b, "paired_kernel_vectors_per_s")
        if pk and bv:   # the kernel timed alongside the baseline (same load)
            ratios[f"kernel_vs_{b}"] = pk / bv
        pkb = _get(doc, "baselines", b, "paired_kernel_best_vectors_per_s")
        bvb = _get(doc, "baselines", b, "best_vectors_per_s")
        if pkb and bvb:  # fastest repeat of each: the least disturbed by other load
            ratios[f"kernel_vs_{b}[best]"] = pkb / bvb
        if kv and bv:
            ratios[f"kernel_section_vs_{b}"] = kv / bv
        if one and bv:
            ratios[f"kernel_1core_vs_{b}"] = one / bv
        fv = _get(doc, "factored", "float64", "vectors_per_s")
        if fv and bv:
            ratios[f"factored_vs_{b}"] = fv / bv
    for dt in ("float64", "float32"):
        sp = _get(doc, "factored", dt, "speedup_vs_kernel")
        if sp:
            ratios[f"factored_vs_kernel[{dt}]"] = sp
        sp = _get(doc, "compaction", dt, "speedup")
        if sp:
            ratios[f"compacted_vs_kernel[{dt}]"] = sp
    for name, kd in (doc.get("kernels") or {}).items():
        for dt, r in (kd.get("dtypes") or {}).items():
            if _get(r, "scaling", "all_over_one"):
                ratios[f"all_vs_one_core[{name},{dt}]"] = r["scaling"]["all_over_one"]
            if _get(r, "compile", "warm_over_cold") is not None:
                ratios[f"warm_over_cold_compile[{name},{dt}]"] = r["compile"]["warm_over_cold"]
    for dt, rows in (doc.get("end_to_end") or {}).items():
        kvd = _get(doc, "kernels", "coverage_oa5", "dtypes", dt, "throughput", "vectors_per_s")
        if isinstance(rows, list) and kvd:
            for row in rows:
                tag = ",factored" if row.get("factored") else ""
                ratios[f"e2e_warm_over_kernel[{dt},chunk={row['chunk_size']}{tag}]"] = row["warm_vectors_per_s"] / kvd
    eng = {dt: {r["chunk_size"]: r for r in rows} for dt, rows in (doc.get("engine") or {}).items()
           if isinstance(rows, list)}
    e64 = eng.get("float64", {})
    if e64:
        best = max(e64.values(), key=lambda r: r["vectors_per_s"])
        ratios["engine_kernel_vectors_per_s[float64]"] = best["vectors_per_s"]
        for b in ("bisection", "find_root", "brentq_loop"):
            bv = _get(doc, "baselines", b, "vectors_per_s")
            if bv:
                ratios[f"engine_vs_{b}"] = best["vectors_per_s"] / bv
    for dt, rows in (doc.get("end_to_end") or {}).items():
        if not isinstance(rows, list):
            continue
        for row in rows:
            ek = eng.get(dt, {}).get(row["chunk_size"])
            if ek and row.get("factored") == ek["factored"]:
                ratios[f"e2e_over_engine_kernel[{dt},chunk={row['chunk_size']}]"] = (
                    row["warm_vectors_per_s"] / ek["vectors_per_s"])
    # The end-to-end target divides the best end-to-end run by the same kernel-only
    # figure the baseline targets use (the best chunk size of the engine path).
    e2e = [row["warm_vectors_per_s"] for row in (doc.get("end_to_end") or {}).get("float64") or []
           if isinstance(row, dict) and row.get("factored") in (None, True)]
    if e2e and e64:
        ratios["e2e_over_engine_kernel[float64,best]"] = max(e2e) / ratios["engine_kernel_vectors_per_s[float64]"]
    targets = []

    def target(name, key, goal, le=False):
        v = ratios.get(key)
        targets.append(dict(name=name, ratio=key, target=goal, measured=v,
                            met=None if v is None else (v <= goal if le else v >= goal)))

    # The kernel as the engine computes it (factored on the cartesian paper grid) is
    # what a user gets from `sweep run`; the plain-function ratios are reported too.
    target("kernel (engine path) ≥ 20× numpy bisection", "engine_vs_bisection", TARGETS["kernel_vs_bisection"])
    target("kernel (engine path) ≥ 10× scipy find_root", "engine_vs_find_root", TARGETS["kernel_vs_find_root"])
    target("kernel (engine path) ≥ 200× scipy brentq loop", "engine_vs_brentq_loop",
           TARGETS["kernel_vs_brentq_loop"])
    target("end-to-end sweep run ≥ 50% of kernel-only", "e2e_over_engine_kernel[float64,best]",
           TARGETS["e2e_over_kernel_min"])
    target("all cores ≥ 1.7× one core", "all_vs_one_core[coverage_oa5,float64]", TARGETS["all_vs_one_core"])
    target("warm compile ≤ 20% of cold", "warm_over_cold_compile[coverage_oa5,float64]",
           TARGETS["warm_over_cold_compile_max"], le=True)
    return ratios, targets


# ---------------------------------------------------------------------------
# CLI entry

def _command_line(argv) -> str:
    return "sweep bench" + ("" if not argv else " " + " ".join(shlex.quote(a) for a in argv))


def cmd_bench(args) -> int:
    """Entry point of ``sweep bench``.  ``args`` is either an argparse namespace made
    with :func:`add_arguments`, or one whose ``argv`` holds the raw options (what
    ``sweep.cli`` passes)."""
    argv = getattr(args, "argv", None)
    if argv is not None:
        parser = add_arguments(argparse.ArgumentParser(prog="sweep bench", description=__doc__.split("\n\n")[0]))
        try:
            args = parser.parse_args(list(argv))
        except SystemExit as exc:
            return int(exc.code or 0)
    else:
        argv = _reconstruct_argv(args)
    expose_cpu_devices()   # one JAX device per core, if JAX has not started yet
    log = (lambda s: print(s, file=sys.stderr, flush=True))
    try:
        cfg = _config(args)
        out, md = _output_paths(args)
    except BenchUsage as exc:
        print(f"sweep bench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    cfg["command"] = _command_line(argv)
    _, _, _, report = _import_benchmarks()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"sweep bench: error: --out {out.parent}: cannot create the directory: {exc}", file=sys.stderr)
        return EXIT_RUNTIME

    def write(doc):
        doc["command"] = cfg["command"]
        for path, text in ((out, json.dumps(_jsonable(doc), indent=1, allow_nan=False) + "\n"),
                           (md, report.markdown(doc))):
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text)
            os.replace(tmp, path)   # readers never see a half-written report

    doc = run_bench(cfg, log, checkpoint=write)
    log(f"wrote {out} and {md}")
    if args.json:
        print(json.dumps(_jsonable(doc), allow_nan=False))
    bad = [b for b in ("bisection", "find_root", "brentq_loop")
           if _get(doc, "baselines", b) and not doc["baselines"][b]["agrees"]]
    if bad:
        for b in bad:
            a = doc["baselines"][b]["agreement"]
            print(f"sweep bench: error: baseline {b} disagrees with coverage_oa5: worst |diff| "
                  f"{a['worst']:.3g} (tolerance {TOLERANCES[b]:g}), {a['mismatches']} NaN/flag mismatches",
                  file=sys.stderr)
        return 1
    failed = {k: r["failed"] for k, r in doc.get("sections", {}).items() if isinstance(r, dict) and "failed" in r}
    for k, msg in failed.items():  # a section's own check failed (e.g. tables that disagree)
        print(f"sweep bench: error: section {k}: {msg}", file=sys.stderr)
    return 1 if failed else 0


def _output_paths(args) -> tuple[Path, Path]:
    """(DIR/STEM.json, DIR/STEM.md) from ``--out DIR --name STEM`` (BenchUsage if unusable)."""
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise BenchUsage(f"--out {out_dir}: exists and is not a directory; expected a directory")
    name = str(args.name)
    if not name or name in (".", "..") or os.sep in name or (os.altsep and os.altsep in name):
        raise BenchUsage(f"--name {name!r}: expected a file-name stem without directories")
    return out_dir / f"{name}.json", out_dir / f"{name}.md"


def _reconstruct_argv(args) -> list:
    argv = []
    for k in ("kernels", "dtypes", "skip"):
        v = getattr(args, k, None)
        if v:
            argv += [f"--{k}", *map(str, v)]
    for k in ("n", "out", "name", "repeats"):
        v = getattr(args, k, None)
        if v is not None:
            argv += [f"--{k}", str(v)]
    for k in ("quick", "json"):
        if getattr(args, k, False):
            argv.append(f"--{k}")
    return argv


if __name__ == "__main__":  # python -m sweep.bench ...
    sys.exit(cmd_bench(argparse.Namespace(argv=sys.argv[1:])))
