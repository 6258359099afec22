"""The independent scalar reference for the equilibrium kernels (docs/model.md §4–§6):
:mod:`sweep.benchmarking.period1_scalar`, which the bench also times, re-exported
under the name the tests use."""
from sweep.benchmarking.period1_scalar import *  # noqa: F401,F403
from sweep.benchmarking.period1_scalar import __all__  # noqa: F401
