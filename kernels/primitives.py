"""Model primitives for one period with technology A = (α, π) (docs/model.md §2).

All functions are elementwise in their array arguments and never branch in
Python on values, so they are jit/vmap/grad friendly.  ``L`` always denotes the
learning term φ·ℓ(π) of the period in question (computed once by the caller,
because ℓ may need a normalization constant).

The wage W and the post-horizon value B are kept as separate functions even
though the paper (and every table) uses the power wage with B = W = s^b.
"""
from __future__ import annotations

import jax.numpy as jnp


# --- wages: power wage W(s) = B(s) = s^b -------------------------------------------

def _pow(s, e):
    """s^e for s ≥ 0, e > 0 as exp(e·log s): one log and one exp (0^e = 0)."""
    return jnp.exp(e * jnp.log(s))


def W(s, b):
    """Market wage W(s) = s^b."""
    return _pow(s, b)


def W_prime(s, b):
    """W'(s) = b s^(b−1)."""
    return b * _pow(s, b - 1.0)


def B(s, b):
    """Post-horizon value of skill B(s) = s^b (the paper's B = W)."""
    return _pow(s, b)


def B_prime(s, b):
    """B'(s) = b s^(b−1)."""
    return b * _pow(s, b - 1.0)


# --- production ------------------------------------------------------------------

def S(s, h, alpha, pi, delta, lam_R):
    """Operational revenue S(s,h;A) = λR[(1−π)(α + δh(s−α)) + πs]."""
    return lam_R * ((1.0 - pi) * (alpha + delta * h * (s - alpha)) + pi * s)


def M(s, h, alpha, pi, delta, lam_R, b):
    """Per-worker margin M(s,h;A) = S(s,h;A) − W(s)."""
    return S(s, h, alpha, pi, delta, lam_R) - W(s, b)


def dM_dh(s, alpha, pi, delta, lam_R):
    """∂M/∂h = λRδ(1−π)(s−α) (negative for a below-benchmark worker)."""
    return lam_R * delta * (1.0 - pi) * (s - alpha)


def dM_ds(s, h, pi, delta, lam_R, b):
    """∂M/∂s = λR[(1−π)δh + π] − W'(s)."""
    return lam_R * ((1.0 - pi) * delta * h + pi) - W_prime(s, b)


# --- skill transition ------------------------------------------------------------

def Gamma(h, pi, gamma, L):
    """Net learning rate Γ(h;A) = φhℓ(π) − γ(1−h)(1−π), with L = φℓ(π)."""
    return L * h - gamma * (1.0 - h) * (1.0 - pi)


def g(s, h, alpha, pi, gamma, L):
    """Skill transition g(s,h;A) (docs/model.md §2).

    max{s + Γ(h)(α−s), 0} for a below-benchmark worker (s < α); s itself for s ≥ α.
    """
    below = jnp.maximum(s + Gamma(h, pi, gamma, L) * (alpha - s), 0.0)
    return jnp.where(s < alpha, below, s)


def dg_dh(s, alpha, pi, gamma, L):
    """∂g/∂h = (φℓ(π) + γ(1−π))(α−s) for s < α (floor not binding), else 0."""
    return jnp.where(s < alpha, (L + gamma * (1.0 - pi)) * (alpha - s), 0.0)


def g0(s, alpha, pi, gamma):
    """g(s,0;A) = s(1+γ(1−π)) − γ(1−π)α without the floor (passive reliance)."""
    e = gamma * (1.0 - pi)
    return (1.0 + e) * s - e * alpha


def g1(s, alpha, L):
    """g(s,1;A) = s + φℓ(π)(α−s) (full engagement; never floored)."""
    return s + L * (alpha - s)


def g0_inverse(x, alpha, pi, gamma):
    """The s with g(s,0;A) = x (for x below α): (x + γ(1−π)α)/(1+γ(1−π))."""
    e = gamma * (1.0 - pi)
    return (x + e * alpha) / (1.0 + e)


def g1_inverse(x, alpha, L):
    """The s with g(s,1;A) = x: (x − φℓ(π)α)/(1 − φℓ(π))."""
    return (x - L * alpha) / (1.0 - L)
