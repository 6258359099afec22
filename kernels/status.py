"""Root-solve status codes (int8), one per lane of every threshold.

They become Parquet columns named ``status_<quantity>``.  A NaN in a float
output is always explained by a status other than CONVERGED/AT_LOWER/AT_UPPER
in the matching status column, or by a False admissibility flag.
"""
from __future__ import annotations

CONVERGED = 0       # interior root, bracket shrunk to tolerance
NO_SIGN_CHANGE = 1  # f(lo) and f(hi) have the same sign: no root in the bracket
NONFINITE = 2       # a bracket end or a function value was NaN/inf
MAX_ITER = 3        # iteration cap reached before tolerance (value = best iterate)
AT_LOWER = 4        # infimum convention: the condition already holds at the lower end
AT_UPPER = 5        # infimum convention: the condition holds nowhere; value = upper end
SKIPPED = 6         # not solved: a precondition (admissibility) failed; value NaN

NAMES = {
    CONVERGED: "converged",
    NO_SIGN_CHANGE: "no_sign_change",
    NONFINITE: "nonfinite",
    MAX_ITER: "max_iter",
    AT_LOWER: "at_lower",
    AT_UPPER: "at_upper",
    SKIPPED: "skipped",
}

#: statuses whose value is a valid, fully determined number
OK = (CONVERGED, AT_LOWER, AT_UPPER)
