"""Independent scalar reference for the coverage quantities (docs/model.md §3, §5, §7).

Written straight from the model's definitions with plain Python floats and scipy's ``brentq``;
it deliberately imports nothing from ``kernels`` and uses the paper's own forms
(Ψ as a ratio, F2 and η̄ as defined) rather than the kernels' rearranged ones, so
agreement is evidence, not tautology.  Baseline learning profile ℓ(π) = π(1−π).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

XTOL = 1e-15
RTOL = 4 * 2.220446049250313e-16 + 1e-20  # brentq minimum is 4 eps


def ell(pi):
    return pi * (1.0 - pi)


def M(s, h, alpha, pi, delta, lam_R, b):
    return lam_R * ((1 - pi) * (alpha + delta * h * (s - alpha)) + pi * s) - s ** b


def g(s, h, alpha, pi, gamma, phi):
    if s >= alpha:
        return s
    Gam = phi * h * ell(pi) - gamma * (1 - h) * (1 - pi)
    return max(s + Gam * (alpha - s), 0.0)


def reference(v: dict) -> dict:
    """All coverage_oa5 quantities for one parameter vector (None where undefined)."""
    a1, a2, p1, p2 = v["alpha1"], v["alpha2"], v["pi1"], v["pi2"]
    phi, gam, dl, lr = v["phi"], v["gamma"], v["delta"], v["lam_R"]
    b, eta, beta = v["b"], v["eta"], v["beta"]
    out = {}
    K2 = gam + phi * ell(p2) / (1 - p2)
    su = ((gam * (1 - p2) * a2 + gam * (1 - p1) * a1 * (1 + gam * (1 - p2)))
          / ((1 + gam * (1 - p2)) * (1 + gam * (1 - p1))))
    out["s_under"] = su
    out["A1"] = a2 >= a1 and p2 <= p1
    out["A2"] = phi * ell(p1) < 1 and phi * ell(p2) < 1
    out["A3"] = su < a1
    out["A4"] = b > 1 and lr > max(a1 ** (b - 1), a2 ** (b - 1))
    out["OA1"] = (b - 1) * (lr - a2 ** (b - 1)) < lr * dl / K2
    out["monotone"] = lr * p2 >= b * a2 ** (b - 1)
    out["admissible"] = all(out[k] for k in ("A1", "A2", "A3", "A4", "OA1", "monotone"))
    if not out["admissible"]:
        return out

    sbb2 = cutoff_D2(a2, p2, phi, gam, dl, lr, b)
    out["sbarbar2"] = sbb2

    def F2(h, s2):
        gg = g(s2, h, a2, p2, gam, phi)
        return beta / (2 * eta) * K2 * b * gg ** (b - 1) * M(s2, h, a2, p2, dl, lr, b)

    def infimum(cond_minus):      # cond_minus increasing on D2; inf {cond ≥ 0} ∪ {α2}
        lo, hi = sbb2, a2
        if cond_minus(lo) >= 0:
            return lo
        if cond_minus(hi) <= 0:
            return hi
        return brentq(cond_minus, lo, hi, xtol=XTOL, rtol=RTOL, maxiter=500)

    hat = infimum(lambda s: F2(0.0, s) - lr * dl)
    bar = infimum(lambda s: F2(1.0, s) - lr * dl)
    out["s2_hat_D"], out["s2_bar_D"] = hat, bar
    L1 = phi * ell(p1)
    e1 = gam * (1 - p1)
    sbb1 = (sbb2 + e1 * a1) / (1 + e1)
    lower = max(su, sbb1)
    out["sbarbar1"] = sbb1
    out["D1_nonempty"] = lower < a1
    out["s1_D"] = (hat - L1 * a1) / (1 - L1)
    out["s1_F"] = (bar + e1 * a1) / (1 + e1)
    if out["D1_nonempty"]:
        w = a1 - lower
        out["rho1"] = w / (a1 - su)
        out["rho1_D"] = min(max(out["s1_D"] - lower, 0.0), w) / w
        out["rho1_F"] = min(max(a1 - out["s1_F"], 0.0), w) / w
    else:
        out["rho1"] = 0.0
    return out


def floor_2(a2, p2, gam):
    """Period-2 skill floor s̲2 = γ(1−π2)α2/(1+γ(1−π2))."""
    return gam * (1 - p2) * a2 / (1 + gam * (1 - p2))


def cutoff_D2(a2, p2, phi, gam, dl, lr, b):
    """s̿2 of eq. OA2: Ψ(s̿2) = λRδ/K2 on (s̲2, α2), Ψ as the paper's ratio (assumes
    eq. OA1, so that the root exists)."""
    K2 = gam + phi * ell(p2) / (1 - p2)
    T = lr * dl / K2
    su2 = floor_2(a2, p2, gam)

    def Psi(s):
        return (b - 1) * (lr * ((1 - p2) * a2 + p2 * s) - s ** b) / ((1 + gam * (1 - p2)) * s - gam * (1 - p2) * a2)

    left = su2 + 1e-13 * (a2 - su2)          # Ψ → +∞ at s̲2: start just inside
    return brentq(lambda s: Psi(s) - T, left, a2, xtol=XTOL, rtol=RTOL, maxiter=500)


def admissible_np(v: dict) -> np.ndarray:
    """The ``admissible`` flag of :func:`reference` for arrays of vectors (numpy,
    the same formulas, vectorized): to count admissible rows of whole grids."""
    a1, a2, p1, p2 = (np.asarray(v[k], np.float64) for k in ("alpha1", "alpha2", "pi1", "pi2"))
    phi, gam, dl, lr, b = (np.asarray(v[k], np.float64) for k in ("phi", "gamma", "delta", "lam_R", "b"))
    K2 = gam + phi * ell(p2) / (1 - p2)
    su = ((gam * (1 - p2) * a2 + gam * (1 - p1) * a1 * (1 + gam * (1 - p2)))
          / ((1 + gam * (1 - p2)) * (1 + gam * (1 - p1))))
    return ((a2 >= a1) & (p2 <= p1)
            & (phi * ell(p1) < 1) & (phi * ell(p2) < 1)
            & (su < a1)
            & (b > 1) & (lr > np.maximum(a1 ** (b - 1), a2 ** (b - 1)))
            & ((b - 1) * (lr - a2 ** (b - 1)) < lr * dl / K2)
            & (lr * p2 >= b * a2 ** (b - 1)))


def eta_bar(s2, v):
    """η̄(s2) as defined in eq. 7 (for property checks)."""
    a2, p2, phi, gam, dl, lr, b, beta = (v[k] for k in ("alpha2", "pi2", "phi", "gamma", "delta", "lam_R", "b", "beta"))
    K2 = gam + phi * ell(p2) / (1 - p2)
    return beta * b * K2 / (2 * lr * dl) * g(s2, 0, a2, p2, gam, phi) ** (b - 1) * M(s2, 0, a2, p2, dl, lr, b)


def is_close(a, b, tol):
    return math.isclose(a, b, rel_tol=0.0, abs_tol=tol)
