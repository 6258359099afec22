"""Importing this module registers every kernel (see :mod:`kernels.registry`)."""
from . import coverage  # noqa: F401  coverage_oa4, coverage_oa5
