"""The parameter pytree: docs/model.md §1 code names, values traced, structure static.

Kernels receive a mapping of arrays from the engine (or a user); :func:`make_params`
fills defaults, broadcasts nothing (elementwise ops broadcast lazily, so a fixed
parameter passed as a scalar is computed on once per chunk) and casts to one
floating dtype.
"""
from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp

from .profiles import PROFILE_PARAMS
from .registry import Domain, Param

_OPEN01 = Domain(0.0, 1.0)
_POS = Domain(0.0)

#: every model parameter with its docs/model.md §1 domain (defaults are per kernel)
MODEL_PARAMS: dict[str, Param] = {
    p.name: p
    for p in (
        Param("alpha1", _OPEN01, None, "AI capability α1 in period 1"),
        Param("alpha2", _OPEN01, None, "AI capability α2 in period 2"),
        Param("pi1", _OPEN01, None, "AI failure probability π1 in period 1"),
        Param("pi2", _OPEN01, None, "AI failure probability π2 in period 2"),
        Param("s1", Domain(0.0, 1.0, True, True), None, "worker skill entering period 1"),
        Param("s2", Domain(0.0, 1.0, True, True), None, "worker skill entering period 2"),
        Param("delta", _OPEN01, None, "influence δ of worker intervention on AI-on output"),
        Param("lam_R", _POS, None, "task load × revenue per task λR"),
        Param("gamma", _POS, None, "skill-erosion rate γ"),
        Param("phi", _POS, None, "learning strength φ"),
        Param("beta", Domain(0.0, 1.0, False, True), None, "discount factor β"),
        Param("b", Domain(1.0), None, "power-wage curvature b (W = B = s^b)"),
        Param("eta", _POS, None, "sorting friction η"),
        Param("h1", Domain(0.0, 1.0, True, True), None, "period-1 engagement h1"),
        Param("h2", Domain(0.0, 1.0, True, True), None, "period-2 engagement h2"),
    )
}
MODEL_PARAMS.update({p.name: p for p in PROFILE_PARAMS})


def params_for(names, **defaults) -> tuple[Param, ...]:
    """The :class:`Param` records of ``names`` with per-kernel ``defaults``."""
    out = []
    for n in names:
        p = MODEL_PARAMS[n]
        out.append(Param(p.name, p.domain, defaults.get(n, p.default), p.doc))
    for p in PROFILE_PARAMS:
        if p.name not in names:
            out.append(p)
    return tuple(out)


def make_params(p: Mapping, spec_params, dtype=None) -> dict:
    """Fill defaults for ``spec_params`` and cast every value to one float dtype.

    The dtype is ``dtype`` if given, else the result type of the inputs (so a
    float32 sweep stays float32 end to end under strict promotion).
    """
    vals = {}
    for prm in spec_params:
        if prm.name in p:
            vals[prm.name] = p[prm.name]
        elif prm.default is not None:
            vals[prm.name] = prm.default
        else:
            raise KeyError(f"missing required parameter {prm.name!r}")
    if dtype is None:
        arrays = [v for v in vals.values() if hasattr(v, "dtype")]
        dtype = jnp.result_type(*arrays) if arrays else jnp.result_type(float)
        if not jnp.issubdtype(dtype, jnp.floating):
            dtype = jnp.result_type(float)
    return {k: jnp.asarray(v, dtype=dtype) for k, v in vals.items()}


def broadcast_outputs(out: dict, p: Mapping) -> dict:
    """Give every output the common shape of the inputs (scalar flags such as A2
    for a fixed φ and π would otherwise stay 0-d)."""
    shape = jnp.broadcast_shapes(*[jnp.shape(v) for v in p.values()])
    return {k: jnp.broadcast_to(v, shape) for k, v in out.items()}
