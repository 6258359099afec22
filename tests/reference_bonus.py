"""Independent scalar reference for the pay-bonus game (docs/model.md §9, OA.8).

Written from the model text alone, in plain Python floats with scipy's ``brentq`` and
``minimize_scalar``; it imports nothing from ``kernels`` (the base-game primitives come
from :mod:`tests.reference_equilibria`, itself independent of the kernels).

Terminal period: candidates of each bonus class from a fine scan of F2_z (801 points,
brentq on every sign change), every candidate checked against deviations (h', z') by a
dense grid (801 points per class) plus a bounded scalar maximization around the best
point; the selection rule of §9.  Period 1: the payoff Φ1 of §9 with these continuation
values, the best deviation over (x, zx) on a grid plus a bounded maximization.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from . import reference_equilibria as base

N_SCAN = 801
RTOL_DEV = 1e-9


def sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def F2z(h, s2, q, wz):
    gg = base.trans(s2, h, q["alpha2"], q["pi2"], q["gamma"], q["L2"])
    return (q["beta"] / (2 * q["eta"]) * q["K2"] * base.Bp(gg, q["b"])
            * (base.margin(s2, h, q["alpha2"], q["pi2"], q) - wz))


def sort_value(h, z, s2, q):
    """ωz + βB(g(s2,h;A2)): what the worker compares across firms."""
    gg = base.trans(s2, h, q["alpha2"], q["pi2"], q["gamma"], q["L2"])
    return q["omega"] * z + q["beta"] * gg ** q["b"]


def payoff2(hd, zd, h, z, s2, q):
    """Π2(h',z' | h,z) = σ2·[M(s2,h') − ωz']."""
    u = sort_value(h, z, s2, q) - sort_value(hd, zd, s2, q)
    return sigmoid(-u / q["eta"]) * (base.margin(s2, hd, q["alpha2"], q["pi2"], q) - q["omega"] * zd)


def best_deviation2(h, z, s2, q, n_scan=N_SCAN):
    best = -math.inf
    xs = np.linspace(0.0, 1.0, n_scan)
    for zd in (0, 1):
        vals = [payoff2(float(x), zd, h, z, s2, q) for x in xs]
        i = int(np.argmax(vals))
        lo, hi = xs[max(i - 1, 0)], xs[min(i + 1, n_scan - 1)]
        res = minimize_scalar(lambda x: -payoff2(float(x), zd, h, z, s2, q), bounds=(lo, hi),
                              method="bounded", options={"xatol": 1e-12})
        best = max(best, vals[i], -res.fun)
    return best


def is_equilibrium2(h, z, s2, q, rtol=RTOL_DEV, n_scan=N_SCAN):
    own = payoff2(h, z, h, z, s2, q)
    return best_deviation2(h, z, s2, q, n_scan) - own <= rtol * (1 + abs(own))


def class_candidates(s2, q, z, n_scan=N_SCAN):
    """Symmetric KKT candidates of class z: h = 1, h = 0, then roots ascending."""
    if s2 > q["alpha2"]:
        return [1.0]
    wz, t = q["omega"] * z, q["lam_R"] * q["delta"]
    out = []
    if F2z(1.0, s2, q, wz) >= t:
        out.append(1.0)
    if F2z(0.0, s2, q, wz) <= t:
        out.append(0.0)
    hs = np.linspace(0.0, 1.0, n_scan)
    f = [F2z(float(h), s2, q, wz) - t for h in hs]
    for i in range(n_scan - 1):
        if (f[i] > 0) != (f[i + 1] > 0):
            r = brentq(lambda h: F2z(h, s2, q, wz) - t, float(hs[i]), float(hs[i + 1]),
                       xtol=base.XTOL, rtol=base.RTOL)
            if 0.0 < r < 1.0:
                out.append(r)
    return out


def terminal(s2, q, n_scan=N_SCAN):
    """Verified symmetric equilibria per class and the §9 selection.

    Returns dict(eq={0: [...], 1: [...]}, h, z, Pi_bar, V_bar) with h = z = NaN when
    no symmetric equilibrium is verified."""
    eq = {z: [h for h in class_candidates(s2, q, z, n_scan) if is_equilibrium2(h, z, s2, q, n_scan=n_scan)]
          for z in (0, 1)}
    pick = {}
    for z in (0, 1):
        hs = eq[z]
        if 1.0 in hs:
            pick[z] = 1.0
        elif 0.0 in hs:
            pick[z] = 0.0
        elif hs:
            pick[z] = min(hs)
    prof = {z: 0.5 * (base.margin(s2, h, q["alpha2"], q["pi2"], q) - q["omega"] * z)
            for z, h in pick.items()}
    if not pick:
        return dict(eq=eq, h=math.nan, z=math.nan, Pi_bar=math.nan, V_bar=math.nan)
    if 0 in pick and 1 in pick:
        z = 1 if prof[1] > prof[0] else 0
    else:
        z = next(iter(pick))
    h = pick[z]
    gg = base.trans(s2, h, q["alpha2"], q["pi2"], q["gamma"], q["L2"])
    V = s2 ** q["b"] + q["omega"] * z + q["beta"] * gg ** q["b"] + q["eta"] * math.log(2.0)
    return dict(eq=eq, h=h, z=z, Pi_bar=prof[z], V_bar=V)


def period2(p):
    q = base.period2(p)
    q["omega"] = p.get("omega", 0.0)
    return q


# --- period 1 ------------------------------------------------------------------------------

class Period1Bonus:
    """Φ1(x,zx | y,zy) of docs/model.md §9 at one parameter vector."""

    def __init__(self, p, n_scan=201):
        self.p = p
        self.n_scan = n_scan
        self.q = period2(p)
        self.L1 = base.L(p["pi1"], p)
        self._cache = {}

    def cont(self, x):
        if x not in self._cache:
            p = self.p
            s2 = base.trans(p["s1"], x, p["alpha1"], p["pi1"], p["gamma"], self.L1)
            r = terminal(s2, self.q, self.n_scan)
            self._cache[x] = (r["Pi_bar"], r["V_bar"])
        return self._cache[x]

    def Phi(self, x, zx, y, zy):
        p, w = self.p, self.q["omega"]
        Pix, Vx = self.cont(x)
        Piy, Vy = self.cont(y)
        sig = sigmoid(((w * zx + p["beta"] * Vx) - (w * zy + p["beta"] * Vy)) / p["eta"])
        m1 = base.margin(p["s1"], x, p["alpha1"], p["pi1"], p) - w * zx
        return sig * (m1 + p["beta"] * Pix) + (1 - sig) * p["beta"] * Piy

    def best_deviation(self, y, zy, n=201):
        xs = np.linspace(0.0, 1.0, n)
        best = -math.inf
        for zx in (0, 1):
            vals = [self.Phi(float(x), zx, y, zy) for x in xs]
            i = int(np.argmax(vals))
            lo, hi = xs[max(i - 1, 0)], xs[min(i + 1, n - 1)]
            res = minimize_scalar(lambda x: -self.Phi(float(x), zx, y, zy), bounds=(lo, hi),
                                  method="bounded", options={"xatol": 1e-12})
            best = max(best, vals[i], -res.fun)
        return best

    def deviation_gain(self, h, z):
        own = self.Phi(h, z, h, z)
        return self.best_deviation(h, z) - own, own
