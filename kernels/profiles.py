"""Learning profiles ℓ(π) (docs/model.md §2.1).

Every profile is a member of the family

    ℓ(π) = k · [ (κ1 + π^a)(1−π)^c + κ0 ]

with code names ``ell_a`` = a, ``ell_c`` = c, ``ell_kappa0`` = κ0, ``ell_kappa1`` = κ1,
and ``ell_normalize`` ∈ {0, 1}: when 1, k is chosen so that max_{π∈[0,1]} ℓ = 1/4
(the maximum of the baseline π(1−π), which therefore has k = 1 exactly); when 0, k = 1.

The paper's presets (the names users type) are keys of :data:`PRESETS`; a name is a
key into this table, never an expression that gets parsed.
"""
from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from .registry import Categorical, Domain, Param

BASELINE = "pi(1-pi)"

#: preset name -> family coefficients (a, c, κ0, κ1); all normalized to max 1/4.
PRESETS: dict[str, dict[str, float]] = {
    "pi(1-pi)":        dict(ell_a=1.0, ell_c=1.0, ell_kappa0=0.0, ell_kappa1=0.0, ell_normalize=1.0),
    "pi^0.5(1-pi)":    dict(ell_a=0.5, ell_c=1.0, ell_kappa0=0.0, ell_kappa1=0.0, ell_normalize=1.0),
    "pi^1.5(1-pi)":    dict(ell_a=1.5, ell_c=1.0, ell_kappa0=0.0, ell_kappa1=0.0, ell_normalize=1.0),
    "pi(1-pi)^2":      dict(ell_a=1.0, ell_c=2.0, ell_kappa0=0.0, ell_kappa1=0.0, ell_normalize=1.0),
    "pi^2(1-pi)^2":    dict(ell_a=2.0, ell_c=2.0, ell_kappa0=0.0, ell_kappa1=0.0, ell_normalize=1.0),
    "(0.05+pi)(1-pi)": dict(ell_a=1.0, ell_c=1.0, ell_kappa0=0.0, ell_kappa1=0.05, ell_normalize=1.0),
    "pi^2(1-pi)":      dict(ell_a=2.0, ell_c=1.0, ell_kappa0=0.0, ell_kappa1=0.0, ell_normalize=1.0),
    "pi":              dict(ell_a=1.0, ell_c=0.0, ell_kappa0=0.0, ell_kappa1=0.0, ell_normalize=1.0),
    "1-pi":            dict(ell_a=0.0, ell_c=1.0, ell_kappa0=0.0, ell_kappa1=0.0, ell_normalize=1.0),
    "0.05+pi(1-pi)":   dict(ell_a=1.0, ell_c=1.0, ell_kappa0=0.05, ell_kappa1=0.0, ell_normalize=1.0),
}

PROFILE_PARAMS: tuple[Param, ...] = (
    Param("ell_a", Domain(0.0, 50.0, True, True), 1.0, "profile exponent a on π"),
    Param("ell_c", Domain(0.0, 50.0, True, True), 1.0, "profile exponent c on (1−π)"),
    Param("ell_kappa0", Domain(0.0, 10.0, True, True), 0.0, "profile additive constant κ0"),
    Param("ell_kappa1", Domain(0.0, 10.0, True, True), 0.0, "profile shift κ1 of π^a"),
    Param("ell_normalize", Domain(0.0, 1.0, True, True), 1.0,
          "1: rescale so max ℓ = 1/4; 0: k = 1"),
)

PROFILE = Categorical(
    name="profile",
    targets=("ell_a", "ell_c", "ell_kappa0", "ell_kappa1", "ell_normalize"),
    choices=PRESETS,
    default=BASELINE,
    doc="learning profile ℓ(π): a preset name of docs/model.md §2.1",
)

_GRID = 512          # coarse grid for the κ1 > 0 maximization
_GOLDEN_ITERS = 64   # golden-section refinement: bracket shrinks by 0.618^64 ≈ 4e-14


