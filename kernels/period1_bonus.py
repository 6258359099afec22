"""Kernel ``period1_bonus``: the period-1 game with a pay bonus (docs/model.md §9, OA.8).

Own (x, zx), rival (y, zy), s2x = g(s1,x;A1), s2y = g(s1,y;A1):

    σ1 = sigmoid(([ωzx + βV̄2(s2x)] − [ωzy + βV̄2(s2y)]) / η)
    Φ1(x,zx | y,zy) = σ1 [M(s1,x;A1) − ωzx + βΠ̄2(s2x)] + (1 − σ1) βΠ̄2(s2y)

with Π̄2, V̄2 the continuation values at the terminal equilibrium selected by the rule
of docs/model.md §9 (:func:`kernels.bonus_terminal_game.select_terminal`, verified
equilibria only).  They jump where that selection switches (class or corner), so:

* the first-order condition with z fixed,

      F1_z(h) = β/(4η)·V̄2'(g1)·g_h·(M(s1,h;A1) − ωz) + ½[∂M/∂h + βΠ̄2'(g1)·g_h],

  uses the slopes of the branch selected at g1 (never a difference across a jump;
  dh2*/ds2 by the implicit function theorem where h2* is interior);
* a sign change of F1_z between two grid points is refined by bisection,
  which converges to a root or, where the sign change is a jump, to the jump itself;
  either is only a candidate;
* every candidate (corners by the sign of F1_z, refined sign changes) is kept only if
  no deviation (x, zx) ∈ [0,1] × {0,1} beats it: the best of the 2 × :data:`G` grid
  strategies, refined by golden section around it (payoffs, not derivatives, so jumps
  do no harm), may not exceed Φ1 at the candidate by more than a relative
  :data:`kernels.deviation.RTOL` (:func:`kernels.deviation.no_profitable_deviation`).

Asymmetric equilibria: grid best replies to every grid strategy (coarse grid, both
bonus choices) form a table, iterated from the rival at (0,0) and (1,1) to a 2-cycle;
the cycle is refined by continuous best replies and verified for both firms.  The
firms' bonus choices may differ (``mixed_bonus_eq``).  A False ``asym_eq`` means this
search found none, not that none exists.

ω = 0 is the base model.  The symmetric equilibria then agree with ``period1`` wherever
the base terminal selection is a verified equilibrium at every reachable skill (so the
continuation values coincide); where it is not, the continuations differ and this
kernel's answer rests on verified terminal equilibria only.  Each equilibrium appears
in both bonus classes at ω = 0 (a zero bonus changes nothing), and the tie rule reports
z1* = 0.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from . import status as st
from .deviation import no_profitable_deviation
from .bonus_terminal_game import (compact_rows, continuation, continuation_slopes,
                                  select_terminal, table_two_cycle)
from .params import broadcast_outputs, make_params, params_for
from .period1 import period1_setup
from .period1_search import Period1
from .primitives import M, dM_dh, dg_dh, g
from .declare import declare
from .registry import Output
from .terminal_bonus import OMEGA, broadcast_all

#: grid points of [0,1] for the F1_z scan, deviations and best replies (64 cells)
G = 65
#: slots for interior sign changes of F1_z per bonus class
C = 3
#: bisection steps refining a sign change of F1_z: bracket (1/64)·2^−36 ≈ 2e-13
BISECT = 36
#: golden-section steps refining a best reply on its two grid cells (2/64 · 0.618^20)
GOLDEN = 20
#: coarse grid stride of the asymmetric search (17 points per bonus class)
BR_STRIDE = 4
#: best-response iterations on the coarse table
K_BR = 16
#: minimum |x − y| for two engagement levels to count as different
ASYM_SEP = 1e-3
#: share of candidate slots verified in the compacted buffer (2 of 10 on average)
VERIFY_FRACTION = 0.3
ASYM_FRACTION = 0.25

_INV_GOLDEN = 0.6180339887498949


class Values(NamedTuple):
    """Per engagement level x: A = M(s1,x;A1) + βΠ̄2, P = βΠ̄2, U = βV̄2 (all at s2 = g(s1,x))."""

    A: jnp.ndarray
    P: jnp.ndarray
    U: jnp.ndarray


def _bcast(tree, shape):
    return jax.tree_util.tree_map(
        lambda v: jnp.broadcast_to(jnp.reshape(v, v.shape + (1,) * (len(shape) - v.ndim)), shape), tree)


def values_at(x, q1: Period1, q2, omega, with_slopes=False):
    """Continuation values (and, if asked, slopes) at engagement levels x of any
    trailing shape; q1, q2, omega carry the leading batch shape."""
    shape = x.shape
    q1, q2, om = _bcast(q1, shape), _bcast(q2, shape), _bcast(omega, shape)
    s2 = g(q1.s1, x, q1.alpha1, q1.pi1, q1.gamma, q1.L1)
    sel = select_terminal(s2, q2, om)
    pi_bar, v_bar, _ = continuation(s2, q2, om, sel)
    m1 = M(q1.s1, x, q1.alpha1, q1.pi1, q1.delta, q1.lam_R, q1.b)
    vals = Values(m1 + q2.beta * pi_bar, q2.beta * pi_bar, q2.beta * v_bar)
    if not with_slopes:
        return vals, sel
    dpi, dv = continuation_slopes(s2, sel, q2, om)
    return vals, sel, (dpi, dv, m1, q1, q2, om)


def gain1(x, wz, q1, q2, omega):
    """F1_z at engagement x with ωz = ``wz`` (same shape as x); NaN where no verified
    terminal equilibrium exists at g(s1,x).  Also returns the values, the terminal
    selection and c = β/(4η)·V̄2'·g_h, the factor of the margin (F1_z = F1_0 − c·ωz)."""
    vals, sel, (dpi, dv, m1, q1b, q2b, _) = values_at(x, q1, q2, omega, with_slopes=True)
    gh = dg_dh(q1b.s1, q1b.alpha1, q1b.pi1, q1b.gamma, q1b.L1)
    c = q2b.beta / (4.0 * q2b.eta) * dv * gh
    f = c * (m1 - wz) + 0.5 * (dM_dh(q1b.s1, q1b.alpha1, q1b.pi1, q1b.delta, q1b.lam_R)
                               + q2b.beta * dpi * gh)
    return jnp.where(jnp.isnan(sel.h), jnp.nan, f), vals, sel, c


