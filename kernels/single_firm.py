"""Kernel ``single_firm``: the benchmark without worker mobility (docs/model.md §4).

A single firm keeps its worker for both periods.  In the terminal period it never
engages a below-benchmark worker (h2 = 0); in period 1 it maximizes

    M(s1,h1;A1) + β M(g(s1,h1;A1), 0; A2),

which is strictly concave in h1.  Its derivative in h1 is

    (α1−s1)(φℓ(π1)+γ(1−π1)) β [RHS − W'(g(s1,h1;A1))],

with RHS the right side of eq. 2, so the firm steers period-2 skill to the target
s* with W'(s*) = RHS and the policy is the clipped linear rule of eq. 3.
"""
from __future__ import annotations

import jax.numpy as jnp

from . import admissibility as adm
from . import domains as dom
from .coverage import learning_terms
from .params import broadcast_outputs, make_params, params_for
from .primitives import W_prime, dg_dh, g0, g0_inverse, g1_inverse
from .declare import declare
from .registry import Output

#: regime of the FOC target (output ``regime``)
INTERIOR = 0   # W'(0) < RHS < W'(α1): target s* ∈ (0, α1), policy of eq. 3
NEVER = 1      # RHS ≤ W'(0) = 0: the firm never engages (h1 = 0 for every s1)
ALWAYS = 2     # RHS ≥ W'(α1): the firm always engages fully (h1 = 1 for every s1 < α1)


def target_rhs(pi1, pi2, gamma, delta, lam_R, beta, L1):
    """Right side of eq. 2: λRπ2 − λRδ(1−π1)/(β(φℓ(π1) + γ(1−π1)))."""
    return lam_R * pi2 - lam_R * delta * (1.0 - pi1) / (beta * (L1 + gamma * (1.0 - pi1)))


def target_skill(rhs, alpha1, b):
    """Target s* of eq. 2 (W'(s*) = RHS, i.e. s* = (RHS/b)^(1/(b−1))) and its regime.

    The target is reported clipped to [0, α1]: 0 when RHS ≤ 0 (no skill level is
    worth buying), α1 when RHS ≥ W'(α1) (every reachable skill is below target).
    With the clipped target, eq. 4 gives s_H ≤ s̲ in the NEVER regime and
    s_L = s_H = α1 in the ALWAYS regime, so the thresholds stay meaningful.
    """
    never = rhs <= 0.0
    always = ~never & (rhs >= W_prime(alpha1, b))
    # log of a positive number only; exp may overflow to +inf, which the clip absorbs
    safe = jnp.where(never, b, rhs)
    s = jnp.exp(jnp.log(safe / b) / (b - 1.0))
    s = jnp.where(never, 0.0, jnp.where(always, alpha1, jnp.minimum(s, alpha1)))
    regime = jnp.where(never, NEVER, jnp.where(always, ALWAYS, INTERIOR)).astype(jnp.int8)
    return s, regime


def engagement_band(s_star, alpha1, pi1, gamma, L1):
    """Thresholds of eq. 4: full engagement for s1 ≤ s_L, none for s1 ≥ s_H (Table OA2).

    s_L = (s* − φℓ(π1)α1)/(1 − φℓ(π1)) solves g(s_L,1;A1) = s*;
    s_H = (s* + γ(1−π1)α1)/(1 + γ(1−π1)) solves g(s_H,0;A1) = s*.
    """
    return g1_inverse(s_star, alpha1, L1), g0_inverse(s_star, alpha1, pi1, gamma)


def single_firm_policy(s1, alpha1, pi1, gamma, L1, s_star, regime):
    """Single-firm period-1 engagement h1_sf(s1) (eq. 3, Prop. 1).

    clip((s* − g(s1,0;A1)) / ∂g/∂h, 0, 1) on the interior regime; 0 when the firm
    never engages, and 0 for s1 ≥ α1 (engagement then lowers output and cannot
    raise skill).  The unfloored g(s1,0) is the right intercept: the target s* > 0
    is reached where the floor does not bind.
    """
    gh = dg_dh(s1, alpha1, pi1, gamma, L1)
    below = s1 < alpha1
    h = jnp.clip((s_star - g0(s1, alpha1, pi1, gamma)) / jnp.where(below, gh, 1.0), 0.0, 1.0)
    return jnp.where(below & (regime != NEVER), h, 0.0)


def single_firm_solution(s1, alpha1, pi1, pi2, gamma, delta, lam_R, beta, b, L1):
    """(s*, s_L, s_H, h1_sf, regime) of docs/model.md §4; reused by ``period1``."""
    rhs = target_rhs(pi1, pi2, gamma, delta, lam_R, beta, L1)
    s_star, regime = target_skill(rhs, alpha1, b)
    s_L, s_H = engagement_band(s_star, alpha1, pi1, gamma, L1)
    h = single_firm_policy(s1, alpha1, pi1, gamma, L1, s_star, regime)
    return s_star, s_L, s_H, h, regime


SF_PARAMS = params_for(("alpha1", "alpha2", "pi1", "pi2", "phi", "gamma", "delta",
                        "lam_R", "beta", "b", "s1"))

SF_OUTPUTS = (
    Output("s_star", "float", "target period-2 skill s*, W'(s*) = RHS of eq. 2, clipped to [0, α1]"),
    Output("s_L", "float", "full engagement for s1 ≤ s_L (eq. 4)"),
    Output("s_H", "float", "no engagement for s1 ≥ s_H (eq. 4)"),
    Output("h1_sf", "float", "single-firm period-1 engagement (eq. 3, Prop. 1)"),
    Output("regime", "int8", "0: interior target; 1: RHS ≤ 0, never engage; 2: RHS ≥ W'(α1), always engage"),
)


def single_firm(p):
    """Single-firm benchmark at skill s1: s* (eq. 2), s_L, s_H (eq. 4), h1_sf (eq. 3)."""
    p = make_params(p, SF_PARAMS)
    a1, a2, pi1, pi2 = p["alpha1"], p["alpha2"], p["pi1"], p["pi2"]
    gam, dl, lr, beta, b, s1 = p["gamma"], p["delta"], p["lam_R"], p["beta"], p["b"], p["s1"]
    L1, L2 = learning_terms(p, pi1, pi2)
    s_star, s_L, s_H, h, regime = single_firm_solution(s1, a1, pi1, pi2, gam, dl, lr, beta, b, L1)
    f_dom = adm.in_domain(p, SF_PARAMS)
    f_A1 = adm.A1(a1, a2, pi1, pi2)
    f_A2 = adm.A2(L1, L2)
    f_A3 = adm.A3(s1, dom.s_under(a1, a2, pi1, pi2, gam), a1)
    f_A4 = adm.A4(b, lr, a1, a2)
    return broadcast_outputs(dict(
        s_star=s_star, s_L=s_L, s_H=s_H, h1_sf=h, regime=regime,
        domain=f_dom, A1=f_A1, A2=f_A2, A3=f_A3, A4=f_A4,
        admissible=f_dom & f_A1 & f_A2 & f_A3 & f_A4,
    ), p)


SINGLE_FIRM_KERNEL = declare(
    "single_firm", single_firm, SF_PARAMS, SF_OUTPUTS,
    "Single-firm benchmark: target skill s* (eq. 2), band s_L, s_H (eq. 4), engagement h1_sf (eq. 3)",
    flags=("domain", "A1", "A2", "A3", "A4"),
)
