"""In-process measurements (JAX side).  See :mod:`sweep.bench` for the driver.

Timing discipline: every timed call is preceded by a warm-up call of the same
compiled function on the same shapes (so compile time never leaks into a
throughput), ends with ``jax.block_until_ready``, and is repeated; we report the
median (and min/max).  Inputs are placed on the devices before timing, so
"kernel-only" means device compute only (no host→device copy, no output copy).

Kernel-only runs use the engine's layout: ``shard_map`` of the kernel over a 1-D
mesh of all local devices (on CPU, one device per core via
``--xla_force_host_platform_device_count``), fixed parameters passed 0-d.
"""
from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time

import numpy as np

__all__ = [
    "environment", "peak_estimate", "sharded_call", "sharded_kernel", "time_calls", "kernel_throughput", "chunk_sensitivity", "inner_batching",
    "cost_analysis", "while_loop_cost_probe", "iteration_counts", "factored_prototype",
    "roofline", "end_to_end", "kernel_outputs",
]


def _jax():
    import jax

    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
    return jax


# ---------------------------------------------------------------------------
# environment

def environment() -> dict:
    """CPU model, cores, versions, devices, load: recorded with every report."""
    jax = _jax()
    import jaxlib
    try:   # scipy is needed only by two baselines (the "test" extra installs it)
        import scipy
    except ImportError:
        scipy = None

    cpu, mhz, flags = "unknown", None, set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                k, _, v = line.partition(":")
                k = k.strip()
                if k == "model name" and cpu == "unknown":
                    cpu = v.strip()
                elif k == "cpu MHz" and mhz is None:
                    mhz = float(v)
                elif k == "flags" and not flags:
                    flags = set(v.split())
    except OSError:
        pass
    simd_bits = 512 if "avx512f" in flags else 256 if "avx2" in flags else 128
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    devs = jax.local_devices()
    return dict(
        cpu_model=cpu, cpu_mhz=mhz, simd_bits=simd_bits, fma="fma" in flags,
        cores=cores, cpu_count=os.cpu_count(),
        jax=jax.__version__, jaxlib=jaxlib.__version__, numpy=np.__version__, scipy=None if scipy is None else scipy.__version__,
        platform=devs[0].platform, n_devices=len(devs),
        device=f"{devs[0].platform}: {len(devs)} x {devs[0].device_kind}",
        xla_flags=os.environ.get("XLA_FLAGS", ""),
        glibc_tunables=os.environ.get("GLIBC_TUNABLES", ""),   # huge pages: sweep.allocator
        loadavg=list(os.getloadavg()),
    )


def peak_estimate(env: dict) -> dict:
    """Theoretical peak FLOP/s: cores × clock × SIMD lanes × 2 (FMA) × FMA pipes.

    An *estimate*: the clock is /proc/cpuinfo's "cpu MHz" (boost not known inside
    a VM) and we assume 2 FMA pipes per core (true of AMD Zen 2-4 and Intel
    Skylake-SP and later)."""
    ghz = (env.get("cpu_mhz") or 0.0) / 1000.0
    pipes = 2 if env.get("fma") else 1
    out = {}
    for dt, bits in (("float64", 64), ("float32", 32)):
        lanes = env["simd_bits"] // bits
        out[dt] = env["cores"] * ghz * 1e9 * lanes * 2 * pipes
    out["formula"] = (f"cores({env['cores']}) x clock({ghz:.3f} GHz) x SIMD lanes "
                      f"({env['simd_bits']}-bit / dtype bits) x 2 (FMA) x {pipes} FMA pipes")
    return out


# ---------------------------------------------------------------------------
# the engine-shaped kernel call

def _mesh(devices=None):
    jax = _jax()
    from jax.sharding import Mesh

    devices = tuple(devices or jax.local_devices())
    return Mesh(np.array(devices), ("d",)), len(devices)


_CALLS: dict = {}


