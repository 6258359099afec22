"""The deviation test shared by the equilibrium kernels (``period1``, ``terminal_bonus``,
``period1_bonus``; docs/model.md §6 and §9).

A candidate passes when no deviation the search finds gains more than
``RTOL·(1 + |Φ|)`` over the candidate's own payoff Φ: relative for payoffs of
order one and above, absolute (RTOL) near zero, so a payoff that happens to be
close to 0 does not demand a gain below its rounding.  RTOL is 1e-9 in float64;
in float32 it is 1e-4, because the nested terminal root is only resolved to the
float32 noise of F2 there.
"""
from __future__ import annotations

import jax.numpy as jnp

__all__ = ["RTOL", "tolerance", "no_profitable_deviation"]

#: relative tolerance of the deviation test, by float width
RTOL = {64: 1e-9, 32: 1e-4}


def tolerance(dtype) -> float:
    """:data:`RTOL` for a float dtype."""
    return RTOL[jnp.finfo(dtype).bits]


def no_profitable_deviation(best, own, scale: float = 1.0):
    """True where the best deviation's payoff ``best`` exceeds the candidate's own
    payoff ``own`` by at most ``scale``·RTOL·(1 + |own|) (NaN compares False).
    ``scale`` > 1 widens the band (a test run on values computed in other parts of
    a program, which may differ from the candidate's in the last bits)."""
    return best - own <= scale * tolerance(jnp.result_type(own)) * (1.0 + jnp.abs(own))
