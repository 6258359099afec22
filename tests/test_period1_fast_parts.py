"""The two shortcuts of the fast ``period1`` kernel, each against the computation it
replaces (docs/model.md §5 for h2*, eq. 10 for Φ1):

* :func:`kernels.period1_search.interior_solve`, the terminal game's interior root
  solved only on the lanes where neither corner of Prop. 3 holds, against the
  full-width solve of :func:`kernels.terminal.h2_prop3`: identical statuses and
  corners, roots and derivatives in s2 to rounding;
* :func:`kernels.period1_search.grid_reply_scan`, whose sigmoid of eq. 10 is
  factored into one exponential per grid point, against a numpy loop over the pairs
  written from the docstring (argmax, parabola through the three best points, clip),
  on both of its paths (factored, and the pairwise sigmoid a batch falls back to
  when β/η·ΔV̄ would overflow the exponentials).
"""
import jax
import jax.numpy as jnp
import numpy as np

from kernels import status as stc
from kernels.params import make_params
from kernels.period1 import P1_PARAMS, _broadcast_all, period1_setup
from kernels.period1_search import (_EXP_SAFE, SCAN_POINTS, ScanGrid, Values, grid_reply_scan,
                                    interior_solve)
from kernels.terminal import h2_prop3

from . import reference_equilibria as ref
from .test_period1 import KEYS, PROFILE_BASE, admissible_np


def _q2(n=8, seed=5):
    """Period-2 parameters of n random admissible vectors (the paper's ranges)."""
    v = ref.sample_vectors(np.random.default_rng(seed), 40 * n)
    keep = np.flatnonzero(admissible_np(v))[:n]
    assert keep.size == n
    p = {k: jnp.asarray(v[k][keep]) for k in KEYS}
    p.update({k: jnp.full(n, x) for k, x in PROFILE_BASE.items()})
    # jitted: run eagerly, every primitive of the setup's solves compiles on its own
    return jax.jit(_setup_q2)(p)


def _setup_q2(p):
    p = _broadcast_all(make_params(p, P1_PARAMS))
    return period1_setup(p, P1_PARAMS).q2._replace(zero_first=p["terminal_order"])


def test_interior_solve_matches_full_width_solve():
    """h2*(s2) and dh2*/ds2 on 8 lanes × 257 skills in [0, α2): the compacted solve
    gives the full-width solve's statuses and corners exactly, its roots and
    derivatives to rounding."""
    q2 = _q2()
    q = jax.tree_util.tree_map(lambda v: v[:, None], q2)
    # s2 < α2: at s2 = α2 itself h2* is NaN in both (every h is an equilibrium) and
    # its derivative is not defined; period 1 never reaches it (g(s1,h;A1) < α1 ≤ α2)
    s2 = q2.alpha2[:, None] * jnp.linspace(0.0, 0.999, 257)[None, :]

    def both(s):
        out = []
        for solver in (None, interior_solve):
            r, dr = jax.jvp(lambda x: h2_prop3(x, q, solver), (s,), (jnp.ones_like(s),))
            out.append((r.x, dr.x, r.status))
        return out

    (x_full, d_full, st_full), (x_fast, d_fast, st_fast) = jax.tree_util.tree_map(
        np.asarray, jax.jit(both)(s2))
    interior = st_full == stc.CONVERGED
    # both kinds of lanes occur, so both paths of the compacted solve are exercised
    assert 0 < interior.sum() < interior.size
    assert np.isin(st_full, [stc.AT_LOWER, stc.AT_UPPER]).any()
    np.testing.assert_array_equal(st_fast, st_full)
    # the same iterations per lane; the gathered program may round F2 differently in
    # the last bit, which moves a root by a few ulp (the solver's tolerance is 4 ulp)
    np.testing.assert_allclose(x_fast, x_full, rtol=0.0, atol=1e-14)
    np.testing.assert_allclose(d_fast, d_full, rtol=1e-10, atol=1e-14)
    corner = st_full != stc.CONVERGED
    np.testing.assert_array_equal(x_fast[corner], x_full[corner])
    assert np.isfinite(d_full[interior]).all() and (d_full[interior] != 0.0).any()


