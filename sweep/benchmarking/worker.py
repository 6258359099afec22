"""Subprocess side of the measurements that need a fresh interpreter.

    python -m sweep.benchmarking.worker '{"mode": "compile", "kernel": ..., "dtype": ..., "n": ..., "cache_dir": ...}'
    python -m sweep.benchmarking.worker '{"mode": "throughput", "kernel": ..., "dtype": ..., "n": ..., "repeats": ...}'

Prints one JSON document on stdout.  XLA flags and CPU affinity are set by the
parent (environment, ``taskset``) because they must be in place before JAX starts.

* ``compile``: trace+lower and XLA-compile the engine-shaped kernel function
  with JAX's persistent compilation cache in ``cache_dir`` (every entry cached:
  min compile time 0 s, min entry size 0 bytes).  A fresh process has an empty
  in-memory cache, so a second process on the same ``cache_dir`` measures the
  persistent-cache ("warm") compile.
* ``throughput``: kernel-only vectors/s on the process's devices.
"""
from __future__ import annotations

import json
import os
import sys
import time


def main(argv=None) -> int:
    cfg = json.loads((argv or sys.argv[1:])[0])
    t_start = time.perf_counter()
    import jax

    jax.config.update("jax_enable_x64", True)
    if cfg.get("cache_dir"):
        jax.config.update("jax_compilation_cache_dir", cfg["cache_dir"])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    import numpy as np

    from kernels import get_kernel

    from . import inputs, measure

    t_import = time.perf_counter() - t_start
    kernel, dtype, n = cfg["kernel"], cfg["dtype"], int(cfg["n"])
    cols = inputs.kernel_inputs(kernel, n)
    fixed = dict(inputs.PAPER_FIXED)
    res = dict(mode=cfg["mode"], kernel=kernel, dtype=dtype, n=n, import_s=t_import,
               devices=len(jax.local_devices()), affinity=sorted(os.sched_getaffinity(0)),
               xla_flags=os.environ.get("XLA_FLAGS", ""))
    if cfg["mode"] == "compile":
        call, args, _ = measure.sharded_kernel(get_kernel(kernel).fn, cols, fixed, dtype)
        t = time.perf_counter()
        lowered = call.lower(*args)
        t_lower = time.perf_counter() - t
        t = time.perf_counter()
        compiled = lowered.compile()
        t_compile = time.perf_counter() - t
        jax.block_until_ready(compiled(*args))   # the executable runs (and is not a stub)
        cache = cfg.get("cache_dir")
        files = sum(len(f) for _, _, f in os.walk(cache)) if cache else 0
        res.update(lower_s=t_lower, compile_s=t_compile, total_s=t_lower + t_compile, cache_files=files)
        try:   # the per-device program of the shard_map: divide by the lanes per device
            ca = measure._cost(compiled)
            lanes = len(next(iter(args[0].values()))) / len(jax.local_devices())
            res["cost"] = dict(n=n, flops_per_vector=ca.get("flops", float("nan")) / lanes,
                               transcendentals_per_vector=ca.get("transcendentals", float("nan")) / lanes,
                               bytes_per_vector=ca.get("bytes accessed", float("nan")) / lanes,
                               source="cost_analysis() of the cold compile (shard_map, per device)")
        except Exception as exc:  # noqa: BLE001 - cost analysis is optional on some backends
            res["cost"] = dict(error=str(exc))
    elif cfg["mode"] == "throughput":
        res.update(measure.kernel_throughput(kernel, cols, fixed, dtype, int(cfg.get("repeats", 5))))
    else:
        raise SystemExit(f"unknown mode {cfg['mode']!r}")
    res["loadavg_end"] = list(os.getloadavg())
    res = {k: (float(v) if isinstance(v, np.floating) else v) for k, v in res.items()}
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
