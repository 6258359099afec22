"""Importing this module registers every kernel (see :mod:`kernels.registry`)."""
from . import coverage  # noqa: F401  coverage_oa4, coverage_oa5
from . import single_firm, terminal, period1  # noqa: F401
from . import terminal_bonus, period1_bonus  # noqa: F401  pay-bonus extension (OA.8)