def _numpy_reply_scan(xs, A, P, V, beta, eta):
    """Best replies to every grid point by the pairwise formula of eq. 10 (numpy)."""
    n = xs.size
    dx = xs[1] - xs[0]
    r = np.empty_like(A)
    for lane in range(A.shape[0]):
        for j in range(n):
            # the logistic function as ½(1 + tanh(z/2)): no overflow at large |z|
            sigma = 0.5 * (1.0 + np.tanh(0.5 * beta[lane] * (V[lane] - V[lane, j]) / eta[lane]))
            phi = sigma * A[lane] + (1.0 - sigma) * P[lane, j]
            i = int(np.argmax(phi))
            ic = min(max(i, 1), n - 2)
            fm, f0, fp = phi[ic - 1], phi[ic], phi[ic + 1]
            den = fm - 2.0 * f0 + fp
            t = 0.5 * (fm - fp) / den if den < 0.0 else 0.0
            x = xs[ic] + min(max(t, -1.0), 1.0) * dx
            r[lane, j] = min(max(x, max(xs[i] - dx, 0.0)), min(xs[i] + dx, 1.0))
    return r


def test_reply_scan_factored_matches_pairwise_sigmoid():
    """Smooth random A, P, V̄ on the 129-point grid (6 lanes): the factored scan and,
    after one lane's η is made so small that β/η·ΔV̄ exceeds the overflow guard, the
    pairwise fallback both agree with the numpy loop (to rounding: no argmax tie)."""
    rng = np.random.default_rng(11)
    m = 6
    xs = np.linspace(0.0, 1.0, SCAN_POINTS)
    c = rng.uniform(0.2, 1.0, (m, 5))
    A = c[:, :1] + c[:, 1:2] * xs - c[:, 2:3] * xs ** 2
    P = 0.5 * c[:, :1] + 0.3 * c[:, 3:4] * xs
    V = c[:, 4:5] * (0.5 + xs - 0.4 * xs ** 2)
    beta = rng.uniform(0.8, 1.0, m)
    q2 = _q2(m)
    scan = jax.jit(lambda g, q: grid_reply_scan(g, q))
    for eta in (rng.uniform(0.2, 5.0, m), np.r_[1e-4, rng.uniform(0.2, 5.0, m - 1)]):
        w = beta[:, None] / eta[:, None] * (V - 0.5 * (V.max(1) + V.min(1))[:, None])
        factored = np.abs(w).max() <= _EXP_SAFE[64]
        q = q2._replace(beta=jnp.asarray(beta), eta=jnp.asarray(eta))
        z = jnp.zeros_like(jnp.asarray(A))
        grid = ScanGrid(jnp.asarray(xs), None,
                        Values(jnp.asarray(A), jnp.asarray(P), jnp.asarray(V), z,
                               jnp.zeros(A.shape, jnp.int8)))
        got = np.asarray(scan(grid, q))
        want = _numpy_reply_scan(xs, A, P, V, beta, eta)
        np.testing.assert_allclose(got, want, rtol=0.0, atol=1e-9)
        # the replies are not trivial: some lie strictly inside [0, 1]
        assert ((want > 0.0) & (want < 1.0)).any()
        if eta[0] == 1e-4:
            assert not factored          # the fallback path ran
        else:
            assert factored


def _numpy_two_cycles(r, xs, sep):
    """The first two cells holding the lower member of an interior 2-cycle, from
    :func:`kernels.period1_search.interior_two_cycles`'s docstring (numpy)."""
    dx = xs[1] - xs[0]
    e = np.interp(r, xs, r) - xs                 # E(y_j) = R(R(y_j)) − y_j
    d = r - xs
    found = []
    for j in range(xs.size - 1):
        change = e[j] == 0.0 or (e[j] > 0.0) != (e[j + 1] > 0.0)
        if change and d[j] > sep and d[j + 1] > sep:
            slope = (e[j + 1] - e[j]) / dx
            found.append((xs[j] + min(max(-e[j] / (e[j + 1] - e[j]), 0.0), 1.0) * dx, slope))
    return found[:2]


