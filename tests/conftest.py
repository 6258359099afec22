"""Test configuration: float64 enabled and strict dtype promotion everywhere, and
the toy kernels the engine tests use.

Strict promotion turns any accidental float32/float64 mix inside a kernel into an
error, so the float32 path of a sweep really is float32 end to end.

The toy kernels (tests/toy_kernels.py) are registered here, once for the session,
not as a side effect of importing a test module: a test file runs the same alone
or with the others.
"""
import dataclasses
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

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
