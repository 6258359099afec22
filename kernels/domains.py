"""Terminal and period-1 domain quantities (docs/model.md §3, §5, §7).

Notation: period-t learning term L_t = φℓ(π_t); K_t = γ + φℓ(π_t)/(1−π_t), the
factor of the engagement gain F2 (baseline K = γ + φπ).  Every threshold is found
by :func:`kernels.roots.solve`; each returns a :class:`kernels.roots.Root`
(value + status), so a NaN is always explained.
"""
from __future__ import annotations

import jax.numpy as jnp

from . import status as st
from .primitives import B_prime, M, _pow, g0, g0_inverse, g1, g1_inverse
from .roots import Root, solve


def K(pi, gamma, L):
    """K = γ + φℓ(π)/(1−π) (baseline γ + φπ), the learning-erosion factor of F2."""
    return gamma + L / (1.0 - pi)


def s_under2(alpha2, pi2, gamma):
    """Period-2 skill floor s̲2 = γ(1−π2)α2/(1+γ(1−π2)) (docs/model.md §3); g(s̲2,0;A2) = 0."""
    e = gamma * (1.0 - pi2)
    return e * alpha2 / (1.0 + e)


def s_under(alpha1, alpha2, pi1, pi2, gamma):
    """Period-1 skill floor s̲ (A3): the s1 with g(g(s1,0;A1),0;A2) = 0."""
    return g0_inverse(s_under2(alpha2, pi2, gamma), alpha1, pi1, gamma)


def Psi(s2, alpha2, pi2, gamma, lam_R, b):
    """Ψ(s2) = (b−1)·M(s2,0;A2)/g(s2,0;A2), the max over h of (B''/B')(g)·M (Claim OA2)."""
    return (b - 1.0) * M(s2, 0.0, alpha2, pi2, 0.0, lam_R, b) / g0(s2, alpha2, pi2, gamma)


def Psi_at_alpha2(alpha2, lam_R, b):
    """lim Ψ at α2 = (b−1)(λR − α2^(b−1))."""
    return (b - 1.0) * (lam_R - _pow(alpha2, b - 1.0))


def OA1(alpha2, pi2, gamma, delta, lam_R, b, L2):
    """Eq. OA1: D2 is nonempty iff (b−1)(λR − α2^(b−1)) < λRδ/K2."""
    return Psi_at_alpha2(alpha2, lam_R, b) < lam_R * delta / K(pi2, gamma, L2)


def _oa2(s, th):
    # Ψ(s) − T multiplied by g(s,0) > 0: finite at s̲2, same sign as Ψ − T on
    # (s̲2, α2], and concave in s (so its root is unique and well conditioned).
    alpha2, pi2, gamma, lam_R, b, T = th
    return (b - 1.0) * M(s, 0.0, alpha2, pi2, 0.0, lam_R, b) - T * g0(s, alpha2, pi2, gamma)


def sbarbar2(alpha2, pi2, gamma, delta, lam_R, b, L2, ok) -> Root:
    """Cutoff s̿2 of the single-crossing domain D2 = (s̿2, α2): Ψ(s̿2) = λRδ/K2 (eq. OA2).

    Solved where ``ok`` (at least eq. OA1, A2 and A4 for period 2); SKIPPED elsewhere.
    """
    T = lam_R * delta / K(pi2, gamma, L2)
    lo = s_under2(alpha2, pi2, gamma)
    return solve(_oa2, lo, alpha2, (alpha2, pi2, gamma, lam_R, b, T), mask=ok)


def eta_bar(s2, alpha2, pi2, gamma, delta, lam_R, b, beta, L2):
    """Engagement threshold η̄(s2) = βbK2/(2λRδ)·g(s2,0)^(b−1)·M(s2,0) (eq. 7)."""
    gg = g0(s2, alpha2, pi2, gamma)
    return (beta * b * K(pi2, gamma, L2) / (2.0 * lam_R * delta)
            * _pow(gg, b - 1.0) * M(s2, 0.0, alpha2, pi2, 0.0, lam_R, b))


def Delta2(alpha2, pi2, gamma, lam_R, b):
    """Δ2 = (b−1)[1+γ(1−π2)](λRα2 − α2^b) + α2(λRπ2 − bα2^(b−1)) (eq. 8): its sign
    sets the shape of η̄ (increasing if ≥ 0, single-peaked if < 0)."""
    ab1 = _pow(alpha2, b - 1.0)
    return ((b - 1.0) * (1.0 + gamma * (1.0 - pi2)) * (lam_R * alpha2 - alpha2 * ab1)
            + alpha2 * (lam_R * pi2 - b * ab1))


