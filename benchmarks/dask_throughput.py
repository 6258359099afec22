"""Throughput of the Dask executor against the local executor, same spec, same machine.

    python benchmarks/dask_throughput.py [--spec SPEC.toml] [--chunk-size N]
        [--repeats R] [--dask-workers W] [--json]

Both executors run the same spec back to back, alternating (local, dask, local,
dask, ...) so that a change in machine load hits both; each timed run writes a
fresh output directory.  Timings are *warm*: the local process and every Dask
worker have compiled the chunk function (one untimed warm-up run each) and the
LocalCluster is already up — that is the steady state of a long sweep, where
compilation and cluster start are paid once.  The cold times (cluster start and
compilation included) are printed too.  The default spec is the paper's OA5
grid with 24 values of eta (``coverage_oa5``, float64, 1,990,656 vectors, 16 chunks).

Printed: vectors/s of each executor (median over the repeats), their ratio
dask/local, CPU seconds used per wall second (cores actually obtained — this
matters on a shared machine), vectors per CPU-second (the cost, whatever share of
the cores each run got; for Dask: the workers plus this process, which hosts the
scheduler), and the environment.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_SPEC = """\
# The paper's OA5 grid (sweep/specs/oa5.toml) with 24 values of eta instead of 6:
# 4·3·3·4·4·3·3·4·4·24 = 1,990,656 vectors in 16 chunks.
kernel = "coverage_oa5"
dtype = "float64"
chunk_size = 131072

[fixed]
beta = 0.95
profile = "pi(1-pi)"