def phi1(xv: Values, zx, yv: Values, zy, omega, eta):
    """Φ1(x,zx | y,zy) of docs/model.md §9 from the values of x and y."""
    sig = jax.nn.sigmoid(((omega * zx + xv.U) - (omega * zy + yv.U)) / eta)
    return sig * (xv.A - omega * zx) + (1.0 - sig) * yv.P


class Reply(NamedTuple):
    x: jnp.ndarray
    z: jnp.ndarray
    payoff: jnp.ndarray


def best_reply(y, zy, q1, q2, omega, xs, grid: Values):
    """Best (x, zx) against a rival playing (y, zy) (trailing axes allowed after the
    batch shape of q1/q2/omega; ``grid`` values have the batch shape + (G,)): the best
    of the 2·G grid strategies, then golden section on the two cells around it for
    that bonus choice.  Returns the reply and the rival's values.

    One loop of GOLDEN + 3 steps with one continuation evaluation per step (step 0:
    the rival's values, then the grid argmax; steps 1, 2: the golden points c, d;
    then golden steps), so each call site compiles the terminal bonus game once,
    not twice.  The step index is not batched, so each ``lax.switch`` runs one
    branch, under vmap too."""
    nd = y.ndim
    extra = nd - q1.s1.ndim
    gv = jax.tree_util.tree_map(lambda v: jnp.reshape(v, v.shape[:-1] + (1,) * extra + v.shape[-1:]), grid)
    om = _bcast(omega, y.shape)
    eta = _bcast(q2.eta, y.shape)
    r = _INV_GOLDEN
    zero = jnp.zeros_like(y)
    ninf = jnp.full_like(y, -jnp.inf)

    def grid_best(yv):
        """The best grid strategy against yv and the golden bracket around it."""
        ye = jax.tree_util.tree_map(lambda v: v[..., None], yv)
        p0 = phi1(gv, 0.0, ye, zy[..., None], om[..., None], eta[..., None])
        p1 = phi1(gv, 1.0, ye, zy[..., None], om[..., None], eta[..., None])
        b0, b1 = jnp.max(p0, axis=-1), jnp.max(p1, axis=-1)
        pay1 = b1 > b0
        i = jnp.where(pay1, jnp.argmax(p1, axis=-1), jnp.argmax(p0, axis=-1))
        a = xs[jnp.maximum(i - 1, 0)]
        b = xs[jnp.minimum(i + 1, G - 1)]
        return a, b, pay1.astype(y.dtype), jnp.maximum(b0, b1), xs[i]

    def step(k, s):
        a, b, c, d, fc, fd, zb, f_grid, x_grid, yv = s
        phase = jnp.minimum(k, 3)
        left = fc >= fd                      # the maximum lies in [a, d]
        na, nb = jnp.where(left, a, c), jnp.where(left, d, b)
        nc = jnp.where(left, nb - r * (nb - na), d)
        ndd = jnp.where(left, c, na + r * (nb - na))
        x = lax.switch(phase, [lambda: y, lambda: c, lambda: d, lambda: jnp.where(left, nc, ndd)])
        xv, _ = values_at(x, q1, q2, omega)

        def rival(s):
            a, b, zb, f_grid, x_grid = grid_best(xv)
            return a, b, b - r * (b - a), a + r * (b - a), ninf, ninf, zb, f_grid, x_grid, xv

        def golden(s):
            fx = phi1(xv, zb, yv, zy, om, eta)
            fx = jnp.where(jnp.isnan(fx), -jnp.inf, fx)
            at_c, at_d, shrink = phase == 1, phase == 2, phase == 3
            a2, b2 = jnp.where(shrink, na, a), jnp.where(shrink, nb, b)
            c2, d2 = jnp.where(shrink, nc, c), jnp.where(shrink, ndd, d)
            fc2 = jnp.where(at_c, fx, jnp.where(shrink & left, fx, fc))
            fd2 = jnp.where(at_d, fx, jnp.where(shrink & ~left, fx, fd))
            return a2, b2, c2, d2, fc2, fd2, zb, f_grid, x_grid, yv

        return lax.cond(phase == 0, rival, golden, s)

    nov = Values(zero, zero, zero)
    init = (zero, zero, zero, zero, ninf, ninf, zero, zero, zero, nov)
    a, b, c, d, fc, fd, zb, f_grid, x_grid, yv = lax.fori_loop(0, GOLDEN + 3, step, init)
    xg, fg = jnp.where(fc >= fd, c, d), jnp.maximum(fc, fd)
    better = fg > f_grid
    return Reply(jnp.where(better, xg, x_grid), zb, jnp.where(better, fg, f_grid)), yv


