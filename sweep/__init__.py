"""The sweep engine and CLI: spec parsing, lazy grids, chunked execution on
devices, Parquet output, resume, shards and executors.

Modules: :mod:`sweep.spec` (TOML specs), :mod:`sweep.grid` (flat index <->
parameter values), :mod:`sweep.engine` (compile, run, resume),
:mod:`sweep.dataset` (part files, reading), :mod:`sweep.manifest`
(``_sweep.json``), :mod:`sweep.executors`, :mod:`sweep.progress`,
:mod:`sweep.cli` (the ``sweep`` command).

Importing this package does not import JAX: the CLI must set ``XLA_FLAGS``
(the CPU device count) before JAX initializes.
"""
__version__ = "0.1.0"
