"""Root-solve status codes, one per lane of every solved quantity.

They become int8 Parquet columns named ``status_<quantity>``.  A NaN in a float
output is always explained by a status outside :data:`OK` in the matching status
column, or by a False admissibility flag.

:class:`Status` names each code; its integer values are the ones stored in the
data and never change (append new codes at the end).  Each code has exactly one
meaning, given by :data:`MESSAGES`.  The module-level constants (``CONVERGED``,
...) are the same codes as plain ``int``: kernels use those, because JAX treats a
plain Python int as a weakly typed scalar (no dtype promotion against int8).
"""
from __future__ import annotations

import enum

__all__ = ["Status", "MESSAGES", "OK", "describe",
           "CONVERGED", "NO_SIGN_CHANGE", "NONFINITE", "MAX_ITER", "AT_LOWER", "AT_UPPER",
           "SKIPPED", "NOT_UNIQUE"]


class Status(enum.IntEnum):
    """Status of one solved quantity in one row (stored as int8)."""

    CONVERGED = 0
    NO_SIGN_CHANGE = 1
    NONFINITE = 2
    MAX_ITER = 3
    AT_LOWER = 4
    AT_UPPER = 5
    SKIPPED = 6
    NOT_UNIQUE = 7

    @property
    def message(self) -> str:
        return MESSAGES[self]


#: one sentence per code: what the value in the matching float column is
MESSAGES: dict[Status, str] = {
    Status.CONVERGED: "interior root; the bracket shrank to the tolerance",
    Status.NO_SIGN_CHANGE: "the function has the same sign at both bracket ends: no root "
                           "in the bracket; value NaN",
    Status.NONFINITE: "a bracket end or a function value was NaN or infinite; value NaN",
    Status.MAX_ITER: "the iteration cap was reached before the tolerance; value is the best "
                     "iterate",
    Status.AT_LOWER: "the defining condition already holds at the lower end (infimum "
                     "convention, or the corner 0 of an equilibrium); value = lower end",
    Status.AT_UPPER: "the defining condition holds nowhere below the upper end (infimum "
                     "convention, or the corner 1 of an equilibrium); value = upper end",
    Status.SKIPPED: "not solved because a precondition (an admissibility condition of this "
                    "row) failed; value NaN",
    Status.NOT_UNIQUE: "solved, but the equilibrium is not unique (none or several "
                       "candidates, or every value is one); value NaN",
}

CONVERGED = int(Status.CONVERGED)
NO_SIGN_CHANGE = int(Status.NO_SIGN_CHANGE)
NONFINITE = int(Status.NONFINITE)
MAX_ITER = int(Status.MAX_ITER)
AT_LOWER = int(Status.AT_LOWER)
AT_UPPER = int(Status.AT_UPPER)
SKIPPED = int(Status.SKIPPED)
NOT_UNIQUE = int(Status.NOT_UNIQUE)

#: lower-case name per code (kept for readers of older outputs)
NAMES = {int(s): s.name.lower() for s in Status}

#: statuses whose value is a valid, fully determined number
OK = (CONVERGED, AT_LOWER, AT_UPPER)


def describe(code: int) -> str:
    """``"NAME: message"`` for a stored code; unknown codes are reported as such."""
    try:
        s = Status(int(code))
    except ValueError:
        return f"{int(code)}: unknown status code"
    return f"{s.name}: {s.message}"