def _rows(tree, shape, idx):
    return jax.tree_util.tree_map(lambda v: jnp.broadcast_to(v, shape).reshape(-1)[idx], tree)


def _grid_rows(grid: Values, n, lane):
    return jax.tree_util.tree_map(lambda v: v.reshape(n, -1)[lane], grid)


def symmetric_equilibria(q1, q2, omega, xs, grid: Values, F1g):
    """Candidates of both classes and their verification; F1g is (..., 2, G)."""
    shape = q1.s1.shape
    n = math.prod(shape)
    # interior candidates: the first C sign changes of F1_z per class, refined
    pos = F1g > 0.0
    cross = pos[..., 1:] != pos[..., :-1]
    rank = jnp.cumsum(cross, axis=-1, dtype=jnp.int32)
    slots = jnp.arange(1, C + 1, dtype=jnp.int32)[:, None]
    sel = cross[..., None, :] & (rank[..., None, :] == slots)          # (..., 2, C, G−1)
    has = jnp.any(sel, axis=-1)
    k = jnp.argmax(sel, axis=-1)
    lo, hi = xs[k], xs[k + 1]
    wz = jnp.stack([jnp.zeros_like(omega), omega], axis=-1)[..., None] * jnp.ones_like(lo)

    nslot = 2 * C
    flat = lambda v: v.reshape(shape + (nslot,))  # noqa: E731

    def bisect_rows(idx):
        """Bisection of F1_z on each slot's grid cell: F1_z may jump (the terminal
        selection switches), so a bracketing method that needs nothing but signs;
        BISECT halvings leave a bracket of (1/64)·2^−BISECT."""
        lane = idx // nslot
        qa, qb, om = _rows(q1, shape, lane), _rows(q2, shape, lane), _rows(omega, shape, lane)
        w = flat(wz).reshape(-1)[idx]
        a, b = flat(lo).reshape(-1)[idx], flat(hi).reshape(-1)[idx]
        fa = flat(jnp.take_along_axis(F1g, k, axis=-1)).reshape(-1)[idx]

        def step(_, c):
            a, b, fa = c
            m = 0.5 * (a + b)
            fm = gain1(m, w, qa, qb, om)[0]
            same = (fm > 0.0) == (fa > 0.0)
            return jnp.where(same, m, a), jnp.where(same, b, m), jnp.where(same, fm, fa)

        a, b, _ = lax.fori_loop(0, BISECT, step, (a, b, fa))
        return 0.5 * (a + b)

    rx = compact_rows(bisect_rows, flat(has).reshape(-1), 0.25).reshape(shape + (2, C))
    rstat = jnp.where(has, st.CONVERGED, st.SKIPPED).astype(jnp.int8)
    interior = has & (rx > 0.0) & (rx < 1.0)
    one = jnp.ones(shape + (2, 1), q1.s1.dtype)
    h = jnp.concatenate([one, 0.0 * one, rx], axis=-1)                   # (..., 2, 2 + C)
    pre = jnp.concatenate([(F1g[..., -1] >= 0.0)[..., None], (F1g[..., 0] <= 0.0)[..., None], interior],
                          axis=-1)
    stat = jnp.concatenate([jnp.full(shape + (2, 1), st.AT_UPPER, jnp.int8),
                            jnp.full(shape + (2, 1), st.AT_LOWER, jnp.int8), rstat], axis=-1)
    ns = 2 * (2 + C)
    h = jnp.where(pre, h, 0.5).reshape(shape + (ns,))
    pre = pre.reshape(shape + (ns,))
    stat = stat.reshape(shape + (ns,))
    z = jnp.broadcast_to(jnp.array([0.0, 1.0], h.dtype)[:, None], shape + (2, 2 + C)).reshape(shape + (ns,))

    # verification: own payoff against the best deviation, candidate slots only
    def check(hh, zz, qa, qb, om, gr):
        rep, hv = best_reply(hh, zz, qa, qb, om, xs, gr)
        own = phi1(hv, zz, hv, zz, _bcast(om, hh.shape), _bcast(qb.eta, hh.shape))
        return own, rep.payoff

    def check_rows(idx):
        lane = idx // ns
        return check(h.reshape(-1)[idx], z.reshape(-1)[idx], _rows(q1, shape, lane),
                     _rows(q2, shape, lane), _rows(omega, shape, lane), _grid_rows(grid, n, lane))

    own, best = compact_rows(check_rows, pre.reshape(-1), VERIFY_FRACTION)
    own, best = own.reshape(shape + (ns,)), best.reshape(shape + (ns,))
    ver = pre & jnp.isfinite(own) & no_profitable_deviation(best, own)
    return h, z, stat, ver, own, jnp.sum(cross, axis=-1) > C


