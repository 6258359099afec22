"""JAX's persistent compilation cache for the command line: the second and later
``sweep`` commands load their executables instead of compiling them again.

Compiling is most of a short command's time: ``sweep reproduce oa5
--points-per-axis 5`` spends about half of its wall time in XLA compiles of four
programs (the factored stage, its assembly, the chunk function with the
reductions, the narrowing pass), and every new process compiled them again.

Where the cache lives (decided once, before JAX starts; this module imports no JAX):

* ``JAX_COMPILATION_CACHE_DIR`` set: that directory, with JAX's own settings, left
  as they are (a cache the user or a test run configured wins);
* else ``SWEEP_COMPILE_CACHE``: ``0``/``off``/``false``/``no``/``none`` disables
  it, any other value is the directory;
* else ``$XDG_CACHE_HOME/sweep/jax`` (``~/.cache/sweep/jax`` without
  ``XDG_CACHE_HOME``).

The directory we choose caches every program (minimum compile time 0 s, minimum
entry size 0 bytes), so the small programs are served too.  It is passed through
the environment, so processes a command starts (Dask workers of a local cluster)
share it.  A directory that cannot be created disables the cache (nothing fails).
The cache is never pruned (JAX's size limit needs the ``filelock`` package, not a
dependency here); deleting the directory is always safe.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["CACHE_ENV", "default_cache_dir", "configure_compile_cache"]

#: environment variable: a cache directory, or 0/off/false/no/none to disable the cache
CACHE_ENV = "SWEEP_COMPILE_CACHE"
_OFF = frozenset({"0", "off", "false", "no", "none"})
_JAX_DIR = "JAX_COMPILATION_CACHE_DIR"


def default_cache_dir(environ=None) -> Path:
    """``$XDG_CACHE_HOME/sweep/jax``, or ``~/.cache/sweep/jax``."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sweep" / "jax"


def configure_compile_cache(environ=None) -> str | None:
    """Set up the persistent compilation cache (see the module docstring) in
    ``environ`` (default: this process's environment); returns its directory, or
    None when it is disabled."""
    environ = os.environ if environ is None else environ
    explicit = environ.get(_JAX_DIR)
    if explicit:
        return explicit
    setting = environ.get(CACHE_ENV, "").strip()
    if setting.lower() in _OFF and setting:
        return None
    path = Path(setting).expanduser() if setting else default_cache_dir(environ)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # e.g. a read-only home: run without the cache
    values = {_JAX_DIR: str(path), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
              "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    environ.update(values)
    if environ is os.environ and "jax" in sys.modules:
        # JAX read its flags from the environment when it was imported: tell it too
        import jax

        jax.config.update("jax_compilation_cache_dir", values[_JAX_DIR])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return str(path)
