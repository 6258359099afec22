"""The terminal pay-bonus game (docs/model.md §9, OA.8): candidates, best replies,
verification and the selected equilibrium, shared by ``terminal_bonus`` and
``period1_bonus``.

Each firm chooses (h, z) ∈ [0,1] × {0,1}; z = 1 pays a bonus ω per worker.  Against a
rival playing (h, z) an own deviation (h', z') earns

    Π2(h',z' | h,z) = σ2 · [M(s2,h';A2) − ωz'],
    σ2 = sigmoid(([ωz' + βB(g(s2,h'))] − [ωz + βB(g(s2,h))]) / η).

The rival enters only through its *sorting value* u = ωz + βB(g(s2,h)), so a best
reply is a function of one number per lane; every search below is written that way.

At a symmetric profile the own-h derivative has the sign of F2_z(h) − λRδ with

    F2_z(h) = β/(2η)·K2·B'(g(s2,h;A2))·(M(s2,h;A2) − ωz)      (K2 = γ + φℓ(π2)/(1−π2)).

For a below-benchmark worker B'(g(s2,h)) is increasing and concave in h for b ≤ 2 and
M − ωz is linear in h, so the derivative of F2_z vanishes where a linear function
does: F2_z is unimodal in h and F2_z = λRδ has at most two roots.  :data:`ROOTS` = 2
slots per class therefore hold every interior candidate (more crossings on the grid,
which the floor of g or b > 2 could in principle produce, raise ``roots_overflow``).

Candidates (Prop. 3's three cases, for each z) are verified against every deviation
(h', z'): the best reply over a grid of h' for both z', refined by golden section
around the best grid point, may not beat the candidate's payoff by more than a
relative :data:`kernels.deviation.RTOL`.  The grid is the one ``terminal`` scans (65
points), and the interior roots are refined by the same solver on the same cells with
the same function at ω = 0, so the ω = 0 candidates are bit-for-bit those of
``terminal``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from . import domains as dom
from . import status as st
from .deviation import no_profitable_deviation
from .lane_blocks import trace_once
from .primitives import B, B_prime, M, S, W, W_prime, dM_dh, dM_ds, g
from .roots import Root, solve
from .terminal import H_GRID, Period2, snap

#: interior-root slots per bonus class (F2_z is unimodal in h: at most two roots)
ROOTS = 2
#: golden-section steps refining a best reply inside its two grid cells: the bracket
#: 2/64 shrinks by 0.618^18 ≈ 1.7e-4, to ~5e-6 (payoff error ~ Π''·1e-11, below the
#: deviation test's 1e-9 relative tolerance)
GOLDEN = 18
#: best-response iterations on the coarse strategy grid looking for a 2-cycle
K_BR = 12
#: stride of the coarse h grid used by the asymmetric search (5 points per bonus
#: choice: a 10 × 10 best-response table; Lemma 1 rules asymmetry out at ω = 0 and
#: none was found at ω > 0 on finer grids in the notebook's datasets)
BR_STRIDE = 16

_INV_GOLDEN = 0.6180339887498949


def fit(q, ndim):
    """Append singleton axes to every leaf so it broadcasts against ``ndim`` dims."""
    return jax.tree_util.tree_map(lambda v: jnp.reshape(v, jnp.shape(v) + (1,) * (ndim - jnp.ndim(v))), q)


def gain_z(h, s2, q: Period2, wz):
    """Bonus-class engagement gain F2_z(h;s2) = β/(2η)·K2·B'(g)·(M − ωz) (docs/model.md §9).

    ``wz`` is ω·z.  At wz = 0 this is :func:`kernels.terminal.engagement_gain`
    operation for operation (M − 0 = M exactly)."""
    gg = g(s2, h, q.alpha2, q.pi2, q.gamma, q.L2)
    return (q.beta / (2.0 * q.eta) * dom.K(q.pi2, q.gamma, q.L2) * B_prime(gg, q.b)
            * (M(s2, h, q.alpha2, q.pi2, q.delta, q.lam_R, q.b) - wz))


def _foc_shifted(u, th):
    # F2_z(h) − λRδ with h = u − 1 (u ∈ [1,2]: the solver's relative tolerance
    # becomes an absolute one in h, as in kernels.terminal)
    s2, q, wz = th
    return gain_z(u - 1.0, s2, q, wz) - q.lam_R * q.delta


class Strategy(NamedTuple):
    """Per-h quantities of the deviation payoff: U = βB(g(s2,h)) and M(s2,h)."""

    U: jnp.ndarray
    M: jnp.ndarray


def strategy_values(h, s2, q: Period2) -> Strategy:
    q = fit(q, jnp.ndim(h))
    s2 = jnp.reshape(s2, jnp.shape(s2) + (1,) * (jnp.ndim(h) - jnp.ndim(s2)))
    return Strategy(q.beta * B(g(s2, h, q.alpha2, q.pi2, q.gamma, q.L2), q.b),
                    M(s2, h, q.alpha2, q.pi2, q.delta, q.lam_R, q.b))


def deviation_payoff(U, Mh, zprime, u_opp, omega, eta):
    """Π2 of an own deviation with sorting value U + ωz' and margin M − ωz' against a
    rival of sorting value ``u_opp`` (docs/model.md §9)."""
    wz = omega * zprime
    return jax.nn.sigmoid((U + wz - u_opp) / eta) * (Mh - wz)


class Candidates(NamedTuple):
    """Symmetric KKT candidates of both bonus classes: trailing axis of 2·(2 + ROOTS)
    slots ordered (z=0: h=1, h=0, roots ascending; z=1: the same)."""

    h: jnp.ndarray
    z: jnp.ndarray          # float 0/1
    pre: jnp.ndarray        # the slot is a candidate (KKT condition holds)
    status: jnp.ndarray     # int8 per slot: AT_UPPER, AT_LOWER, root status
    overflow: jnp.ndarray   # (...,) more than ROOTS crossings in some class
    finite: jnp.ndarray     # (...,) F2_z finite on the whole grid


def _crossing_cells(f, hs):
    """The first :data:`ROOTS` sign-changing cells of f − λRδ on the grid (last axis)."""
    pos = f > 0.0
    cross = pos[..., 1:] != pos[..., :-1]
    # the j-th crossing is the first one after the (j−1)-th: ROOTS passes of any/argmax
    # (a rank by cumsum over the 64 cells, compared with each slot, cost as much as
    # the whole grid evaluation on CPU); argmax is 0 where there is none, as before
    cells = jnp.arange(cross.shape[-1], dtype=jnp.int32)
    rest, has, k = cross, [], []
    for _ in range(ROOTS):
        has.append(jnp.any(rest, axis=-1))
        k.append(jnp.argmax(rest, axis=-1).astype(jnp.int32))
        rest = rest & (cells > k[-1][..., None])
    has, k = jnp.stack(has, axis=-1), jnp.stack(k, axis=-1)           # (..., ROOTS)
    return has, hs[k], hs[k + 1], jnp.sum(cross, axis=-1)


#: share of root slots solved per block.  Every block costs a full solve of its rows,
#: so blocks are small: on the bench's paper-grid vectors 2% of the slots have a sign
#: change (1,311 of 65,536), and one block of 1/4 solved 12 times the rows needed;
#: more sign changes only add blocks (results never depend on the fraction)
ROOT_FRACTION = 1 / 32


def candidates(s2, q: Period2, omega) -> Candidates:
    """Symmetric candidates of both classes (Prop. 3's cases with margin M − ωz).

    The grid factor β/(2η)·K2·B'(g) and M are computed once for both classes (the
    product is taken in the order of :func:`gain_z`, so the z = 0 values are those of
    ``terminal``), and the interior roots of both classes are refined in one
    compacted solve: most slots have no crossing, so only the few that do iterate.
    """
    hs = jnp.linspace(0.0, 1.0, H_GRID, dtype=s2.dtype)
    qg = fit(q, s2.ndim + 1)
    s2g = s2[..., None]
    gg = g(s2g, hs, qg.alpha2, qg.pi2, qg.gamma, qg.L2)
    c = qg.beta / (2.0 * qg.eta) * dom.K(qg.pi2, qg.gamma, qg.L2) * B_prime(gg, qg.b)
    m = M(s2g, hs, qg.alpha2, qg.pi2, qg.delta, qg.lam_R, qg.b)
    t = (q.lam_R * q.delta)[..., None]
    wz = jnp.stack([jnp.zeros_like(omega), omega], axis=-1)           # (..., 2) classes
    f = c[..., None, :] * (m[..., None, :] - wz[..., None]) - t[..., None]   # (..., 2, G)
    has, lo, hi, n_cross = _crossing_cells(f, hs)                       # (..., 2, ROOTS)
    nd = lo.ndim

    def flat(v):            # a batch-shaped (or slot-shaped) leaf at every slot, flattened
        return jnp.broadcast_to(jnp.reshape(v, jnp.shape(v) + (1,) * (nd - jnp.ndim(v))), lo.shape).reshape(-1)

    th = (flat(s2), jax.tree_util.tree_map(flat, q), flat(wz[..., None]))
    lo_f, hi_f = lo.reshape(-1) + 1.0, hi.reshape(-1) + 1.0

    def rows(idx):
        r = solve(_foc_shifted, lo_f[idx], hi_f[idx], jax.tree_util.tree_map(lambda v: v[idx], th))
        return r.x, r.status

    # only the slots with a sign change are solved (most have none), in blocks
    x, stat = compact_rows(rows, has.reshape(-1), ROOT_FRACTION)
    r = Root(x.reshape(lo.shape), jnp.where(has, stat.reshape(lo.shape), st.SKIPPED).astype(jnp.int8))
    rx = r.x - 1.0
    below = (s2 < q.alpha2)[..., None]
    above = (s2 > q.alpha2)[..., None]
    # the corner tests read F2_z − λRδ within rounding of 0 as 0, as ``terminal`` does
    # (kernels.terminal.snap), so that at ω = 0 both take the same corners
    qs = fit(q, s2.ndim + 1)
    corner1 = (below & (snap(f[..., -1], qs) >= 0.0)) | above
    corner0 = below & (snap(f[..., 0], qs) <= 0.0)
    interior = below[..., None] & has & jnp.isin(r.status, jnp.array(st.OK, jnp.int8))
    shp = s2.shape + (2, 1)
    h = jnp.concatenate([jnp.ones(shp, s2.dtype), jnp.zeros(shp, s2.dtype), rx], axis=-1)
    pre = jnp.concatenate([corner1[..., None], corner0[..., None], interior], axis=-1)
    stat = jnp.concatenate([jnp.full(shp, st.AT_UPPER, jnp.int8), jnp.full(shp, st.AT_LOWER, jnp.int8),
                            r.status], axis=-1)
    ns = 2 + ROOTS
    z = jnp.broadcast_to(jnp.array([0.0, 1.0], s2.dtype)[:, None], s2.shape + (2, ns))
    finite = jnp.all(jnp.isfinite(f), axis=(-2, -1)) | ~below[..., 0]
    flat = lambda v: v.reshape(s2.shape + (2 * ns,))  # noqa: E731  (class-major slots)
    return Candidates(jnp.where(flat(pre), flat(h), 0.5), flat(z), flat(pre), flat(stat),
                      jnp.any(below & (n_cross > ROOTS), axis=-1), finite)


def compact_rows(fn, mask, fraction):
    """``fn(idx)`` on only the rows where ``mask`` (flat, length n) holds, in blocks of
    ceil(fraction·n) rows: the masked rows' indices are gathered first and a while loop
    runs one block per iteration until all are done (one block in the usual case, as
    many as needed otherwise), so the work follows the number of masked rows and ``fn``
    is traced once.  Every row sees the arithmetic it would see at full width, so
    results never depend on ``fraction``.  ``fn(idx)`` gets row indices and returns a
    pytree of arrays with that leading length; the result has leading length n,
    zeros where not computed."""
    n = mask.shape[0]
    cap = max(1, math.ceil(n * fraction))
    nb = -(-n // cap)
    idx = jnp.nonzero(mask, size=nb * cap, fill_value=n)[0]
    count = jnp.sum(mask, dtype=jnp.int32)
    # traced once and replayed in the loop (jax.eval_shape would trace fn a second time)
    replay, shapes = trace_once(fn, idx[:cap])
    init = jax.tree_util.tree_map(lambda o: jnp.zeros((n,) + o.shape[1:], o.dtype), shapes)

    def cond(c):
        return c[0] * cap < count

    def body(c):
        k, acc = c
        blk = lax.dynamic_slice(idx, (k * cap,), (cap,))
        out = replay(jnp.minimum(blk, n - 1))
        return k + 1, jax.tree_util.tree_map(lambda a, o: a.at[blk].set(o, mode="drop"), acc, out)

    return lax.while_loop(cond, body, (jnp.zeros((), jnp.int32), init))[1]


def _lane_rows(v, shape, lanes):
    """Rows ``lanes`` of v broadcast to the batch ``shape`` and flattened."""
    return jnp.broadcast_to(v, shape).reshape(-1)[lanes]


class Reply(NamedTuple):
    h: jnp.ndarray
    z: jnp.ndarray
    payoff: jnp.ndarray


def best_reply(u_opp, s2, q: Period2, omega, grid: Strategy, hs) -> Reply:
    """Best deviation (h', z') against a rival of sorting value ``u_opp`` (any trailing
    axes after the batch shape): the best of the 2 × H_GRID grid strategies, then a
    golden-section search of the best class on the two cells around the best point.

    A maximum of another class or cell whose grid value is lower but whose true value
    is higher by less than the grid's curvature error (~Π''·(1/64)²) is missed; the
    search is exact wherever the best grid point lies in the basin of the maximum.
    """
    extra = jnp.ndim(u_opp) - jnp.ndim(s2)
    qf = fit(q, jnp.ndim(u_opp) + 1)
    om = jnp.reshape(omega, jnp.shape(omega) + (1,) * (jnp.ndim(u_opp) + 1 - jnp.ndim(omega)))
    Ug = jnp.reshape(grid.U, grid.U.shape[:-1] + (1,) * extra + grid.U.shape[-1:])
    Mg = jnp.reshape(grid.M, grid.M.shape[:-1] + (1,) * extra + grid.M.shape[-1:])
    u = u_opp[..., None]
    p0 = deviation_payoff(Ug, Mg, 0.0, u, om, qf.eta)
    p1 = deviation_payoff(Ug, Mg, 1.0, u, om, qf.eta)
    i0, i1 = jnp.argmax(p0, axis=-1), jnp.argmax(p1, axis=-1)
    b0, b1 = jnp.max(p0, axis=-1), jnp.max(p1, axis=-1)
    zb = (b1 > b0).astype(s2.dtype)
    i = jnp.where(b1 > b0, i1, i0)
    f_grid = jnp.maximum(b0, b1)
    x_grid = hs[i]
    n = hs.shape[0]
    a = hs[jnp.maximum(i - 1, 0)]
    b = hs[jnp.minimum(i + 1, n - 1)]
    r = _INV_GOLDEN
    s2e = jnp.reshape(s2, s2.shape + (1,) * extra)
    q_e = fit(q, jnp.ndim(u_opp))
    om_e = jnp.reshape(omega, jnp.shape(omega) + (1,) * (jnp.ndim(u_opp) - jnp.ndim(omega)))

    # the wage W(s2) does not depend on the deviation: once, outside the loop
    w_s2 = W(s2e, q_e.b)

    def f(x):
        u = q_e.beta * B(g(s2e, x, q_e.alpha2, q_e.pi2, q_e.gamma, q_e.L2), q_e.b)
        m = S(s2e, x, q_e.alpha2, q_e.pi2, q_e.delta, q_e.lam_R) - w_s2
        return deviation_payoff(u, m, zb, u_opp, om_e, q_e.eta)

    c, d = b - r * (b - a), a + r * (b - a)
    fc, fd = f(c), f(d)

    def step(_, s):
        a, b, c, d, fc, fd = s
        left = fc >= fd                      # the maximum lies in [a, d]
        a2, b2 = jnp.where(left, a, c), jnp.where(left, d, b)
        c2 = jnp.where(left, b2 - r * (b2 - a2), d)
        d2 = jnp.where(left, c, a2 + r * (b2 - a2))
        x = jnp.where(left, c2, d2)
        fx = f(x)
        return a2, b2, c2, d2, jnp.where(left, fx, fc), jnp.where(left, fd, fx)

    a, b, c, d, fc, fd = lax.fori_loop(0, GOLDEN, step, (a, b, c, d, fc, fd))
    xg, fg = jnp.where(fc >= fd, c, d), jnp.maximum(fc, fd)
    better = fg > f_grid
    return Reply(jnp.where(better, xg, x_grid), zb, jnp.where(better, fg, f_grid))


#: share of candidate slots verified per block (a lane has about 2 of its 8 slots as
#: candidates, 34,480 of 131,072 on the bench's vectors): blocks of 1/16 waste at
#: most one partial block, where one block of 3/8 verified 1.4 times the candidates
VERIFY_FRACTION = 1 / 16


def verify_payoffs(u_c, pre, s2, q: Period2, omega, grid: Strategy, hs):
    """Best-deviation payoff against each candidate's sorting value ``u_c`` (trailing
    slot axis), computed only for the slots that are candidates (``pre``)."""
    shape = s2.shape
    ns = u_c.shape[-1]
    n = math.prod(shape)

    def part(idx):
        lane = idx // ns
        qs = jax.tree_util.tree_map(lambda v: _lane_rows(v, shape, lane), q)
        gs = Strategy(grid.U.reshape(n, -1)[lane], grid.M.reshape(n, -1)[lane])
        return best_reply(u_c.reshape(-1)[idx], _lane_rows(s2, shape, lane), qs,
                          _lane_rows(omega, shape, lane), gs, hs).payoff

    return compact_rows(part, pre.reshape(-1), VERIFY_FRACTION).reshape(u_c.shape)


class TerminalSelection(NamedTuple):
    """The selected symmetric terminal equilibrium and what the kernels report of it."""

    h: jnp.ndarray          # h2* (NaN with status when none)
    z: jnp.ndarray          # z2* as 0/1 float (NaN when none)
    status: jnp.ndarray     # int8: slot status of the selected equilibrium, NOT_UNIQUE, NONFINITE
    n_sym: jnp.ndarray      # int32 verified symmetric equilibria (both classes); −1 at s2 = α2
    pay_eq: jnp.ndarray
    nopay_eq: jnp.ndarray
    sel_differs: jnp.ndarray   # bonus-first or no-bonus-first would select another class
    h0_first_differs: jnp.ndarray  # within-class order h = 0 first would select another h
    overflow: jnp.ndarray
    h_class: jnp.ndarray    # (..., 2) selected h within each class (NaN when none)


def _class_pick(ver, h, first_slot_order):
    """Within one class (slots h=1, h=0, roots ascending): the first verified slot in
    ``first_slot_order`` (indices), else the lowest verified root.  Returns
    (found, slot index)."""
    i0, i1 = first_slot_order
    roots = ver[..., 2:]
    k_root = 2 + jnp.argmax(roots, axis=-1)
    any_root = jnp.any(roots, axis=-1)
    idx = jnp.where(ver[..., i0], i0, jnp.where(ver[..., i1], i1, k_root))
    found = ver[..., i0] | ver[..., i1] | any_root
    return found, idx


def select_terminal(s2, q: Period2, omega) -> TerminalSelection:
    """Verified symmetric terminal equilibria and the selection of docs/model.md §9:
    within each class h = 1, else h = 0, else the lowest interior root; between the
    classes the larger common profit Π̄2 = (M − ωz)/2, ties to z = 0."""
    cand = candidates(s2, q, omega)
    hs = jnp.linspace(0.0, 1.0, H_GRID, dtype=s2.dtype)
    grid = strategy_values(jnp.broadcast_to(hs, s2.shape + (H_GRID,)), s2, q)
    own = strategy_values(cand.h, s2, q)
    om = omega[..., None]
    u_c = own.U + om * cand.z
    own_pay = 0.5 * (own.M - om * cand.z)
    rep_pay = verify_payoffs(u_c, cand.pre, s2, q, omega, grid, hs)
    ver = cand.pre & no_profitable_deviation(rep_pay, own_pay)
    ns = 2 + ROOTS
    picks, picks_h0 = [], []
    for c in range(2):
        v = ver[..., c * ns:(c + 1) * ns]
        hc = cand.h[..., c * ns:(c + 1) * ns]
        sc = cand.status[..., c * ns:(c + 1) * ns]
        found, idx = _class_pick(v, hc, (0, 1))
        found0, idx0 = _class_pick(v, hc, (1, 0))
        take = lambda a, i: jnp.take_along_axis(a, i[..., None], axis=-1)[..., 0]  # noqa: E731
        picks.append((found, take(hc, idx), take(sc, idx)))
        picks_h0.append((found0, take(hc, idx0)))
    (f0, h0, s0), (f1, h1, s1) = picks
    m0 = M(s2, h0, q.alpha2, q.pi2, q.delta, q.lam_R, q.b)
    m1 = M(s2, h1, q.alpha2, q.pi2, q.delta, q.lam_R, q.b) - omega
    pay = f1 & (~f0 | (m1 > m0))
    any_eq = f0 | f1
    at_alpha = s2 == q.alpha2
    ok = any_eq & cand.finite & ~at_alpha
    h = jnp.where(ok, jnp.where(pay, h1, h0), jnp.nan)
    z = jnp.where(ok, pay.astype(s2.dtype), jnp.nan)
    status = jnp.where(pay, s1, s0)
    # none verified, or s2 = α2 (every h is one): NOT_UNIQUE, the code for 'none or several'
    status = jnp.where(ok, status, jnp.where(cand.finite, st.NOT_UNIQUE, st.NONFINITE)).astype(jnp.int8)
    n = jnp.sum(ver, axis=-1, dtype=jnp.int32)
    n = jnp.where(at_alpha, -1, n)
    # alternatives: bonus first (z = 1 whenever that class has an equilibrium), no-bonus
    # first (z = 0 whenever it has one), and h = 0 before h = 1 within a class
    # with both classes present, bonus-first picks z = 1 and no-bonus-first z = 0, so
    # one of them always disagrees with the profit comparison; with one class all agree
    differs = ok & f0 & f1
    h_alt = jnp.where(pay, picks_h0[1][1], picks_h0[0][1])
    return TerminalSelection(
        h=h, z=z, status=status, n_sym=n,
        pay_eq=f1 & ok, nopay_eq=f0 & ok,
        sel_differs=differs,
        h0_first_differs=ok & (h_alt != h),
        overflow=cand.overflow,
        h_class=jnp.stack([jnp.where(f0 & ok, h0, jnp.nan), jnp.where(f1 & ok, h1, jnp.nan)], axis=-1),
    )


def continuation(s2, q: Period2, omega, sel: TerminalSelection | None = None):
    """Continuation values at the selected (h2*, z2*)(s2) (docs/model.md §9):
    Π̄2 = (M(s2,h2*;A2) − ωz2*)/2 and V̄2 = W(s2) + ωz2* + βB(g(s2,h2*;A2)) + η log 2."""
    if sel is None:
        sel = select_terminal(s2, q, omega)
    wz = omega * sel.z
    pi_bar = 0.5 * (M(s2, sel.h, q.alpha2, q.pi2, q.delta, q.lam_R, q.b) - wz)
    v_bar = (W(s2, q.b) + wz + q.beta * B(g(s2, sel.h, q.alpha2, q.pi2, q.gamma, q.L2), q.b)
             + q.eta * jnp.log(2.0).astype(s2.dtype))
    return pi_bar, v_bar, sel


def continuation_slopes(s2, sel: TerminalSelection, q: Period2, omega):
    """Π̄2'(s2) and V̄2'(s2) on the selected branch: the derivative of the branch that is
    selected at s2, never across a switch of the selection (where the values jump).

    dh2*/ds2 = −(∂F2_z/∂s2)/(∂F2_z/∂h) where h2* is an interior root (status CONVERGED),
    0 at corners."""
    h = jnp.where(jnp.isfinite(sel.h), sel.h, 0.5)
    wz = omega * jnp.where(jnp.isfinite(sel.z), sel.z, 0.0)
    _, f_h = jax.jvp(lambda x: gain_z(x, s2, q, wz), (h,), (jnp.ones_like(h),))
    _, f_s = jax.jvp(lambda s: gain_z(h, s, q, wz), (s2,), (jnp.ones_like(s2),))
    interior = sel.status == st.CONVERGED
    dh = jnp.where(interior, -f_s / jnp.where(interior, f_h, 1.0), 0.0)
    dpi = 0.5 * (dM_ds(s2, h, q.pi2, q.delta, q.lam_R, q.b)
                 + dM_dh(s2, q.alpha2, q.pi2, q.delta, q.lam_R) * dh)

    def gval(s, x):
        return g(s, x, q.alpha2, q.pi2, q.gamma, q.L2)

    gg, dg_total = jax.jvp(lambda s: gval(s, h + dh * (s - s2)), (s2,), (jnp.ones_like(s2),))
    dv = (W_prime(s2, q.b) + q.beta * B_prime(gg, q.b) * dg_total)
    return dpi, dv


#: share of lanes whose grid 2-cycle is refined per block (more such lanes only add blocks)
ASYM_FRACTION = 1 / 32



def table_two_cycle(table, zc, shape, iterations: int):
    """A 2-cycle of the best-reply table: ``table[..., j]`` is the index of the best
    reply to strategy j among 2·nc strategies (nc engagement levels without, then
    with the bonus, ``zc`` their bonus choices).  Best replies are iterated
    ``iterations`` times from the rival at (0, 0) and at (1, 1); a start ends on a
    2-cycle (x, y) when each is the other's best reply and the two differ (in bonus,
    or by at least two coarse cells, so that a symmetric equilibrium between two
    grid points is not taken for one).  Returns (found, jx, jy) of the first start
    that ends on one (indices into the 2·nc strategies)."""
    n2 = table.shape[-1]

    def br(j):
        return jnp.take_along_axis(table, j, axis=-1)

    j0 = jnp.broadcast_to(jnp.array([0, n2 - 1], jnp.int32), shape + (2,))

    def body(_, c):
        jx, jy = c
        jx = br(jy)
        return jx, br(jx)

    jx, jy = lax.fori_loop(0, iterations, body, (j0, j0))
    distinct = (zc[jx] != zc[jy]) | (jnp.abs(jx - jy) >= 2)
    cyc = (br(jy) == jx) & (br(jx) == jy) & distinct
    first = cyc[..., 0]
    found = jnp.any(cyc, axis=-1)
    return (found, jnp.where(first, jx[..., 0], jx[..., 1]), jnp.where(first, jy[..., 0], jy[..., 1]))

def asymmetric_terminal(s2, q: Period2, omega, grid: Strategy, hs):
    """A verified asymmetric terminal equilibrium ((x,zx) ≠ (y,zy)), by best responses
    on the coarse strategy grid (every BR_STRIDE-th h, both z): the table of grid best
    replies to each grid strategy is built once, then iterated from the rival at
    (0,0) and at (1,1) (gathers only).  A 2-cycle is refined by continuous best
    replies x ← BR(y), y ← BR(x) and kept when y passes the deviation test against
    the refined x (x is a best reply to y by construction).  Lemma 1 (symmetry) is
    proved for ω = 0 only.  Returns (found, mixed bonus); False is not a proof that
    none exists."""
    hc = hs[::BR_STRIDE]
    nc = hc.shape[0]
    Uc = jnp.concatenate([grid.U[..., ::BR_STRIDE]] * 2, axis=-1)          # (..., 2nc)
    Mc = jnp.concatenate([grid.M[..., ::BR_STRIDE]] * 2, axis=-1)
    zc = jnp.concatenate([jnp.zeros(nc, s2.dtype), jnp.ones(nc, s2.dtype)])
    hcc = jnp.concatenate([hc, hc])
    # omega and eta have the batch shape (the kernels broadcast every parameter)
    u = Uc + omega[..., None] * zc                                           # sorting values
    pay = deviation_payoff(Uc[..., None, :], Mc[..., None, :], zc, u[..., :, None],
                           omega[..., None, None], q.eta[..., None, None])   # (..., opp, own)
    table = jnp.argmax(pay, axis=-1).astype(jnp.int32)                      # (..., 2nc)

    found, jx, jy = table_two_cycle(table, zc, s2.shape, K_BR)
    shape = s2.shape
    n = math.prod(shape)

    def refine(x, zx, s2l, ql, oml, gl):
        svx = strategy_values(x, s2l, ql)
        ry = best_reply(svx.U + oml * zx, s2l, ql, oml, gl, hs)
        svy = strategy_values(ry.h, s2l, ql)
        uy = svy.U + oml * ry.z
        rx = best_reply(uy, s2l, ql, oml, gl, hs)
        svx = strategy_values(rx.h, s2l, ql)
        ux = svx.U + oml * rx.z
        ry2 = best_reply(ux, s2l, ql, oml, gl, hs)
        pay_y = deviation_payoff(svy.U, svy.M, ry.z, ux, oml, ql.eta)
        ok = (no_profitable_deviation(ry2.payoff, pay_y)
              & ((jnp.abs(rx.h - ry.h) > 1e-3) | (rx.z != ry.z)) & jnp.isfinite(pay_y))
        return ok, ok & (rx.z != ry.z)

    def part(lane):
        qs = jax.tree_util.tree_map(lambda v: _lane_rows(v, shape, lane), q)
        gs = Strategy(grid.U.reshape(n, -1)[lane], grid.M.reshape(n, -1)[lane])
        jl = jx.reshape(-1)[lane]
        return refine(hcc[jl], zc[jl], _lane_rows(s2, shape, lane), qs,
                      _lane_rows(omega, shape, lane), gs)

    ok, mixed = compact_rows(part, found.reshape(-1), ASYM_FRACTION)
    ok = found & ok.reshape(shape)
    return ok, ok & mixed.reshape(shape)
