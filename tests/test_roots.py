"""The bracketed root solver: accuracy against scipy, statuses, conventions,
implicit derivatives, dtypes, jit/vmap consistency."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

from kernels import status as st
from kernels.roots import solve


def cubic(x, th):
    a, c = th
    return x ** 3 + a * x - c


def test_matches_brentq_on_random_brackets():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.1, 3.0, 500)
    c = rng.uniform(0.05, 3.5, 500)
    hi = 2.0 * np.ones(500)
    r = jax.jit(lambda a, c: solve(cubic, jnp.zeros_like(a), jnp.asarray(hi), (a, c)))(a, c)
    assert np.all(np.asarray(r.status) == st.CONVERGED)
    ref = np.array([brentq(lambda x: x ** 3 + ai * x - ci, 0.0, 2.0, xtol=1e-15, rtol=8.9e-16)
                    for ai, ci in zip(a, c)])
    np.testing.assert_allclose(np.asarray(r.x), ref, rtol=0, atol=1e-14)


def test_converges_in_few_iterations():
    # Chandrupatla should beat bisection's ~50 steps by far on a smooth root.
    for n in (3, 8, 12):
        r = jax.jit(lambda a, c: solve(cubic, 0.0, 2.0, (a, c), max_iter=n))(1.0, 1.5)
        if r.status == st.CONVERGED:
            break
    assert int(r.status) == st.CONVERGED and n <= 12


def test_status_codes():
    x = jnp.array([0.5, 5.0, jnp.nan, 0.5])
    f = lambda s, th: s - th  # noqa: E731
    r = jax.jit(lambda x, m: solve(f, 0.0, 1.0, x, mask=m))(x, jnp.array([True, True, True, False]))
    np.testing.assert_array_equal(np.asarray(r.status),
                                  [st.CONVERGED, st.NO_SIGN_CHANGE, st.NONFINITE, st.SKIPPED])
    assert r.x[0] == 0.5
    assert np.all(np.isnan(np.asarray(r.x[1:])))


def test_max_iter_status_keeps_best_iterate_inside_bracket():
    r = jax.jit(lambda th: solve(lambda s, th: jnp.exp(s) - th, 0.0, 3.0, th, max_iter=2))(7.0)
    assert int(r.status) == st.MAX_ITER
    assert 0.0 <= float(r.x) <= 3.0


def test_function_that_turns_nonfinite_inside_bracket():
    # log(x - 0.3) is NaN for x < 0.3 but the ends are finite and bracket nothing
    # sensible: any NaN seen during the iteration must be reported, not hidden.
    f = lambda s, th: jnp.where(s < th, jnp.nan, s - 0.9)  # noqa: E731
    r = jax.jit(lambda th: solve(f, 0.0, 1.0, th))(0.4)
    assert int(r.status) in (st.NONFINITE,)


def test_root_exactly_at_bracket_end():
    r = jax.jit(lambda th: solve(lambda s, t: s - t, 0.0, 1.0, th))(jnp.array([0.0, 1.0]))
    np.testing.assert_array_equal(np.asarray(r.status), [st.CONVERGED, st.CONVERGED])
    np.testing.assert_array_equal(np.asarray(r.x), [0.0, 1.0])


def test_known_end_values_give_the_same_solve_with_one_call_site():
    """``ends`` = (f(lo), f(hi)): the same statuses and roots as the solve that
    evaluates the ends itself (both in one jitted program, so f rounds alike), in
    both modes, including zero-at-an-end, corner and no-sign-change lanes; and f is
    traced at one site (inside the iteration) instead of three."""
    rng = np.random.default_rng(3)
    # last three lanes: root exactly at lo = 0 (c = 0), f > 0 at both ends (c < 0),
    # f < 0 at both ends (c large)
    a = jnp.asarray(np.r_[rng.uniform(0.1, 3.0, 60), 1.0, 1.0, 1.0])
    c = jnp.asarray(np.r_[rng.uniform(0.05, 3.5, 60), 0.0, -1.0, 1010.0])
    lo, hi = jnp.zeros_like(a), jnp.full_like(a, 2.0)
    sites = {}

    def counted(name):
        def f(x, th):
            sites[name] = sites.get(name, 0) + 1
            return cubic(x, th)
        return f

    def both(a, c, mode):
        plain = solve(counted("plain"), lo, hi, (a, c), mode=mode)
        ends = (cubic(lo, (a, c)), cubic(hi, (a, c)))
        given = solve(counted("given"), lo, hi, (a, c), mode=mode, ends=ends)
        swapped = solve(cubic, lo, hi, (a, c), mode=mode, ends=ends[::-1])
        return plain, given, swapped

    for mode, other in (("root", st.NO_SIGN_CHANGE), ("infimum", st.AT_UPPER)):
        sites.clear()
        plain, given, swapped = jax.jit(both, static_argnums=2)(a, c, mode)
        assert sites == {"plain": 3, "given": 1}
        np.testing.assert_array_equal(np.asarray(given.status), np.asarray(plain.status))
        np.testing.assert_array_equal(np.asarray(given.x), np.asarray(plain.x))
        codes = set(np.asarray(plain.status).tolist())
        assert st.CONVERGED in codes and other in codes
        # the end values are read, not recomputed: swapping them changes the answer
        assert not np.array_equal(np.asarray(swapped.status), np.asarray(plain.status))


def test_infimum_conventions():
    # inf({x ∈ (0,1): x − θ ≥ 0} ∪ {1})
    th = jnp.array([-0.5, 0.0, 0.25, 1.0, 2.0])
    r = jax.jit(lambda th: solve(lambda s, t: s - t, 0.0, 1.0, th, mode="infimum"))(th)
    np.testing.assert_array_equal(np.asarray(r.status),
                                  [st.AT_LOWER, st.AT_LOWER, st.CONVERGED, st.AT_UPPER, st.AT_UPPER])
    np.testing.assert_allclose(np.asarray(r.x), [0.0, 0.0, 0.25, 1.0, 1.0], atol=1e-15)


def test_implicit_derivative_interior_and_corners():
    f = cubic
    a, c = 1.0, 1.5

    # jitted (one program each) rather than eager: op-by-op, every primitive inside
    # the solver's loops is compiled on its own, which costs seconds
    root = jax.jit(lambda a, c: solve(f, 0.0, 2.0, (a, c)).x)
    d_root = jax.jit(jax.grad(root, argnums=(0, 1)))

    x = float(root(a, c))
    # Implicit function theorem by hand: dx/dc = 1/f_x, dx/da = −x/f_x.
    fx = 3 * x ** 2 + a
    dx_da, dx_dc = d_root(a, c)
    assert dx_dc == pytest.approx(1 / fx, rel=1e-12)
    assert dx_da == pytest.approx(-x / fx, rel=1e-12)
    # and against central finite differences
    eps = 1e-6
    fd = (root(a, c + eps) - root(a, c - eps)) / (2 * eps)
    assert dx_dc == pytest.approx(float(fd), rel=1e-7)

    # at a corner the derivative is the corner's: d lo/d lo = 1, d/dθ = 0
    def corner(lo, t):
        return solve(lambda s, tt: s - tt, lo, 1.0, t, mode="infimum").x

    d_corner = jax.jit(jax.grad(corner, argnums=(0, 1)))
    assert d_corner(0.2, -1.0) == (1.0, 0.0)
    assert d_corner(0.2, 0.5)[1] == pytest.approx(1.0)


def test_float32_stays_float32_and_is_accurate():
    a = jnp.linspace(0.1, 3.0, 64, dtype=jnp.float32)
    c = jnp.linspace(0.05, 3.0, 64, dtype=jnp.float32)
    run = jax.jit(lambda a, c: solve(cubic, jnp.zeros_like(a), jnp.full_like(a, 2.0), (a, c)))
    r = run(a, c)
    assert r.x.dtype == jnp.float32
    r64 = run(a.astype(jnp.float64), c.astype(jnp.float64))
    np.testing.assert_allclose(np.asarray(r.x, np.float64), np.asarray(r64.x), atol=2e-6)
    assert np.all(np.asarray(r.status) == st.CONVERGED)


def test_batched_equals_vmap_of_scalar():
    a = jnp.linspace(0.1, 3.0, 33)
    c = jnp.linspace(0.05, 3.0, 33)

    def one(a, c):
        return solve(cubic, 0.0, 2.0, (a, c))

    batched = jax.jit(one)(a, c)
    mapped = jax.jit(jax.vmap(one))(a, c)
    np.testing.assert_array_equal(np.asarray(batched.x), np.asarray(mapped.x))
    np.testing.assert_array_equal(np.asarray(batched.status), np.asarray(mapped.status))


def test_bad_mode_is_a_programming_error():
    with pytest.raises(ValueError):
        solve(cubic, 0.0, 1.0, (1.0, 1.0), mode="sup")


def _corner_heavy_batch(n=4000, seed=3):
    """An infimum batch like the terminal thresholds: most lanes settle at a bracket
    end (the condition holds at lo, or nowhere), a few need iterating, some skipped."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.1, 3.0, n)
    c = rng.uniform(0.05, 3.5, n)
    kind = rng.random(n)
    c = np.where(kind < 0.45, -1.0, np.where(kind < 0.9, 50.0, c))  # at lo / at hi / interior
    mask = rng.random(n) > 0.05
    return jnp.asarray(a), jnp.asarray(c), jnp.asarray(mask)


