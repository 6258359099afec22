"""Building blocks of the ``period1`` kernel (MODEL.md §6): continuation values,
the engagement gain F1, the payoff Φ1 (eq. 10), best responses and the equilibrium
searches.  Every routine is fixed-size and elementwise over a leading batch shape;
the grid, candidate slots and search starts are trailing axes.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from . import status as stc
from .primitives import B, M, W, dM_dh, dM_ds, dg_dh, g
from .roots import Root, solve
from .terminal import Period2, engagement_gain, h2_prop3

#: grid points of [0,1] for the F1 scan, the deviation check and best responses
SCAN_POINTS = 129
#: slots for interior sign changes of F1 (more are flagged ``crossings_overflow``)
MAX_CROSSINGS = 4
#: golden-section steps refining a best response inside its grid cell pair; the
#: bracket 2/(SCAN_POINTS−1) shrinks by 0.618^20 ≈ 7e-5, to ~1e-6 (payoff error ~ Φ''·1e-12)
GOLDEN = 20
#: best-response iterations on the coarse grid (every BR_STRIDE-th point of the
#: grid) from y = 0 and from y = 1, looking for a 2-cycle
K_BR = 16
BR_STRIDE = 4
#: alternating continuous best-response rounds refining a grid 2-cycle
T_ALT = 2
#: relative tolerance of the deviation test, by float width
RTOL = {64: 1e-9, 32: 1e-4}
#: minimum |x − y| for a pair to count as asymmetric
ASYM_SEP = 1e-3

_INV_GOLDEN = 0.6180339887498949   # 1/golden ratio
_LOG2 = math.log(2.0)


class Period1(NamedTuple):
    """Period-1 quantities (L1 = φℓ(π1)); β and η are read from :class:`Period2`."""

    s1: jnp.ndarray
    alpha1: jnp.ndarray
    pi1: jnp.ndarray
    gamma: jnp.ndarray
    delta: jnp.ndarray
    lam_R: jnp.ndarray
    b: jnp.ndarray
    L1: jnp.ndarray


class Values(NamedTuple):
    """What Φ1 needs of an engagement level x (with s2 = g(s1,x;A1)):
    A = M(s1,x;A1) + βΠ2*(s2), P = βΠ2*(s2), V = V̄2(s2); plus the terminal
    engagement h2*(s2) met there and its root status."""

    A: jnp.ndarray
    P: jnp.ndarray
    V: jnp.ndarray
    h2: jnp.ndarray
    h2_status: jnp.ndarray


def _no_values(z):
    return Values(z, z, z, z, jnp.zeros(z.shape, jnp.int8))


class Gain(NamedTuple):
    F1: jnp.ndarray
    values: Values
    dPi: jnp.ndarray     # Π2*'(g1), including the response of h2*
    g_h: jnp.ndarray     # ∂g/∂h1


class ScanGrid(NamedTuple):
    xs: jnp.ndarray      # (SCAN_POINTS,) engagement levels
    F1: jnp.ndarray      # (..., SCAN_POINTS)
    values: Values       # leaves (..., SCAN_POINTS)


def tolerance(dtype) -> float:
    return RTOL[jnp.finfo(dtype).bits]


def fit(q, ndim):
    """Append singleton axes to every leaf of q so it broadcasts against an array
    of ``ndim`` dimensions whose leading axes are q's batch shape."""
    return jax.tree_util.tree_map(lambda v: jnp.reshape(v, v.shape + (1,) * (ndim - v.ndim)), q)


def continuation(s2, q2: Period2):
    """Π2*(s2) = ½M(s2,h2*(s2);A2) (eq. 9) and V̄2(s2) = W(s2) + βB(g(s2,h2*;A2)) + η log 2,
    with h2*(s2) and its status."""
    r = h2_prop3(s2, q2)
    h = r.x
    pi2 = 0.5 * M(s2, h, q2.alpha2, q2.pi2, q2.delta, q2.lam_R, q2.b)
    v2 = (W(s2, q2.b) + q2.beta * B(g(s2, h, q2.alpha2, q2.pi2, q2.gamma, q2.L2), q2.b)
          + q2.eta * _LOG2)
    return pi2, v2, h, r.status