def test_interior_two_cycles_locates_the_lower_member_and_the_slope_of_E():
    """A steep decreasing best-reply curve R(y) = ½ + 0.45·tanh(k(½ − y)) has a
    symmetric fixed point at ½ and a 2-cycle (y, R(y)) with y near 0.05.  The scan
    reports, for that cell, the linear root y0 of E(y) = R(R(y)) − y (R interpolated
    on the grid) and E's slope there (the first secant step of the refinement moves
    by −E/slope), as the numpy loop written from the docstring does; the symmetric
    crossing at ½ is not reported; y0 is a 2-cycle and the slope E'(y0) of the
    continuous R to interpolation error."""
    from kernels.period1_search import ASYM_SEP, interior_two_cycles

    xs = np.linspace(0.0, 1.0, SCAN_POINTS)
    ks = np.array([12.0, 20.0, 40.0])
    r = 0.5 + 0.45 * np.tanh(ks[:, None] * (0.5 - xs))
    y0, slope, has = (np.asarray(v) for v in jax.jit(interior_two_cycles)(jnp.asarray(r), jnp.asarray(xs)))
    assert has[:, 0].all()
    for lane in range(ks.size):
        want = _numpy_two_cycles(r[lane], xs, ASYM_SEP)
        assert len(want) == has[lane].sum() >= 1
        for slot, (wy, ws) in enumerate(want):
            assert abs(y0[lane, slot] - wy) <= 1e-12 and abs(slope[lane, slot] - ws) <= 1e-9 * abs(ws)
        # y0 is the lower member of a 2-cycle of the continuous R, and the slope is
        # E'(y0) = (R∘R)'(y0) − 1 (about −1: R is flat where it saturates)
        R = lambda y, k=ks[lane]: 0.5 + 0.45 * np.tanh(k * (0.5 - y))  # noqa: E731
        y = y0[lane, 0]
        assert y < 0.5 - ASYM_SEP and abs(R(R(y)) - y) <= 0.02
        e_prime = (R(R(y + 1e-6)) - R(R(y - 1e-6))) / 2e-6 - 1.0
        assert abs(slope[lane, 0] - e_prime) <= 0.05, (slope[lane, 0], e_prime)


def test_terminal_order_matters_compares_results_to_1e_7():
    """``terminal_order_matters`` (:func:`kernels.period1._differs`): the two orders'
    solves differ when a count or an asymmetric flag differs, or h1*_min/max or the
    asymmetric pair moves by more than 1e-7; NaN against NaN is no difference, and
    h1*_min/max are ignored where no symmetric equilibrium was verified."""
    from kernels.period1 import _differs

    base = dict(n_sym_eq=np.array([1, 1, 1, 1, 1, 1, 0]), asym_eq=np.zeros(7, bool), n_asym_eq=np.zeros(7, np.int8),
                h1_star_min=np.full(7, 0.4), h1_star_max=np.full(7, 0.4),
                asym_high=np.full(7, np.nan), asym_low=np.full(7, np.nan))
    other = {k: v.copy() for k, v in base.items()}
    other["h1_star_max"][1] += 1e-6              # moved beyond 1e-7
    other["h1_star_min"][2] += 1e-8              # within 1e-7
    other["n_sym_eq"][3] = 2                     # another count
    other["asym_eq"][4], other["asym_high"][4], other["asym_low"][4] = True, 0.9, 0.1
    other["asym_high"][5] = 0.9                  # a pair appears in one solve only
    other["h1_star_min"][6] = 0.9                # no equilibrium in either: ignored
    got = np.asarray(_differs({k: jnp.asarray(v) for k, v in base.items()},
                              {k: jnp.asarray(v) for k, v in other.items()}))
    np.testing.assert_array_equal(got, [False, True, False, True, True, True, False])