@pytest.mark.parametrize("fraction", [0.125, 0.02])
def test_compacted_solve_is_bitwise_the_full_solve(fraction):
    # 0.125: the ~10% interior lanes fit the buffer; 0.02: they do not, and the
    # full-width iteration runs instead.  Either way every lane is identical.
    a, c, mask = _corner_heavy_batch()
    lo, hi = jnp.zeros_like(a), 2.0 * jnp.ones_like(a)

    def run(compact):
        return jax.jit(lambda a, c, m: solve(cubic, lo, hi, (a, c), mode="infimum", mask=m,
                                             compact=compact))(a, c, mask)

    full, comp = run(None), run(fraction)
    np.testing.assert_array_equal(np.asarray(comp.status), np.asarray(full.status))
    np.testing.assert_array_equal(np.asarray(comp.x), np.asarray(full.x))
    s = np.asarray(full.status)
    assert {st.AT_LOWER, st.AT_UPPER, st.CONVERGED, st.SKIPPED} <= set(s.tolist())


def test_compacted_solve_keeps_fixed_parameters_and_derivatives():
    # a 0-d (fixed) parameter stays 0-d in the buffer; the implicit JVP is unchanged
    a, c, mask = _corner_heavy_batch(n=1024, seed=5)
    lo, hi = jnp.zeros_like(c), 2.0 * jnp.ones_like(c)

    def x_of(c, compact):
        return solve(cubic, lo, hi, (jnp.asarray(1.5), c), mode="infimum", compact=compact).x

    for compact in (None, 0.25):
        x, dx = jax.jit(lambda c: jax.jvp(lambda c: x_of(c, compact), (c,), (jnp.ones_like(c),)))(c)
        if compact is None:
            ref_x, ref_dx = x, dx
    np.testing.assert_array_equal(np.asarray(x), np.asarray(ref_x))
    np.testing.assert_array_equal(np.asarray(dx), np.asarray(ref_dx))
    # vmap over rows of a batch: compaction per row, same numbers
    rows = jax.jit(jax.vmap(lambda cc: x_of(cc, 0.25), in_axes=0))
    lo, hi = jnp.zeros((512,)), 2.0 * jnp.ones((512,))
    np.testing.assert_array_equal(np.asarray(rows(c.reshape(2, 512))).ravel(), np.asarray(ref_x))


def test_bad_compact_fraction_is_a_programming_error():
    with pytest.raises(ValueError, match="compact"):
        solve(cubic, 0.0, 2.0, (1.0, 1.0), compact=0.0)
    with pytest.raises(ValueError, match="compact"):
        solve(cubic, 0.0, 2.0, (1.0, 1.0), compact=1.5)