def values_at(x, q1: Period1, q2: Period2) -> Values:
    """Values of engagement levels x (any trailing axes)."""
    q1, q2 = fit(q1, x.ndim), fit(q2, x.ndim)
    s2 = g(q1.s1, x, q1.alpha1, q1.pi1, q1.gamma, q1.L1)
    pi2, v2, h2, status = continuation(s2, q2)
    a = M(q1.s1, x, q1.alpha1, q1.pi1, q1.delta, q1.lam_R, q1.b) + q2.beta * pi2
    return Values(a, q2.beta * pi2, v2, h2, status)


def engagement_gain1(h, q1: Period1, q2: Period2) -> Gain:
    """Period-1 engagement gain F1(h) = ∂Φ1^j/∂h1^j at the symmetric profile (MODEL.md §6):

        F1 = β/(4η)·V̄2'(g1)·g_h·M(s1,h;A1) + ½[∂M/∂h1 + βΠ2*'(g1)·g_h].

    Π2*' and V̄2' are forward-mode derivatives of the continuation in s2 through the
    terminal root, so they include dh2*/ds2 = −(∂F2/∂s2)/(∂F2/∂h) where h2* is
    interior and 0 at its corners.
    """
    q1, q2 = fit(q1, h.ndim), fit(q2, h.ndim)
    s2 = g(q1.s1, h, q1.alpha1, q1.pi1, q1.gamma, q1.L1)
    (pi2, v2, h2, h2_status), (dpi2, dv2, _, _) = jax.jvp(lambda s: continuation(s, q2), (s2,),
                                             (jnp.ones_like(s2),))
    gh = dg_dh(q1.s1, q1.alpha1, q1.pi1, q1.gamma, q1.L1)
    m1 = M(q1.s1, h, q1.alpha1, q1.pi1, q1.delta, q1.lam_R, q1.b)
    f1 = (q2.beta / (4.0 * q2.eta) * dv2 * gh * m1
          + 0.5 * (dM_dh(q1.s1, q1.alpha1, q1.pi1, q1.delta, q1.lam_R) + q2.beta * dpi2 * gh))
    return Gain(f1, Values(m1 + q2.beta * pi2, q2.beta * pi2, v2, h2, h2_status), dpi2, gh)


def continuation_slope(s2, h2, h2_status, q2: Period2):
    """Π2*'(s2) = ½[∂M/∂s + ∂M/∂h·dh2*/ds2] at a known terminal engagement h2*, with
    dh2*/ds2 = −(∂F2/∂s2)/(∂F2/∂h) where h2* is an interior root (the formula the
    solver's implicit JVP applies) and 0 at corners.  Used where h2* is already known,
    so no second terminal solve is compiled."""
    def foc(h, s):
        return engagement_gain(h, s, q2)

    _, f_h = jax.jvp(lambda h: foc(h, s2), (h2,), (jnp.ones_like(h2),))
    _, f_s = jax.jvp(lambda s: foc(h2, s), (s2,), (jnp.ones_like(s2),))
    interior = h2_status == stc.CONVERGED
    dh = jnp.where(interior, -f_s / jnp.where(interior, f_h, 1.0), 0.0)
    return 0.5 * (dM_ds(s2, h2, q2.pi2, q2.delta, q2.lam_R, q2.b)
                  + dM_dh(s2, q2.alpha2, q2.pi2, q2.delta, q2.lam_R) * dh)


