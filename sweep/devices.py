"""How many JAX devices a CPU process gets: one per core, set before JAX starts.

XLA's CPU backend is one device by default; ``--xla_force_host_platform_device_count``
splits it into N devices, so the engine can shard a chunk across the cores.  The
flag is read when JAX starts its CPU backend, so it must be in ``XLA_FLAGS`` before
``import jax``.  It only affects the CPU platform: on GPU nodes the same code
shards across the GPUs.

Every entry point (the CLI, ``sweep bench``, Dask workers, the notebooks) calls
:func:`expose_cpu_devices`; nothing else sets the flag.  This module imports
nothing heavy (no JAX).
"""
from __future__ import annotations

import os
import re

__all__ = ["cpu_cores", "with_device_count", "expose_cpu_devices", "DEVICE_COUNT_FLAG"]

DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count"


def cpu_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def with_device_count(flags: str, n: int) -> str:
    """``flags`` (an XLA_FLAGS string) with the CPU device count replaced by ``n``."""
    flags = re.sub(re.escape(DEVICE_COUNT_FLAG) + r"=\S+", "", flags)
    return " ".join(f"{flags} {DEVICE_COUNT_FLAG}={int(n)}".split())


def expose_cpu_devices(n: int | None = None) -> bool:
    """Give this process ``n`` JAX CPU devices (default: one per core).

    Does nothing, and returns False, when the device count is already set in
    ``XLA_FLAGS`` (an explicit setting wins); returns True when it set the flag.
    The setting only takes effect if JAX has not started its CPU backend yet in
    this process (importing JAX does not start it; the first computation does)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if DEVICE_COUNT_FLAG.lstrip("-") in flags:
        return False
    os.environ["XLA_FLAGS"] = with_device_count(flags, cpu_cores() if n is None else max(1, int(n)))
    return True
