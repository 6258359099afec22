"""Admissibility flags (docs/model.md §3 and the conditions of §5/§8).

A parameter vector that violates an assumption is not an error: the kernels mark
the row with one boolean per condition, named after it, and ``admissible``.
"""
from __future__ import annotations

import jax.numpy as jnp

from .primitives import _pow


def A1(alpha1, alpha2, pi1, pi2):
    """A1 (AI improves): α2 ≥ α1 and π2 ≤ π1."""
    return (alpha2 >= alpha1) & (pi2 <= pi1)


def A2(*L):
    """A2 (no leapfrogging): φℓ(π_t) < 1 for every period given (L_t = φℓ(π_t))."""
    ok = L[0] < 1.0
    for Lt in L[1:]:
        ok = ok & (Lt < 1.0)
    return ok


def A3_satisfiable(s_under, alpha1):
    """A3 can hold for some s1: s̲ < α1."""
    return s_under < alpha1


def A3(s1, s_under, alpha1):
    """A3 (skill floor never binds): s1 ∈ (s̲, α1)."""
    return (s1 > s_under) & (s1 < alpha1)


def A4(b, lam_R, *alphas):
    """A4 (employment profitable): b > 1 and λR > max_t α_t^(b−1)."""
    ok = b > 1.0
    for a in alphas:
        ok = ok & (lam_R > _pow(a, b - 1.0))
    return ok


def monotone(b, alpha2, pi2, lam_R):
    """Monotone terminal policy (Cor. 3): λRπ2 ≥ b α2^(b−1)."""
    return lam_R * pi2 >= b * _pow(alpha2, b - 1.0)


def in_domain(p, params) -> jnp.ndarray:
    """Every parameter in ``params`` lies in its docs/model.md §1 domain."""
    ok = None
    for prm in params:
        d = prm.domain
        x = p[prm.name]
        c = jnp.isfinite(x)
        c = c & ((x >= d.lo) if d.lo_closed else (x > d.lo))
        c = c & ((x <= d.hi) if d.hi_closed else (x < d.hi))
        ok = c if ok is None else ok & c
    return ok