def payoff(xv: Values, yv: Values, q2: Period2):
    """Φ1^j(x, y) = σ1^j[M(s1,x;A1) + βΠ2*(g(s1,x))] + (1−σ1^j)βΠ2*(g(s1,y)) (eq. 10),
    σ1^j = 1/(1 + exp(β[V̄2(g(s1,y)) − V̄2(g(s1,x))]/η))."""
    nd = max(jnp.ndim(xv.A), jnp.ndim(yv.A))
    q2 = fit(q2, nd)
    sigma = jax.nn.sigmoid(q2.beta * (xv.V - yv.V) / q2.eta)
    return sigma * xv.A + (1.0 - sigma) * yv.P


def grid_values(q1: Period1, q2: Period2) -> ScanGrid:
    """F1 and the values at the :data:`SCAN_POINTS` grid points of [0,1]."""
    dt = q1.s1.dtype
    xs = jnp.linspace(0.0, 1.0, SCAN_POINTS, dtype=dt)
    h = jnp.broadcast_to(xs, q1.s1.shape + (SCAN_POINTS,))
    e = engagement_gain1(h, q1, q2)
    return ScanGrid(xs, e.F1, e.values)


def refine_crossings(q1: Period1, q2: Period2, grid: ScanGrid):
    """Interior symmetric candidates: the first :data:`MAX_CROSSINGS` sign changes of F1 on the
    grid, each refined by Chandrupatla on its cell.  Returns (Root (..., MAX_CROSSINGS),
    has (..., MAX_CROSSINGS), number of sign changes)."""
    pos = grid.F1 > 0.0
    cross = pos[..., 1:] != pos[..., :-1]
    rank = jnp.cumsum(cross, axis=-1, dtype=jnp.int32)
    slots = jnp.arange(1, MAX_CROSSINGS + 1, dtype=jnp.int32)[:, None]
    sel = cross[..., None, :] & (rank[..., None, :] == slots)          # (..., MAX_CROSSINGS, SCAN_POINTS−1)
    has = jnp.any(sel, axis=-1)
    k = jnp.argmax(sel, axis=-1)
    lo, hi = grid.xs[k], grid.xs[k + 1]
    nd = lo.ndim
    # u = 1 + h ∈ [1, 2] keeps the solver's relative tolerance an absolute one in h
    # (see kernels.terminal._select)
    root = solve(lambda u, th: engagement_gain1(u - 1.0, *th).F1, lo + 1.0, hi + 1.0,
                 (fit(q1, nd), fit(q2, nd)), mask=has)
    return Root(root.x - 1.0, root.status), has, jnp.sum(cross, axis=-1, dtype=jnp.int32)


class _BR(NamedTuple):
    """State of a best-response search (see :func:`best_response`)."""

    yv: Values           # the opponent's values
    a: jnp.ndarray       # golden bracket [a, b] and interior points c < d
    b: jnp.ndarray
    c: jnp.ndarray
    d: jnp.ndarray
    fc: jnp.ndarray
    fd: jnp.ndarray
    x_grid: jnp.ndarray  # best grid point and its payoff
    f_grid: jnp.ndarray


def _grid_best(st: _BR, q1: Period1, q2: Period2, grid: ScanGrid) -> _BR:
    """Best grid reply to st.yv and the golden bracket (the two cells around it)."""
    extra = st.yv.A.ndim - q1.s1.ndim                    # candidate / start axes
    gv = jax.tree_util.tree_map(
        lambda v: jnp.reshape(v, v.shape[:-1] + (1,) * extra + v.shape[-1:]), grid.values)
    phi = payoff(gv, jax.tree_util.tree_map(lambda v: v[..., None], st.yv), q2)
    i = jnp.argmax(phi, axis=-1)
    a = grid.xs[jnp.maximum(i - 1, 0)]
    b = grid.xs[jnp.minimum(i + 1, SCAN_POINTS - 1)]
    r = _INV_GOLDEN
    return st._replace(a=a, b=b, c=b - r * (b - a), d=a + r * (b - a),
                       x_grid=grid.xs[i], f_grid=jnp.max(phi, axis=-1))