def asymmetric_search(q1, q2, omega, xs, grid: Values):
    """Asymmetric pure equilibria (x,zx) ≠ (y,zy), bonuses possibly different."""
    shape = q1.s1.shape
    n = math.prod(shape)
    cg = jax.tree_util.tree_map(lambda v: v[..., ::BR_STRIDE], grid)
    nc = cg.A.shape[-1]
    cv = jax.tree_util.tree_map(lambda v: jnp.concatenate([v, v], axis=-1), cg)     # (..., 2nc)
    zc = jnp.concatenate([jnp.zeros(nc, xs.dtype), jnp.ones(nc, xs.dtype)])
    xc = jnp.concatenate([xs[::BR_STRIDE]] * 2)
    om, eta = omega[..., None, None], q2.eta[..., None, None]
    own = jax.tree_util.tree_map(lambda v: v[..., None, :], cv)
    opp = jax.tree_util.tree_map(lambda v: v[..., :, None], cv)
    pay = phi1(own, zc, opp, zc[:, None], om, eta)                  # (..., opp, own)
    pay = jnp.where(jnp.isnan(pay), -jnp.inf, pay)
    table = jnp.argmax(pay, axis=-1).astype(jnp.int32)

    found, jx, _ = table_two_cycle(table, zc, shape, K_BR)

    def refine(x0, z0, qa, qb, om, gr):
        """y ← BR(x0), x ← BR(y), y' ← BR(x), one best reply per step (it also returns
        the rival's values: a single continuation call site): (x, y) with x = BR(y)
        by construction, and y tested against the best reply to x."""
        def step(_, c):
            a, za, pa, pza, _, _, av, _, _ = c
            rep, new_av = best_reply(a, za, qa, qb, om, xs, gr)
            return rep.x, rep.z, a, za, pa, pza, new_av, av, rep.payoff

        zero = jnp.zeros_like(x0)
        nov = Values(zero, zero, zero)
        c = lax.fori_loop(0, 3, step, (x0, z0, zero, zero, zero, zero, nov, nov, zero))
        # after three steps: (y', x, y) are the last three replies; values of x and y
        _, _, x, zx, y, zy, xv, yv, best_y = c
        p_yx = phi1(yv, zy, xv, zx, om, qb.eta)
        p_xy = phi1(xv, zx, yv, zy, om, qb.eta)
        ok = (no_profitable_deviation(best_y, p_yx)
              & ((jnp.abs(x - y) > ASYM_SEP) | (zx != zy)) & jnp.isfinite(p_xy) & jnp.isfinite(p_yx))
        return ok, x, zx, y, zy, p_xy, p_yx

    def rows(lane):
        jl = jx.reshape(-1)[lane]
        return refine(xc[jl], zc[jl], _rows(q1, shape, lane), _rows(q2, shape, lane),
                      _rows(omega, shape, lane), _grid_rows(grid, n, lane))

    ok, x, zx, y, zy, p_xy, p_yx = jax.tree_util.tree_map(
        lambda v: v.reshape(shape), compact_rows(rows, found.reshape(-1), ASYM_FRACTION))
    ok = found & ok
    xh = x > y
    nan = jnp.nan
    return dict(
        asym_eq=ok,
        asym_high=jnp.where(ok, jnp.maximum(x, y), nan),
        asym_low=jnp.where(ok, jnp.minimum(x, y), nan),
        asym_z_high=ok & (jnp.where(xh, zx, zy) == 1.0),
        asym_z_low=ok & (jnp.where(xh, zy, zx) == 1.0),
        payoff_high=jnp.where(ok, jnp.where(xh, p_xy, p_yx), nan),
        payoff_low=jnp.where(ok, jnp.where(xh, p_yx, p_xy), nan),
        mixed_bonus_eq=ok & (zx != zy),
    )


