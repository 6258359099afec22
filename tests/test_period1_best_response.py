"""The best response of the fast ``period1`` kernel (:func:`kernels.period1_search.best_response`:
the best point of the 129-point grid refined by Brent's method), against an
independent maximisation of Φ1(x, y) (eq. 10) over x ∈ [0,1]: a dense scan of
4,097 points and, on a sample, scipy's bounded ``minimize_scalar`` around its best
point.  Also: the values it returns belong to the x it returns, a corner maximum is
returned as the corner itself (the probe inside an end of the grid), and an item's
answer does not depend on the other items of its batch (the loop stops when all
are done, and finished items do not move).
"""
import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize_scalar

from kernels.params import make_params
from kernels.period1 import P1_PARAMS, _broadcast_all, period1_setup
from kernels.period1_search import best_response, payoff, scan_grids, values_at

from . import reference_equilibria as ref
from .test_period1 import KEYS, PROFILE_BASE, admissible_np
from .test_period1_audit import NAMED

N_LANES = 12
#: opponents per lane: both corners and interior levels (against these the best
#: replies on random admissible lanes are nearly all corners), plus the grid point
#: at F1's first sign change, near the symmetric equilibrium h1*, where the best
#: reply is interior
YS = (0.0, 0.2, 0.45, 0.7, 1.0)
DENSE = 4097


def _setup(p):
    p = _broadcast_all(make_params(p, P1_PARAMS))
    su = period1_setup(p, P1_PARAMS)
    return su.q1, su.q2._replace(zero_first=p["terminal_order"])


def _lanes(seed=11):
    """The audit's named vectors (asymmetric pairs, interior equilibria: interior
    best replies) and random admissible draws (mostly corner best replies)."""
    named = list(NAMED.values())
    n_rand = N_LANES - len(named)
    assert n_rand > 0
    v = ref.sample_vectors(np.random.default_rng(seed), 60 * N_LANES)
    keep = np.flatnonzero(admissible_np(v))[:n_rand]
    assert keep.size == n_rand
    p = {k: jnp.asarray(np.concatenate([[d[k] for d in named], v[k][keep]])) for k in KEYS}
    p.update({k: jnp.full(N_LANES, x) for k, x in PROFILE_BASE.items()})
    return p


def _replies(p, y):
    q1, q2 = _setup(p)
    grid, _ = scan_grids(q1, q2)
    x, phi, yv, xv = best_response(y, q1, q2, grid, with_values=True)
    return x, phi, xv, values_at(x, q1, q2)


def _phi_at(p, x, y):
    """Φ1(x, y) at engagement levels x (..., K) against y (...,): eq. 10 from the
    values at both, nothing of the search."""
    q1, q2 = _setup(p)
    yv = values_at(y, q1, q2)
    xv = values_at(x, q1, q2)
    return payoff(xv, jax.tree_util.tree_map(lambda v: v[..., None], yv), q2)


def _f1(p):
    q1, q2 = _setup(p)
    return scan_grids(q1, q2)[0].F1


def _opponents(p):
    """(N_LANES, len(YS) + 1): YS and the grid point where F1 first turns negative."""
    f1 = np.asarray(jax.jit(_f1)(p))
    xs = np.linspace(0.0, 1.0, f1.shape[-1])
    k = np.argmax((f1[:, :-1] > 0.0) & (f1[:, 1:] <= 0.0), axis=-1)
    near = np.where(k > 0, xs[k], 0.5)
    return jnp.asarray(np.column_stack([np.broadcast_to(YS, (N_LANES, len(YS))), near]))


_replies_jit = jax.jit(_replies)
_phi_jit = jax.jit(_phi_at)


def test_best_response_is_the_maximum_of_the_payoff():
    p = _lanes()
    y = _opponents(p)
    x, phi, xv, xv_again = jax.tree_util.tree_map(np.asarray, _replies_jit(p, y))
    dense = np.linspace(0.0, 1.0, DENSE)
    pd = np.asarray(_phi_jit(p, jnp.broadcast_to(dense, y.shape + (DENSE,)), y))
    assert np.isfinite(pd).all() and np.isfinite(phi).all()
    best = pd.max(axis=-1)
    x_dense = dense[pd.argmax(axis=-1)]
    # never below the dense scan's best point (to rounding of Φ1), and where that
    # point is interior, within one dense cell of it
    assert (phi >= best - 1e-13 * (1.0 + np.abs(best))).all()
    interior = (x_dense > 0.0) & (x_dense < 1.0)
    corner = ~interior
    assert interior.any() and corner.any()
    assert (np.abs(x - x_dense)[interior] <= 1.0 / (DENSE - 1)).all()
    # a corner maximum is the corner itself (probe 2·tol1 inside the end of the grid)
    np.testing.assert_array_equal(x[corner], x_dense[corner])
    # the payoff and values returned are those of x
    np.testing.assert_allclose(phi, np.asarray(_phi_jit(p, jnp.asarray(x)[..., None], y))[..., 0],
                               rtol=1e-14, atol=0.0)
    # (the values XLA computes in the search's and in this program's fusions may
    # differ in the last bit)
    for a, b in zip(xv, xv_again):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=0.0)
    # scipy's bounded Brent on the dense best cell, on the interior items: the same
    # maximum
    items = list(zip(*np.nonzero(interior)))[:8]
    assert items
    for i, j in items:
        lo = max(x_dense[i, j] - 1.0 / (DENSE - 1), 0.0)
        hi = min(x_dense[i, j] + 1.0 / (DENSE - 1), 1.0)
        one = {k: v[i:i + 1] for k, v in p.items()}

        def neg(t, one=one, j=j):
            return -float(_phi_jit(one, jnp.full((1, 1), t), y[i:i + 1, j])[0, 0])

        r = minimize_scalar(neg, bounds=(lo, hi), method="bounded", options=dict(xatol=1e-11))
        # the payoff well inside the deviation tolerance (1e-9): at a smooth maximum
        # to rounding, at a kink (where h2* leaves a corner; one of these items has
        # |Φ1'| ≈ 0.01 on both sides) to |Φ1'|·BRENT_XTOL; the location only as far as
        # payoffs tell points apart (|Φ1''|·Δx²/2 below rounding: ~1e-7 where Φ1 is
        # flat at its maximum)
        assert phi[i, j] >= -r.fun - 1e-11 * (1.0 + abs(r.fun)), (i, j, phi[i, j], -r.fun)
        assert abs(r.x - x[i, j]) <= 1e-6, (i, j, r.x, x[i, j])


def test_an_items_reply_does_not_depend_on_its_batch():
    """The loop runs until every item of the batch is done, and finished items must
    not move: each lane solved alone (fewer steps) gets the bits it gets in the
    whole batch."""
    p = _lanes()
    y = _opponents(p)
    x, phi = jax.tree_util.tree_map(np.asarray, _replies_jit(p, y)[:2])
    for i in range(N_LANES):
        xi, phii = jax.tree_util.tree_map(
            np.asarray, _replies_jit({k: v[i:i + 1] for k, v in p.items()}, y[i:i + 1])[:2])
        np.testing.assert_array_equal(xi[0], x[i])
        np.testing.assert_array_equal(phii[0], phi[i])