def best_response(y, q1: Period1, q2: Period2, grid: ScanGrid):
    """Best reply x to an opponent playing y (any trailing axes): the best grid point,
    refined by golden section on the two cells around it.  Returns (x, Φ1(x, y)) and
    the opponent's values.

    Written as one loop of GOLDEN + 3 steps with a single evaluation of the
    continuation per step (step 0: the opponent's values, then the grid argmax;
    steps 1, 2: the golden points c, d; then golden steps), so each call site
    compiles one nested terminal solve.  The step index is not batched, so the
    ``lax.switch`` runs one branch even under vmap.
    """
    r = _INV_GOLDEN
    z = jnp.zeros_like(y)
    st0 = _BR(_no_values(z), z, z, z, z, z, z, z, z)

    def shrink(st):
        left = st.fc >= st.fd                      # the maximum lies in [a, d]
        a2, b2 = jnp.where(left, st.a, st.c), jnp.where(left, st.d, st.b)
        c2 = jnp.where(left, b2 - r * (b2 - a2), st.d)
        d2 = jnp.where(left, st.c, a2 + r * (b2 - a2))
        return st._replace(a=a2, b=b2, c=c2, d=d2), jnp.where(left, c2, d2)

    def step(k, st):
        phase = jnp.minimum(k, 3)
        st, x = lax.switch(phase, [lambda s: (s, y), lambda s: (s, s.c), lambda s: (s, s.d), shrink], st)
        v = values_at(x, q1, q2)

        def opponent(s):
            return _grid_best(s._replace(yv=v), q1, q2, grid)

        def at_c(s):
            return s._replace(fc=payoff(v, s.yv, q2))

        def at_d(s):
            return s._replace(fd=payoff(v, s.yv, q2))

        def golden(s):
            f = payoff(v, s.yv, q2)
            left = x == s.c
            return s._replace(fc=jnp.where(left, f, s.fc), fd=jnp.where(left, s.fd, f))

        return lax.switch(phase, [opponent, at_c, at_d, golden], st)

    st = lax.fori_loop(0, GOLDEN + 3, step, st0)
    xg, fg = jnp.where(st.fc >= st.fd, st.c, st.d), jnp.maximum(st.fc, st.fd)
    better = fg > st.f_grid
    return jnp.where(better, xg, st.x_grid), jnp.where(better, fg, st.f_grid), st.yv


def _coarse(grid: ScanGrid) -> ScanGrid:
    """Every BR_STRIDE-th grid point (both ends included)."""
    return ScanGrid(grid.xs[::BR_STRIDE], grid.F1[..., ::BR_STRIDE],
                jax.tree_util.tree_map(lambda v: v[..., ::BR_STRIDE], grid.values))


def _grid_br_index(j, grid: ScanGrid, q2: Period2):
    """Index of the best grid reply to the grid point j (trailing start axis)."""
    yv = jax.tree_util.tree_map(lambda v: jnp.take_along_axis(v, j, axis=-1), grid.values)
    gv = jax.tree_util.tree_map(lambda v: v[..., None, :], grid.values)
    phi = payoff(gv, jax.tree_util.tree_map(lambda v: v[..., None], yv), q2)
    return jnp.argmax(phi, axis=-1).astype(jnp.int32)


