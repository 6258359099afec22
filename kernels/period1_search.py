"""Building blocks of the ``period1`` kernel (docs/model.md §6): continuation values,
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
from .deviation import no_profitable_deviation
from .primitives import B, M, W, dM_dh, dM_ds, dg_dh, g
from .lane_blocks import map_compacted
from .roots import Root, solve
from .terminal import Period2, corner_gaps, engagement_gain, h2_prop3

#: grid points of [0,1] for the F1 scan, the deviation check and best responses
SCAN_POINTS = 129
#: slots for interior sign changes of F1 (more are flagged ``crossings_overflow``)
MAX_CROSSINGS = 4
#: Brent's absolute tolerance in x when refining a best response inside its grid
#: cell pair (:func:`best_response`), by float width: about sqrt(eps) in float64
#: (a smooth maximum is only defined to ~1e-8 there; the payoff is then resolved to
#: ~Φ''·1e-16, far below the deviation tolerance) and 3e-5 in float32 (where Φ1's
#: rounding hides payoff differences below ~1e-7, i.e. locations below ~5e-4).
#: Powers of two, so the probe 2·tol1 inside an end of [0,1] is exact and a corner
#: maximum is settled by it in one step.
BRENT_XTOL = {64: 2.0 ** -26, 32: 2.0 ** -15}
#: most evaluations of one best response after the opponent's (Brent falls back
#: to golden section where Φ1 is not smooth: 2/(SCAN_POINTS−1)·0.618^k reaches
#: 2e-8 at k ≈ 28, and Brent's rule may alternate parabolic and golden steps)
BRENT_MAX = 48
#: asymmetric search slots: the first NA_INT interior 2-cycles of the fine scan, and
#: the two corner starts y = 0 and y = 1
NA_INT = 2
#: secant evaluations of E(y) = BR(BR(y)) − y refining an interior 2-cycle
N_SECANT = 3
#: points of the verification grid (not the search grid: spacing 1/60 vs 1/128, common
#: points only 0, ¼, ½, ¾, 1); its best deviations are refined by Brent's method
#: like those of the search grid
VG = 61
#: band |F2 − λRδ| ≤ JUMP_RTOL·λRδ in which the deviation check of a symmetric
#: candidate takes a terminal corner condition as met (the weak inequality of
#: Prop. 3 at a jump of h2*; the F1 root lands within rounding of the jump, on
#: either side), by float width
JUMP_RTOL = {64: 1e-10, 32: 1e-5}
#: items (lanes or candidate slots) per block of the compacted phases (refinement of
#: F1's sign changes, best replies to the symmetric candidates, the verification of
#: asymmetric pairs): the width those nested searches are compiled at
BLOCK = 128
#: items per block of the 2-cycle refinement: interior 2-cycles are rare (about one
#: slot per 128 random admissible lanes), and a block costs its full width in every
#: one of its 2·N_SECANT nested best replies whatever its number of valid items
#: (2,048 random admissible vectors, float64, one device: 16 takes 181 µs per vector
#: where 128 took 191, both runs in one process)
CYCLE_BLOCK = 16
#: (smallest, largest) block of the compacted interior terminal solves
#: (:func:`interior_solve`): 1/32 of the lanes within these bounds, so the ~1% of the
#: F1 scan's 1,024 × 129 skills whose h2* is interior fit in one block, and a block
#: of best-reply items (128 lanes × a few slots) iterates a few lanes, not all
TERMINAL_BLOCK = (16, 1024)
#: minimum |x − y| for a pair to count as asymmetric
ASYM_SEP = 1e-3
#: two verified pairs closer than this (both coordinates) are one
ASYM_SAME = 1e-6

_CGOLD = 0.3819660112501051   # 1 − 1/golden ratio: Brent's golden-section step
#: |β(V̄ − V̄_mid)/η| up to which grid_reply_scan factors the sigmoid of eq. 10 into
#: exponentials of single grid points: exp stays finite and 1/(1 + e_y/e_x) loses no
#: more than a few ulp (float64 exp overflows at 709, float32 at 88)
_EXP_SAFE = {64: 300.0, 32: 40.0}
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


def fit(q, ndim):
    """Append singleton axes to every leaf of q so it broadcasts against an array
    of ``ndim`` dimensions whose leading axes are q's batch shape."""
    return jax.tree_util.tree_map(lambda v: jnp.reshape(v, v.shape + (1,) * (ndim - v.ndim)), q)


