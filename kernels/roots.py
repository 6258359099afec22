"""Vectorized bracketed root solving, used by every threshold of the model.

One solver, :func:`solve`, finds x in [lo, hi] with f(x, θ) = 0 lane by lane:

* **Method**: Chandrupatla's (1997) hybrid of inverse quadratic interpolation and
  bisection.  Each step keeps a sign-changing bracket (the guarantee of bisection)
  but typically converges superlinearly: 6–12 evaluations to full float64
  precision on this model's smooth thresholds, versus ~50 for bisection.
* **Cost model**: a ``lax.while_loop`` capped at ``max_iter`` iterations that stops
  as soon as every lane has converged.  Converged lanes are frozen (masked), so a
  batch costs the same per lane and never diverges in control flow.  With
  ``compact``, only the lanes that need iterating are gathered into a smaller
  buffer first (the infimum thresholds are corners on most lanes).
* **Status, not exceptions**: every lane gets an int8 code from
  :mod:`kernels.status` (converged / no sign change / non-finite / max iterations,
  plus the infimum-convention corners).  The value is NaN exactly when the status
  says there is no number.
* **Infimum conventions** (docs/model.md §5): with ``mode="infimum"``, f is taken to be
  increasing and the solver returns inf({x ∈ (lo,hi): f(x) ≥ 0} ∪ {hi}): ``lo`` with
  status AT_LOWER when the condition already holds at the lower end, ``hi`` with
  status AT_UPPER when it holds nowhere, the crossing otherwise.  (For increasing
  f the strict and weak versions of the condition have the same infimum.)
* **Derivatives**: a ``custom_jvp`` applies the implicit function theorem,
  dx/dθ = −f_θ/f_x, at an interior root, and the derivative of the active end
  (d lo or d hi) at a corner, so roots can sit inside differentiated code (the
  comparative statics of Prop. 5 are computed this way).
"""
from __future__ import annotations

import math
from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import status as st

__all__ = ["Root", "solve", "default_max_iter"]


class Root(NamedTuple):
    x: jax.Array        # the root (or corner); NaN when status has no value
    status: jax.Array   # int8, see kernels.status


def default_max_iter(dtype) -> int:
    """Iteration cap: enough for pure bisection to reach ~4 ulp from a unit bracket,
    with margin (Chandrupatla never takes more steps than ~2× bisection)."""
    return 64 if jnp.finfo(dtype).bits <= 32 else 128


def _tolerances(dtype):
    fi = jnp.finfo(dtype)
    return 4.0 * float(fi.eps), 4.0 * float(fi.tiny)


def _init(f, mode, lo, hi, theta, mask, ends=None):
    """Bracket ends, their f values (``ends`` when the caller has them), and the
    lanes settled before any iteration.

    Returns ``(shape, x1, f1, x2, f2, status, x_init, done)``: ``done`` marks lanes
    that never iterate (skipped, non-finite, a corner, no sign change), whose
    value is ``x_init`` and code ``status``."""
    lo, hi = jnp.broadcast_arrays(lo, hi)
    dt = lo.dtype
    shape = jnp.broadcast_shapes(lo.shape, jnp.shape(mask),
                                 *[jnp.shape(t) for t in jax.tree_util.tree_leaves(theta)])
    x1 = jnp.broadcast_to(lo, shape)
    x2 = jnp.broadcast_to(hi, shape)
    f_lo, f_hi = (f(x1, theta), f(x2, theta)) if ends is None else ends
    f1 = jnp.broadcast_to(f_lo, shape)
    f2 = jnp.broadcast_to(f_hi, shape)

    finite = jnp.isfinite(x1) & jnp.isfinite(x2) & jnp.isfinite(f1) & jnp.isfinite(f2)
    status = jnp.full(shape, st.CONVERGED, jnp.int8)
    x_init = jnp.full(shape, jnp.nan, dt)
    if mode == "infimum":
        # Conventions of docs/model.md §5 for an increasing condition function.
        at_lo = finite & (f1 >= 0)
        at_hi = finite & ~at_lo & (f2 <= 0)
        status = jnp.where(at_lo, st.AT_LOWER, status)
        status = jnp.where(at_hi, st.AT_UPPER, status)
        x_init = jnp.where(at_lo, x1, jnp.where(at_hi, x2, x_init))
        corner = at_lo | at_hi
        nosign = jnp.zeros(shape, bool)
    else:
        zero1, zero2 = finite & (f1 == 0), finite & (f2 == 0)
        x_init = jnp.where(zero1, x1, jnp.where(zero2, x2, x_init))
        corner = zero1 | zero2
        nosign = finite & ~corner & (jnp.sign(f1) == jnp.sign(f2))
        status = jnp.where(nosign, st.NO_SIGN_CHANGE, status)
    status = jnp.where(~finite, st.NONFINITE, status)
    # Lanes outside ``mask`` (a failed precondition) never enter the iteration, so
    # they can neither slow the loop down nor produce a misleading value.
    skip = ~jnp.broadcast_to(mask, shape)
    status = jnp.where(skip, st.SKIPPED, status)
    x_init = jnp.where(skip, jnp.nan, x_init)
    done = skip | ~finite | corner | nosign
    return shape, x1, f1, x2, f2, status, x_init, done


