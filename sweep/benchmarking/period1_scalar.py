"""Independent scalar reference for the equilibrium kernels (docs/model.md §4–§6).

The scalar scipy loop a researcher would write: the tests compare the kernels with
it (``tests/reference_equilibria.py`` re-exports it) and ``sweep bench``'s
``period1_speedup`` section times it against ``period1``, so it lives in the
installed package.  Written from docs/model.md alone, in plain Python floats with scipy's ``brentq`` and
``minimize_scalar``; it imports nothing from ``kernels``.  Derivatives that the
kernels take by autodiff through roots are written out by hand here (the implicit
function theorem on the analytic partials of F2), so agreement checks both the
economics and the differentiation.

A parameter set is a plain dict with the docs/model.md code names; the learning profile
is the family ℓ(π) = k[(κ1 + π^a)(1−π)^c + κ0] with keys ell_a, ell_c, ell_kappa0,
ell_kappa1 (defaults: the baseline π(1−π)), normalized to max 1/4.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from .period1_vectors import RANGES, sample_vectors  # noqa: F401  (re-exported for the tests)

__all__ = ["XTOL","RTOL","ell","L","trans","margin","Bp","Bpp","h1_single_firm","period2","F2","h2_star","terminal_payoff","dh2_dtheta_fd","dh2_dtheta_fd_err","continuation","Period1Game","RANGES","sample_vectors"]

XTOL = 1e-15
RTOL = 4 * np.finfo(float).eps


# --- primitives --------------------------------------------------------------------

def ell(pi, p):
    a, c = p.get("ell_a", 1.0), p.get("ell_c", 1.0)
    k0, k1 = p.get("ell_kappa0", 0.0), p.get("ell_kappa1", 0.0)

    def raw(x):
        return (k1 + x ** a) * (1.0 - x) ** c + k0

    if k1 == 0.0:
        top = raw(a / (a + c)) if a + c > 0 else raw(0.0)
    else:
        res = minimize_scalar(lambda x: -raw(x), bounds=(0.0, 1.0), method="bounded",
                              options={"xatol": 1e-12})
        top = max(-res.fun, raw(0.0), raw(1.0))
    return 0.25 / top * raw(pi)


def L(pi, p):
    return p["phi"] * ell(pi, p)


def trans(s, h, alpha, pi, gamma, Lt):
    """g(s,h;A) with the floor."""
    if s >= alpha:
        return s
    return max(s + (Lt * h - gamma * (1.0 - h) * (1.0 - pi)) * (alpha - s), 0.0)


def margin(s, h, alpha, pi, p):
    return p["lam_R"] * ((1 - pi) * (alpha + p["delta"] * h * (s - alpha)) + pi * s) - s ** p["b"]


def Bp(x, b):
    return b * x ** (b - 1.0) if x > 0 else 0.0


def Bpp(x, b):
    return b * (b - 1.0) * x ** (b - 2.0)


# --- single firm (§4): maximize M(s1,h;A1) + βM(g(s1,h;A1),0;A2) directly ---------------

def h1_single_firm(p):
    """argmax over h ∈ [0,1] of the strictly concave single-firm objective, from the
    sign of its derivative (no use of the closed form of eq. 3)."""
    s1, a1, pi1, pi2, b = p["s1"], p["alpha1"], p["pi1"], p["pi2"], p["b"]
    L1 = L(pi1, p)
    gh = (L1 + p["gamma"] * (1 - pi1)) * (a1 - s1)

    def d(h):
        s2 = trans(s1, h, a1, pi1, p["gamma"], L1)
        return (p["lam_R"] * p["delta"] * (1 - pi1) * (s1 - a1)
                + p["beta"] * (p["lam_R"] * pi2 - Bp(s2, b)) * gh)

    if d(0.0) <= 0:
        return 0.0
    if d(1.0) >= 0:
        return 1.0
    return brentq(d, 0.0, 1.0, xtol=XTOL, rtol=RTOL)


# --- terminal period (§5) -------------------------------------------------------------

def period2(p):
    L2 = L(p["pi2"], p)
    return dict(p, L2=L2, K2=p["gamma"] + L2 / (1 - p["pi2"]))


def F2(h, s2, q):
    gg = trans(s2, h, q["alpha2"], q["pi2"], q["gamma"], q["L2"])
    return q["beta"] / (2 * q["eta"]) * q["K2"] * Bp(gg, q["b"]) * margin(s2, h, q["alpha2"], q["pi2"], q)


def h2_star(s2, q):
    """Prop. 3 with the selection of docs/model.md §5 ("Off D2"): h = 1 if
    F2(1) ≥ λRδ, else h = 0 if F2(0) ≤ λRδ, else the root of F2(h;s2) = λRδ (brentq);
    ``q["terminal_order"] = 1`` tests h = 0 first."""
    if s2 >= q["alpha2"]:
        return 1.0
    t = q["lam_R"] * q["delta"]
    c0, c1 = F2(0.0, s2, q) <= t, F2(1.0, s2, q) >= t
    if q.get("terminal_order", 0.0) > 0.5 and c0:
        return 0.0
    if c1:
        return 1.0
    if c0:
        return 0.0
    return brentq(lambda h: F2(h, s2, q) - t, 0.0, 1.0, xtol=XTOL, rtol=RTOL)


def terminal_payoff(x, y, s2, q):
    """Π2^j(x, y) = σ2^j(x, y)·M(s2, x; A2)."""
    b = q["b"]
    gx = trans(s2, x, q["alpha2"], q["pi2"], q["gamma"], q["L2"])
    gy = trans(s2, y, q["alpha2"], q["pi2"], q["gamma"], q["L2"])
    sigma = 1.0 / (1.0 + math.exp(q["beta"] * (gy ** b - gx ** b) / q["eta"]))
    return sigma * margin(s2, x, q["alpha2"], q["pi2"], q)


def _partials_F2(h, s2, q):
    """(∂F2/∂h, ∂F2/∂s2) analytically, for s̲2 < s2 < α2 (floor not binding)."""
    a2, pi2, b, lr, dl = q["alpha2"], q["pi2"], q["b"], q["lam_R"], q["delta"]
    c = q["beta"] * q["K2"] / (2 * q["eta"])
    Gam = q["L2"] * h - q["gamma"] * (1 - h) * (1 - pi2)
    gg = s2 + Gam * (a2 - s2)
    g_h = (q["L2"] + q["gamma"] * (1 - pi2)) * (a2 - s2)
    g_s = 1 - Gam
    m = margin(s2, h, a2, pi2, q)
    m_h = lr * dl * (1 - pi2) * (s2 - a2)
    m_s = lr * ((1 - pi2) * dl * h + pi2) - b * s2 ** (b - 1)
    return (c * (Bpp(gg, b) * g_h * m + Bp(gg, b) * m_h),
            c * (Bpp(gg, b) * g_s * m + Bp(gg, b) * m_s))


def dh2_dtheta_fd(s2, q, name, step=1e-6):
    """Central finite difference of h2* in a period-2 parameter (re-deriving L2)."""
    def at(v):
        return h2_star(s2, period2(dict(q, **{name: v})))
    return (at(q[name] + step) - at(q[name] - step)) / (2 * step)


def dh2_dtheta_fd_err(s2, q, name, step=1e-6):
    """The central difference at ``step/10`` and an estimate of its error.

    The truncation error of a central difference falls 100-fold from ``step`` to
    ``step/10``, so |D(step) − D(step/10)| bounds the finer one's error with a wide
    margin.  Where h2* is steep (∂h2*/∂α2 in the thousands near a corner) a fixed
    step of 1e-6 is off in the fifth digit; this keeps the comparison honest there.
    """
    coarse = dh2_dtheta_fd(s2, q, name, step)
    fine = dh2_dtheta_fd(s2, q, name, step / 10)
    return fine, abs(coarse - fine)


# --- period 1 (§6) ----------------------------------------------------------------------

def continuation(s2, q):
    """(Π2*, V̄2, Π2*', V̄2') at s2, with dh2*/ds2 = −(∂F2/∂s2)/(∂F2/∂h) where h2* is interior."""
    a2, pi2, b, lr, dl = q["alpha2"], q["pi2"], q["b"], q["lam_R"], q["delta"]
    h = h2_star(s2, q)
    Gam = q["L2"] * h - q["gamma"] * (1 - h) * (1 - pi2)
    g2 = trans(s2, h, a2, pi2, q["gamma"], q["L2"])
    dh = 0.0
    if 0.0 < h < 1.0:
        fh, fs = _partials_F2(h, s2, q)
        dh = -fs / fh
    m_s = lr * ((1 - pi2) * dl * h + pi2) - b * s2 ** (b - 1)
    m_h = lr * dl * (1 - pi2) * (s2 - a2)
    g_s = 1 - Gam
    g_h = (q["L2"] + q["gamma"] * (1 - pi2)) * (a2 - s2)
    Pi = 0.5 * margin(s2, h, a2, pi2, q)
    V = s2 ** b + q["beta"] * g2 ** b + q["eta"] * math.log(2.0)
    dPi = 0.5 * (m_s + m_h * dh)
    dV = b * s2 ** (b - 1) + q["beta"] * Bp(g2, b) * (g_s + g_h * dh)
    return Pi, V, dPi, dV


class Period1Game:
    """The period-1 game at one parameter vector (all quantities scalar)."""

    def __init__(self, p):
        self.p = p
        self.q = period2(p)
        self.L1 = L(p["pi1"], p)
        self.g_h = (self.L1 + p["gamma"] * (1 - p["pi1"])) * (p["alpha1"] - p["s1"])
        self._cache = {}

    def s2(self, h):
        p = self.p
        return trans(p["s1"], h, p["alpha1"], p["pi1"], p["gamma"], self.L1)

    def cont(self, h):
        if h not in self._cache:
            self._cache[h] = continuation(self.s2(h), self.q)
        return self._cache[h]

    def F1(self, h):
        p = self.p
        Pi, V, dPi, dV = self.cont(h)
        m1 = margin(p["s1"], h, p["alpha1"], p["pi1"], p)
        m_h = p["lam_R"] * p["delta"] * (1 - p["pi1"]) * (p["s1"] - p["alpha1"])
        return (p["beta"] / (4 * p["eta"]) * dV * self.g_h * m1
                + 0.5 * (m_h + p["beta"] * dPi * self.g_h))

    def Phi(self, x, y):
        """Φ1^j(x, y) (eq. 10)."""
        p = self.p
        Pix, Vx, _, _ = self.cont(x)
        Piy, Vy, _, _ = self.cont(y)
        z = p["beta"] * (Vy - Vx) / p["eta"]
        sigma = 1.0 / (1.0 + math.exp(z)) if z < 700 else 0.0
        m1 = margin(p["s1"], x, p["alpha1"], p["pi1"], p)
        return sigma * (m1 + p["beta"] * Pix) + (1 - sigma) * p["beta"] * Piy

    def best_deviation(self, y, n=801):
        xs = np.linspace(0.0, 1.0, n)
        vals = [self.Phi(float(x), y) for x in xs]
        i = int(np.argmax(vals))
        best = vals[i]
        lo, hi = xs[max(i - 1, 0)], xs[min(i + 1, n - 1)]
        res = minimize_scalar(lambda x: -self.Phi(float(x), y), bounds=(lo, hi),
                              method="bounded", options={"xatol": 1e-13})
        return max(best, -res.fun)

    def is_equilibrium(self, h, rtol=1e-9):
        own = self.Phi(h, h)
        return self.best_deviation(h) - own <= rtol * (1 + abs(own))

    def symmetric_equilibria(self, n=801):
        """Candidates of Lemma 2 (corners, sign changes of F1 refined by brentq) that
        survive the deviation check."""
        hs = np.linspace(0.0, 1.0, n)
        f = [self.F1(float(h)) for h in hs]
        cands = []
        if f[0] <= 0:
            cands.append(0.0)
        if f[-1] >= 0:
            cands.append(1.0)
        for i in range(n - 1):
            if (f[i] > 0) != (f[i + 1] > 0):
                r = brentq(self.F1, float(hs[i]), float(hs[i + 1]), xtol=XTOL, rtol=RTOL)
                if 0.0 < r < 1.0:
                    cands.append(r)
        return sorted(h for h in cands if self.is_equilibrium(h))