def sharded_call(fn, devices=None):
    """``(call, place)`` for ``fn`` in the engine's layout: ``call(cols, fixed)`` runs
    ``fn`` under ``shard_map`` over the local devices (per-lane ``cols`` sharded,
    ``fixed`` 0-d and replicated); ``place(cols, fixed, dtype)`` pads the columns to
    a multiple of the device count (repeating the last lane) and puts them on the
    devices.  One jitted function per ``fn``, so every chunk size compiles once."""
    jax = _jax()
    import jax.numpy as jnp
    from jax.sharding import NamedSharding, PartitionSpec as P

    mesh, ndev = _mesh(devices)
    key = (fn, tuple(d.id for d in mesh.devices.flat))
    if key not in _CALLS:
        def body(cols, fixed):
            p = dict(cols)
            p.update(fixed)
            out = fn(p)
            shape = next(iter(cols.values())).shape
            return {k: jnp.broadcast_to(v, shape) for k, v in out.items()}

        _CALLS[key] = jax.jit(jax.shard_map(body, mesh=mesh, in_specs=(P("d"), P()),
                                            out_specs=P("d"), check_vma=False))

    def place(cols, fixed, dtype):
        n = len(next(iter(cols.values())))
        n_pad = -(-n // ndev) * ndev
        dt = np.dtype(dtype)
        c = {k: np.pad(np.asarray(v, dt), (0, n_pad - n), mode="edge") for k, v in cols.items()}
        f = {k: np.asarray(v, dt) for k, v in fixed.items()}
        return (jax.device_put(c, NamedSharding(mesh, P("d"))),
                jax.device_put(f, NamedSharding(mesh, P())))

    return _CALLS[key], place


def sharded_kernel(fn, cols: dict, fixed: dict, dtype: str, devices=None):
    """``(call, args, n_padded)`` with ``call(*args)`` = ``fn`` on ``cols`` (see :func:`sharded_call`)."""
    call, place = sharded_call(fn, devices)
    args = place(cols, fixed, dtype)
    return call, args, len(next(iter(args[0].values())))


def time_calls(call, args, repeats: int = 5, warmup: int = 1) -> dict:
    """Wall seconds of ``block_until_ready(call(*args))``: median/min/max of ``repeats``
    after ``warmup`` untimed calls (the first of which compiles).

    Also the process CPU seconds per timed call: ``cpu_over_wall`` is the number of
    cores the computation actually got (≈ cores when the machine is otherwise
    idle; lower when other processes compete for them)."""
    jax = _jax()
    t0 = time.perf_counter()
    for _ in range(warmup):
        jax.block_until_ready(call(*args))
    first = time.perf_counter() - t0
    ts, cs = [], []
    for _ in range(repeats):
        c = time.process_time()
        t = time.perf_counter()
        jax.block_until_ready(call(*args))
        ts.append(time.perf_counter() - t)
        cs.append(time.process_time() - c)
    return dict(median_s=statistics.median(ts), min_s=min(ts), max_s=max(ts), repeats=repeats,
                warmup_s=first, cpu_over_wall=sum(cs) / sum(ts), loadavg=list(os.getloadavg()))


def kernel_outputs(kernel: str, cols: dict, fixed: dict, dtype: str) -> dict:
    """Host copies of the kernel outputs (engine layout), trimmed to ``len(cols)``."""
    jax = _jax()
    from kernels import get_kernel

    call, args, _ = sharded_kernel(get_kernel(kernel).fn, cols, fixed, dtype)
    n = len(next(iter(cols.values())))
    out = jax.block_until_ready(call(*args))
    return {k: np.asarray(v)[:n] for k, v in out.items()}


def kernel_throughput(kernel: str, cols: dict, fixed: dict, dtype: str, repeats: int = 5) -> dict:
    """Kernel-only vectors/s on all local devices (median of ``repeats``)."""
    from kernels import get_kernel

    n = len(next(iter(cols.values())))
    call, args, _ = sharded_kernel(get_kernel(kernel).fn, cols, fixed, dtype)
    t = time_calls(call, args, repeats)
    t.update(n=n, vectors_per_s=n / t["median_s"], best_vectors_per_s=n / t["min_s"],
             us_per_vector=1e6 * t["median_s"] / n)
    return t


def chunk_sensitivity(kernel: str, cols: dict, fixed: dict, dtype: str, sizes, repeats: int = 3) -> list:
    """Kernel-only vectors/s when the ``n`` vectors are processed in chunks of each size
    (last chunk padded, as the engine does; padding counts as wasted work)."""
    jax = _jax()
    from kernels import get_kernel

    ks = get_kernel(kernel)
    n = len(next(iter(cols.values())))
    rows = []
    for c in sizes:
        call, place = sharded_call(ks.fn)
        chunks = []
        for s in range(0, n, c):
            part = {k: v[s:s + c] for k, v in cols.items()}
            m = len(next(iter(part.values())))
            if m < c:  # pad the last chunk to the compiled size
                part = {k: np.pad(v, (0, c - m), mode="edge") for k, v in part.items()}
            chunks.append(place(part, fixed, dtype))

        def run_all(*_):
            # dispatch every chunk (asynchronous), then wait for all of them
            return [call(*a) for a in chunks]

        t = time_calls(run_all, (), repeats)
        t.update(chunk_size=c, n_chunks=len(chunks), n=n, vectors_per_s=n / t["median_s"],
                 best_vectors_per_s=n / t["min_s"])
        rows.append(t)
    return rows


def inner_batching(kernel: str, cols: dict, fixed: dict, dtype: str, batch_sizes, repeats: int = 3) -> list:
    """PROTOTYPE of an engine option: keep one big chunk per call (one Parquet part)
    but evaluate the kernel inside it row by row (``lax.scan`` over rows of B lanes), so each
    root-solving while loop runs on B lanes (cache-resident, and its trip count is
    set by the slowest of B lanes instead of the whole chunk)."""
    jax = _jax()
    import jax.numpy as jnp
    from jax.sharding import NamedSharding, PartitionSpec as P

    from kernels import get_kernel

    ks = get_kernel(kernel)
    mesh, ndev = _mesh()
    n = len(next(iter(cols.values())))
    dt = np.dtype(dtype)
    rows = []
    for bsz in batch_sizes:
        per = -(-n // ndev)
        per = -(-per // bsz) * bsz            # lanes per device, a multiple of B
        n_pad = per * ndev
        c = {k: np.pad(np.asarray(v, dt), (0, n_pad - n), mode="edge") for k, v in cols.items()}
        f = {k: np.asarray(v, dt) for k, v in fixed.items()}

        def body(cols, fixed, bsz=bsz):
            # rows of B lanes, a plain scan over rows calling the (already vectorized)
            # kernel on each row; not lax.map(batch_size=...), which vmaps the kernel
            # and so turns each while loop into a batched (select-everything) loop.
            rows_in = {k: v.reshape(-1, bsz) for k, v in cols.items()}

            def one(_, cb):
                p = dict(cb)
                p.update(fixed)
                out = ks.fn(p)
                shape = next(iter(cb.values())).shape
                return None, {k: jnp.broadcast_to(v, shape) for k, v in out.items()}

            _, out = jax.lax.scan(one, None, rows_in)
            return {k: v.reshape(-1) for k, v in out.items()}

        call = jax.jit(jax.shard_map(body, mesh=mesh, in_specs=(P("d"), P()), out_specs=P("d"),
                                     check_vma=False))
        args = (jax.device_put(c, NamedSharding(mesh, P("d"))), jax.device_put(f, NamedSharding(mesh, P())))
        t = time_calls(call, args, repeats)
        t.update(batch_size=int(bsz), n=n, vectors_per_s=n / t["median_s"], best_vectors_per_s=n / t["min_s"])
        rows.append(t)
    return rows


# ---------------------------------------------------------------------------
# cost analysis

def _cost(compiled) -> dict:
    ca = compiled.cost_analysis()
    if isinstance(ca, (list, tuple)):   # older JAX: one dict per executable
        ca = ca[0] if ca else {}
    return {k: float(v) for k, v in (ca or {}).items()}


def cost_analysis(kernel: str, dtype: str, n: int = 65536) -> dict:
    """XLA's cost analysis of the jitted kernel on ``n`` lanes (single device), per vector."""
    jax = _jax()
    from kernels import get_kernel
    from . import inputs

    cols = inputs.kernel_inputs(kernel, n)
    dt = np.dtype(dtype)
    p = {k: np.asarray(v, dt) for k, v in cols.items()}
    p.update({k: np.asarray(v, dt) for k, v in inputs.PAPER_FIXED.items()})
    compiled = jax.jit(get_kernel(kernel).fn).lower(p).compile()
    ca = _cost(compiled)
    return dict(n=n, flops_per_vector=ca.get("flops", float("nan")) / n,
                transcendentals_per_vector=ca.get("transcendentals", float("nan")) / n,
                bytes_per_vector=ca.get("bytes accessed", float("nan")) / n)


def while_loop_cost_probe() -> dict:
    """Show what XLA's cost analysis does with a while loop: the same body run 10
    and 1000 times (``fori_loop``: a while loop with a known trip count)."""
    jax = _jax()
    import jax.numpy as jnp

    x = jnp.ones(1024)
    res = {}
    for trips in (10, 1000):
        f = jax.jit(lambda x, t=trips: jax.lax.fori_loop(0, t, lambda i, y: y * 1.0001 + 1.0, x))
        res[trips] = _cost(f.lower(x).compile()).get("flops", float("nan"))
    return dict(flops_trips_10=res[10], flops_trips_1000=res[1000],
                counts_body_once=bool(res[10] == res[1000]),
                note="2 flops x 1024 lanes per trip; equal totals mean the loop body is counted once")


# ---------------------------------------------------------------------------
# root iteration counts (instrumentation of kernels.roots, not a kernel change)

@contextlib.contextmanager
def _count_root_iterations(log: list):
    """While active, every ``kernels.roots.solve`` traced records, per lane, how many
    loop iterations the lane was active (= f evaluations after the 2 at the bracket
    ends), plus the loop trip count.  Implemented by swapping the module's ``lax``
    for a shim whose ``while_loop`` carries a counter, and by bypassing the
    ``custom_jvp`` wrapper (primal only) so the counters can leave the trace."""
    import jax.numpy as jnp
    from jax import lax as real_lax

    import kernels.roots as R

    class _Lax:
        def __getattr__(self, name):
            return getattr(real_lax, name)

        @staticmethod
        def while_loop(cond, body, carry):
            def c2(cc):
                return cond(cc[0])

            def b2(cc):
                c, k = cc
                return body(c), k + (~c["done"]).astype(jnp.int32)

            c, k = real_lax.while_loop(c2, b2, (carry, jnp.zeros(carry["done"].shape, jnp.int32)))
            log.append((k, c["it"]))
            return c

    saved = (R.lax, R._solve)
    # full-width iteration (compact=None): the counts are per lane of the batch
    R.lax = _Lax()
    R._solve = lambda f, mode, max_iter, compact, *args: R._chandrupatla(f, mode, max_iter, None, *args)
    try:
        yield
    finally:
        R.lax, R._solve = saved


def iteration_counts(kernel: str, cols: dict, fixed: dict, dtype: str, chunk_sizes=()) -> dict:
    """Distribution of Chandrupatla iterations per root solve of ``kernel`` on ``cols``
    (one device, one call), and the lane-evaluations a chunked while loop executes
    (every lane runs until the slowest lane of its chunk converges)."""
    jax = _jax()
    from kernels import get_kernel

    ks = get_kernel(kernel)
    dt = np.dtype(dtype)
    p = {k: np.asarray(v, dt) for k, v in cols.items()}
    p.update({k: np.asarray(v, dt) for k, v in fixed.items()})
    log: list = []

    def f(p):
        log.clear()
        with _count_root_iterations(log):
            out = ks.fn(p)
        return out, [k for k, _ in log], [it for _, it in log]

    out, counts, trips = jax.jit(f)(p)
    names = [o.name[len("status_"):] for o in ks.outputs if o.name.startswith("status_")]
    n = len(next(iter(cols.values())))
    solves = []
    for j, (k, trip) in enumerate(zip(counts, trips)):
        k = np.asarray(k).ravel()[:n]
        act = k[k > 0]
        row = dict(solve=names[j] if j < len(names) else f"solve{j}", trip_count=int(trip),
                   lanes_iterating=int(act.size), share_iterating=float(act.size / n))
        if act.size:
            row.update(mean=float(act.mean()), p50=float(np.percentile(act, 50)),
                       p90=float(np.percentile(act, 90)), p99=float(np.percentile(act, 99)),
                       max=int(act.max()),
                       histogram={int(v): int(c) for v, c in zip(*np.unique(act, return_counts=True))})
        # executed lane-iterations if the n lanes run in chunks of size c, vs useful ones
        waste = {}
        for c in chunk_sizes:
            m = -(-n // c) * c
            kk = np.pad(k, (0, m - n)).reshape(-1, c)
            executed = int(kk.max(axis=1).sum()) * c
            waste[int(c)] = dict(executed_per_vector=executed / n, useful_per_vector=float(k.sum() / n))
        row["chunked"] = waste
        solves.append(row)
    return dict(n=n, dtype=dtype, solves=solves,
                note="iterations counted per lane while active; +2 f evaluations per solve at the "
                     "bracket ends; masked (converged/skipped) lanes still compute each loop trip")


# ---------------------------------------------------------------------------
# factored evaluation (prototype of an engine change; uses KernelSpec.factor)

def factored_prototype(kernel: str, n: int, dtype: str, repeats: int = 5) -> dict:
    """PROTOTYPE: evaluate the root-solving stage once per point of the sub-grid it
    depends on, gather per vector, then the closed-form stage; compare to the plain
    kernel (values and time) on the first ``n`` paper vectors.

    The gather indices are computed on the host before timing (in an engine they
    are integer div/mod of the flat index, on the device)."""
    jax = _jax()
    import jax.numpy as jnp
    from jax.sharding import NamedSharding, PartitionSpec as P

    from kernels import get_kernel
    from . import inputs

    ks = get_kernel(kernel)
    if ks.factor is None:
        return dict(skipped=f"{kernel} registers no Factor")
    fixed = dict(inputs.PAPER_FIXED)
    cols = inputs.paper_grid(n)
    sub, sub_idx = inputs.subgrid_index(n)
    stage_params = set(ks.factor.params)
    if not set(sub) <= stage_params:
        return dict(skipped=f"sub-grid axes {sorted(set(sub) - stage_params)} not in the factor's params")

    mesh, ndev = _mesh()
    dt = np.dtype(dtype)

    # stage: the sub-grid's unique points, sharded like the kernel
    st_call, st_args, m_pad = sharded_kernel(ks.factor.stage, sub, {k: v for k, v in fixed.items()
                                                                     if k in stage_params}, dtype)

    # combine: per-vector params and gather indices sharded, stage results replicated
    n_pad = -(-n // ndev) * ndev
    c = {k: np.pad(np.asarray(v, dt), (0, n_pad - n), mode="edge") for k, v in cols.items()}
    idx = np.pad(sub_idx, (0, n_pad - n), mode="edge")
    fx = {k: np.asarray(v, dt) for k, v in fixed.items()}

    def comb(cols, idx, fixed, t):
        p = dict(cols)
        p.update(fixed)
        tt = {k: jnp.take(v, idx, axis=0) for k, v in t.items()}
        out = ks.factor.combine(p, tt)
        return {k: jnp.broadcast_to(v, idx.shape) for k, v in out.items()}

    cb_call = jax.jit(jax.shard_map(comb, mesh=mesh, in_specs=(P("d"), P("d"), P(), P()),
                                    out_specs=P("d"), check_vma=False))
    rep = NamedSharding(mesh, P())
    cb_args = (jax.device_put(c, NamedSharding(mesh, P("d"))),
               jax.device_put(idx, NamedSharding(mesh, P("d"))), jax.device_put(fx, rep))

    def both(*_):
        t = st_call(*st_args)
        t = jax.device_put(t, rep)   # the stage's (small) results to every device
        return cb_call(*cb_args, t)

    t_stage = time_calls(st_call, st_args, repeats)
    full = kernel_outputs(kernel, cols, fixed, dtype)
    k_call, k_args, _ = sharded_kernel(ks.fn, cols, fixed, dtype)
    # interleave factored and plain-kernel timings: the ratio compares equal load
    tb, tk = [], []
    for _ in range(repeats):
        tb.append(time_calls(both, (), 1)["median_s"])
        tk.append(time_calls(k_call, k_args, 1)["median_s"])
    t_both = dict(median_s=statistics.median(tb), loadavg=list(os.getloadavg()))
    fact = {k: np.asarray(v)[:n] for k, v in jax.block_until_ready(both()).items()}
    diffs, exact = {}, True
    for k, v in full.items():
        a, b = np.asarray(v), fact[k]
        if a.dtype.kind == "f":
            both_f = np.isfinite(a) & np.isfinite(b)
            diffs[k] = float(np.max(np.abs(a[both_f] - b[both_f]))) if both_f.any() else 0.0
            exact &= bool(np.array_equal(a, b, equal_nan=True))
        else:
            diffs[k] = int(np.sum(a != b))
            exact &= diffs[k] == 0
    return dict(n=n, unique_stage_points=int(len(next(iter(sub.values())))),
                stage_s=t_stage["median_s"], total_s=t_both["median_s"],
                vectors_per_s=n / t_both["median_s"], loadavg=t_both["loadavg"],
                paired_kernel_vectors_per_s=n / statistics.median(tk),
                speedup_vs_kernel=statistics.median(tk) / t_both["median_s"],
                max_abs_diff_vs_kernel=max(v for v in diffs.values()), bitwise_equal=exact,
                per_output_diff=diffs, stage_params=list(ks.factor.params))


# ---------------------------------------------------------------------------
# roofline references

def roofline(dtype: str, lanes_per_device: int = 16384, chain: int = 32, trips: int = 200,
             repeats: int = 3) -> dict:
    """Empirical compute references on all local devices:

    * FMA: ``x = x·a + c`` chained ``chain`` times per loop trip, ``trips`` trips, on an
      array small enough to stay in cache: 2 flops per element per step.
    * pow: ``x = exp(e·log x)`` chained the same way: the kernel's power-wage primitive.
    """
    jax = _jax()
    import jax.numpy as jnp
    from jax.sharding import NamedSharding, PartitionSpec as P

    mesh, ndev = _mesh()
    dt = jnp.dtype(dtype)
    n = lanes_per_device * ndev
    x0 = jax.device_put(jnp.linspace(0.5, 1.5, n, dtype=dt), NamedSharding(mesh, P("d")))

    def fma_body(x):
        a, c = jnp.asarray(0.999, dt), jnp.asarray(0.0005, dt)

        def step(_, y):
            for _ in range(chain):
                y = y * a + c
            return y
        return jax.lax.fori_loop(0, trips, step, x)

    def pow_body(x):
        e = jnp.asarray(1.0001, dt)

        def step(_, y):
            for _ in range(chain):
                y = jnp.exp(e * jnp.log(y))
            return y
        return jax.lax.fori_loop(0, trips, step, x)

    out = {}
    for name, body, per in (("fma", fma_body, 2.0), ("pow", pow_body, 1.0)):
        call = jax.jit(jax.shard_map(body, mesh=mesh, in_specs=P("d"), out_specs=P("d"), check_vma=False))
        t = time_calls(call, (x0,), repeats)
        ops = per * chain * trips * n
        out[name] = dict(ops_per_s=ops / t["median_s"], median_s=t["median_s"], loadavg=t["loadavg"])
    out["fma"]["unit"] = "FLOP/s (2 per FMA)"
    out["pow"]["unit"] = "x^e evaluations/s (one log + one exp + one mul)"
    return out


# ---------------------------------------------------------------------------
# end to end (sweep.engine)

def engine_compute(dtype: str, chunk_size: int, repeats: int = 5, factor=None) -> dict:
    """Kernel-only throughput of the engine's compute path on the paper grid: the
    ``ChunkRunner`` that ``sweep run`` uses (parameter values built on device, the
    kernel's Factor used when the engine's plan says it pays), no Parquet.  A timed
    pass is everything a run computes: the stage table (root solves on the
    sub-grid) and every chunk, dispatched and waited for.  Warm: the runner is
    built (compiled) and one full pass is made before timing."""
    import jax

    from sweep.engine import ChunkRunner
    from sweep.reproduce import paper_spec

    spec = paper_spec("oa5", dtype=dtype).with_overrides(chunk_size=int(chunk_size))
    t0 = time.perf_counter()
    runner = ChunkRunner(spec, factor=factor)
    setup = time.perf_counter() - t0

    def one_pass():
        # the whole work of a run: the stage table (when factored) and every chunk
        runner.recompute_stage()
        pend = [runner.dispatch(k) for k in range(spec.n_chunks)]
        jax.block_until_ready([p.outputs for p in pend])

    one_pass()
    times, cpu = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        one_pass()
        times.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    best, med = min(times), float(np.median(times))
    return dict(n=spec.n_vectors, chunk_size=int(chunk_size), n_chunks=spec.n_chunks,
                factored=runner.plan is not None,
                setup_seconds=setup, vectors_per_s=spec.n_vectors / med,
                best_vectors_per_s=spec.n_vectors / best, cores_got=float(np.median(cpu)) / med,
                loadavg=list(os.getloadavg()))


def engine_available() -> bool:
    try:
        import sweep.engine  # noqa: F401
        import sweep.spec  # noqa: F401
    except ImportError:
        return False
    return True


def end_to_end(n: int, dtype: str, chunk_sizes, kernel: str = "coverage_oa5", warm_repeats: int = 3) -> list:
    """``sweep.engine.run`` on a spec of (a prefix of) the paper grid, Parquet included.

    The grid keeps trailing axes and reduces leading ones to their first value until
    it has at most ``n`` vectors, so it is the first vectors of the paper grid.
    Each chunk size is run into fresh directories: once ``cold`` (includes the
    in-process compile), then ``warm_repeats`` times reusing it (what a long sweep
    sees; the median is reported)."""
    from sweep.engine import run
    from sweep.spec import parse_spec

    from . import inputs

    axes = {k: list(v) for k, v in inputs.PAPER_AXES.items()}
    size = int(np.prod([len(v) for v in axes.values()]))
    for k in axes:
        if size <= n:
            break
        size //= len(axes[k])
        axes[k] = axes[k][:1]
    import inspect

    from sweep import engine

    # the engine may evaluate a Factor once per sub-grid point (sweep.engine.factor_plan);
    # measure it on and off when the engine has the switch
    variants = (False, True) if "factor" in inspect.signature(run).parameters else (None,)
    rows = []
    for c in chunk_sizes:
        spec = parse_spec(dict(kernel=kernel, dtype=dtype, chunk_size=int(c),
                               fixed=dict(inputs.PAPER_FIXED, profile="pi(1-pi)"), axes=axes),
                          source="<bench>")
        for factor in variants:
            kw = {} if factor is None else dict(factor=factor)
            plan = getattr(engine, "factor_plan", None)
            factored = (plan(spec, factor) is not None) if plan else False
            res, warm = {}, []
            for phase in ("cold",) + ("warm",) * warm_repeats:
                with tempfile.TemporaryDirectory(prefix="sweep-bench-") as d:
                    t0, c0 = time.perf_counter(), time.process_time()
                    r = run(spec, os.path.join(d, "out"), overwrite=True, progress=False, **kw)
                    sec, cpu = time.perf_counter() - t0, time.process_time() - c0
                    nbytes = sum(os.path.getsize(os.path.join(d, "out", f))
                                 for f in os.listdir(os.path.join(d, "out")))
                row = dict(seconds=sec, vectors_per_s=r.n_vectors / sec, bytes_on_disk=nbytes,
                           cpu_seconds=cpu, loadavg=list(os.getloadavg()))
                if phase == "cold":
                    res["cold"] = row
                else:
                    warm.append(row)
            # the warm run of median time (the repeats differ only by machine load)
            res["warm"] = sorted(warm, key=lambda x: x["seconds"])[len(warm) // 2]
            res["warm"]["repeats"] = len(warm)
            rows.append(dict(chunk_size=int(c), n=spec.n_vectors, n_chunks=spec.n_chunks, device=r.device,
                             factored=factored, write_cpu_seconds=_write_cpu_seconds(spec, factor),
                             **{f"{ph}_{k}": v for ph, d in res.items() for k, v in d.items()}))
    return rows


def _write_cpu_seconds(spec, factor) -> float:
    """CPU seconds the host spends turning every computed chunk of ``spec`` into its
    Parquet part (``ChunkTask.finish``: Arrow table + encoding + file), with the
    chunks computed and waited for beforehand: the host's share of a run, which
    on a CPU-only machine competes with the kernel for the same cores."""
    import jax

    from sweep.engine import ChunkTask

    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as d:
        task = ChunkTask(spec, os.path.join(d, "out"), factor=factor)
        os.makedirs(task.out_dir, exist_ok=True)
        pend = [task.dispatch(k) for k in range(spec.n_chunks)]
        jax.block_until_ready([p.outputs for p in pend])
        c = time.process_time()
        for p in pend:
            task.finish(p)
        return time.process_time() - c


# ---------------------------------------------------------------------------
# lane compaction of the terminal thresholds (kernels.roots.solve(compact=...))

def compaction_prototype(n: int, dtype: str, cap_fraction: float | None = None, repeats: int = 5) -> dict:
    """coverage_oa5 as shipped (ŝ2^D, s̄2^D solved with ``compact`` =
    ``kernels.domains.THRESHOLD_COMPACT``) against the same kernel traced with
    full-width threshold solves (``compact=None``): same vectors, interleaved
    repeats, outputs compared bit for bit.  (The name is kept from when this was a
    prototype swapped in from here; it now measures the kernel's own switch.)"""
    jax = _jax()
    from kernels import domains as dom
    from kernels import get_kernel
    from . import inputs

    ks = get_kernel("coverage_oa5")
    cols = inputs.paper_grid(n)
    fixed = dict(inputs.PAPER_FIXED)
    shipped = dom.THRESHOLD_COMPACT
    cap = shipped if cap_fraction is None else cap_fraction

    def traced_with(fraction):
        saved = dom.THRESHOLD_COMPACT
        dom.THRESHOLD_COMPACT = fraction
        try:
            call, args, _ = sharded_kernel(lambda p: ks.fn(p), cols, fixed, dtype)
            out = jax.block_until_ready(call(*args))   # traced (and compiled) with the setting
        finally:
            dom.THRESHOLD_COMPACT = saved
        return call, args, out

    plain_call, args, plain_out = traced_with(None)
    comp_call, _, comp_out = traced_with(cap)
    tp, tc = [], []
    for _ in range(repeats):
        tp.append(time_calls(plain_call, args, 1)["median_s"])
        tc.append(time_calls(comp_call, args, 1)["median_s"])
    equal = all(np.array_equal(np.asarray(plain_out[k])[:n], np.asarray(comp_out[k])[:n], equal_nan=True)
                for k in plain_out)
    return dict(n=n, dtype=dtype, cap_fraction=cap,
                plain_vectors_per_s=n / statistics.median(tp), compacted_vectors_per_s=n / statistics.median(tc),
                speedup=statistics.median(tp) / statistics.median(tc),
                best_speedup=min(tp) / min(tc), bitwise_equal=bool(equal), loadavg=list(os.getloadavg()))