def _iterate(f, max_iter, theta, x1, f1, x2, f2, done):
    """Chandrupatla iterations on the lanes not ``done``; returns ``(x, bad, done)``:
    the best end of each final bracket, whether f was non-finite, and convergence."""
    dt = x1.dtype
    xrtol, xatol = _tolerances(dt)
    half = jnp.asarray(0.5, dt)
    carry = dict(x1=x1, f1=f1, x2=x2, f2=f2, x3=x1, f3=f1,
                 t=jnp.full(x1.shape, half, dt), done=done, bad=jnp.zeros(x1.shape, bool),
                 it=jnp.zeros((), jnp.int32))

    def cond(c):
        return (c["it"] < max_iter) & ~jnp.all(c["done"])

    def body(c):
        active = ~c["done"]
        x = c["x1"] + c["t"] * (c["x2"] - c["x1"])
        fx = f(x, theta)
        j = jnp.sign(fx) == jnp.sign(c["f1"])
        x3 = jnp.where(j, c["x1"], c["x2"])
        f3 = jnp.where(j, c["f1"], c["f2"])
        x2 = jnp.where(j, c["x2"], c["x1"])
        f2 = jnp.where(j, c["f2"], c["f1"])
        x1, f1 = x, fx

        small1 = jnp.abs(f1) < jnp.abs(f2)
        xm = jnp.where(small1, x1, x2)
        fm = jnp.where(small1, f1, f2)
        tol = jnp.abs(xm) * xrtol + xatol
        dx = jnp.abs(x2 - x1)
        conv = (dx < tol) | (fm == 0)
        bad = ~jnp.isfinite(fx)

        # Inverse quadratic interpolation when Chandrupatla's test says the three
        # points make it safe; bisection otherwise.
        xi = (x1 - x2) / (x3 - x2)
        ph = (f1 - f2) / (f3 - f2)
        use_iqi = ((1.0 - jnp.sqrt(jnp.abs(1.0 - xi))) < ph) & (ph < jnp.sqrt(jnp.abs(xi)))
        al = (x3 - x1) / (x2 - x1)
        t_iqi = f1 / (f1 - f2) * f3 / (f3 - f2) - al * f1 / (f3 - f1) * f2 / (f2 - f3)
        t = jnp.where(use_iqi & jnp.isfinite(t_iqi), t_iqi, half)
        tl = jnp.minimum(half * tol / jnp.where(dx > 0, dx, 1.0), half)
        t = jnp.clip(t, tl, 1.0 - tl)

        def keep(new, old):
            return jnp.where(active, new, old)

        return dict(x1=keep(x1, c["x1"]), f1=keep(f1, c["f1"]),
                    x2=keep(x2, c["x2"]), f2=keep(f2, c["f2"]),
                    x3=keep(x3, c["x3"]), f3=keep(f3, c["f3"]),
                    t=keep(t, c["t"]),
                    done=c["done"] | conv | bad,
                    bad=c["bad"] | (active & bad),
                    it=c["it"] + 1)

    c = lax.while_loop(cond, body, carry)
    small1 = jnp.abs(c["f1"]) < jnp.abs(c["f2"])
    return jnp.where(small1, c["x1"], c["x2"]), c["bad"], c["done"]


#: lanes below which a compacted solve is not attempted (nothing to gain)
_COMPACT_MIN_LANES = 256


def _iterate_compacted(f, max_iter, theta, shape, x1, f1, x2, f2, done, fraction):
    """:func:`_iterate` on only the lanes that need it.

    The lanes not ``done`` are gathered (``jnp.nonzero`` with a static size) into
    buffers of ``ceil(fraction·n)`` lanes, iterated there and scattered back, so a
    solve whose lanes are mostly settled at the bracket ends (the infimum
    thresholds: corners on most lanes) costs iterations on those few lanes only,
    not on the whole batch.  When more lanes need iterating than fit, the
    full-width iteration runs instead (``lax.cond``), so results never depend on
    ``fraction``: every lane sees exactly the arithmetic of the full iteration.
    """
    n = math.prod(shape)
    cap = max(1, math.ceil(n * fraction))
    need = ~done.reshape(n)

    def full(_):
        x, bad, dn = _iterate(f, max_iter, theta, x1, f1, x2, f2, done)
        return x.reshape(n), bad.reshape(n), dn.reshape(n)

    def compact(_):
        idx = jnp.nonzero(need, size=cap, fill_value=n)[0]
        valid = idx < n
        safe = jnp.minimum(idx, n - 1)

        def take(v):
            return jnp.broadcast_to(v, shape).reshape(n)[safe]

        # 0-d leaves (values fixed over the batch) stay 0-d
        th = jax.tree_util.tree_map(lambda v: v if jnp.ndim(v) == 0 else take(v), theta)
        x, bad, dn = _iterate(f, max_iter, th, take(x1), take(f1), take(x2), take(f2), ~valid)
        xs = jnp.full((n,), jnp.nan, x1.dtype).at[idx].set(x, mode="drop")
        bads = jnp.zeros((n,), bool).at[idx].set(bad, mode="drop")
        dns = jnp.ones((n,), bool).at[idx].set(dn, mode="drop")
        return xs, bads, dns

    x, bad, dn = lax.cond(jnp.sum(need) > cap, full, compact, None)
    return x.reshape(shape), bad.reshape(shape), dn.reshape(shape)


