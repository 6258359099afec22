"""Kernel ``period1``: the period-1 engagement game with worker mobility (docs/model.md §6).

A worker who joins firm j in period 1 reaches period 2 with skill g(s1,h1^j;A1),
re-sorts, and meets the symmetric terminal equilibrium there.  The continuation
values (eq. 9 and the line below it) use the terminal policy h2*(s2) of Prop. 3
(:func:`kernels.terminal.h2_prop3`), differentiated through its root, so
Π2*'(s2) and V̄2'(s2) include dh2*/ds2 = −(∂F2/∂s2)/(∂F2/∂h) where h2* is interior.
When s1 ∈ D1 every reachable s2 lies in D2 and that policy is the unique terminal
equilibrium; elsewhere it is the selection of docs/model.md §5 ("Off D2": h2 = 1 if
F2(1) ≥ λRδ, else 0 if F2(0) ≤ λRδ, else the lowest root; ``terminal_order`` = 1
tests h2 = 0 first).  ``terminal_alternative`` marks rows where both corners are
terminal candidates at some reachable s2 = g(s1, h;A1) (checked on 257 values of h);
on those rows the game is solved a second time with the other order and
``terminal_order_matters`` says whether any reported equilibrium changed
(n_sym_eq, h1*_min/max, the asymmetric pair, to 1e-7).  The second solve runs only
on such rows.

Knife edges at a jump of h2*: off D2 h2*(s2) can jump (between the corners, or
from a corner to a root when F2 rises in h) where a corner condition holds with
equality.  Decision: the weak inequalities of Prop. 3 give the value at the jump
point itself (F2(0) = λRδ means h2* = 0 there), and an equilibrium located exactly
at the h1 whose skill g(s1,h1;A1) is the jump point is reported when it passes the
deviation test with that value.  An F1 root at a jump lands within rounding of it,
on either side, so the deviation check of symmetric candidates takes a corner
condition as met when |F2 − λRδ| ≤ :data:`JUMP_RTOL`·λRδ (1e-10 in float64)
instead of 64 ulp.  Such an equilibrium exists only on the jump: it is an isolated
point of Φ1's closure, and it disappears where the jump point is not reachable.

Algorithm (fixed-size, lane by lane; :mod:`kernels.period1_search` holds the
search routines).  The answers are those of the algorithm frozen in
:mod:`kernels.period1_reference` (tests/test_period1_equality.py); what differs is
where the work runs: lanes are one 1-D batch, the phases that only some lanes or
candidate slots need (the refinement of F1's sign changes, best replies to
interior candidates, the 2-cycle refinement, the asymmetric verification, the
second terminal-order solve) run on compacted blocks of the items that need them
(:func:`kernels.lane_blocks.map_compacted`).

1. Evaluate F1 and the continuation values on a fixed grid of :data:`SCAN_POINTS` engagement
   levels in [0,1] (and, in the same evaluation, the values on the verification grid of step 4).
2. Symmetric candidates: h = 0 if F1(0) ≤ 0, h = 1 if F1(1) ≥ 0, and the first
   :data:`MAX_CROSSINGS` sign changes of F1 on the grid, each refined by Chandrupatla on its cell.
3. A candidate h* is kept only if no deviation pays: the best Φ1^j(x, h*) over the
   grid, refined by Brent's method around the best grid point, exceeds
   Φ1^j(h*, h*) by at most ``tol·(1 + |Φ1^j(h*,h*)|)`` with tol = :data:`RTOL`
   (1e-9 in float64, 1e-4 in float32, where the nested terminal root is only
   resolved to the float32 noise of F2).
4. Asymmetric equilibria (:func:`kernels.period1_search.asymmetric_search`):
   2-cycles of the best-reply map BR(BR(y)) = y located on a fine scan (best
   replies to every grid point, refined below the grid by parabolic interpolation)
   and refined by secant steps with continuous best replies, plus the pairs
   through the corner starts y = 0 and y = 1; each kept only if both firms' best
   deviations, computed on a separate verification grid, pass the deviation test
   and |x − y| > :data:`ASYM_SEP` (a corner pair whose failure a point of the
   verification grid already proves is not verified further).  A False ``asym_eq`` means that this search
   found none, not a proof that none exists (limits in that function's docstring).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from . import admissibility as adm
from . import domains as dom
from . import status as st
from .params import broadcast_outputs, make_params, params_for
from .lane_blocks import map_compacted, trace_once
from .period1_search import (ASYM_SEP, BLOCK, MAX_CROSSINGS, SCAN_POINTS, JUMP_RTOL, Period1, ScanGrid,
                             asymmetric_search, best_response, continuation_slope, scan_grids,
                             payoff, refine_crossings)
from .primitives import dg_dh, g, g0
from .profiles import profile_scale_of
from .declare import declare
from .deviation import RTOL, no_profitable_deviation
from .registry import Output
from .single_firm import single_firm_solution
from .terminal import TERMINAL_ORDER, Period2, both_corners, learning_term, period2_of

__all__ = ["period1", "P1_PARAMS", "P1_OUTPUTS", "SCAN_POINTS", "MAX_CROSSINGS", "RTOL", "ASYM_SEP"]


def _broadcast_all(p):
    """Give every parameter the common shape: the searches add trailing axes
    (grid, candidate slots) and need one leading shape."""
    shape = jnp.broadcast_shapes(*[jnp.shape(v) for v in p.values()])
    return {k: jnp.broadcast_to(v, shape) for k, v in p.items()}


def symmetric_equilibria(q1, q2, grid):
    """Verified symmetric equilibria h1* (Lemma 2, Prop. 6) from the candidates of
    the F1 scan; returns a dict of per-lane results (see module docstring)."""
    F1g = grid.F1
    roots, has, n_cross = refine_crossings(q1, q2, grid)
    zero, one = jnp.zeros_like(q1.s1), jnp.ones_like(q1.s1)
    y = jnp.concatenate([zero[..., None], one[..., None], roots.x], axis=-1)
    interior_ok = (has & jnp.isin(roots.status, jnp.array(st.OK, jnp.int8))
                   & (roots.x > 0.0) & (roots.x < 1.0))
    pre = jnp.concatenate([(F1g[..., 0] <= 0.0)[..., None], (F1g[..., -1] >= 0.0)[..., None],
                           interior_ok], axis=-1)
    # placeholder keeps masked interior slots finite; the corner slots are always
    # evaluated, their best replies feed the asymmetric search's corner starts
    y = jnp.where(pre | (jnp.arange(y.shape[-1]) < 2), y, 0.5)
    # knife edge at a jump of h2* (module docstring): the check evaluates the
    # candidate and its deviations with corner conditions met within JUMP_RTOL
    q2j = q2._replace(snap_rtol=jnp.asarray(JUMP_RTOL[jnp.finfo(y.dtype).bits], y.dtype))
    # best replies for the corner slots of every lane (their replies also start the
    # asymmetric search) and for the interior slots that hold a candidate, on
    # compacted blocks: most lanes have no interior crossing
    def reply(valid, lane, item):
        q1i, q2i, gv = lane
        return best_response(item[0], q1i, q2i, ScanGrid(grid.xs, None, gv), with_values=True)

    need = pre | (jnp.arange(y.shape[-1]) < 2)
    x_best, phi_best, yv, xv = map_compacted(reply, need, (q1, q2j, grid.values), (y,), BLOCK)
    phi_yy = payoff(yv, yv, q2j)
    verified = pre & no_profitable_deviation(phi_best, phi_yy)
    n = jnp.sum(verified, axis=-1, dtype=jnp.int32)
    unique = n == 1
    h_unique = jnp.sum(jnp.where(verified, y, 0.0), axis=-1)
    slot_status = jnp.concatenate([jnp.full(zero.shape + (1,), st.AT_LOWER, jnp.int8),
                                   jnp.full(zero.shape + (1,), st.AT_UPPER, jnp.int8),
                                   roots.status], axis=-1)
    status = jnp.sum(jnp.where(verified, slot_status, 0), axis=-1, dtype=jnp.int32)

    def pick(v):        # the value of the unique verified slot
        return jnp.sum(jnp.where(verified, v, jnp.zeros_like(v)), axis=-1, dtype=v.dtype)

    return dict(
        h2_next=pick(yv.h2),
        h2_next_status=pick(yv.h2_status),
        n_sym_eq=n,
        h1_star=jnp.where(unique, h_unique, jnp.nan),
        status_h1_star=jnp.where(unique, status, st.NOT_UNIQUE).astype(jnp.int8),
        h1_star_min=jnp.min(jnp.where(verified, y, jnp.inf), axis=-1),
        h1_star_max=jnp.max(jnp.where(verified, y, -jnp.inf), axis=-1),
        crossings_overflow=n_cross > MAX_CROSSINGS,
        corner_replies=x_best[..., :2],
        corner_values=jax.tree_util.tree_map(lambda v: v[..., :2], xv),
    )


P1_PARAMS = params_for(("alpha1", "alpha2", "pi1", "pi2", "phi", "gamma", "delta", "lam_R",
                        "beta", "b", "eta", "s1")) + (TERMINAL_ORDER,)

#: values of h1 at which the reachable skills g(s1, h1; A1) are checked for both
#: terminal corners being candidates (flag ``terminal_alternative``)
N_REACH = 257

P1_OUTPUTS = (
    Output("h1_sf", "float", "single-firm engagement h1_sf (eq. 3)"),
    Output("n_sym_eq", "int8", "number of verified symmetric equilibria (candidates of Lemma 2 passing the deviation test)"),
    Output("h1_star", "float", "the symmetric equilibrium h1* when n_sym_eq = 1, NaN otherwise"),
    Output("status_h1_star", "int8", "0 interior root, 4 corner 0, 5 corner 1, 3 max_iter, 7 not unique (n_sym_eq ≠ 1)"),
    Output("h1_star_min", "float", "smallest verified symmetric equilibrium (NaN when n_sym_eq = 0)"),
    Output("h1_star_max", "float", "largest verified symmetric equilibrium (NaN when n_sym_eq = 0)"),
    Output("s2_next", "float", "g(s1, h1*; A1) (NaN when h1* is)"),
    Output("h2_star_next", "float", "terminal engagement h2*(s2_next) (Prop. 3 rule; NaN when h1* is)"),
    Output("status_h2_star_next", "int8", "status of h2_star_next (6 when h1* is NaN)"),
    Output("F1_at_0", "float", "period-1 engagement gain F1(0) (docs/model.md §6)"),
    Output("F1_at_1", "float", "period-1 engagement gain F1(1)"),
    Output("complements", "bool", "eq. 11 holds at h1* (False when h1* is NaN)"),
    Output("asym_eq", "bool", "a verified asymmetric pure equilibrium (x ≠ y) was found (admissible rows are searched)"),
    Output("n_asym_eq", "int8", "distinct verified asymmetric pairs found by the search (the most asymmetric is reported)"),
    Output("asym_high", "float", "higher engagement of the asymmetric equilibrium (NaN unless asym_eq)"),
    Output("asym_low", "float", "lower engagement of the asymmetric equilibrium (NaN unless asym_eq)"),
    Output("payoff_high", "float", "Φ1 of the high-engagement firm (eq. 10)"),
    Output("payoff_low", "float", "Φ1 of the low-engagement firm (eq. 10)"),
    Output("crossings_overflow", "bool", f"F1 changes sign more than {MAX_CROSSINGS} times on the grid; later crossings unexamined"),
    Output("terminal_alternative", "bool",
           "both terminal corners are candidates at some reachable s2: h2* there is a selection (docs/model.md §5)"),
    Output("terminal_order_matters", "bool",
           "the other terminal_order changes n_sym_eq, h1*_min/max or the asymmetric pair"),
    Output("in_D1", "bool", "s1 ∈ D1: every reachable s2 is in D2, so the terminal equilibrium is unique"),
)


class Period1Setup(NamedTuple):
    """What every period-1 kernel derives from its parameters first."""

    q1: Period1          # period-1 technology and skill
    q2: Period2          # period-2 parameters (terminal game)
    flags: dict          # domain, A1, A2, A3, A4, OA1 (docs/model.md §3, eq. OA1)
    in_D1: jnp.ndarray   # s1 ∈ D1: every reachable s2 lies in D2 (docs/model.md §7)
    h1_sf: jnp.ndarray   # single-firm engagement (eq. 3)


def period1_setup(p, params) -> Period1Setup:
    """The period-1 game's parameters, its admissibility flags, s1 ∈ D1 and the
    single-firm benchmark h1_sf, shared by ``period1`` and ``period1_bonus``
    (``p`` broadcast to one shape; ``params`` the kernel's parameters, for the
    domain check)."""
    a1, a2, pi1, pi2 = p["alpha1"], p["alpha2"], p["pi1"], p["pi2"]
    gam, dl, lr, beta, b, s1 = p["gamma"], p["delta"], p["lam_R"], p["beta"], p["b"], p["s1"]
    k = profile_scale_of(p)
    L1 = learning_term(p, pi1, k)
    q2 = period2_of(p, a2, pi2, k)
    q1 = Period1(s1, a1, pi1, gam, dl, lr, b, L1)
    f_dom = adm.in_domain(p, params)
    f_A2 = adm.A2(L1, q2.L2)
    f_A3 = adm.A3(s1, dom.s_under(a1, a2, pi1, pi2, gam), a1)
    f_A4 = adm.A4(b, lr, a1, a2)
    f_OA1 = dom.OA1(a2, pi2, gam, dl, lr, b, q2.L2)
    # s1 ∈ D1 iff the lowest reachable skill g(s1,0;A1) lies in D2 = {Ψ < λRδ/K2}
    # (Ψ strictly decreasing on (s̲2, α2), Claim OA2): no root solve needed
    T = lr * dl / dom.K(pi2, gam, q2.L2)
    low2 = g0(s1, a1, pi1, gam)
    in_D1 = (f_dom & f_A2 & f_A4 & f_OA1 & f_A3
             & (dom.Psi(jnp.where(f_A3, low2, 0.5 * a2), a2, pi2, gam, lr, b) < T))
    h1_sf = single_firm_solution(s1, a1, pi1, pi2, gam, dl, lr, beta, b, L1)[3]
    flags = dict(domain=f_dom, A1=adm.A1(a1, a2, pi1, pi2), A2=f_A2, A3=f_A3, A4=f_A4, OA1=f_OA1)
    return Period1Setup(q1, q2, flags, in_D1, h1_sf)


def period1(p):
    """Period-1 game at skill s1: symmetric equilibria h1* (Lemma 2, Prop. 6, verified
    against deviations of Φ1, eq. 10), F1 at the corners, eq. 11, and asymmetric
    equilibria (one firm builds skill, the other free-rides)."""
    p = _broadcast_all(make_params(p, P1_PARAMS))
    shape = p["s1"].shape
    # lanes as one 1-D batch: the compacted phases gather and scatter along it
    p = {k: jnp.reshape(v, (-1,)) for k, v in p.items()}
    a1, a2, pi1, pi2 = p["alpha1"], p["alpha2"], p["pi1"], p["pi2"]
    gam, dl, lr, beta, b, s1 = p["gamma"], p["delta"], p["lam_R"], p["beta"], p["b"], p["s1"]
    su = period1_setup(p, P1_PARAMS)
    q1, q2, L1, in_D1, h1_sf = su.q1, su.q2, su.q1.L1, su.in_D1, su.h1_sf
    f_dom, f_A1, f_A2, f_A3, f_A4, f_OA1 = (su.flags[f] for f in ("domain", "A1", "A2", "A3", "A4", "OA1"))
    admissible = f_dom & f_A1 & f_A2 & f_A3 & f_A4

    # Off D2 both terminal corners can be candidates at a reachable s2; there the
    # game is solved again with the other selection order (only those lanes: see
    # :func:`_solve_games`).
    order = p["terminal_order"]
    other = jnp.where(order > 0.5, 0.0, 1.0).astype(order.dtype)
    hs = jnp.linspace(0.0, 1.0, N_REACH, dtype=s1.dtype)
    reach = g(s1[..., None], hs, a1[..., None], pi1[..., None], gam[..., None], L1[..., None])
    alt = jnp.any(both_corners(reach, jax.tree_util.tree_map(lambda v: v[..., None], q2)), axis=-1)
    # inadmissible rows (e.g. s1 below s̲, where the skill floor binds) get no flag
    # and never trigger the second solve
    alt = alt & (s1 < a1) & admissible
    res, res_other = _solve_games(q1, q2, admissible, order, other, alt)
    order_matters = alt & _differs(res, res_other)

    h1 = res["h1_star"]
    has_h1 = ~jnp.isnan(h1)
    s2_next = g(s1, h1, a1, pi1, gam, L1)
    # h2*(s2_next) was met by the deviation check; Π2*'(s2_next) for eq. 11 follows
    # from it by the implicit-function formula, without another terminal solve
    s2_safe = jnp.where(has_h1, s2_next, 0.5 * a2)
    dpi = continuation_slope(s2_safe, res["h2_next"], res["h2_next_status"],
                             q2._replace(zero_first=order))
    lhs11 = 2.0 * beta * dpi * dg_dh(s1, a1, pi1, gam, L1)
    comp = has_h1 & (lhs11 < lr * dl * (1.0 - pi1) * (a1 - s1))
    n = res["n_sym_eq"]
    out = broadcast_outputs(dict(
        h1_sf=h1_sf,
        n_sym_eq=n.astype(jnp.int8),
        h1_star=h1,
        status_h1_star=res["status_h1_star"],
        h1_star_min=jnp.where(n > 0, res["h1_star_min"], jnp.nan),
        h1_star_max=jnp.where(n > 0, res["h1_star_max"], jnp.nan),
        s2_next=s2_next,
        h2_star_next=jnp.where(has_h1, res["h2_next"], jnp.nan),
        status_h2_star_next=jnp.where(has_h1, res["h2_next_status"], st.SKIPPED).astype(jnp.int8),
        F1_at_0=res["F1_at_0"],
        F1_at_1=res["F1_at_1"],
        complements=comp,
        asym_eq=res["asym_eq"],
        n_asym_eq=res["n_asym_eq"].astype(jnp.int8),
        asym_high=res["asym_high"],
        asym_low=res["asym_low"],
        payoff_high=res["payoff_high"],
        payoff_low=res["payoff_low"],
        crossings_overflow=res["crossings_overflow"],
        terminal_alternative=alt,
        terminal_order_matters=order_matters,
        in_D1=in_D1,
        domain=f_dom, A1=f_A1, A2=f_A2, A3=f_A3, A4=f_A4, OA1=f_OA1,
        monotone=adm.monotone(b, a2, pi2, lr),
        admissible=admissible,
    ), p)
    return {k: jnp.reshape(v, shape) for k, v in out.items()}


#: lanes per block of the game solve (:func:`_solve_games`): small, so the second
#: terminal-order solve of the few flagged lanes (~2% of random admissible rows)
#: costs one short block, not a wide one, and a block's working set stays in cache
#: (4,096 random admissible vectors, float64: 128 is 1.4x faster than 1,024)
GAME_BLOCK = 128


def _game(q1: Period1, q2: Period2, lanes):
    """One solve of the game on a block of lanes (terminal order in ``q2.zero_first``)."""
    grid, vgrid = scan_grids(q1, q2)
    sym = symmetric_equilibria(q1, q2, grid)
    asym = asymmetric_search(q1, q2, grid, vgrid, sym.pop("corner_replies"), sym.pop("corner_values"),
                             lanes)
    return dict(sym, F1_at_0=grid.F1[..., 0], F1_at_1=grid.F1[..., -1], **asym)


def _solve_games(q1: Period1, q2: Period2, admissible, order, other, alt):
    """The game under ``order`` on every lane and under ``other`` on the lanes
    flagged ``alt``, as one work list of (lane, order) items processed in blocks of
    :data:`GAME_BLOCK` lanes (one compiled game body; the second solve costs
    blocks only for the flagged lanes).  Returns (results under ``order``,
    results under ``other``: valid where ``alt``)."""
    n = q1.s1.shape[0]
    blk = min(n, GAME_BLOCK)
    second = jnp.nonzero(alt, size=n, fill_value=n)[0].astype(jnp.int32)
    count = n + jnp.sum(alt, dtype=jnp.int32)
    nblocks = -(-2 * n // blk)
    # item codes: lane (first solve), n + lane (second solve), 2n (padding)
    work = jnp.concatenate([jnp.arange(n, dtype=jnp.int32), n + second,
                            jnp.full((nblocks * blk - 2 * n,), 2 * n, jnp.int32)])

    def take(tree, lane):
        return jax.tree_util.tree_map(lambda v: v if jnp.ndim(v) == 0 else v[lane], tree)

    def block(ids):
        is2 = ids >= n
        lane = jnp.minimum(jnp.where(is2, ids - n, ids), n - 1)
        q2b = take(q2, lane)._replace(zero_first=jnp.where(is2, other[lane], order[lane]))
        return _game(take(q1, lane), q2b, admissible[lane] & (ids < 2 * n)), is2, lane

    # the game is traced once and replayed in the loop body (jax.eval_shape for the
    # carry's shapes would trace the whole game a second time)
    replay, shapes = trace_once(block, work[:blk])
    blank = jax.tree_util.tree_map(lambda t: jnp.zeros((n,) + t.shape[1:], t.dtype), shapes[0])

    def body(c):
        j, first, again = c
        ids = lax.dynamic_slice_in_dim(work, j * blk, blk)
        out, is2, lane = replay(ids)
        at1 = jnp.where(~is2, lane, n)
        at2 = jnp.where(is2 & (ids < 2 * n), lane, n)
        first = jax.tree_util.tree_map(lambda o, r: o.at[at1].set(r, mode="drop"), first, out)
        again = jax.tree_util.tree_map(lambda o, r: o.at[at2].set(r, mode="drop"), again, out)
        return j + 1, first, again

    _, first, again = lax.while_loop(lambda c: c[0] * blk < count, body, (jnp.int32(0), blank, blank))
    return first, again


def _differs(a, b, tol=1e-7):
    """Whether two solves of the game report different equilibria: counts, the
    extreme symmetric equilibria, the asymmetric pair (NaN equal to NaN)."""
    def far(u, v):
        return ~((jnp.isnan(u) & jnp.isnan(v)) | (jnp.abs(u - v) <= tol))

    def bounds(r):
        n = r["n_sym_eq"] > 0
        return (jnp.where(n, r["h1_star_min"], jnp.nan), jnp.where(n, r["h1_star_max"], jnp.nan))

    (amin, amax), (bmin, bmax) = bounds(a), bounds(b)
    return ((a["n_sym_eq"] != b["n_sym_eq"]) | (a["asym_eq"] != b["asym_eq"])
            | (a["n_asym_eq"] != b["n_asym_eq"]) | far(amin, bmin) | far(amax, bmax)
            | far(a["asym_high"], b["asym_high"]) | far(a["asym_low"], b["asym_low"]))


PERIOD1_KERNEL = declare(
    "period1", period1, P1_PARAMS, P1_OUTPUTS,
    "Period-1 game with mobility: verified symmetric equilibria h1* (Lemma 2, Prop. 6, eq. 10), "
    "F1, eq. 11, asymmetric equilibria",
    flags=("domain", "A1", "A2", "A3", "A4", "OA1", "monotone"),
    requires=("domain", "A1", "A2", "A3", "A4"),
    # tens of kB of live state per lane (nested scans and refinements): the engine
    # evaluates chunks in sub-batches of this many lanes so memory stays bounded
    max_batch=8192,
)
