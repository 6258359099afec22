"""Sinks: what a run keeps of each chunk, behind one small interface.

A sink has

* ``device_part``: a hashable callable ``(Lanes) -> {name: array}`` run on the
  device inside the chunk function (rows: the outputs kept; reductions: partial
  statistics per group), see :class:`sweep.compiled.Lanes`;
* ``extra()``: its runtime inputs (a pytree of host arrays, ``{}`` if none);
* ``prepare(out_dir)``: create what it writes into (before any chunk);
* ``done(out_dir, chunk_ids)``: the chunks whose result it already holds;
* ``write(out_dir, chunk, start, length, outputs)``: keep one chunk's result
  (atomically: temporary name, then rename), from the host copy of its device
  part's outputs;
* ``close(out_dir, complete)``: after the chunks of one call (e.g. merge the
  partials into a summary when every chunk is done).

A run ends with :func:`close_sinks`, which closes the reductions together so that
their exact-quantile narrowing passes share one pass over the grid.

A run with several sinks computes each chunk once: :class:`Combined` runs every
sink's device part in the same chunk function.  Adding a sink (Zarr arrays,
say) is one new module here and one line in :func:`sinks_for`.
"""
from __future__ import annotations

from .combined import Combined

__all__ = ["Combined", "sinks_for", "close_sinks"]


def sinks_for(spec) -> list:
    """The sinks of ``spec``: rows (unless a ``[reduce]`` section is the only
    output asked for) and one reduction sink per named reduction."""
    from .reduce import ReduceSink
    from .rows import RowsSink

    sinks = []
    if spec.writes_rows:
        sinks.append(RowsSink(spec, spec.output_names))
    sinks += [ReduceSink(spec, r) for r in spec.reductions]
    return sinks


def close_sinks(sinks, out_dir, complete: bool, factor=None) -> list[str]:
    """Close every sink after a run's chunks; the names of the summaries written.
    Reductions are closed together (:func:`sweep.sinks.reduce.close_reductions`)."""
    from .reduce import close_reductions

    written = [s.name for s in sinks if s.kind != "reduce" and s.close(out_dir, complete, factor=factor)]
    return written + close_reductions([s for s in sinks if s.kind == "reduce"], out_dir, complete, factor)
