"""Independent numpy/scipy baselines for ``coverage_oa5`` (docs/model.md §3, §5, §7).

Written from docs/model.md, not from ``kernels/`` (no JAX, no kernel code), so that
agreement with the kernel is evidence, and so the throughput comparison is
against what a careful researcher would write without JAX.  Baseline learning
profile ℓ(π) = π(1−π) only (the profile of Tables OA4/OA5).

Three solvers, same model code, same outputs:

* :func:`oa5_brentq_loop`  — pure Python per vector, ``scipy.optimize.brentq``
  for each of the three thresholds (math-module scalars).
* :func:`oa5_find_root`    — vectorized ``scipy.optimize.elementwise.find_root``
  (Chandrupatla, like the kernel) on the lanes that need a solve.
* :func:`oa5_bisection`    — plain vectorized numpy bisection, 60 halvings
  (bracket widths are < 1, so 2^-60 < 1e-18: float64 resolution).

Outputs (the comparison set, names as the kernel's): ``sbarbar2``, ``s2_hat_D``,
``s2_bar_D``, ``rho1``, ``rho1_D``, ``rho1_F`` (float64, NaN where undefined, with
the kernel's conventions) and ``admissible``, ``D1_nonempty`` (bool).

Thresholds (docs/model.md §5, Cor. 3, infimum conventions, f increasing on D2):

* s̿2 solves Ψ(s) = λRδ/K2 on (s̲2, α2); we solve the equivalent
  (b−1)·M(s,0;A2) − (λRδ/K2)·g(s,0;A2) = 0 (multiplied by g(s,0) > 0, so the
  sign is the same and the function is finite at s̲2).  Solved where the
  period-2 parameters are in their domains and A2, A4 (period 2) and OA1 hold.
* ŝ2^D = inf({s ∈ D2: η̄(s)/η − 1 > 0} ∪ {α2}) and
  s̄2^D = inf({s ∈ D2: F2(1;s)/(λRδ) − 1 ≥ 0} ∪ {α2}); the lower end s̿2 when the
  condition holds there, α2 when it holds nowhere.  Solved where, in addition,
  λRπ2 ≥ bα2^(b−1) (monotone policy) and s̿2 exists.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["OA5_COMPARE", "oa5_brentq_loop", "oa5_find_root", "oa5_bisection", "compare"]

#: outputs compared against the kernel (floats, then bools)
OA5_COMPARE = ("sbarbar2", "s2_hat_D", "s2_bar_D", "rho1", "rho1_D", "rho1_F")
OA5_FLAGS = ("admissible", "D1_nonempty")

_EPS = float(np.finfo(np.float64).eps)
_TINY = float(np.finfo(np.float64).tiny)


# ---------------------------------------------------------------------------
# vectorized model pieces (numpy)

def _prepare(p: dict) -> dict:
    """Broadcast inputs to float64 arrays of one shape and compute every closed form
    and flag that does not need a root (docs/model.md §2, §3, §5)."""
    names = ("b", "alpha1", "alpha2", "pi1", "pi2", "phi", "gamma", "delta", "lam_R", "eta", "beta")
    arrs = np.broadcast_arrays(*[np.asarray(p[k], dtype=np.float64) for k in names])
    q = dict(zip(names, arrs))
    b, a1, a2, pi1, pi2 = q["b"], q["alpha1"], q["alpha2"], q["pi1"], q["pi2"]
    phi, gam, dl, lr = q["phi"], q["gamma"], q["delta"], q["lam_R"]
    eta, beta = q["eta"], q["beta"]
    open01 = lambda x: np.isfinite(x) & (x > 0) & (x < 1)  # noqa: E731
    pos = lambda x: np.isfinite(x) & (x > 0)                # noqa: E731
    dom2 = (open01(a2) & open01(pi2) & open01(dl) & pos(lr) & pos(gam) & pos(phi) & pos(eta)
            & np.isfinite(b) & (b > 1) & np.isfinite(beta) & (beta > 0) & (beta <= 1))
    dom = dom2 & open01(a1) & open01(pi1)
    L1 = phi * pi1 * (1 - pi1)                     # φℓ(π1), baseline ℓ
    L2 = phi * pi2 * (1 - pi2)
    K2 = gam + L2 / (1 - pi2)                      # γ + φℓ(π2)/(1−π2)
    e1, e2 = gam * (1 - pi1), gam * (1 - pi2)
    with np.errstate(all="ignore"):
        a2b1 = a2 ** (b - 1)
        a1b1 = a1 ** (b - 1)
        A1 = (a2 >= a1) & (pi2 <= pi1)
        A2_2 = L2 < 1
        A2 = (L1 < 1) & A2_2
        A4_2 = (b > 1) & (lr > a2b1)
        A4 = A4_2 & (lr > a1b1)
        OA1 = (b - 1) * (lr - a2b1) < lr * dl / K2
        mono = lr * pi2 >= b * a2b1
        su2 = e2 * a2 / (1 + e2)                   # s̲2
        su = (su2 + e1 * a1) / (1 + e1)            # s̲: g(s̲,0;A1) = s̲2
        A3 = su < a1
    q.update(L1=L1, L2=L2, K2=K2, e1=e1, e2=e2, T=lr * dl / K2, su2=su2, su=su,
             ok2=dom2 & A2_2 & A4_2 & OA1, mono=mono, A3=A3,
             admissible=dom & A1 & A2 & A3 & A4 & OA1 & mono)
    return q


def _f_oa2(s, a2, pi2, lr, b, e2, T):
    """(b−1)M(s,0;A2) − T·g(s,0;A2): same sign as Ψ(s) − T on (s̲2, α2] (eq. OA2)."""
    return (b - 1) * (lr * ((1 - pi2) * a2 + pi2 * s) - s ** b) - T * ((1 + e2) * s - e2 * a2)


def _f_hat(s, a2, pi2, lr, b, e2, K2, dl, beta, eta):
    """η̄(s)/η − 1 (eq. 7): ≥ 0 iff F2(0;s) ≥ λRδ."""
    g0 = (1 + e2) * s - e2 * a2
    m0 = lr * ((1 - pi2) * a2 + pi2 * s) - s ** b
    return beta * b * K2 / (2 * lr * dl) * g0 ** (b - 1) * m0 / eta - 1


def _f_bar(s, a2, pi2, lr, b, L2, K2, dl, beta, eta):
    """F2(1;s)/(λRδ) − 1 with F2(1;s) = β/(2η)·K2·b·g(s,1)^(b−1)·M(s,1;A2)."""
    g1 = s + L2 * (a2 - s)
    m1 = lr * ((1 - pi2) * (a2 + dl * (s - a2)) + pi2 * s) - s ** b
    return beta * b * K2 / (2 * eta * lr * dl) * g1 ** (b - 1) * m1 - 1


def _solve_vec(solver, f, lo, hi, args, mask, infimum):
    """Apply a vectorized bracketed ``solver(f, lo, hi, args) -> x`` to the lanes of
    ``mask`` that need an iteration; handle corners (infimum conventions, or a
    root at an end) and missing sign changes here, identically for every solver."""
    x = np.full(lo.shape, np.nan)
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return x
    a = [np.asarray(v)[idx] for v in args]
    l, h = lo[idx], hi[idx]
    with np.errstate(all="ignore"):
        fl, fh = f(l, *a), f(h, *a)
    r = np.full(idx.shape, np.nan)
    finite = np.isfinite(l) & np.isfinite(h) & np.isfinite(fl) & np.isfinite(fh)
    if infimum:
        at_lo = finite & (fl >= 0)
        at_hi = finite & ~at_lo & (fh <= 0)
        r[at_lo], r[at_hi] = l[at_lo], h[at_hi]
        todo = finite & ~at_lo & ~at_hi
    else:
        z_lo, z_hi = finite & (fl == 0), finite & (fh == 0)
        r[z_lo] = l[z_lo]
        r[z_hi & ~z_lo] = h[z_hi & ~z_lo]
        todo = finite & ~z_lo & ~z_hi & (np.sign(fl) != np.sign(fh))
    if todo.any():
        with np.errstate(all="ignore"):
            r[todo] = solver(f, l[todo], h[todo], [v[todo] for v in a])
    x[idx] = r
    return x


def _period1(q, sbb2, hat, bar) -> dict:
    """D1, s1^D, s1^F and the shares ρ1, ρ1^D, ρ1^F (docs/model.md §7)."""
    a1, e1, L1, su, A3 = q["alpha1"], q["e1"], q["L1"], q["su"], q["A3"]
    with np.errstate(all="ignore"):
        sbb1 = (sbb2 + e1 * a1) / (1 + e1)          # g(s̿1,0;A1) = s̿2
        lower = np.maximum(su, sbb1)                # NaN propagates (no s̿2, no D1)
        width = a1 - lower
        nonempty = width > 0
        s1D = (hat - L1 * a1) / (1 - L1)            # g(s1^D,1;A1) = ŝ2^D (eq. OA3)
        s1F = (bar + e1 * a1) / (1 + e1)            # g(s1^F,0;A1) = s̄2^D
        w = np.where(nonempty, width, 1.0)
        rho1 = np.where(nonempty, width / (a1 - su), 0.0)
        rho1 = np.where(np.isnan(sbb2) | ~A3, np.nan, rho1)
        rD = np.where(nonempty & A3, np.clip(s1D - lower, 0, w) / w, np.nan)
        rF = np.where(nonempty & A3, np.clip(a1 - s1F, 0, w) / w, np.nan)
    return dict(sbarbar2=sbb2, s2_hat_D=hat, s2_bar_D=bar, rho1=rho1, rho1_D=rD, rho1_F=rF,
                admissible=q["admissible"], D1_nonempty=nonempty & A3 & ~np.isnan(sbb2))


def _oa5_vectorized(p: dict, solver) -> dict:
    q = _prepare(p)
    a2, pi2, lr, b, e2, T = q["alpha2"], q["pi2"], q["lam_R"], q["b"], q["e2"], q["T"]
    sbb2 = _solve_vec(solver, _f_oa2, q["su2"], a2, (a2, pi2, lr, b, e2, T), q["ok2"], False)
    ok = q["ok2"] & q["mono"] & np.isfinite(sbb2)
    lo = np.where(ok, sbb2, 0.5 * a2)
    K2, dl, beta, eta, L2 = q["K2"], q["delta"], q["beta"], q["eta"], q["L2"]
    hat = _solve_vec(solver, _f_hat, lo, a2, (a2, pi2, lr, b, e2, K2, dl, beta, eta), ok, True)
    bar = _solve_vec(solver, _f_bar, lo, a2, (a2, pi2, lr, b, L2, K2, dl, beta, eta), ok, True)
    return _period1(q, sbb2, hat, bar)


# ---------------------------------------------------------------------------
# (c) numpy bisection

def _bisect(f, lo, hi, args, halvings: int = 60):
    """Plain bisection: keep the half whose ends change sign; ``halvings`` steps."""
    flo = f(lo, *args)
    for _ in range(halvings):
        mid = 0.5 * (lo + hi)
        fm = f(mid, *args)
        same = np.sign(fm) == np.sign(flo)
        lo = np.where(same, mid, lo)
        flo = np.where(same, fm, flo)
        hi = np.where(same, hi, mid)
    return 0.5 * (lo + hi)


def oa5_bisection(p: dict, halvings: int = 60) -> dict:
    """coverage_oa5 outputs with vectorized numpy bisection (``halvings`` halvings)."""
    return _oa5_vectorized(p, lambda f, lo, hi, args: _bisect(f, lo, hi, args, halvings))


# ---------------------------------------------------------------------------
# (b) scipy.optimize.elementwise.find_root

def _find_root(f, lo, hi, args):
    from scipy.optimize.elementwise import find_root

    # Tolerances as tight as the kernel's (4 eps relative, 4 tiny absolute); no
    # early exit on |f| (fatol = frtol = 0), so both stop on bracket width.
    res = find_root(f, (lo, hi), args=tuple(args),
                    tolerances=dict(xatol=4 * _TINY, xrtol=4 * _EPS, fatol=0.0, frtol=0.0))
    return np.where(res.success, res.x, np.nan)


def oa5_find_root(p: dict) -> dict:
    """coverage_oa5 outputs with scipy's vectorized ``elementwise.find_root``."""
    return _oa5_vectorized(p, _find_root)


