"""The deviation test the equilibrium kernels share (:mod:`kernels.deviation`): a
deviation may gain at most RTOL·(1 + |Φ|) over the candidate's payoff Φ, RTOL = 1e-9
in float64 and 1e-4 in float32 (values chosen on both sides of each bound)."""
import jax.numpy as jnp
import numpy as np

from kernels.deviation import RTOL, no_profitable_deviation


def test_bound_is_absolute_near_zero_and_relative_for_large_payoffs():
    for dtype, tol in ((jnp.float64, 1e-9), (jnp.float32, 1e-4)):
        assert RTOL[jnp.finfo(dtype).bits] == tol
        own = np.array([0.0, 0.0, 3.0, 3.0, -3.0, -3.0, 1e6, 1e6, 2.0])
        # the bound is tol·(1 + |own|): tol at 0, 4·tol at ±3 (not 3·tol, not tol)
        gain = tol * np.array([0.9, 1.1, 3.9, 4.1, 3.9, 4.1, 0.99e6, 1.01e6, np.nan])
        best = own + gain
        # the gains are far above the dtype's rounding at these payoffs, except
        # at 1e6 in float32, where the comparison is left out
        keep = np.ones(own.size, bool) if dtype == jnp.float64 else np.abs(own) < 1e3
        got = np.asarray(no_profitable_deviation(jnp.asarray(best, dtype), jnp.asarray(own, dtype)))
        want = np.array([True, False, True, False, True, False, True, False, False])
        np.testing.assert_array_equal(got[keep], want[keep], err_msg=str(dtype))


def test_scale_widens_the_band():
    own = jnp.asarray([1.0, 1.0])
    best = own + jnp.asarray([3.0e-9, 4.1e-9])          # bound 2·1e-9·(1 + 1) = 4e-9
    np.testing.assert_array_equal(np.asarray(no_profitable_deviation(best, own, scale=2.0)), [True, False])
    np.testing.assert_array_equal(np.asarray(no_profitable_deviation(best, own)), [False, False])
