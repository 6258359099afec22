"""The code behind ``sweep bench``, installed with the package.

Modules:

* :mod:`sweep.benchmarking.baselines` — independent numpy/scipy implementations of
  the ``coverage_oa5`` outputs (brentq loop, scipy ``find_root``, numpy bisection).
* :mod:`sweep.benchmarking.inputs` — the paper's OA4/OA5 grid and derived inputs.
* :mod:`sweep.benchmarking.measure` — in-process measurements (kernel throughput,
  chunk sizes, cost analysis, root iteration counts, factored evaluation
  prototype, roofline references, end-to-end engine runs).
* :mod:`sweep.benchmarking.worker` — the subprocess side of compile-time and
  core-scaling measurements (each figure in a fresh interpreter with its own XLA
  flags).
* :mod:`sweep.benchmarking.report` — the markdown report.

The driver is :mod:`sweep.bench` (``sweep bench``).  A further section is one
module here defining ``NAME``, ``run(cfg, ctx) -> dict`` and
``markdown(result) -> str``, plus one line in :data:`sweep.bench.SECTION_MODULES`.

The repository's ``benchmarks/`` directory keeps what is not installed: scripts
(``dask_throughput.py``), the committed results and their findings.
"""