# ---------------------------------------------------------------------------
# (a) pure-Python loop with scipy.optimize.brentq

def _oa5_scalar(b, a1, a2, pi1, pi2, phi, gam, dl, lr, eta, beta, brentq):
    """One vector, math-module scalars; returns the OA5_COMPARE values + flags."""
    nan = math.nan
    in01 = lambda x: 0 < x < 1  # noqa: E731
    dom2 = (in01(a2) and in01(pi2) and in01(dl) and lr > 0 and gam > 0 and phi > 0 and eta > 0
            and b > 1 and 0 < beta <= 1)
    dom = dom2 and in01(a1) and in01(pi1)
    L1, L2 = phi * pi1 * (1 - pi1), phi * pi2 * (1 - pi2)
    K2 = gam + L2 / (1 - pi2)
    e1, e2 = gam * (1 - pi1), gam * (1 - pi2)
    a2b1 = a2 ** (b - 1)
    A4_2 = lr > a2b1
    OA1 = (b - 1) * (lr - a2b1) < lr * dl / K2
    mono = lr * pi2 >= b * a2b1
    su2 = e2 * a2 / (1 + e2)
    su = (su2 + e1 * a1) / (1 + e1)
    A3 = su < a1
    adm = (dom and a2 >= a1 and pi2 <= pi1 and L1 < 1 and L2 < 1 and A3 and A4_2
           and lr > a1 ** (b - 1) and OA1 and mono)
    T = lr * dl / K2
    c_hat = beta * b * K2 / (2 * lr * dl * eta)
    xtol, rtol = 1e-300, 4 * _EPS

    def f_oa2(s):
        return (b - 1) * (lr * ((1 - pi2) * a2 + pi2 * s) - s ** b) - T * ((1 + e2) * s - e2 * a2)

    def f_hat(s):
        return c_hat * ((1 + e2) * s - e2 * a2) ** (b - 1) * (lr * ((1 - pi2) * a2 + pi2 * s) - s ** b) - 1

    def f_bar(s):
        return (c_hat * (s + L2 * (a2 - s)) ** (b - 1)
                * (lr * ((1 - pi2) * (a2 + dl * (s - a2)) + pi2 * s) - s ** b) - 1)

    def root(f, lo, hi):
        fl, fh = f(lo), f(hi)
        if fl == 0:
            return lo
        if fh == 0:
            return hi
        if (fl > 0) == (fh > 0):
            return nan
        return brentq(f, lo, hi, xtol=xtol, rtol=rtol, maxiter=200)

    def infimum(f, lo, hi):
        if f(lo) >= 0:
            return lo
        if f(hi) <= 0:
            return hi
        return brentq(f, lo, hi, xtol=xtol, rtol=rtol, maxiter=200)

    sbb2 = hat = bar = nan
    if dom2 and L2 < 1 and A4_2 and OA1:
        sbb2 = root(f_oa2, su2, a2)
        if mono and sbb2 == sbb2:
            hat = infimum(f_hat, sbb2, a2)
            bar = infimum(f_bar, sbb2, a2)
    rho1 = rD = rF = nan
    nonempty = False
    if sbb2 == sbb2 and A3:
        lower = max(su, (sbb2 + e1 * a1) / (1 + e1))
        width = a1 - lower
        nonempty = width > 0
        rho1 = width / (a1 - su) if nonempty else 0.0
        if nonempty:
            s1D = (hat - L1 * a1) / (1 - L1)
            s1F = (bar + e1 * a1) / (1 + e1)
            rD = min(max(s1D - lower, 0.0), width) / width
            rF = min(max(a1 - s1F, 0.0), width) / width
    return sbb2, hat, bar, rho1, rD, rF, adm, nonempty