P1B_PARAMS = params_for(("alpha1", "alpha2", "pi1", "pi2", "phi", "gamma", "delta", "lam_R",
                         "beta", "b", "eta", "s1")) + (OMEGA,)

P1B_OUTPUTS = (
    Output("h1_sf", "float", "single-firm engagement h1_sf (eq. 3; does not depend on ω)"),
    Output("n_sym_eq", "int8", "verified symmetric equilibria (h, z) over both bonus classes "
                               "(at ω = 0 each appears in both)"),
    Output("h1_star", "float", "the symmetric equilibrium h1* when each bonus class has at most one "
                               "(between classes the larger common payoff Φ1, ties to z = 0); NaN otherwise"),
    Output("z1_star", "bool", "the equilibrium h1_star pays the bonus (False when h1_star is NaN)"),
    Output("status_h1_star", "int8", "0 interior root, 4 corner 0, 5 corner 1, 3 max_iter, "
                                     "7 not unique: no verified equilibrium, or several in a class"),
    Output("h1_nopay", "float", "the no-bonus symmetric equilibrium when unique in its class (NaN otherwise)"),
    Output("h1_pay", "float", "the both-pay symmetric equilibrium when unique in its class (NaN otherwise)"),
    Output("n_nopay_eq", "int8", "verified symmetric equilibria with z = 0"),
    Output("n_pay_eq", "int8", "verified symmetric equilibria with z = 1"),
    Output("h1_star_min", "float", "smallest verified symmetric h (NaN when n_sym_eq = 0)"),
    Output("h1_star_max", "float", "largest verified symmetric h (NaN when n_sym_eq = 0)"),
    Output("F1_at_0", "float", "F1_0(0): period-1 engagement gain without bonus at h = 0"),
    Output("F1_at_1", "float", "F1_0(1)"),
    Output("asym_eq", "bool", "a verified asymmetric pure equilibrium was found"),
    Output("asym_high", "float", "higher engagement of the asymmetric equilibrium (NaN unless asym_eq)"),
    Output("asym_low", "float", "lower engagement of the asymmetric equilibrium (NaN unless asym_eq)"),
    Output("asym_z_high", "bool", "the high-engagement firm pays the bonus"),
    Output("asym_z_low", "bool", "the low-engagement firm pays the bonus"),
    Output("payoff_high", "float", "Φ1 of the high-engagement firm (NaN unless asym_eq)"),
    Output("payoff_low", "float", "Φ1 of the low-engagement firm (NaN unless asym_eq)"),
    Output("mixed_bonus_eq", "bool", "the asymmetric equilibrium found has different bonus choices"),
    Output("cont_missing", "bool", "some reachable s2 = g(s1,x), x on the grid, has no verified "
                                   "symmetric terminal equilibrium (Φ1 undefined there)"),
    Output("crossings_overflow", "bool", f"F1_z changes sign more than {C} times in a class"),
    Output("in_D1", "bool", "s1 ∈ D1: every reachable s2 is in D2"),
)


