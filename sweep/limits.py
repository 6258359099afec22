"""Memory limits: refuse a run whose chunks cannot fit, and say what to change
when memory runs out anyway.

The grid's size and the axes' points are refused while the spec is parsed, from
the spec's numbers alone (:mod:`sweep.spec`); what a chunk needs depends on the
machine too, so it is checked here, when a run starts, before anything is written.
"""
from __future__ import annotations

import os

from .errors import SpecError

__all__ = ["chunk_bytes", "check_memory", "out_of_memory_advice", "physical_memory"]

#: copies of a chunk's rows alive at once on the host: device outputs (host memory on
#: CPU), their numpy views, the Arrow table, Parquet encoding, times the prefetched
#: chunks in flight.  A rough upper bound: its job is to refuse the hopeless.
_COPIES = 8


def physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def row_bytes(spec) -> int:
    """Bytes of one output row: index, axis columns, outputs in the run dtype."""
    f = 4 if spec.dtype == "float32" else 8
    size = {"float": f, "bool": 1, "int8": 1}
    return 8 + sum(4 if a.categorical else f for a in spec.axes) + sum(
        size.get(o.kind, 8) for o in spec.kernel_spec.outputs)


def chunk_bytes(spec) -> int:
    """Rough host memory of one run's chunks in flight (see :data:`_COPIES`)."""
    return min(spec.chunk_size, spec.n_vectors) * row_bytes(spec) * _COPIES


def _gb(n: float) -> str:
    return f"{n / 2**30:.1f} GB"


def check_memory(spec, available: int | None = None) -> None:
    """SpecError (exit 2) if the chunks of ``spec`` cannot fit in this machine's memory."""
    available = physical_memory() if available is None else available
    need = chunk_bytes(spec)
    if available and need > available:
        fit = max(1, available // (row_bytes(spec) * _COPIES) // 2)
        raise SpecError(
            f"chunk_size {spec.chunk_size}: the chunks of a run need about {_gb(need)} of memory "
            f"({row_bytes(spec)} bytes per row, {_COPIES} copies in flight), more than this "
            f"machine's {_gb(available)}; expected a chunk_size of at most about {fit} "
            f"(--chunk-size), or --dtype float32")


def _is_oom(exc: BaseException) -> bool:
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, MemoryError):
            return True
        text = str(exc)
        if "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower():
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def out_of_memory_advice(exc: BaseException, spec) -> str:
    """``""``, or what to change when ``exc`` says memory ran out."""
    if not _is_oom(exc):
        return ""
    smaller = max(1, spec.chunk_size // 4)
    tip = " or --dtype float32 (halves every array)" if spec.dtype == "float64" else ""
    return (f"; out of memory with chunk_size {spec.chunk_size}: re-run with --chunk-size {smaller}"
            f"{tip}; parts already written are kept")
