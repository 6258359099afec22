"""Extra sections of ``sweep bench``: one module each, listed here.

A section module defines

* ``NAME`` — the section's name (its key in the report document, and what
  ``--skip NAME`` skips);
* ``run(cfg, ctx) -> dict`` — the measurement; ``cfg`` is the bench config,
  ``ctx`` a dict with ``environment``, ``log`` (a print function for progress) and
  ``doc`` (the report so far, e.g. to compare with the kernel's throughput);
* ``markdown(result) -> str`` — its part of the markdown report.

A result with a ``failed`` key (a message) makes ``sweep bench`` exit 1.

Adding a section is that module in ``sweep/benchmarking/`` plus one line below.
The built-in sections are written out in :mod:`sweep.bench`.
"""
from __future__ import annotations

import importlib

__all__ = ["SECTION_MODULES", "load_sections"]

#: modules of the extra sections, run in this order after the built-in ones
SECTION_MODULES: tuple[str, ...] = (
    "sweep.benchmarking.reductions",
    "sweep.benchmarking.period1",
    "sweep.benchmarking.factored_baseline",
)


def load_sections() -> list:
    """The section modules of :data:`SECTION_MODULES`, imported."""
    return [importlib.import_module(name) for name in SECTION_MODULES]
