"""Throughput benchmarks of the sweep kernels (issue 5).  Not part of the test suite.

Modules:

* :mod:`benchmarks.baselines` — independent numpy/scipy implementations of the
  ``coverage_oa5`` outputs (brentq loop, scipy ``find_root``, numpy bisection).
* :mod:`benchmarks.inputs` — the paper's OA4/OA5 grid and derived inputs.
* :mod:`benchmarks.measure` — in-process measurements (kernel throughput, chunk
  sizes, cost analysis, root iteration counts, factored evaluation prototype,
  roofline references, end-to-end engine runs).
* :mod:`benchmarks.worker` — the subprocess side of compile-time and core-scaling
  measurements (each figure in a fresh interpreter with its own XLA flags).
* :mod:`benchmarks.report` — the markdown report.

Run with ``sweep bench`` (see :mod:`sweep.bench`) or ``python -m sweep bench``.
"""