def period1_bonus(p):
    """Period-1 pay-bonus game at skill s1 (docs/model.md §9): verified symmetric and
    asymmetric equilibria in (h, z)."""
    p = broadcast_all(make_params(p, P1B_PARAMS))
    s1, omega = p["s1"], p["omega"]
    su = period1_setup(p, P1B_PARAMS)
    q1, q2, in_D1, h1_sf = su.q1, su.q2, su.in_D1, su.h1_sf
    f_dom, f_A1, f_A2, f_A3, f_A4, f_OA1 = (su.flags[f] for f in ("domain", "A1", "A2", "A3", "A4", "OA1"))

    xs = jnp.linspace(0.0, 1.0, G, dtype=s1.dtype)
    xg = jnp.broadcast_to(xs, s1.shape + (G,))
    wz = jnp.stack([jnp.zeros_like(omega), omega], axis=-1)[..., None]      # (..., 2, 1)
    F1_0, grid, sel_g, c = gain1(xg, jnp.zeros_like(xg), q1, q2, omega)
    # F1_1 differs from F1_0 only in the margin factor: the grid's continuation serves both
    F1g = jnp.stack([F1_0, F1_0], axis=-2) - c[..., None, :] * wz
    cont_missing = jnp.any(jnp.isnan(sel_g.h), axis=-1)

    h, z, stat, ver, own, overflow = symmetric_equilibria(q1, q2, omega, xs, grid, F1g)
    ns = h.shape[-1]
    half = ns // 2
    n0 = jnp.sum(ver[..., :half], axis=-1, dtype=jnp.int32)
    n1 = jnp.sum(ver[..., half:], axis=-1, dtype=jnp.int32)

    def pick(v, lo, hi):
        w = ver[..., lo:hi]
        return jnp.sum(jnp.where(w, v[..., lo:hi], jnp.zeros_like(v[..., lo:hi])), axis=-1, dtype=v.dtype)

    h0, h1 = pick(h, 0, half), pick(h, half, ns)
    o0, o1 = pick(own, 0, half), pick(own, half, ns)
    s0 = pick(stat.astype(jnp.int32), 0, half)
    s1_ = pick(stat.astype(jnp.int32), half, ns)
    u0, u1 = n0 == 1, n1 == 1
    defined = (n0 <= 1) & (n1 <= 1) & (n0 + n1 >= 1)
    pay = u1 & (~u0 | (o1 > o0))
    h1_star = jnp.where(defined, jnp.where(pay, h1, h0), jnp.nan)
    status = jnp.where(defined, jnp.where(pay, s1_, s0), st.NOT_UNIQUE).astype(jnp.int8)
    n = n0 + n1
    asym = asymmetric_search(q1, q2, omega, xs, grid)
    return broadcast_outputs(dict(
        h1_sf=h1_sf,
        n_sym_eq=n.astype(jnp.int8),
        h1_star=h1_star,
        z1_star=defined & pay,
        status_h1_star=status,
        h1_nopay=jnp.where(u0, h0, jnp.nan),
        h1_pay=jnp.where(u1, h1, jnp.nan),
        n_nopay_eq=n0.astype(jnp.int8),
        n_pay_eq=n1.astype(jnp.int8),
        h1_star_min=jnp.where(n > 0, jnp.min(jnp.where(ver, h, jnp.inf), axis=-1), jnp.nan),
        h1_star_max=jnp.where(n > 0, jnp.max(jnp.where(ver, h, -jnp.inf), axis=-1), jnp.nan),
        F1_at_0=F1g[..., 0, 0],
        F1_at_1=F1g[..., 0, -1],
        cont_missing=cont_missing,
        crossings_overflow=jnp.any(overflow, axis=-1),
        in_D1=in_D1,
        domain=f_dom, A1=f_A1, A2=f_A2, A3=f_A3, A4=f_A4, OA1=f_OA1,
        admissible=f_dom & f_A1 & f_A2 & f_A3 & f_A4,
        **asym,
    ), p)


PERIOD1_BONUS_KERNEL = declare(
    "period1_bonus", period1_bonus, P1B_PARAMS, P1B_OUTPUTS,
    "Period-1 game with a pay bonus (OA.8): verified symmetric equilibria in (h, z), "
    "asymmetric equilibria (bonus choices may differ)",
    flags=("domain", "A1", "A2", "A3", "A4", "OA1"), requires=("domain", "A1", "A2", "A3", "A4"),
    flag_docs={"domain": "all parameters in their docs/model.md §1 domain, ω ≥ 0"},
    # the terminal bonus game is solved at every grid point and golden step of every
    # candidate: the engine evaluates chunks in sub-batches of this many lanes
    max_batch=512,
)