def _chandrupatla(f, mode, max_iter, compact, lo, hi, theta, mask, ends):
    """Primal solve; returns (x, status).  See the module docstring."""
    shape, x1, f1, x2, f2, status, x_init, done = _init(f, mode, lo, hi, theta, mask, ends)
    if compact is not None and math.prod(shape) >= _COMPACT_MIN_LANES:
        xm, bad, converged = _iterate_compacted(f, max_iter, theta, shape, x1, f1, x2, f2, done, compact)
    else:
        xm, bad, converged = _iterate(f, max_iter, theta, x1, f1, x2, f2, done)
    solving = ~done                      # lanes that entered the iteration
    x = jnp.where(solving, xm, x_init)
    status = jnp.where(solving & bad, st.NONFINITE, status)
    status = jnp.where(solving & ~converged, st.MAX_ITER, status)
    x = jnp.where(status == st.NONFINITE, jnp.nan, x)
    x = jnp.where(status == st.NO_SIGN_CHANGE, jnp.nan, x)
    return x, status.astype(jnp.int8)


@partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2, 3))
def _solve(f, mode, max_iter, compact, lo, hi, theta, mask, ends):
    return _chandrupatla(f, mode, max_iter, compact, lo, hi, theta, mask, ends)


@_solve.defjvp
def _solve_jvp(f, mode, max_iter, compact, primals, tangents):
    lo, hi, theta, mask, ends = primals
    dlo, dhi, dtheta, _, _ = tangents
    x, status = _solve(f, mode, max_iter, compact, lo, hi, theta, mask, ends)
    # Implicit function theorem at the root: f(x(θ), θ) = 0 ⇒ dx = −f_θ·dθ / f_x.
    _, f_theta_dot = jax.jvp(lambda th: f(x, th), (theta,), (dtheta,))
    _, f_x = jax.jvp(lambda xx: f(xx, theta), (x,), (jnp.ones_like(x),))
    dx_interior = -f_theta_dot / f_x
    dlo, dhi = jnp.broadcast_to(dlo, x.shape), jnp.broadcast_to(dhi, x.shape)
    dx = jnp.where(status == st.AT_LOWER, dlo,
                   jnp.where(status == st.AT_UPPER, dhi, dx_interior))
    # A root pinned to a bracket end by f = 0 there is still an interior solution
    # of f = 0, so the implicit formula above applies to it as well.
    return (x, status), (dx, np.zeros(status.shape, dtype=jax.dtypes.float0))


def solve(f: Callable, lo, hi, theta=(), *, mode: str = "root", mask=True,
          max_iter: int | None = None, compact: float | None = None, ends=None) -> Root:
    """Solve f(x, θ) = 0 for x in [lo, hi], elementwise.

    Parameters
    ----------
    f : callable ``f(x, theta) -> array``, elementwise in x and the leaves of θ.
    lo, hi : bracket ends (arrays, broadcastable with θ's leaves).
    theta : pytree of arrays the function depends on (differentiable).
    mode : ``"root"`` for a plain root (status NO_SIGN_CHANGE when f(lo), f(hi)
        share a sign) or ``"infimum"`` for the threshold convention of docs/model.md §5
        with an increasing f (see module docstring).
    mask : boolean array; lanes where it is False are not solved (status SKIPPED,
        value NaN): pass the preconditions (admissibility) of the threshold.
    max_iter : iteration cap; default :func:`default_max_iter` of the dtype.
    compact : None, or a fraction in (0, 1]: iterate only the lanes that need it,
        gathered into a buffer of that fraction of the lanes (full width when
        more need it).  Pays when most lanes settle at the bracket ends, as the
        infimum thresholds do; the results are the same either way.
    ends : None, or (f(lo, θ), f(hi, θ)) when the caller already has them (e.g.
        from a scan that located the bracket).  The solver then evaluates f only
        inside its iteration: one call site of f in the compiled program instead
        of three, which matters when f is itself a large program (the period-1
        engagement gain nests a terminal root solve), and two evaluations fewer
        per lane.  The root does not depend on the end values' derivatives.
    """
    if mode not in ("root", "infimum"):
        raise ValueError(f"mode must be 'root' or 'infimum', not {mode!r}")
    if compact is not None and not 0.0 < float(compact) <= 1.0:
        raise ValueError(f"compact must be None or a fraction in (0, 1], not {compact!r}")
    lo = jnp.asarray(lo)
    hi = jnp.asarray(hi)
    dt = jnp.result_type(lo, hi)
    if max_iter is None:
        max_iter = default_max_iter(dt)
    x, status = _solve(f, mode, int(max_iter), None if compact is None else float(compact),
                       lo, hi, theta, jnp.asarray(mask, bool), ends)
    return Root(x, status)