def F2(h, s2, alpha2, pi2, gamma, delta, lam_R, b, beta, eta, L2):
    """Terminal engagement gain F2(h;s2) = β/(2η)·K2·B'(g(s2,h;A2))·M(s2,h;A2) (docs/model.md §5)."""
    # g(s2,h;A2) without the floor: on the domains where F2 is used, s2 > s̲2.
    e = gamma * (1.0 - pi2)
    gg = s2 + (L2 * h - e * (1.0 - h)) * (alpha2 - s2)
    gg = jnp.where(s2 < alpha2, gg, s2)
    return (beta / (2.0 * eta) * K(pi2, gamma, L2) * B_prime(gg, b)
            * M(s2, h, alpha2, pi2, delta, lam_R, b))


def _hat(s, th):
    # η̄(s)/η − 1 ≥ 0  ⇔  F2(0;s) ≥ λRδ ; increasing on D2 under Cor. 3.
    alpha2, pi2, gamma, delta, lam_R, b, beta, eta, L2 = th
    return eta_bar(s, alpha2, pi2, gamma, delta, lam_R, b, beta, L2) / eta - 1.0


def _bar(s, th):
    # F2(1;s)/(λRδ) − 1 ≥ 0  ⇔  F2(1;s) ≥ λRδ ; increasing on D2 under Cor. 3.
    alpha2, pi2, gamma, delta, lam_R, b, beta, eta, L2 = th
    gg = g1(s, alpha2, L2)
    return (beta * b * K(pi2, gamma, L2) / (2.0 * eta * lam_R * delta)
            * _pow(gg, b - 1.0) * M(s, 1.0, alpha2, pi2, delta, lam_R, b) - 1.0)


#: buffer share for the compacted solves of ŝ2^D, s̄2^D (see kernels.roots.solve)
THRESHOLD_COMPACT = 0.125


def terminal_thresholds(sbb2: Root, alpha2, pi2, gamma, delta, lam_R, b, beta, eta, L2, ok):
    """Thresholds of the monotone terminal policy (Cor. 3), with infimum conventions:

    ŝ2^D = inf({s2 ∈ D2 : F2(0;s2) > λRδ} ∪ {α2})   (no engagement at or below)
    s̄2^D = inf({s2 ∈ D2 : F2(1;s2) ≥ λRδ} ∪ {α2})   (full engagement at or above)

    Valid where F2 increases in s2 on D2 (λRπ2 ≥ bα2^(b−1)); ``ok`` must include
    that condition.  Both equal s̿2 when the condition holds at the lower end.
    """
    th = (alpha2, pi2, gamma, delta, lam_R, b, beta, eta, L2)
    ok = ok & jnp.isin(sbb2.status, jnp.array(st.OK, jnp.int8))
    lo = jnp.where(ok, sbb2.x, 0.5 * alpha2)   # placeholder keeps masked lanes finite
    # Most lanes are corners (s̿2 or α2), settled by the two bracket-end values:
    # iterate only the others (measured share on the paper grid: 6-8%).
    hat = solve(_hat, lo, alpha2, th, mode="infimum", mask=ok, compact=THRESHOLD_COMPACT)
    bar = solve(_bar, lo, alpha2, th, mode="infimum", mask=ok, compact=THRESHOLD_COMPACT)
    return hat, bar


def period1_domains(alpha1, pi1, gamma, L1, s_und, sbb2, s2_hat, s2_bar):
    """Period-1 domains of OA.5 (docs/model.md §7).

    Returns a dict with s̿1, the lower end of D1, D1_nonempty, s1^D, s1^F, ρ1,
    ρ1^D and ρ1^F.  ρ1 = 0 when D1 is empty; ρ1^D and ρ1^F are NaN there
    (|D1| = 0), which ``D1_nonempty`` explains.
    """
    sbb1 = g0_inverse(sbb2, alpha1, pi1, gamma)            # g(s̿1,0;A1) = s̿2
    lower = jnp.maximum(s_und, sbb1)
    width = alpha1 - lower
    nonempty = width > 0
    s1_D = g1_inverse(s2_hat, alpha1, L1)                   # g(s1^D,1;A1) = ŝ2^D (eq. OA3)
    s1_F = g0_inverse(s2_bar, alpha1, pi1, gamma)           # g(s1^F,0;A1) = s̄2^D
    safe_w = jnp.where(nonempty, width, 1.0)
    rho1 = jnp.where(nonempty, width / (alpha1 - s_und), 0.0)
    rho1_D = jnp.clip(s1_D - lower, 0.0, safe_w) / safe_w
    rho1_F = jnp.clip(alpha1 - s1_F, 0.0, safe_w) / safe_w
    nan = jnp.nan
    rho1 = jnp.where(jnp.isnan(sbb2), nan, rho1)
    return dict(
        sbarbar1=sbb1,
        D1_lower=lower,
        D1_nonempty=nonempty & ~jnp.isnan(sbb2),
        s1_D=s1_D,
        s1_F=s1_F,
        rho1=rho1,
        rho1_D=jnp.where(nonempty, rho1_D, nan),
        rho1_F=jnp.where(nonempty, rho1_F, nan),
    )
