"""Kernel ``terminal``: the symmetric terminal equilibrium h2*(s2) (docs/model.md §5).

Two firms compete for a worker of skill s2 through logit sorting.  At a symmetric
profile the own-action derivative of Π2^j is ½(1−π2)(α2−s2)·[F2(h;s2) − λRδ], so
for a below-benchmark worker the sign of F2 − λRδ decides (Prop. 3):

    h2* = 1 if F2(1;s2) ≥ λRδ,  0 if F2(0;s2) ≤ λRδ,  the root of F2 = λRδ otherwise.

On the single-crossing domain D2 = (s̿2, α2) F2 decreases in h and this candidate
is the unique equilibrium (Lemma 1, Prop. 3).  Off D2 F2 may cross λRδ several
times, so the kernel scans F2 on a fixed h grid and counts candidates instead of
assuming uniqueness.

**Selection off D2** (docs/model.md §5, "Off D2"): Prop. 3's cases are taken in the
order listed: h = 1 if F2(1) ≥ λRδ, else h = 0 if F2(0) ≤ λRδ, else the lowest root.
Both corners can hold at one s2 off D2; the parameter ``terminal_order`` = 1 takes
h = 0 first instead (the corner with the higher common profit), so the effect of the
rule can be mapped.  On D2 the cases exclude each other and the order is immaterial.
For b ≤ 2 F2 − λRδ is concave wherever it is positive (B' concave increasing times
M linear decreasing), so in the interior case (F2(0) > λRδ > F2(1)) the root is
unique and the solve on [0, 1] finds the lowest root; for b > 2 the ``terminal``
kernel still takes the lowest sign change of its h grid, while :func:`h2_prop3`
takes the root its bracketed solve finds.

:func:`h2_prop3` (the Prop. 3 selection, differentiable through the root) is also
the terminal policy used by the ``period1`` kernel.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import admissibility as adm
from . import domains as dom
from . import status as st
from .params import broadcast_outputs, make_params, params_for
from .primitives import B_prime, M, g
from .profiles import ell, profile_scale_of
from .declare import declare
from .registry import Domain, Output, Param
from .roots import Root, solve

#: h grid for counting the symmetric candidates off D2 (64 cells).  Two crossings
#: inside one cell (a tangency of F2 and λRδ) are not resolved: they cancel.
H_GRID = 65

#: kernel parameter choosing the order of Prop. 3's corner cases off D2
TERMINAL_ORDER = Param(
    "terminal_order", Domain(0.0, 1.0, True, True), 0.0,
    "terminal selection off D2 (docs/model.md §5): 0 = h2 = 1 first (Prop. 3's order), "
    "1 = h2 = 0 first")


class Period2(NamedTuple):
    """Period-2 quantities the terminal game depends on (L2 = φℓ(π2))."""

    alpha2: jnp.ndarray
    pi2: jnp.ndarray
    gamma: jnp.ndarray
    delta: jnp.ndarray
    lam_R: jnp.ndarray
    b: jnp.ndarray
    beta: jnp.ndarray
    eta: jnp.ndarray
    L2: jnp.ndarray
    #: ``terminal_order`` (> 0.5: h = 0 first); None means the default, h = 1 first
    zero_first: jnp.ndarray | None = None
    #: |F2 − λRδ| ≤ snap_rtol·λRδ counts as equality in the corner tests (a 0-d
    #: array); None: the default band of :func:`snap`
    snap_rtol: jnp.ndarray | None = None


def expand(q, axis=-1):
    """Add a trailing axis to every leaf (to broadcast against a grid)."""
    return jax.tree_util.tree_map(lambda x: jnp.expand_dims(x, axis), q)


def engagement_gain(h, s2, q: Period2):
    """Terminal engagement gain F2(h;s2) = β/(2η)·K2·B'(g(s2,h;A2))·M(s2,h;A2) (docs/model.md §5).

    Unlike :func:`kernels.domains.F2` this uses the floored transition g, so it is
    finite for every s2 ∈ [0,1] (B'(0) = 0 where the floor binds), as the candidate
    scan off D2 needs.
    """
    gg = g(s2, h, q.alpha2, q.pi2, q.gamma, q.L2)
    return (q.beta / (2.0 * q.eta) * dom.K(q.pi2, q.gamma, q.L2) * B_prime(gg, q.b)
            * M(s2, h, q.alpha2, q.pi2, q.delta, q.lam_R, q.b))


def _foc(h, th):
    # F2(h;s2) − λRδ: the sign of the symmetric own-action derivative (below benchmark)
    s2, q = th
    return engagement_gain(h, s2, q) - q.lam_R * q.delta


def _foc_shifted(u, th):
    return _foc(u - 1.0, th)


def corner_cases(f0, f1, below, zero_first):
    """Prop. 3's corner cases in the selection order (docs/model.md §5, "Off D2").

    f0, f1 are F2(0) − λRδ and F2(1) − λRδ.  Returns (corner0, corner1, both):
    h = 1 first (``zero_first`` None or ≤ 0.5), else h = 0 first; ``both`` marks
    skills where both corners are candidates, the only case in which the order
    changes h2*.
    """
    c0 = below & (f0 <= 0.0)
    c1 = below & (f1 >= 0.0)
    both = c0 & c1
    if zero_first is None:
        return c0 & ~c1, c1, both
    zf = zero_first > 0.5
    return c0 & (zf | ~c1), c1 & ~(zf & c0), both


def _select(s2, q, corner0, corner1, interior, lo, hi, f0, f1, interior_solve=None) -> Root:
    """h2* from the corner conditions, the interior root on [lo, hi], and the
    above-benchmark rule (s2 > α2: engagement raises output and cannot change
    skill, so h2* = 1).  The root carries the solver's implicit derivative;
    corners are constant (zero derivative).

    The corner tests and the solver evaluate F2 − λRδ at the same h in separately
    compiled expressions, which may round differently; where F2(0) or F2(1) is
    within rounding of λRδ the solver can then see no sign change on a bracket the
    corner tests called interior.  Such a lane takes the matching corner (the end
    where |F2 − λRδ| is smaller, i.e. the one that is a candidate by the solver's
    arithmetic) instead of NaN.

    ``interior_solve(f, lo, hi, theta, mask, ends) -> Root`` replaces the bracketed
    solve (:func:`kernels.roots.solve` by default): the ``period1`` kernel passes
    one that iterates only the lanes where ``mask`` holds (same statuses, roots
    to rounding).  It gets the corner tests' values ``ends = (f0, f1)`` as f at the
    bracket ends, so it is for the bracket [0, 1] only (:func:`h2_prop3`, its one
    caller): on the lanes it solves both are outside the snap band, nonzero and of
    opposite signs, so it sees the sign change the corner tests saw.
    """
    # Solve for u = 1 + h ∈ [1, 2]: the solver's tolerance is relative to |x|, which
    # for a root near h = 0 would demand ~1e-300 absolute accuracy and run every lane
    # of the batch to the iteration cap; on [1, 2] it is ≈ 4 ulp absolute in h.
    if interior_solve is None:
        r = solve(_foc_shifted, lo + 1.0, hi + 1.0, (s2, q), mask=interior)
    else:
        r = interior_solve(_foc_shifted, lo + 1.0, hi + 1.0, (s2, q), interior, (f0, f1))
    nosign = interior & (r.status == st.NO_SIGN_CHANGE)
    near0 = jnp.abs(f0) <= jnp.abs(f1)
    corner0 = corner0 | (nosign & near0)
    corner1 = corner1 | (nosign & ~near0)
    above = s2 > q.alpha2
    x = jnp.where(corner0, 0.0, jnp.where(corner1, 1.0, r.x - 1.0))
    stat = jnp.where(corner0, st.AT_LOWER, jnp.where(corner1, st.AT_UPPER, r.status))
    x = jnp.where(above, 1.0, x)
    stat = jnp.where(above, st.AT_UPPER, stat)
    return Root(x, stat.astype(jnp.int8))


def snap(f, q: Period2):
    """F2 − λRδ with values within max(64 ulp, 1e-12) of λRδ (relative) set to 0.

    F2 is a product of powers and exponentials; its rounding noise is a few 1e-14
    relative, and separately compiled evaluations disagree at that level.  Where
    F2(0) or F2(1) is that close to λRδ, the solve on (0, 1) would chase the noise
    (off D2, where F2 rises in h, it can return a spurious "root" at h ~ 1e-12
    instead of the true lowest root) or see no sign change.  Snapping makes the
    corner tests decide, so the bracketed solve only runs where both ends have
    signs well above the noise; where the root is continuous in F2 (on D2) this
    moves h2* by at most 1e-12·λRδ/|∂F2/∂h|.
    ``q.snap_rtol`` widens the band (the period-1 check of candidates at a jump of
    h2*, see :mod:`kernels.period1`).
    """
    rtol = max(64.0 * float(jnp.finfo(f.dtype).eps), 1e-12) if q.snap_rtol is None else q.snap_rtol
    return jnp.where(jnp.abs(f) <= rtol * q.lam_R * q.delta, 0.0, f)


def h2_prop3(s2, q: Period2, interior_solve=None) -> Root:
    """Terminal engagement h2*(s2) by the rule of Prop. 3 in the selection order of
    docs/model.md §5 (h = 1 if F2(1) ≥ λRδ, else 0 if F2(0) ≤ λRδ, else the root of
    F2(h;s2) = λRδ on (0,1); ``q.zero_first`` swaps the two corner tests).

    It is the equilibrium on D2; off D2 it is the selection among possibly several
    candidates (the ``terminal`` kernel counts them).  For s2 ≥ α2 it returns 1.
    A rounding disagreement between the corner tests and the solver gives the
    matching corner, never NaN (see :func:`_select`).  Differentiable in s2 and in q
    through the root (custom JVP).  ``interior_solve``: see :func:`_select`.
    """
    f0, f1 = (snap(f, q) for f in corner_gaps(s2, q))
    below = s2 < q.alpha2
    corner0, corner1, _ = corner_cases(f0, f1, below, q.zero_first)
    interior = below & ~corner0 & ~corner1
    return _select(s2, q, corner0, corner1, interior, jnp.zeros_like(s2), jnp.ones_like(s2),
                   f0, f1, interior_solve)


def corner_gaps(s2, q: Period2):
    """(F2(0;s2) − λRδ, F2(1;s2) − λRδ): what the corner tests of Prop. 3 compare
    with 0 (before :func:`snap`)."""
    return _foc(jnp.zeros_like(s2), (s2, q)), _foc(jnp.ones_like(s2), (s2, q))


def both_corners(s2, q: Period2):
    """True where both corners are terminal candidates at s2 (F2(0) ≤ λRδ ≤ F2(1),
    s2 < α2, decided on the snapped values as the selection decides them): the
    skills at which the selection order changes h2*."""
    f0, f1 = (snap(f, q) for f in corner_gaps(s2, q))
    return corner_cases(f0, f1, s2 < q.alpha2, None)[2]


def scan_candidates(s2, q: Period2):
    """Count symmetric terminal candidates on the fixed grid of :data:`H_GRID` points.

    Candidates: h = 0 if F2(0) ≤ λRδ, h = 1 if F2(1) ≥ λRδ, and one per cell where
    F2 − λRδ changes sign.  The corner conditions are decided on the snapped values
    (:func:`snap`), as the selection decides them, so a corner the selection may pick
    is always counted (at the edge of a both-corners region, where F2(0) = λRδ to
    rounding, the raw value can be a few 1e-15 above λRδ).  Returns
    (n, f0, f1, lo, hi, finite) with f0, f1 the snapped values of F2 − λRδ at h = 0
    and h = 1 and [lo, hi] the first (lowest) sign-changing cell (the whole grid's
    ends when there is none).
    """
    dt = jnp.result_type(s2)
    hs = jnp.linspace(0.0, 1.0, H_GRID, dtype=dt)
    f = _foc(hs, (s2[..., None], expand(q)))
    finite = jnp.all(jnp.isfinite(f), axis=-1)
    pos = f > 0.0
    cross = pos[..., 1:] != pos[..., :-1]
    f0, f1 = snap(f[..., 0], q), snap(f[..., -1], q)
    n = ((f0 <= 0.0).astype(jnp.int32) + (f1 >= 0.0).astype(jnp.int32)
         + jnp.sum(cross, axis=-1, dtype=jnp.int32))
    k = jnp.argmax(cross, axis=-1)
    return n, f0, f1, hs[k], hs[k + 1], finite


def learning_term(p, pi, k):
    """L = φℓ(π) with the profile constant k precomputed (so π can be differentiated)."""
    return p["phi"] * ell(pi, p["ell_a"], p["ell_c"], p["ell_kappa0"], p["ell_kappa1"], scale=k)


def period2_of(p, alpha2, pi2, k) -> Period2:
    return Period2(alpha2, pi2, p["gamma"], p["delta"], p["lam_R"], p["b"], p["beta"],
                   p["eta"], learning_term(p, pi2, k), p.get("terminal_order"))


def terminal_equilibrium(p, in_D2):
    """h2*, its status, n_candidates and ∂h2*/∂α2, ∂h2*/∂π2 (Prop. 3, Prop. 5).

    h2* is the selection of docs/model.md §5 ("Off D2"): h = 1 if F2(1) ≥ λRδ, else
    h = 0 if F2(0) ≤ λRδ, else the lowest root (the first sign-changing cell of the
    scan, refined by Chandrupatla); ``terminal_order`` = 1 tests h = 0 first.  On D2
    it is the unique equilibrium.  ``n_candidates`` counts the candidates (≥ 2: the
    value is a selection, flag ``terminal_alternative``; −1 when s2 = α2, where the
    payoff does not depend on h and every h is an equilibrium: NaN, status NOT_UNIQUE);
    ``terminal_order_matters`` marks skills where both corners are candidates, so the
    other order selects the other corner.  The derivatives are forward-mode autodiff
    through the root (the solver's implicit-function JVP, −(∂F2/∂θ)/(∂F2/∂h)); zero
    at corners.
    """
    s2 = p["s2"]
    k = profile_scale_of(p)
    q = period2_of(p, p["alpha2"], p["pi2"], k)
    n, f0, f1, lo, hi, finite = scan_candidates(s2, q)
    below = s2 < q.alpha2
    above = s2 > q.alpha2
    determined = finite & below
    corner0, corner1, both = corner_cases(f0, f1, determined, q.zero_first)
    interior = determined & ~corner0 & ~corner1

    def h_of(alpha2, pi2):
        r = _select(s2, period2_of(p, alpha2, pi2, k), corner0, corner1, interior, lo, hi,
                    f0, f1)
        return r.x, r.status

    # linearize: one solve, then the tangent map (the solver's implicit JVP) applied
    # to the two unit directions.  α2 and π2 are broadcast to the output shape first,
    # so a unit tangent is per lane even when one of them is a fixed (0-d) value.
    shape = jnp.broadcast_shapes(*[jnp.shape(v) for v in p.values()])
    a2_full = jnp.broadcast_to(q.alpha2, shape)
    p2_full = jnp.broadcast_to(q.pi2, shape)
    x, lin, r_status = jax.linearize(h_of, a2_full, p2_full, has_aux=True)
    one, zero = jnp.ones_like(a2_full), jnp.zeros_like(a2_full)
    dh_da, dh_dp = lin(one, zero), lin(zero, one)
    r = Root(x, r_status)
    status = jnp.where(~finite, st.NONFINITE,
                       jnp.where(determined | above, r.status, st.NOT_UNIQUE)).astype(jnp.int8)
    ok = jnp.isin(status, jnp.array(st.OK, jnp.int8))
    # a root lane that fell back to a corner (rounding, see _select) is a corner too
    root = interior & (r.status == st.CONVERGED)
    flat = jnp.where(ok & ~root, 0.0, jnp.nan)          # corners: constant h2*
    n = jnp.where(above, 1, jnp.where(below, n, -1)).astype(jnp.int8)
    return dict(
        terminal_alternative=determined & (n >= 2),
        terminal_order_matters=determined & both,
        h2_star=jnp.where(ok, r.x, jnp.nan),
        dh2_dalpha2=jnp.where(ok & root, dh_da, flat),
        dh2_dpi2=jnp.where(ok & root, dh_dp, flat),
        status_h2_star=status,
        n_candidates=n,
        F2_at_0=engagement_gain(jnp.zeros_like(s2), s2, q),
        F2_at_1=engagement_gain(jnp.ones_like(s2), s2, q),
        q=q,
    )


TERMINAL_PARAMS = params_for(("alpha2", "pi2", "phi", "gamma", "delta", "lam_R", "beta",
                              "b", "eta", "s2")) + (TERMINAL_ORDER,)

TERMINAL_OUTPUTS = (
    Output("in_D2", "bool", "s2 ∈ D2 = (s̿2, α2): single crossing, unique equilibrium (eq. 6)"),
    Output("sbarbar2", "float", "cutoff s̿2 of D2 (eq. OA2)"),
    Output("F2_at_0", "float", "engagement gain F2(0;s2) (docs/model.md §5)"),
    Output("F2_at_1", "float", "engagement gain F2(1;s2)"),
    Output("h2_star", "float", "symmetric terminal equilibrium h2* (Prop. 3), selected in the "
           "order of docs/model.md §5 where several candidates exist; NaN at s2 = α2"),
    Output("terminal_alternative", "bool",
           "another symmetric candidate exists at s2 (n_candidates ≥ 2): h2_star is a selection"),
    Output("terminal_order_matters", "bool",
           "both corners are candidates at s2: the other terminal_order selects the other one"),
    Output("n_candidates", "int8",
           "symmetric candidates (corners meeting Prop. 3 + crossings of λRδ on a 65-point h grid); "
           "−1 at s2 = α2 (every h is an equilibrium)"),
    Output("eta_bar", "float", "engagement threshold η̄(s2) = η·F2(0;s2)/(λRδ) (eq. 7)"),
    Output("Delta2", "float", "Δ2, sign sets the shape of η̄ (eq. 8)"),
    Output("dh2_dalpha2", "float", "∂h2*/∂α2 by implicit differentiation (Prop. 5); 0 at corners"),
    Output("dh2_dpi2", "float", "∂h2*/∂π2 by implicit differentiation (Prop. 5); 0 at corners"),
    Output("status_h2_star", "int8",
           "0 interior root, 4 corner h2* = 0, 5 corner h2* = 1, 7 not unique (s2 = α2: every h is "
           "an equilibrium), 2 non-finite"),
    Output("status_sbarbar2", "int8", "root status of s̿2 (6 where OA1/A2/A4/domain fail)"),
    Output("below_benchmark", "bool", "s2 < α2"),
)


def terminal(p):
    """Terminal period at skill s2: D2 membership, F2 at the corners, h2* (Prop. 3),
    η̄ (eq. 7), Δ2 (eq. 8) and the comparative statics ∂h2*/∂α2, ∂h2*/∂π2 (Prop. 5)."""
    p = make_params(p, TERMINAL_PARAMS)
    a2, pi2, gam, dl, lr, b = p["alpha2"], p["pi2"], p["gamma"], p["delta"], p["lam_R"], p["b"]
    s2 = p["s2"]
    k = profile_scale_of(p)
    L2 = learning_term(p, pi2, k)
    f_dom = adm.in_domain(p, TERMINAL_PARAMS)
    f_A2 = adm.A2(L2)
    f_A4 = adm.A4(b, lr, a2)
    f_OA1 = dom.OA1(a2, pi2, gam, dl, lr, b, L2)
    admissible = f_dom & f_A2 & f_A4 & f_OA1
    sbb2 = dom.sbarbar2(a2, pi2, gam, dl, lr, b, L2, admissible)
    in_D2 = admissible & (s2 > sbb2.x) & (s2 < a2)   # NaN s̿2 compares False
    eq = terminal_equilibrium(p, in_D2)
    return broadcast_outputs(dict(
        in_D2=in_D2,
        sbarbar2=sbb2.x,
        F2_at_0=eq["F2_at_0"],
        F2_at_1=eq["F2_at_1"],
        h2_star=eq["h2_star"],
        terminal_alternative=eq["terminal_alternative"],
        terminal_order_matters=eq["terminal_order_matters"],
        n_candidates=eq["n_candidates"],
        eta_bar=p["eta"] * eq["F2_at_0"] / (lr * dl),
        Delta2=dom.Delta2(a2, pi2, gam, lr, b),
        dh2_dalpha2=eq["dh2_dalpha2"],
        dh2_dpi2=eq["dh2_dpi2"],
        status_h2_star=eq["status_h2_star"],
        status_sbarbar2=sbb2.status,
        below_benchmark=s2 < a2,
        domain=f_dom, A2=f_A2, A4=f_A4, OA1=f_OA1,
        monotone=adm.monotone(b, a2, pi2, lr),
        admissible=admissible,
    ), p)


TERMINAL_KERNEL = declare(
    "terminal", terminal, TERMINAL_PARAMS, TERMINAL_OUTPUTS,
    "Terminal equilibrium h2*(s2) (Prop. 3), D2 membership, η̄ (eq. 7), Δ2 (eq. 8), ∂h2*/∂α2, ∂h2*/∂π2 (Prop. 5)",
    flags=("domain", "A2", "A4", "OA1", "monotone"), requires=("domain", "A2", "A4", "OA1"),
    periods=(2,),
)