def oa5_brentq_loop(p: dict) -> dict:
    """coverage_oa5 outputs with a Python loop over vectors and ``scipy.optimize.brentq``."""
    from scipy.optimize import brentq

    names = ("b", "alpha1", "alpha2", "pi1", "pi2", "phi", "gamma", "delta", "lam_R", "eta", "beta")
    cols = np.broadcast_arrays(*[np.asarray(p[k], dtype=np.float64) for k in names])
    cols = [c.ravel().tolist() for c in cols]
    rows = [_oa5_scalar(*vals, brentq) for vals in zip(*cols)]
    out = {}
    for j, k in enumerate(OA5_COMPARE + OA5_FLAGS):
        dt = np.bool_ if k in OA5_FLAGS else np.float64
        out[k] = np.array([r[j] for r in rows], dtype=dt)
    return out


# ---------------------------------------------------------------------------
# agreement with the kernel

def compare(ref: dict, kern: dict, mask=None) -> dict:
    """Max |ref − kernel| per float output (over lanes where both are finite, within
    ``mask``), NaN-pattern mismatches, and flag mismatches."""
    res = {"max_abs_diff": {}, "nan_mismatch": {}, "flag_mismatch": {}}
    for k in OA5_COMPARE:
        a = np.asarray(ref[k], np.float64)
        b = np.asarray(kern[k], np.float64)
        m = np.ones(a.shape, bool) if mask is None else np.asarray(mask)
        both = m & np.isfinite(a) & np.isfinite(b)
        res["max_abs_diff"][k] = float(np.max(np.abs(a[both] - b[both]))) if both.any() else 0.0
        res["nan_mismatch"][k] = int(np.sum(m & (np.isnan(a) != np.isnan(b))))
    for k in OA5_FLAGS:
        m = np.ones(np.shape(ref[k]), bool) if mask is None else np.asarray(mask)
        res["flag_mismatch"][k] = int(np.sum(m & (np.asarray(ref[k]) != np.asarray(kern[k]))))
    res["worst"] = max(res["max_abs_diff"].values())
    res["mismatches"] = sum(res["nan_mismatch"].values()) + sum(res["flag_mismatch"].values())
    return res
