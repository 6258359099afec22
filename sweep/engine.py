"""The engine's public names in one place (the code lives in modules named for
what they hold):

* :mod:`sweep.plan` — schema, factoring, lanes per device, shards (no JAX);
* :mod:`sweep.compiled` — the jitted stage and chunk functions;
* :mod:`sweep.runner` — device inputs and asynchronous dispatch;
* :mod:`sweep.sinks` — what a run keeps: rows (:mod:`sweep.sinks.rows`) and
  reductions (:mod:`sweep.sinks.reduce`);
* :mod:`sweep.run` — orchestration: resume, shards, executors, progress, errors.

The engine turns on ``jax_enable_x64``: flat indices must be int64 (grids of up to
2**62 vectors) and float64 runs need it anyway.  float32 runs stay float32: every
table and fixed value handed to the kernel is a float32 array.
"""
from __future__ import annotations

from .compiled import describe_devices  # noqa: F401
from .plan import (FACTOR_BATCH, FACTOR_ENV, FACTOR_MAX_SUB, FactorPlan, factor_plan,  # noqa: F401
                   output_schema, parse_shard, shard_chunks)
from .run import ChunkTask, RunResult, compute_chunk, evaluate, run
from .runner import ChunkRunner, Pending, get_runner

__all__ = [
    "ChunkRunner",
    "ChunkTask",
    "FactorPlan",
    "factor_plan",
    "get_runner",
    "Pending",
    "RunResult",
    "run",
    "compute_chunk",
    "evaluate",
    "parse_shard",
    "shard_chunks",
    "describe_devices",
    "output_schema",
]