def _grid_two_cycle(grid: ScanGrid, q2: Period2, shape):
    """Iterate best responses on the coarse grid from y = 0 and y = 1; return the
    pair of the first start that ends on a 2-cycle with x ≠ y (|i − j| ≥ 2 coarse
    cells, so that a symmetric equilibrium between two grid points is not taken
    for one)."""
    cg = _coarse(grid)
    n = cg.xs.shape[0]
    jy0 = jnp.broadcast_to(jnp.array([0, n - 1], jnp.int32), shape + (2,))

    def body(_, carry):
        jx, jy = carry
        jx = _grid_br_index(jy, cg, q2)
        return jx, _grid_br_index(jx, cg, q2)

    jx, jy = lax.fori_loop(0, K_BR, body, (jy0, jy0))
    cyc = ((_grid_br_index(jy, cg, q2) == jx) & (_grid_br_index(jx, cg, q2) == jy)
           & (jnp.abs(jx - jy) >= 2))
    first = cyc[..., 0]
    found = jnp.any(cyc, axis=-1)
    jx = jnp.where(first, jx[..., 0], jx[..., 1])
    jy = jnp.where(first, jy[..., 0], jy[..., 1])
    return found, cg.xs[jx], cg.xs[jy]


def _alternate(x0, y0, q1, q2, grid):
    """Alternating continuous best responses x ← BR(y), y ← BR(x), T_ALT rounds, then
    one more BR(y) to measure x's deviation gain.  One best-response call site (the
    carry shifts roles) keeps the compiled program small.  Returns
    (x, y, Φ1(x,y), Φ1(y,x), gain of x's best deviation)."""
    def step(_, c):
        _, a, b, _, _, vb = c
        new, phi_new, v_opp = best_response(b, q1, q2, grid)
        return a, b, new, phi_new, vb, v_opp

    z = jnp.zeros_like(x0)
    init = (x0, x0, y0, z, _no_values(z), _no_values(z))
    # after the loop: (x, y, BR(y), Φ1(BR(y), y), values of x, values of y)
    x, y, _, phi_best_x, xv, yv = lax.fori_loop(0, 2 * T_ALT + 1, step, init)
    phi_xy, phi_yx = payoff(xv, yv, q2), payoff(yv, xv, q2)
    return x, y, phi_xy, phi_yx, phi_best_x - phi_xy


def asymmetric_search(q1: Period1, q2: Period2, grid: ScanGrid):
    """An asymmetric pure equilibrium (x, y), x ≠ y, with x a best response to y and
    y to x (MODEL.md §6, after eq. 11); see the module docstring of ``period1``.

    y is a best response to x by construction (the last alternation step); x must
    pass the deviation test against y.
    """
    shape = q1.s1.shape
    found, x0, y0 = _grid_two_cycle(grid, q2, shape)

    def refine(xy):
        return _alternate(xy[0], xy[1], q1, q2, grid)

    def skip(xy):
        nan = jnp.full_like(xy[0], jnp.nan)
        return xy[0], xy[1], nan, nan, jnp.full_like(xy[0], jnp.inf)

    # Only batches where some lane has a grid 2-cycle pay for the refinement (under
    # vmap the cond becomes a select and both branches run, with the same result).
    x, y, phi_xy, phi_yx, gain = lax.cond(jnp.any(found), refine, skip, (x0, y0))
    tol = tolerance(x.dtype)
    ok = (found & (gain <= tol * (1.0 + jnp.abs(phi_xy))) & (jnp.abs(x - y) > ASYM_SEP)
          & jnp.isfinite(phi_xy) & jnp.isfinite(phi_yx))
    x_high = x > y
    nan = jnp.nan
    return dict(
        asym_eq=ok,
        asym_high=jnp.where(ok, jnp.maximum(x, y), nan),
        asym_low=jnp.where(ok, jnp.minimum(x, y), nan),
        payoff_high=jnp.where(ok, jnp.where(x_high, phi_xy, phi_yx), nan),
        payoff_low=jnp.where(ok, jnp.where(x_high, phi_yx, phi_xy), nan),
    )


__all__ = ["SCAN_POINTS", "MAX_CROSSINGS", "GOLDEN", "K_BR", "BR_STRIDE", "T_ALT", "RTOL", "ASYM_SEP", "Period1", "Values",
           "Grid", "Gain", "Root", "tolerance", "continuation", "values_at", "engagement_gain1",
           "payoff", "grid_values", "refine_crossings", "best_response",
           "asymmetric_search"]