def _power(x, e):
    """x^e elementwise, exactly as ``jnp.power`` (0^0 = 1), cheaper for the presets.

    On CPU ``jnp.power`` with a float exponent is one scalar libm ``pow`` call per
    element (~15 ns in float64; two of them were a third of a factored
    coverage_oa5 chunk).  When the exponent is one value for the whole batch (a
    fixed profile) and is 0, 1, 2 or ½, the result is 1, x, x·x or √x (the last
    two correctly rounded; XLA's pow is within an ulp of them), chosen by
    ``lax.switch`` so only that branch runs.  A per-lane exponent
    (profile on a grid axis) takes ``jnp.power``.
    """
    x = jnp.asarray(x)
    e = jnp.asarray(e, x.dtype)
    if jnp.ndim(e) != 0:
        return jnp.power(x, e)
    branch = jnp.select([e == 0, e == 1, e == 2, e == 0.5], [0, 1, 2, 3], 4).astype(jnp.int32)
    return lax.switch(branch, (lambda x, e: jnp.ones_like(x),
                               lambda x, e: x,
                               lambda x, e: x * x,
                               lambda x, e: jnp.sqrt(x),
                               lambda x, e: jnp.power(x, e)), x, e)


def _raw(pi, a, c, kappa0, kappa1):
    """Un-normalized family member (κ1 + π^a)(1−π)^c + κ0 (with 0^0 = 1)."""
    return (kappa1 + _power(pi, a)) * _power(1.0 - pi, c) + kappa0


def profile_max(a, c, kappa0, kappa1):
    """max over π ∈ [0,1] of the un-normalized family member.

    κ1 = 0 has the closed form π* = a/(a+c) (π^a(1−π)^c is log-concave);
    κ1 > 0 is found by a grid search refined by golden section.  Both are
    computed elementwise and selected, so the function is vmap/jit friendly; in a
    sweep where the profile is fixed the engine passes it unbatched and XLA
    evaluates this once per chunk.
    """
    a, c, kappa0, kappa1 = jnp.broadcast_arrays(*map(jnp.asarray, (a, c, kappa0, kappa1)))
    dt = jnp.result_type(a)
    apc = a + c
    pstar = jnp.where(apc > 0, a / jnp.where(apc > 0, apc, 1.0), 0.0)
    closed = _raw(pstar, a, c, kappa0, 0.0)

    grid = jnp.linspace(0.0, 1.0, _GRID, dtype=dt)
    vals = _raw(grid, a[..., None], c[..., None], kappa0[..., None], kappa1[..., None])
    i = jnp.argmax(vals, axis=-1)
    step = jnp.asarray(1.0 / (_GRID - 1), dt)
    lo = jnp.clip(i.astype(dt) * step - step, 0.0, 1.0)
    hi = jnp.clip(i.astype(dt) * step + step, 0.0, 1.0)
    invphi = jnp.asarray(0.6180339887498949, dt)

    def body(_, carry):
        lo, hi = carry
        x1 = hi - invphi * (hi - lo)
        x2 = lo + invphi * (hi - lo)
        f1 = _raw(x1, a, c, kappa0, kappa1)
        f2 = _raw(x2, a, c, kappa0, kappa1)
        left = f1 >= f2
        return jnp.where(left, lo, x1), jnp.where(left, x2, hi)

    lo, hi = lax.fori_loop(0, _GOLDEN_ITERS, body, (lo, hi))
    mid = 0.5 * (lo + hi)
    refined = jnp.maximum(
        jnp.maximum(_raw(mid, a, c, kappa0, kappa1), jnp.max(vals, axis=-1)),
        jnp.maximum(_raw(lo, a, c, kappa0, kappa1), _raw(hi, a, c, kappa0, kappa1)),
    )
    return jnp.where(kappa1 > 0, refined, closed)


def profile_scale(a, c, kappa0, kappa1, normalize):
    """The constant k: 1/4 ÷ max ℓ when ``normalize`` is 1, else 1."""
    m = profile_max(a, c, kappa0, kappa1)
    return jnp.where(normalize > 0.5, 0.25 / m, jnp.ones_like(m))


def profile_scale_of(p):
    """:func:`profile_scale` of the learning-profile parameters in the mapping ``p``."""
    return profile_scale(p["ell_a"], p["ell_c"], p["ell_kappa0"], p["ell_kappa1"], p["ell_normalize"])


def ell(pi, a=1.0, c=1.0, kappa0=0.0, kappa1=0.0, normalize=1.0, scale=None):
    """Learning profile ℓ(π) (docs/model.md §2.1); baseline π(1−π).

    ``scale`` may be passed when k has already been computed (it only depends on
    the profile, not on π).
    """
    k = profile_scale(a, c, kappa0, kappa1, normalize) if scale is None else scale
    return k * _raw(pi, a, c, kappa0, kappa1)