def interior_solve(f, lo, hi, theta, mask, ends) -> Root:
    """:func:`kernels.roots.solve` of f on [lo, hi] iterated only on the lanes where
    ``mask`` holds (the terminal game's interior roots; see :func:`continuation`).
    ``ends``: f at lo and hi, which the corner tests of Prop. 3 have computed, so
    the solver evaluates f only inside its iteration (one call site of F2 in each
    compiled continuation instead of three).

    The lanes are flattened, the masked ones gathered into blocks
    (:func:`kernels.lane_blocks.map_compacted`) and solved there: each lane runs
    the iterations of the full-width solve, with the same status, and its root
    agrees to rounding (the gathered program may round F2 differently in the last
    bit; tests/test_period1_fast_parts.py); the other lanes get what the
    full-width solve gives a masked lane (NaN, status SKIPPED).  Differentiable
    through the solver's implicit JVP (forward mode)."""
    leaves = jax.tree_util.tree_leaves((lo, hi, mask, theta))
    shape = jnp.broadcast_shapes(*[jnp.shape(v) for v in leaves])
    m = math.prod(shape)

    def flat(v):
        return jnp.reshape(jnp.broadcast_to(v, shape), (m,))

    # 0-d leaves (values fixed over the batch, e.g. the snap band) stay 0-d
    th = jax.tree_util.tree_map(lambda v: v if jnp.ndim(v) == 0 else flat(v), theta)
    need = flat(mask)
    block = min(m, max(TERMINAL_BLOCK[0], min(TERMINAL_BLOCK[1], m // 32)))

    def one(valid, lane, _):
        lo_i, hi_i, f_lo, f_hi, th_i = lane
        r = solve(f, lo_i, hi_i, th_i, mask=valid, ends=(f_lo, f_hi))
        return r.x, r.status

    x, status = map_compacted(one, need, (flat(lo), flat(hi), flat(ends[0]), flat(ends[1]), th), (), block)
    status = jnp.where(need, status, stc.SKIPPED).astype(jnp.int8)
    return Root(jnp.reshape(x, shape), jnp.reshape(status, shape))


def continuation(s2, q2: Period2):
    """Π2*(s2) = ½M(s2,h2*(s2);A2) (eq. 9) and V̄2(s2) = W(s2) + βB(g(s2,h2*;A2)) + η log 2,
    with h2*(s2) and its status.

    h2* is Prop. 3's rule (:func:`kernels.terminal.h2_prop3`) with the interior root
    solved only where neither corner holds (:func:`interior_solve`): on the period-1
    grids h2* is a corner at most skills (over 99% of the F1 scan's points on random
    admissible vectors), and a full-width solve would iterate every lane until the
    slowest interior root converged."""
    r = h2_prop3(s2, q2, interior_solve)
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
    """Period-1 engagement gain F1(h) = ∂Φ1^j/∂h1^j at the symmetric profile (docs/model.md §6):

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


def scan_grids(q1: Period1, q2: Period2) -> tuple[ScanGrid, ScanGrid]:
    """The search grid (F1 and the values at the :data:`SCAN_POINTS` points of [0,1])
    and the verification grid (values at its :data:`VG` points), from one evaluation
    of F1 on both point sets: one continuation call site in the compiled program
    instead of two, and one pass of the compacted interior terminal solves (float64,
    128 lanes: 25 µs per lane against 18 + 10 for two passes; F1's derivative on the
    61 verification points is computed and not used)."""
    dt = q1.s1.dtype
    xs = jnp.linspace(0.0, 1.0, SCAN_POINTS, dtype=dt)
    vxs = jnp.linspace(0.0, 1.0, VG, dtype=dt)
    h = jnp.broadcast_to(jnp.concatenate([xs, vxs]), q1.s1.shape + (SCAN_POINTS + VG,))
    e = engagement_gain1(h, q1, q2)
    search = jax.tree_util.tree_map(lambda v: v[..., :SCAN_POINTS], e.values)
    verify = jax.tree_util.tree_map(lambda v: v[..., SCAN_POINTS:], e.values)
    return ScanGrid(xs, e.F1[..., :SCAN_POINTS], search), ScanGrid(vxs, None, verify)


def first_cells(mask, n_slots: int):
    """The first ``n_slots`` cells where ``mask`` (..., cells) holds: (has (..., n_slots),
    cell index k (..., n_slots), number of cells that hold (...)).

    With rank_j the count of cells 0..j that hold, the s-th is cell #{j: rank_j < s}.
    Everything reads rank, not the mask: XLA fuses the tail of the mask's producer
    (F1's formula, E's interpolation) into each elementwise consumer, and a
    consumer broadcast over the slots, such as a (..., slots, cells) mask and its
    argmax, recomputed that tail once per slot, twice (in ``refine_crossings``,
    float64, one thread: 24 µs per lane, more than the refinement itself).  A slot
    with no such cell gets the last cell, so every index stays on the grid."""
    rank = jnp.cumsum(mask, axis=-1, dtype=jnp.int32)
    slots = jnp.arange(1, n_slots + 1, dtype=jnp.int32)
    count = rank[..., -1]
    has = count[..., None] >= slots
    k = jnp.minimum(jnp.sum(rank[..., None, :] < slots[:, None], axis=-1, dtype=jnp.int32), mask.shape[-1] - 1)
    return has, k, count


def refine_crossings(q1: Period1, q2: Period2, grid: ScanGrid):
    """Interior symmetric candidates: the first :data:`MAX_CROSSINGS` sign changes of F1 on the
    grid, each refined by Chandrupatla on its cell.  Returns (Root (n, MAX_CROSSINGS),
    has (n, MAX_CROSSINGS), number of sign changes).  Lanes are a 1-D batch (n,).

    Only the slots that hold a sign change are solved (:func:`kernels.lane_blocks.map_compacted`,
    blocks of :data:`BLOCK` slots): most lanes have none, and the solve's every
    iteration is a nested terminal solve."""
    pos = grid.F1 > 0.0
    cross = pos[..., 1:] != pos[..., :-1]
    has, k, n_cross = first_cells(cross, MAX_CROSSINGS)                   # (n, MAX_CROSSINGS)
    lo, hi = grid.xs[k], grid.xs[k + 1]
    f_lo = jnp.take_along_axis(grid.F1, k, axis=-1)
    f_hi = jnp.take_along_axis(grid.F1, k + 1, axis=-1)

    def refine(valid, lane, item):
        q1i, q2i = lane
        lo_i, hi_i, flo_i, fhi_i = item
        # u = 1 + h ∈ [1, 2] keeps the solver's relative tolerance an absolute one in h
        # (see kernels.terminal._select); the cells' ends are multiples of 1/128, so
        # u − 1 gives them back exactly.  The solver starts from the scan's F1 values
        # at the ends (``ends``): F1 is evaluated at one call site of the compiled
        # program, not three (each nests a terminal solve), and the solver sees the
        # sign change the scan saw (F1 ≤ 0 at one end, > 0 at the other; an end
        # with F1 = 0 is itself the root).
        root = solve(lambda u, th: engagement_gain1(u - 1.0, *th).F1, lo_i + 1.0, hi_i + 1.0,
                     (q1i, q2i), mask=valid, ends=(flo_i, fhi_i))
        return root.x - 1.0, root.status

    x, status = map_compacted(refine, has, (q1, q2), (lo, hi, f_lo, f_hi), BLOCK)
    # slots without a sign change: what the full-width solve gives a masked lane
    status = jnp.where(has, status, stc.SKIPPED).astype(jnp.int8)
    return Root(x, status), has, n_cross


class _BR(NamedTuple):
    """State of a best-response search (see :func:`best_response`): Brent's
    bracket [a, b], the best point x and the two before it (w, v) with their
    payoffs, the last two steps (d, e), the point u to evaluate next."""

    yv: Values           # the opponent's values
    a: jnp.ndarray
    b: jnp.ndarray
    x: jnp.ndarray
    w: jnp.ndarray
    v: jnp.ndarray
    fx: jnp.ndarray
    fw: jnp.ndarray
    fv: jnp.ndarray
    d: jnp.ndarray
    e: jnp.ndarray
    u: jnp.ndarray
    done: jnp.ndarray
    vx: Values | None    # values at x (None unless the caller wants them)


def _grid_values_for(yv: Values, q1: Period1, grid: ScanGrid) -> Values:
    """The grid's values with singleton axes for the candidate / start axes of yv,
    so they broadcast against it (grid points on the last axis)."""
    extra = yv.A.ndim - q1.s1.ndim
    return jax.tree_util.tree_map(
        lambda v: jnp.reshape(v, v.shape[:-1] + (1,) * extra + v.shape[-1:]), grid.values)


def _brent_next(st: _BR, tol1) -> _BR:
    """Brent's (1973) next point for a maximum in [a, b]: the vertex of the parabola
    through (x, w, v) where it falls inside the bracket and moves less than half
    the step before last, else a golden-section step into the larger side of x;
    never closer than tol1 to x, a or b.  Items whose bracket is resolved
    (|x − m| ≤ 2·tol1 − (b − a)/2, m the midpoint) are marked done."""
    a, b, x, w, v = st.a, st.b, st.x, st.w, st.v
    m = 0.5 * (a + b)
    tol2 = 2.0 * tol1
    done = st.done | (jnp.abs(x - m) <= tol2 - 0.5 * (b - a))
    # parabola through the three best points, in Brent's form for a minimum of −Φ
    r = (x - w) * (st.fv - st.fx)
    q = (x - v) * (st.fw - st.fx)
    p = (x - v) * q - (x - w) * r
    q = 2.0 * (q - r)
    p = jnp.where(q > 0.0, -p, p)
    q = jnp.abs(q)
    para = ((jnp.abs(st.e) > tol1) & (jnp.abs(p) < jnp.abs(0.5 * q * st.e))
            & (p > q * (a - x)) & (p < q * (b - x)))
    e_gold = jnp.where(x >= m, a - x, b - x)
    d_para = p / jnp.where(para, q, 1.0)
    u_para = x + d_para
    d_para = jnp.where((u_para - a < tol2) | (b - u_para < tol2), jnp.where(m >= x, tol1, -tol1), d_para)
    d = jnp.where(para, d_para, _CGOLD * e_gold)
    e = jnp.where(para, st.d, e_gold)
    u = x + jnp.where(jnp.abs(d) >= tol1, d, jnp.where(d >= 0.0, tol1, -tol1))
    return st._replace(d=d, e=e, u=jnp.where(done, x, u), done=done)


def best_response(y, q1: Period1, q2: Period2, grid: ScanGrid, with_values: bool = False):
    """Best reply x to an opponent playing y (any trailing axes): the best point of
    ``grid``, refined by Brent's method on the two cells around it.  Returns
    (x, Φ1(x, y), the opponent's values, the values at x), the last None unless
    ``with_values``.

    Written as one ``lax.while_loop`` with a single evaluation of the
    continuation per step, so each call site compiles one nested terminal solve.
    Step 0 evaluates the opponent's values; step 1 takes the grid's argmax i and
    starts Brent from x = x_i with its neighbours as the parabola's other points,
    so its first point is the vertex through three grid payoffs.  Where i is an
    end of the grid, the first point probes 2·tol1 inside it: a corner maximum
    (the common case on the paper's region) is then settled by one evaluation.
    Each further step evaluates one point (parabolic where Φ1 is smooth, golden
    section where it is not); the loop stops when every item's bracket is
    resolved to :data:`BRENT_XTOL` (about 1.5e-8 in x in float64, against 1.5e-7
    for the 24 golden steps of the reference algorithm), or after
    :data:`BRENT_MAX` evaluations.  x is always the best point evaluated, the grid
    point included.  Finished items do not change, so an item's answer does not
    depend on the others in its block.

    A step evaluates the point, and the next step compares its payoff: the payoff
    crosses the loop as a carried (stored) value.  Compared where it is computed,
    XLA may compute it again inside each fusion that reads it, rounded
    differently (FMA contraction), and where two payoffs tie to an ulp the bracket
    and the best point then took different sides (seen on jax 0.10's CPU fusion
    emitters).
    """
    tol1 = BRENT_XTOL[jnp.finfo(y.dtype).bits]
    n = grid.xs.shape[0]
    z = jnp.zeros_like(y)
    vz = _no_values(z)
    st0 = _BR(vz, z, z, z, z, z, z, z, z, z, z, y, jnp.zeros(y.shape, bool), vz if with_values else None)

    def start(st, val, _):
        # the opponent's values (evaluated at step 0), the grid's best reply and
        # Brent's start
        gvals = _grid_values_for(val, q1, grid)
        phi = payoff(gvals, jax.tree_util.tree_map(lambda t: t[..., None], val), q2)
        i = jnp.argmax(phi, axis=-1)
        il, ir = jnp.maximum(i - 1, 0), jnp.minimum(i + 1, n - 1)

        def at(k):
            return jnp.take_along_axis(phi, k[..., None], axis=-1)[..., 0]

        fx, fl, fr = at(i), at(il), at(ir)
        xs = grid.xs
        left_better = (fl >= fr) & (i > 0) | (i == n - 1)
        w = jnp.where(left_better, xs[il], xs[ir])
        v = jnp.where(left_better, xs[ir], xs[il])
        fw = jnp.where(left_better, fl, fr)
        fv = jnp.where(left_better, fr, fl)
        vx = None
        if with_values:
            vx = jax.tree_util.tree_map(lambda t: jnp.take_along_axis(t, i[..., None], axis=-1)[..., 0], gvals)
        st = _BR(val, xs[il], xs[ir], xs[i], w, v, fx, fw, fv, z, xs[ir] - xs[il], z,
                 ~jnp.isfinite(fx), vx)
        st = _brent_next(st, tol1)
        # an end of the grid: probe just inside it first
        probe = jnp.where(i == 0, xs[i] + 2.0 * tol1, xs[i] - 2.0 * tol1)
        return st._replace(u=jnp.where(((i == 0) | (i == n - 1)) & ~st.done, probe, st.u))

    def advance(st, val, fu):
        # u was evaluated last step: its values ``val`` and payoff ``fu`` (carried)
        u, x = st.u, st.x
        live = ~st.done
        better = live & (fu >= st.fx)
        worse = live & ~better
        # the bracket: u replaces the end on its side of x (better: x becomes the end)
        a = jnp.where(better & (u >= x) | worse & (u < x), jnp.where(better, x, u), st.a)
        b = jnp.where(better & (u < x) | worse & (u >= x), jnp.where(better, x, u), st.b)
        to_w = worse & ((fu >= st.fw) | (st.w == x))
        to_v = worse & ~to_w & ((fu >= st.fv) | (st.v == x) | (st.v == st.w))
        v = jnp.where(better | to_w, st.w, jnp.where(to_v, u, st.v))
        fv = jnp.where(better | to_w, st.fw, jnp.where(to_v, fu, st.fv))
        w = jnp.where(better, x, jnp.where(to_w, u, st.w))
        fw = jnp.where(better, st.fx, jnp.where(to_w, fu, st.fw))
        vx = _where(better, val, st.vx) if with_values else None
        st = st._replace(a=a, b=b, x=jnp.where(better, u, x), w=w, v=v,
                         fx=jnp.where(better, fu, st.fx), fw=fw, fv=fv, vx=vx)
        return _brent_next(st, tol1)

    def body(c):
        # step k: take in what step k−1 evaluated (nothing at k = 0, the opponent's
        # values at k = 1), choose the next point, evaluate it
        k, st, val, fu = c
        st = lax.switch(jnp.minimum(k, 2), [lambda s, v, f: s, start, advance], st, val, fu)
        val = values_at(st.u, q1, q2)
        fu = jnp.where(k == 0, z, payoff(val, st.yv, q2))
        return k + 1, st, val, fu

    def more(c):
        k, st, _, _ = c
        return (k < 2) | ((k <= BRENT_MAX) & jnp.any(~st.done))

    _, st, val, fu = lax.while_loop(more, body, (jnp.int32(0), st0, vz, z))
    # the last point evaluated (items stopped by BRENT_MAX; finished items hold)
    st = advance(st, val, fu)
    return st.x, st.fx, st.yv, st.vx


def _where(c, u: Values, v: Values) -> Values:
    """Values u where c holds, else v (leaf by leaf)."""
    return jax.tree_util.tree_map(lambda a, b: jnp.where(c, a, b), u, v)


def grid_reply_scan(grid: ScanGrid, q2: Period2):
    """Best replies to every grid point y_j, refined below the grid's resolution.

    For each y_j (a ``lax.scan`` over j, so only one column of Φ1 is live at a
    time): the best grid reply i_j, then the vertex of the parabola through
    Φ1(x_{i−1}, y_j), Φ1(x_i, y_j), Φ1(x_{i+1}, y_j) (kept within one cell of x_i,
    and only where the three points are concave).  Returns r (..., SCAN_POINTS), the
    approximate continuous best replies; their error is O(dx²) where Φ1 is smooth.

    Layout: the grid axis leads inside the scan, so the column's maximum over x is
    an elementwise max across rows of lanes, and i_j (the first x attaining it,
    as ``argmax`` returns) a min over indices where Φ1 equals it.  XLA's CPU
    argmax (a two-operand reduce) took two thirds of this function's time with
    the grid axis last (float64, one thread, 128 lanes: 24 µs per lane against 29,
    the same bits).
    """
    xs = grid.xs
    n = xs.shape[0]
    dx = xs[1] - xs[0]
    gv = grid.values
    # σ1(x, y) = 1/(1 + exp(β(V̄_y − V̄_x)/η)) = 1/(1 + e_y/e_x) with e = exp(β(V̄ − V̄_mid)/η):
    # two exponentials per grid point instead of one per pair of grid points.  Where
    # some lane's β/η·(max V̄ − min V̄) would overflow e, the batch takes the sigmoid
    # of each pair (eq. 10 as :func:`payoff` writes it) instead.
    z = fit(q2, gv.V.ndim).beta / fit(q2, gv.V.ndim).eta
    vmin, vmax = jnp.min(gv.V, axis=-1, keepdims=True), jnp.max(gv.V, axis=-1, keepdims=True)
    w = z * (gv.V - 0.5 * (vmin + vmax))
    # (NaN rows, e.g. inadmissible ones, give NaN either way and do not block it)
    factored = ~jnp.any(jnp.abs(w) > _EXP_SAFE[jnp.finfo(w.dtype).bits])

    def lead(v):                                   # (..., n) -> (n, ...)
        return jnp.moveaxis(v, -1, 0)

    A, P, V = lead(gv.A), lead(gv.P), lead(gv.V)
    e_y, inv_e_x = lead(jnp.exp(w)), lead(jnp.exp(-w))
    beta, eta = q2.beta, q2.eta
    iota = lax.broadcasted_iota(jnp.int32, A.shape, 0)

    def by_exponentials(j):
        sigma = 1.0 / (1.0 + lax.dynamic_index_in_dim(e_y, j, 0, keepdims=True) * inv_e_x)
        return sigma * A + (1.0 - sigma) * lax.dynamic_index_in_dim(P, j, 0, keepdims=True)

    def by_sigmoid(j):
        sigma = jax.nn.sigmoid(beta * (V - lax.dynamic_index_in_dim(V, j, 0, keepdims=True)) / eta)
        return sigma * A + (1.0 - sigma) * lax.dynamic_index_in_dim(P, j, 0, keepdims=True)

    def column(pair_payoffs, j):
        phi = pair_payoffs(j)                                           # (SCAN_POINTS, ...)
        best = jnp.max(phi, axis=0, keepdims=True)
        # (a column holding NaN has no index equal to its max: n, clipped below)
        i = jnp.minimum(jnp.min(jnp.where(phi == best, iota, n), axis=0), n - 1)
        ic = jnp.clip(i, 1, n - 2)
        fm, f0, fp = (jnp.take_along_axis(phi, (ic + o)[None], axis=0)[0] for o in (-1, 0, 1))
        den = fm - 2.0 * f0 + fp
        t = jnp.where(den < 0.0, 0.5 * (fm - fp) / jnp.where(den < 0.0, den, -1.0), 0.0)
        x = xs[ic] + jnp.clip(t, -1.0, 1.0) * dx
        xi = xs[i]
        x = jnp.clip(x, jnp.maximum(xi - dx, 0.0), jnp.minimum(xi + dx, 1.0))
        return x

    def replies(pair_payoffs):
        return lax.scan(lambda c, j: (c, column(pair_payoffs, j)), None, jnp.arange(n))[1]

    r = lax.cond(factored, lambda: replies(by_exponentials), lambda: replies(by_sigmoid))
    return jnp.moveaxis(r, 0, -1)


def _interp(r, y, xs):
    """Piecewise-linear interpolation of r (..., SCAN_POINTS) on the grid xs at y (..., K)."""
    n = xs.shape[0]
    dx = xs[1] - xs[0]
    k = jnp.clip(jnp.floor(y / dx).astype(jnp.int32), 0, n - 2)
    w = y / dx - k.astype(y.dtype)
    lo = jnp.take_along_axis(r, k, axis=-1)
    hi = jnp.take_along_axis(r, k + 1, axis=-1)
    return (1.0 - w) * lo + w * hi


def interior_two_cycles(r, xs):
    """Starting points of interior 2-cycles of the best-reply map.

    With r the approximate best replies on the grid, E(y) = R(R(y)) − y (R the
    piecewise-linear interpolant of r) vanishes at both members of every 2-cycle
    and at every symmetric equilibrium.  A cell [y_j, y_{j+1}] holds the *lower*
    member y of a pair (x, y), x > y, when E changes sign (or vanishes) on it while
    R(y) − y > ASYM_SEP at both ends (which excludes the symmetric crossings).
    Returns (y0, slope, has) for the first NA_INT such cells: the linear root of E
    in the cell and E's slope there.
    """
    dx = xs[1] - xs[0]
    d = r - xs
    e = _interp(r, r, xs) - xs
    sign_change = (e[..., :-1] == 0.0) | ((e[..., :-1] > 0.0) != (e[..., 1:] > 0.0))
    cell = sign_change & (d[..., :-1] > ASYM_SEP) & (d[..., 1:] > ASYM_SEP)
    has, k, _ = first_cells(cell, NA_INT)                               # (..., NA_INT)
    e0 = jnp.take_along_axis(e, k, axis=-1)
    e1 = jnp.take_along_axis(e, k + 1, axis=-1)
    slope = (e1 - e0) / dx
    ok = has & (slope != 0.0)
    t = jnp.where(ok, -e0 / jnp.where(ok, e1 - e0, 1.0), 0.0)
    y0 = xs[k] + jnp.clip(t, 0.0, 1.0) * dx
    return y0, jnp.where(ok, slope, -1.0), has


def _two_cycle_refine(y0, slope0, move, q1, q2, grid):
    """Secant iterations on E(y) = BR(BR(y)) − y with continuous best replies.

    N_SECANT evaluations of E, each two best replies, written as one loop with one
    best-response call site (even steps x ← BR(y), odd steps z ← BR(x), then the
    secant update of y where ``move``, except after the last evaluation); the
    first update uses the scan's slope ``slope0``.  Returns (y, x = BR(y))."""
    def step(k, c):
        y, x, yp, ep, sl = c
        odd = (k % 2) == 1
        new, _, _, _ = best_response(jnp.where(odd, x, y), q1, q2, grid)
        x2 = jnp.where(odd, x, new)
        e = new - y
        sl_sec = (e - ep) / jnp.where(y != yp, y - yp, 1.0)
        sl2 = jnp.where((k > 1) & (y != yp) & (sl_sec != 0.0), sl_sec, sl)
        upd = odd & (k < 2 * N_SECANT - 1) & move
        y_new = jnp.clip(y - e / jnp.where(sl2 != 0.0, sl2, 1.0), 0.0, 1.0)
        return (jnp.where(upd, y_new, y), x2, jnp.where(upd, y, yp), jnp.where(upd, e, ep),
                jnp.where(odd, sl2, sl))

    z = jnp.zeros_like(y0)
    y, x, _, _, _ = lax.fori_loop(0, 2 * N_SECANT, step, (y0, z, y0, z, slope0))
    return y, x


def _corner_pairs_that_fail(q1: Period1, q2: Period2, vgrid: ScanGrid, x, xv: Values):
    """Corner pairs (x, y), y = 0 and y = 1 with x = BR(y) (..., 2), that the
    verification of :func:`asymmetric_search` would reject; on random admissible
    vectors nearly all of them (0 is a best reply to BR(0) only where a firm
    free-rides), and each costs two best replies on the verification grid.

    A pair fails where |x − y| ≤ ASYM_SEP, or where a point of the verification grid
    beats y as a reply to x by more than twice the deviation tolerance: the
    verification's best deviation against x is at least its best grid point (the
    refinement only replaces it by a better one), so its gain is at least
    this one.  The values used are those of the same points (x's from the
    symmetric check's best reply, y's from the verification grid), computed in
    other parts of the program, so they may differ in the last bits: hence the
    factor 2.  The symmetric check evaluates x with the widened snap band of
    :data:`JUMP_RTOL`; where a corner condition at g(s1,x) lies within twice that
    band, h2*(x) may differ between the bands, and the pair is left to the
    verification."""
    dt = x.dtype
    at_y = jnp.array([0, VG - 1])            # y = 0 and y = 1 on the verification grid
    vy = jax.tree_util.tree_map(lambda v: v[..., at_y], vgrid.values)
    phi_yx = payoff(vy, xv, q2)
    gv = jax.tree_util.tree_map(lambda v: v[..., None, :], vgrid.values)
    best_grid = jnp.max(payoff(gv, jax.tree_util.tree_map(lambda v: v[..., None], xv), q2), axis=-1)
    # (NaN payoffs count as losing: such a pair fails the verification anyway)
    loses = ~no_profitable_deviation(best_grid, phi_yx, scale=2.0)
    q1x, q2x = fit(q1, 2), fit(q2, 2)
    f0, f1 = corner_gaps(g(q1x.s1, x, q1x.alpha1, q1x.pi1, q1x.gamma, q1x.L1), q2x)
    band = 2.0 * JUMP_RTOL[jnp.finfo(dt).bits] * q2x.lam_R * q2x.delta
    clear = (jnp.abs(f0) > band) & (jnp.abs(f1) > band)
    y = jnp.array([0.0, 1.0], dt)
    return (jnp.abs(x - y) <= ASYM_SEP) | (clear & loses)


def asymmetric_search(q1: Period1, q2: Period2, grid: ScanGrid, vgrid: ScanGrid, corner_replies,
                      corner_values: Values, lanes=True):
    """Asymmetric pure equilibria (x, y), x ≠ y, with x a best response to y and y
    to x (docs/model.md §6, after eq. 11).

    1. Fine scan: approximate continuous best replies to every grid point
       (:func:`grid_reply_scan`) and the sign changes of BR(BR(y)) − y away from
       the diagonal (:func:`interior_two_cycles`): the first NA_INT interior
       2-cycles; plus the corner starts y = 0 and y = 1 with their continuous
       best replies ``corner_replies`` (..., 2) and their values ``corner_values``
       (from the symmetric check), which catch pairs with a firm at a corner however
       close the other firm is.
    2. Refinement of the interior slots: N_SECANT secant evaluations of
       BR(BR(y)) − y with continuous best replies, x = BR(y) (skipped when no lane
       of the batch has an interior 2-cycle).
    3. Verification that shares no point with the search grid but 0, ¼, ½, ¾ and 1:
       both firms' best deviations on the verification grid ``vgrid`` (VG points,
       from :func:`scan_grids`) refined by Brent's method
       must not beat the pair's payoffs by more than tol·(1 + |Φ1|), and
       |x − y| > ASYM_SEP.  A corner pair that provably fails is not verified
       (:func:`_corner_pairs_that_fail`).

    Only ``lanes`` (the admissible rows) are searched, and the refinement and the
    verification run only on the slots that are active there (compacted blocks of
    :data:`CYCLE_BLOCK` and :data:`BLOCK` slots, :func:`kernels.lane_blocks.map_compacted`).  Lanes are a
    1-D batch (n,).  Returns the most asymmetric
    verified pair and ``n_asym_eq``, the number of distinct verified pairs among
    the slots.

    Limits: a 2-cycle whose lower member's cell also holds a diagonal crossing
    (|x − y| within about two grid cells of a symmetric equilibrium) is found only
    through the corner starts; interior 2-cycles beyond the first NA_INT are not
    examined; a 2-cycle at which BR∘BR is not smooth (kinks of Φ1) may not
    converge in N_SECANT steps and then fails its verification (not reported).
    """
    shape = q1.s1.shape
    xs = grid.xs
    r = grid_reply_scan(grid, q2)
    y_int, sl_int, has_int = interior_two_cycles(r, xs)
    lanes = jnp.broadcast_to(lanes, shape)
    has_int = has_int & lanes[..., None]

    def refine(valid, lane, item):
        q1i, q2i, gv = lane
        y0, sl0 = item
        return _two_cycle_refine(y0, sl0, valid, q1i, q2i, ScanGrid(xs, None, gv))

    # only the slots holding an interior 2-cycle are refined (compacted blocks)
    y_ref, x_ref = map_compacted(refine, has_int, (q1, q2, grid.values), (y_int, sl_int), CYCLE_BLOCK)
    y_int = jnp.where(has_int, y_ref, y_int)
    x_int = jnp.where(has_int, x_ref, 0.5)
    y = jnp.concatenate([y_int, jnp.zeros(shape + (1,), xs.dtype), jnp.ones(shape + (1,), xs.dtype)],
                        axis=-1)
    x = jnp.concatenate([x_int, corner_replies], axis=-1)
    corner = lanes[..., None] & ~_corner_pairs_that_fail(q1, q2, vgrid, corner_replies, corner_values)
    active = jnp.concatenate([has_int, corner], axis=-1)
    k = y.shape[-1]

    def deviation(valid, lane, item):
        q1i, q2i, gv = lane
        (start,) = item
        return best_response(start, q1i, q2i, ScanGrid(vgrid.xs, None, gv), )

    # best deviations against both members of every active slot (inactive slots: NaN)
    _, best, v, _ = map_compacted(deviation, jnp.concatenate([active, active], axis=-1),
                               (q1, q2, vgrid.values), (jnp.concatenate([y, x], axis=-1),), BLOCK)
    vy = jax.tree_util.tree_map(lambda a: a[..., :k], v)
    vx = jax.tree_util.tree_map(lambda a: a[..., k:], v)
    phi_xy, phi_yx = payoff(vx, vy, q2), payoff(vy, vx, q2)
    # best deviations against y (first k) and against x (last k)
    ok = (active & no_profitable_deviation(best[..., :k], phi_xy)
          & no_profitable_deviation(best[..., k:], phi_yx) & (jnp.abs(x - y) > ASYM_SEP)
          & jnp.isfinite(phi_xy) & jnp.isfinite(phi_yx))
    hi, lo = jnp.maximum(x, y), jnp.minimum(x, y)
    p_hi = jnp.where(x > y, phi_xy, phi_yx)
    p_lo = jnp.where(x > y, phi_yx, phi_xy)
    # distinct verified pairs: a slot counts unless an earlier verified slot is the same pair
    same = ((jnp.abs(hi[..., :, None] - hi[..., None, :]) <= ASYM_SAME)
            & (jnp.abs(lo[..., :, None] - lo[..., None, :]) <= ASYM_SAME))
    earlier = jnp.tril(jnp.ones((k, k), bool), -1)
    dup = jnp.any(same & earlier & ok[..., None, :], axis=-1)
    n_asym = jnp.sum(ok & ~dup, axis=-1, dtype=jnp.int32)
    # report the most asymmetric verified pair
    j = jnp.argmax(jnp.where(ok, hi - lo, -1.0), axis=-1)[..., None]
    any_ok = jnp.any(ok, axis=-1)

    def pick(v):
        return jnp.where(any_ok, jnp.take_along_axis(v, j, axis=-1)[..., 0], jnp.nan)

    return dict(
        asym_eq=any_ok,
        n_asym_eq=n_asym,
        asym_high=pick(hi),
        asym_low=pick(lo),
        payoff_high=pick(p_hi),
        payoff_low=pick(p_lo),
    )


__all__ = ["SCAN_POINTS", "MAX_CROSSINGS", "BLOCK", "BRENT_XTOL", "BRENT_MAX", "NA_INT", "N_SECANT", "CYCLE_BLOCK", "VG", "JUMP_RTOL", "ASYM_SEP", "Period1", "Values",
           "ScanGrid", "Gain", "Root", "continuation", "values_at", "engagement_gain1",
           "payoff", "scan_grids", "refine_crossings", "best_response",
           "asymmetric_search", "grid_reply_scan", "interior_two_cycles"]
