"""Brute-force reference for the period-1 game (docs/model.md §5–§6), written apart
from the kernels and from :mod:`tests.reference_equilibria`: plain numpy, the
baseline profile ℓ(π) = π(1−π), nothing imported from ``kernels``.

Method (one parameter vector at a time):

1. The terminal policy h2*(s2) by the selection rule of docs/model.md §5 ("Off D2"):
   h = 1 if F2(1) ≥ λRδ, else h = 0 if F2(0) ≤ λRδ, else the lowest root of
   F2(h) = λRδ (a 65-point scan for the first sign change, then bisection to the
   last bit); ``terminal_order = 1`` tests h = 0 first.  Vectorized over s2.
2. The whole payoff matrix Φ1(x_i, y_j) of eq. 10 on an N-point engagement grid
   (N = 2001 by default, one terminal solve per grid point).
3. Symmetric equilibria ("no deviation beats the diagonal"): grid points y_j whose
   grid best reply is y_j itself, grid cells where the grid best reply crosses the
   diagonal, and local minima of the diagonal gain max_i Φ1(x_i,y_j) − Φ1(y_j,y_j)
   that lie below the **second-order tolerance** 2·|Φ1_xx|·dx² (the gain a true
   equilibrium within one cell of y_j can show on the grid: ½|Φ1_xx|(2dx)²).
   Each candidate is refined by a continuous solve (brentq on BR(y) − y, BR a
   continuous best reply: grid argmax refined by bounded Brent), else by a bounded
   minimization of the continuous gain, and kept only if the continuous best
   deviation gains at most ``VERIFY_RTOL``·(1 + |Φ1|).
4. Asymmetric equilibria (mutual best replies): grid 2-cycles i = BR(j), j ≈ BR(i)
   with |i − j| ≥ 3 cells, and the two corner starts y = 0, y = 1; each refined by
   brentq on BR(BR(y)) − y and verified for both firms like the symmetric ones.

Limits: a tangency (a deviation gain that is zero to second order over a whole
interval) or an equilibrium closer than ~3 grid cells to another is not
resolved; the audit classifies such cases rather than hiding them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq, minimize_scalar

VERIFY_RTOL = 1e-9       # the kernel's float64 deviation tolerance, the same standard
ASYM_MIN_SEP = 1e-3      # |x − y| below this is not an asymmetric pair (the kernel's)
DEDUP = 1e-6             # equilibria closer than this are one (BR-based roots: ~1e-8)

KEYS = ("alpha1", "alpha2", "pi1", "pi2", "phi", "gamma", "delta", "lam_R", "beta", "b",
        "eta", "s1")


def _g(s, h, alpha, pi, gamma, L):
    """Skill transition with the floor (s < α); s itself at or above α."""
    out = np.maximum(s + (L * h - gamma * (1.0 - h) * (1.0 - pi)) * (alpha - s), 0.0)
    return np.where(s < alpha, out, s)


def _margin(s, h, alpha, pi, delta, lam_R, b):
    return lam_R * ((1.0 - pi) * (alpha + delta * h * (s - alpha)) + pi * s) - np.power(s, b)


def _bprime(x, b):
    with np.errstate(divide="ignore"):
        return np.where(x > 0, b * np.power(np.maximum(x, 1e-300), b - 1.0), 0.0)


@dataclass
class Terminal:
    """Period-2 game (baseline profile)."""

    alpha2: float
    pi2: float
    phi: float
    gamma: float
    delta: float
    lam_R: float
    beta: float
    b: float
    eta: float
    terminal_order: float = 0.0

    def __post_init__(self):
        self.L2 = self.phi * self.pi2 * (1.0 - self.pi2)
        self.K2 = self.gamma + self.L2 / (1.0 - self.pi2)
        self.T = self.lam_R * self.delta

    def foc(self, h, s2):
        """F2(h;s2) − λRδ."""
        gg = _g(s2, h, self.alpha2, self.pi2, self.gamma, self.L2)
        m = _margin(s2, h, self.alpha2, self.pi2, self.delta, self.lam_R, self.b)
        return self.beta / (2.0 * self.eta) * self.K2 * _bprime(gg, self.b) * m - self.T

    def h2(self, s2):
        """h2*(s2), vectorized (docs/model.md §5 selection)."""
        s2 = np.atleast_1d(np.asarray(s2, float))
        f0, f1 = self.foc(0.0, s2), self.foc(1.0, s2)
        c0, c1 = f0 <= 0.0, f1 >= 0.0
        if self.terminal_order > 0.5:
            h = np.where(c0, 0.0, np.where(c1, 1.0, np.nan))
        else:
            h = np.where(c1, 1.0, np.where(c0, 0.0, np.nan))
        need = np.isnan(h)
        if need.size == 1 and need[0]:
            # one skill (the continuous searches): brentq on the lowest sign change
            s = float(s2[0])
            hs = np.linspace(0.0, 1.0, 65)
            f = self.foc(hs, s)
            k = int(np.argmax((f[1:] > 0) != (f[:-1] > 0)))
            h[0] = brentq(lambda x: float(self.foc(x, s)), hs[k], hs[k + 1], xtol=1e-15, rtol=1e-15)
        elif need.any():
            s = s2[need]
            hs = np.linspace(0.0, 1.0, 65)
            f = self.foc(hs[None, :], s[:, None])
            pos = f > 0
            cross = pos[:, 1:] != pos[:, :-1]
            k = np.argmax(cross, axis=1)
            lo, hi = hs[k], hs[k + 1]
            flo = f[np.arange(len(s)), k]
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                fm = self.foc(mid, s)
                same = (fm > 0) == (flo > 0)
                lo, flo = np.where(same, mid, lo), np.where(same, fm, flo)
                hi = np.where(same, hi, mid)
            h[need] = 0.5 * (lo + hi)
        return np.where(s2 >= self.alpha2, 1.0, h)


@dataclass
class BruteForceGame:
    """The period-1 game at one vector; ``n`` grid points of [0, 1]."""

    p: dict
    n: int = 2001
    terminal_order: float = 0.0
    sym: list = field(default_factory=list)
    asym: list = field(default_factory=list)
    marginal: list = field(default_factory=list)

    def __post_init__(self):
        p = self.p
        self.t = Terminal(p["alpha2"], p["pi2"], p["phi"], p["gamma"], p["delta"], p["lam_R"],
                          p["beta"], p["b"], p["eta"], self.terminal_order)
        self.L1 = p["phi"] * p["pi1"] * (1.0 - p["pi1"])
        self.xs = np.linspace(0.0, 1.0, self.n)
        self.dx = 1.0 / (self.n - 1)
        self.gv = self.values(self.xs)
        A, P, V = self.gv
        # Phi[i, j] = Φ1(x_i, y_j)
        self.Phi = self._phi(A[:, None], V[:, None], P[None, :], V[None, :])
        self.br = np.argmax(self.Phi, axis=0)

    # --- payoffs --------------------------------------------------------------------
    def values(self, x):
        """(A, P, V) of engagement levels x: A = M(s1,x;A1) + βΠ2*, P = βΠ2*, V = V̄2."""
        p, t = self.p, self.t
        x = np.atleast_1d(np.asarray(x, float))
        s2 = _g(p["s1"], x, p["alpha1"], p["pi1"], p["gamma"], self.L1)
        h2 = t.h2(s2)
        pi2 = 0.5 * _margin(s2, h2, t.alpha2, t.pi2, t.delta, t.lam_R, t.b)
        g2 = _g(s2, h2, t.alpha2, t.pi2, t.gamma, t.L2)
        v = np.power(s2, t.b) + t.beta * np.power(g2, t.b) + t.eta * math.log(2.0)
        m1 = _margin(p["s1"], x, p["alpha1"], p["pi1"], p["delta"], p["lam_R"], p["b"])
        return m1 + t.beta * pi2, t.beta * pi2, v

    def _phi(self, Ax, Vx, Py, Vy):
        z = self.t.beta * (Vy - Vx) / self.t.eta
        sigma = 0.5 * (1.0 - np.tanh(0.5 * z))          # 1/(1+e^z) without overflow
        return sigma * Ax + (1.0 - sigma) * Py

    def phi(self, x, y):
        """Φ1^j(x, y) (eq. 10) for scalars."""
        Ax, _, Vx = self.values(x)
        _, Py, Vy = self.values(y)
        return float(self._phi(Ax, Vx, Py, Vy)[0])

    def best_reply(self, y):
        """Continuous best reply to y: (x, Φ1(x, y)).  Grid argmax refined by bounded
        Brent on the two cells around it."""
        Ay, Py, Vy = self.values(y)
        A, _, V = self.gv
        col = self._phi(A, V, Py, Vy)
        i = int(np.argmax(col))
        best_x, best = float(self.xs[i]), float(col[i])
        lo, hi = self.xs[max(i - 1, 0)], self.xs[min(i + 1, self.n - 1)]
        res = minimize_scalar(lambda x: -float(self._phi(*self._xv(x), Py, Vy)[0]),
                              bounds=(lo, hi), method="bounded", options={"xatol": 1e-13})
        if -res.fun > best:
            best_x, best = float(res.x), float(-res.fun)
        return best_x, best

    def _xv(self, x):
        A, _, V = self.values(x)
        return A, V

    def gain(self, x, y):
        """Best deviation gain of the firm playing x against y (≥ 0 up to rounding)."""
        return self.best_reply(y)[1] - self.phi(x, y)

    def verified(self, x, y):
        own = self.phi(x, y)
        return self.best_reply(y)[1] - own <= VERIFY_RTOL * (1.0 + abs(own))

    # --- symmetric equilibria -----------------------------------------------------
    def _refine_symmetric(self, lo, hi):
        def d(y):
            return self.best_reply(y)[0] - y
        cands = []
        dlo, dhi = d(lo), d(hi)
        if dlo == 0.0:
            cands.append(lo)
        if dhi == 0.0:
            cands.append(hi)
        if dlo * dhi < 0:
            cands.append(brentq(d, lo, hi, xtol=1e-14, rtol=1e-15))
        if not cands and hi > lo:
            res = minimize_scalar(lambda y: self.gain(y, y), bounds=(lo, hi), method="bounded",
                                  options={"xatol": 1e-13})
            cands.append(float(res.x))
        return cands

    def symmetric(self):
        n, xs, Phi, br = self.n, self.xs, self.Phi, self.br
        j = np.arange(n)
        diag = Phi[j, j]
        gain = Phi[br, j] - diag
        i = np.clip(br, 1, n - 2)
        curv = np.abs(Phi[i + 1, j] - 2 * Phi[i, j] + Phi[i - 1, j])     # |Φxx|·dx²
        tol2 = 2.0 * np.maximum(curv, 1e-300) + 1e-13 * (1 + np.abs(diag))
        d = br - j
        brackets = set()
        for k in np.flatnonzero(d == 0):
            brackets.add((max(k - 1, 0), min(k + 1, n - 1)))
        for k in np.flatnonzero(np.sign(d[:-1]) * np.sign(d[1:]) < 0):
            brackets.add((k, k + 1))
        left = np.r_[np.inf, gain[:-1]]
        right = np.r_[gain[1:], np.inf]
        for k in np.flatnonzero((gain <= tol2) & (gain <= left) & (gain <= right)):
            brackets.add((max(k - 1, 0), min(k + 1, n - 1)))
        found = []
        for a, b in sorted(brackets):
            for y in self._refine_symmetric(float(xs[a]), float(xs[b])):
                own = self.phi(y, y)
                g = self.best_reply(y)[1] - own
                if g <= VERIFY_RTOL * (1 + abs(own)):
                    found.append(y)
                elif g <= 1e3 * VERIFY_RTOL * (1 + abs(own)):
                    self.marginal.append(("sym", y, g))
        self.sym = _dedup(sorted(found))
        return self.sym

    # --- asymmetric equilibria ----------------------------------------------------
    def asymmetric(self):
        n, xs, br = self.n, self.xs, self.br
        hits = [jj for jj in range(n)
                if abs(int(br[jj]) - jj) >= 3 and abs(int(br[br[jj]]) - jj) <= 2]
        # adjacent grid 2-cycles are one continuous 2-cycle seen from several cells:
        # one bracket per run, widened by 3 cells
        brackets = [(0, 0), (n - 1, n - 1)]
        for jj in hits:
            if brackets[-1][1] < n - 1 and jj - brackets[-1][1] <= 3:
                brackets[-1] = (brackets[-1][0], jj)
            else:
                brackets.append((jj, jj))
        pairs = []

        def e(y):
            return self.best_reply(self.best_reply(y)[0])[0] - y

        for a, b in brackets:
            cands = []
            if a == b and a in (0, n - 1):
                # a pair with a firm at a corner: the verification below decides
                cands.append(float(xs[a]))
                pts = []
            else:
                lo, hi = float(xs[max(a - 3, 0)]), float(xs[min(b + 3, n - 1)])
                pts = np.linspace(lo, hi, 7)
            ev = [e(float(t)) for t in pts]
            for u, v, fu, fv in zip(pts[:-1], pts[1:], ev[:-1], ev[1:]):
                if fu == 0.0:
                    cands.append(float(u))
                elif fu * fv < 0:
                    cands.append(brentq(e, float(u), float(v), xtol=1e-14, rtol=1e-15))
            if len(ev) and ev[-1] == 0.0:
                cands.append(float(pts[-1]))
            for y in cands:
                x = self.best_reply(y)[0]
                if abs(x - y) <= ASYM_MIN_SEP:
                    continue
                ox, oy = self.phi(x, y), self.phi(y, x)
                gx = self.best_reply(y)[1] - ox
                gy = self.best_reply(x)[1] - oy
                tx, ty = VERIFY_RTOL * (1 + abs(ox)), VERIFY_RTOL * (1 + abs(oy))
                if gx <= tx and gy <= ty:
                    pairs.append((max(x, y), min(x, y)))
                elif gx <= 1e3 * tx and gy <= 1e3 * ty:
                    self.marginal.append(("asym", (x, y), max(gx, gy)))
        pairs.sort()
        out = []
        for pr in pairs:
            if not out or abs(pr[0] - out[-1][0]) > 1e-6 or abs(pr[1] - out[-1][1]) > 1e-6:
                out.append(pr)
        self.asym = out
        return out

    def solve(self):
        self.symmetric()
        self.asymmetric()
        return self


def _dedup(v):
    out = []
    for x in v:
        if not out or x - out[-1] > DEDUP:
            out.append(x)
    return out


def admissible(p):
    """A1–A4 of docs/model.md §3 (baseline profile), for scalar vectors."""
    L1 = p["phi"] * p["pi1"] * (1 - p["pi1"])
    L2 = p["phi"] * p["pi2"] * (1 - p["pi2"])
    e1, e2 = p["gamma"] * (1 - p["pi1"]), p["gamma"] * (1 - p["pi2"])
    s_und = (e2 * p["alpha2"] + e1 * p["alpha1"] * (1 + e2)) / ((1 + e2) * (1 + e1))
    return bool(p["alpha2"] >= p["alpha1"] and p["pi2"] <= p["pi1"] and L1 < 1 and L2 < 1
                and s_und < p["s1"] < p["alpha1"] and p["b"] > 1
                and p["lam_R"] > max(p["alpha1"], p["alpha2"]) ** (p["b"] - 1))


def classify(k, sym, asym, verify, loc_tol=1e-6):
    """Disagreements between one kernel row ``k`` (a mapping of period1 outputs) and
    the brute force (``sym``: sorted symmetric equilibria, ``asym``: pairs (high, low)).

    ``verify(x, y)`` says whether the brute force's continuous best reply to y
    gains nothing over x (used where locations differ by more than ``loc_tol``:
    a maximum flat below double precision has no location to 1e-6, and a point
    that verifies is then no disagreement).  Categories: see
    ``benchmarks/period1_audit.py``.
    """
    cats = []
    n = int(k["n_sym_eq"])
    if n != len(sym):
        cats.append("sym_count")
    elif n > 0:
        for kv, bv in ((k["h1_star_min"], sym[0]), (k["h1_star_max"], sym[-1])):
            if abs(kv - bv) > loc_tol and not verify(kv, kv):
                cats.append("sym_location")
                break
    if k["asym_eq"]:
        hi, lo = k["asym_high"], k["asym_low"]
        if not any(abs(hi - a) <= loc_tol and abs(lo - b) <= loc_tol for a, b in asym):
            if not (verify(hi, lo) and verify(lo, hi)):
                cats.append("asym_location" if asym else "asym_false")
            elif not asym:
                cats.append("asym_brute_missed")
    elif asym:
        cats.append("asym_missing")
    if int(k["n_asym_eq"]) != len(asym):
        cats.append("asym_count")
    return cats