[axes]
b = [1.03, 1.05, 1.08, 1.12]
alpha1 = [0.55, 0.65, 0.75]
alpha2 = [0.70, 0.82, 0.90]
pi2 = [0.25, 0.35, 0.45, 0.55]
pi1 = [0.45, 0.55, 0.65, 0.75]
phi = [0.5, 1.2, 2.0]
gamma = [0.1, 0.2, 0.3]
delta = [0.05, 0.10, 0.20, 0.50]
lam_R = [3.0, 5.0, 10.0, 20.0]
eta = { logspace = [-0.7, 1.0, 24] }
"""


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def environment(client=None) -> dict:
    import dask
    import distributed
    import jax
    import jaxlib

    from sweep.engine import describe_devices

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    env = {
        "python": platform.python_version(), "jax": jax.__version__, "jaxlib": jaxlib.__version__,
        "dask": dask.__version__, "distributed": distributed.__version__,
        "cpu": cpu, "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_avg_1m_5m": list(os.getloadavg()[:2]), "local_devices": describe_devices(),
        "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
    }
    if client is not None:
        info = client.run(lambda: __import__("sweep.engine", fromlist=["x"]).describe_devices())
        env["dask_workers"] = {addr: dev for addr, dev in sorted(info.items())}
        env["dask_threads_per_worker"] = sorted(set(client.nthreads().values()))
    return env


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", help="spec file (default: the OA5 grid with 24 values of eta, 1,990,656 vectors)")
    ap.add_argument("--chunk-size", type=int, help="override the spec's chunk_size")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each executor (default 3)")
    ap.add_argument("--dask-workers", type=int, help="LocalCluster workers (default: the executor's)")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args(argv)

    from sweep.devices import expose_cpu_devices
    from sweep.kernel_modules import load_kernel_modules

    expose_cpu_devices()  # one XLA CPU device per core in this process, as `sweep run` does
    load_kernel_modules()

    import distributed

    from sweep.engine import run
    from sweep.executor_dask import DaskExecutor
    from sweep.spec import load_spec

    work = Path(tempfile.mkdtemp(prefix="sweep-dask-bench-"))
    try:
        if args.spec:
            spec_path = Path(args.spec)
        else:
            spec_path = work / "oa5_dense_eta.toml"
            spec_path.write_text(DEFAULT_SPEC)
        spec = load_spec(spec_path).with_overrides(chunk_size=args.chunk_size)
        counter = iter(range(10**6))

        def timed(executor):
            out = work / f"out-{next(counter)}"
            t0, c0 = time.perf_counter(), _cpu_seconds()
            res = run(spec, out, progress=False, executor=executor)
            wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
            assert res.complete and res.vectors_computed == spec.n_vectors, res
            shutil.rmtree(out)
            return wall, cpu

        # cold: compile in this process; start a cluster and compile in every worker
        cold_local, _ = timed("local")
        t0 = time.perf_counter()
        cluster = DaskExecutor(n_workers=args.dask_workers)._local_cluster()
        client = distributed.Client(cluster)
        client.wait_for_workers(len(cluster.workers))
        start_s = time.perf_counter() - t0
        ex = DaskExecutor(client=client)
        cold_dask, _ = timed(ex)

        local, dask_, local_cpu, dask_cpu, client_cpu = [], [], [], [], []
        for _ in range(args.repeats):
            w, c = timed("local")
            local.append(w)
            local_cpu.append(c / w)
            w0 = sum(client.run(_cpu_seconds).values())
            w, c = timed(ex)
            w1 = sum(client.run(_cpu_seconds).values())
            dask_.append(w)
            dask_cpu.append((w1 - w0 + c) / w)
            client_cpu.append(c / w)
        env = environment(client)
        grouping = dict(ex.last_run)
        client.close()
        cluster.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n = spec.n_vectors
    lv, dv = n / statistics.median(local), n / statistics.median(dask_)
    # vectors per CPU-second: what each executor costs, whatever share of the cores it got
    lc = statistics.median(n / (w * c) for w, c in zip(local, local_cpu))
    dc = statistics.median(n / (w * c) for w, c in zip(dask_, dask_cpu))
    doc = {
        "spec": {"kernel": spec.kernel, "dtype": spec.dtype, "n_vectors": n, "chunk_size": spec.chunk_size,
                 "n_chunks": spec.n_chunks, "source": str(args.spec or "OA5 grid, 24 eta values (built in)")},
        "local_vectors_per_s": lv, "dask_vectors_per_s": dv, "ratio_dask_over_local": dv / lv,
        "local_seconds": local, "dask_seconds": dask_,
        "local_cores_used": [round(x, 2) for x in local_cpu], "dask_cores_used": [round(x, 2) for x in dask_cpu],
        "dask_cores_used_by_this_process": [round(x, 2) for x in client_cpu],
        "local_vectors_per_cpu_s": lc, "dask_vectors_per_cpu_s": dc, "cpu_ratio_dask_over_local": dc / lc,
        "cold_local_seconds": cold_local, "cold_dask_seconds_incl_compile": cold_dask,
        "cluster_start_seconds": start_s, "dask_grouping": grouping, "environment": env,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"spec: {spec.kernel} {spec.dtype}, {n} vectors, chunk_size {spec.chunk_size} ({spec.n_chunks} chunks); "
          f"dask: {grouping.get('workers')} workers, {grouping.get('chunks_per_task')} chunk(s) per task")
    print(f"local : {lv:12,.0f} vectors/s   (median of {args.repeats}: "
          + ", ".join(f"{s:.2f}" for s in local) + " s; cores used " + ", ".join(map(str, doc["local_cores_used"])) + ")")
    print(f"dask  : {dv:12,.0f} vectors/s   (median of {args.repeats}: "
          + ", ".join(f"{s:.2f}" for s in dask_) + " s; cores used " + ", ".join(map(str, doc["dask_cores_used"])) + ", of which this process (scheduler, nannies) "
          + ", ".join(map(str, doc["dask_cores_used_by_this_process"])) + ")")
    print(f"ratio dask/local: {dv / lv:.3f}   (per CPU-second: local {lc:,.0f}, dask {dc:,.0f} vectors; "
          f"ratio {dc / lc:.3f})")
    print(f"cold (compile included): local {cold_local:.2f} s; dask {cold_dask:.2f} s after a {start_s:.2f} s "
          f"cluster start")
    print("environment: " + json.dumps(env))
    return 0


if __name__ == "__main__":
    sys.exit(main())
