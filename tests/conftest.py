"""Test configuration: float64 enabled and strict dtype promotion everywhere, and
the toy kernels the engine tests use.

Strict promotion turns any accidental float32/float64 mix inside a kernel into an
error, so the float32 path of a sweep really is float32 end to end.

The toy kernels (tests/toy_kernels.py) are registered here, once for the session,
not as a side effect of importing a test module: a test file runs the same alone
or with the others.
"""
import atexit
import dataclasses
import os
import shutil
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")


def _share_compilation_cache() -> None:
    """One persistent XLA compilation cache for the whole test run.

    Compiling the equilibrium kernels dominates the suite (``period1`` alone takes
    about a minute), and the same executables are compiled again in every process the
    suite starts: pytest-xdist workers, ``sweep`` subprocesses of the CLI and shard
    tests, notebook kernels.  Those processes inherit this environment, so an
    executable compiled in one is loaded, not recompiled, in the others.  The cache
    lives in a fresh temporary directory removed when the run ends, so no run sees
    another run's entries; a cache the user configured is left alone.  Only compiles
    longer than JAX's default threshold (1 s) are stored, so the small toy-kernel
    executables whose compilations the engine tests count are never served from it.
    """
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    path = tempfile.mkdtemp(prefix="skillsweep-test-xla-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = path
    owner = os.getpid()
    atexit.register(lambda: os.getpid() == owner and shutil.rmtree(path, ignore_errors=True))


_share_compilation_cache()

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True)
settings.load_profile("ci")


def pytest_configure(config):
    # Registered before collection: some test modules build specs at import time.
    from kernels import catalog
    from tests import toy_kernels

    for spec in toy_kernels.KERNELS:
        if not catalog.is_registered(spec.name):
            catalog.register(spec)


#: coverage_oa5 declared with a small ``max_batch`` (the engine's sub-batching)
BATCHED_OA5 = "test_coverage_oa5_batched"


@pytest.fixture
def batched_oa5():
    """coverage_oa5 under another name, evaluated in sub-batches of 64 lanes and
    without factoring; removed again after the test."""
    from kernels import catalog

    spec = dataclasses.replace(catalog.get_kernel("coverage_oa5"), name=BATCHED_OA5, factor=None,
                               max_batch=64)
    catalog.register(spec)
    try:
        yield spec
    finally:
        catalog.unregister(BATCHED_OA5)


# ---------------------------------------------------------------------------
# Scheduling over pytest-xdist workers
#
# Compiling the equilibrium kernels is most of the suite's CPU time, so two rules:
# 1. Files that compile the *same* period-1 programs run in one worker, one after
#    another: ``tests/test_period1.py``'s float64 program serves the audit and
#    equality tests in-process, and ``tests/test_bonus.py``'s base ``period1``
#    (compiled exactly as there) is compiled once for both.  Every other file is
#    its own unit, as with ``--dist loadfile``, so module fixtures are built once.
# 2. Units start longest first (longest-processing-time scheduling): the notebooks
#    (four kernels in parallel) and the period-1 group, whose end would otherwise be
#    the suite's tail on one worker while the other sits idle.  The list is by
#    measured CPU time of each unit; a file not listed keeps its collection order
#    after them.
# The units are given to xdist by its scheduler hook (a load-scope scheduler whose
# scope is the unit).  ``--dist loadgroup`` with ``xdist_group`` marks would say the
# same, but pytest-xdist 3.8 marks a group by rewriting ``item._nodeid``, which
# pytest 9.2's ``nodeid`` no longer reads: the marks are silently ignored and every
# test becomes its own unit (each worker then runs the notebooks' module fixture).

#: test files that share period-1 executables: one worker unit
SHARED_UNITS = {"test_period1.py": "period1", "test_period1_audit.py": "period1",
                "test_period1_equality.py": "period1", "test_bonus.py": "period1"}
#: units in the order they are handed out (CPU seconds measured on 2 cores, 2026-11)
LONGEST_FIRST = ("test_notebooks.py",      # ~400 s: four notebooks, each compiling kernels
                 "period1",                # ~400 s
                 "test_tables.py", "test_coverage.py", "test_terminal.py", "test_reduce.py",
                 "test_roots.py", "test_profiles.py")


def _unit(path: str) -> str:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return SHARED_UNITS.get(name, name)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    rank = {u: i for i, u in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda it: rank.get(_unit(it.nodeid.split("::", 1)[0]), len(rank)))  # stable


def pytest_xdist_make_scheduler(config, log):
    """Load-scope scheduling with :func:`_unit` as the scope, units in collection
    order (``--no-loadscope-reorder``; the order :func:`pytest_collection_modifyitems` set)."""
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid.split("::", 1)[0])

    return UnitScheduling(config, log)
