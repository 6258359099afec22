"""Learning profiles (docs/model.md §2.1): presets, the family, normalization to max 1/4."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from kernels.profiles import BASELINE, PRESETS, ell, profile_max, profile_scale

# Jitted once per signature: called eagerly, every primitive inside the profile's
# maximum search is compiled on its own (seconds per call).
ell_jit = jax.jit(ell)
scale_jit = jax.jit(profile_scale)

# The presets written out by hand, un-normalized, as the paper prints them.
BY_HAND = {
    "pi(1-pi)": lambda p: p * (1 - p),
    "pi^0.5(1-pi)": lambda p: p ** 0.5 * (1 - p),
    "pi^1.5(1-pi)": lambda p: p ** 1.5 * (1 - p),
    "pi(1-pi)^2": lambda p: p * (1 - p) ** 2,
    "pi^2(1-pi)^2": lambda p: p ** 2 * (1 - p) ** 2,
    "(0.05+pi)(1-pi)": lambda p: (0.05 + p) * (1 - p),
    "pi^2(1-pi)": lambda p: p ** 2 * (1 - p),
    "pi": lambda p: p,
    "1-pi": lambda p: 1 - p,
    "0.05+pi(1-pi)": lambda p: 0.05 + p * (1 - p),
}


def test_all_ten_presets_present():
    assert set(PRESETS) == set(BY_HAND)
    assert BASELINE == "pi(1-pi)"


@pytest.mark.parametrize("name", sorted(BY_HAND))
def test_preset_is_hand_formula_rescaled_to_max_quarter(name):
    c = PRESETS[name]
    args = (c["ell_a"], c["ell_c"], c["ell_kappa0"], c["ell_kappa1"], c["ell_normalize"])
    grid = np.linspace(0.0, 1.0, 200001)
    mine = np.asarray(ell_jit(jnp.asarray(grid), *(jnp.asarray(a, jnp.float64) for a in args)))
    hand = BY_HAND[name](grid)
    # independent maximum: scipy bounded minimization plus the ends
    res = minimize_scalar(lambda p: -BY_HAND[name](p), bounds=(0, 1), method="bounded",
                          options={"xatol": 1e-12})
    hand_max = max(-res.fun, BY_HAND[name](0.0), BY_HAND[name](1.0))
    np.testing.assert_allclose(mine, hand * 0.25 / hand_max, rtol=1e-10, atol=1e-15)
    assert mine.max() == pytest.approx(0.25, abs=1e-10)


def test_baseline_needs_no_rescaling_exactly():
    assert float(scale_jit(1.0, 1.0, 0.0, 0.0, 1.0)) == 1.0
    p = jnp.linspace(0, 1, 11)
    np.testing.assert_array_equal(np.asarray(ell_jit(p)), np.asarray(p * (1 - p)))


def test_normalization_off_gives_k_equal_one():
    assert float(scale_jit(2.0, 1.0, 0.0, 0.0, 0.0)) == 1.0
    assert float(ell_jit(0.5, 1.0, 0.0, 0.0, 0.0, 0.0)) == 0.5


def test_family_with_kappa1_matches_scipy_maximum():
    rng = np.random.default_rng(3)
    draws = rng.uniform(0, 1, (20, 4)) * [3, 3, 0.3, 0.3]   # a, c, κ0, κ1 per row
    refs = []
    for a, c, k0, k1 in draws:
        f = lambda p: (k1 + p ** a) * (1 - p) ** c + k0  # noqa: E731
        grid = np.linspace(0, 1, 20001)
        i = np.argmax(f(grid))
        res = minimize_scalar(lambda p: -f(p), bounds=(max(0, grid[i] - 1e-4), min(1, grid[i] + 1e-4)),
                              method="bounded", options={"xatol": 1e-13})
        refs.append(max(-res.fun, f(grid).max()))
    # one batched (jitted) call for the 20 rows: the kernel's search is elementwise
    got = np.asarray(jax.jit(profile_max)(*(jnp.asarray(draws[:, j]) for j in range(4))))
    np.testing.assert_allclose(got, refs, rtol=1e-12, atol=0)


def test_profile_is_float32_clean():
    x = ell_jit(jnp.linspace(0, 1, 5, dtype=jnp.float32), jnp.float32(2.0), jnp.float32(1.0),
                jnp.float32(0.0), jnp.float32(0.05), jnp.float32(1.0))
    assert x.dtype == jnp.float32


@pytest.mark.parametrize("e", [0.0, 0.5, 1.0, 2.0, 1.5, 0.3, 3.0])
def test_power_on_the_preset_exponents(e):
    # the shortcuts 1 and x give jnp.power's values exactly, √x and x·x the correctly
    # rounded ones; a per-lane exponent and the other values take jnp.power itself
    from kernels.profiles import _power

    x = np.concatenate([[0.0, 1.0, 0.5, 1e-300], np.random.default_rng(0).random(4000)])
    want = np.asarray(jnp.power(jnp.asarray(x), e))
    got_fixed = np.asarray(jax.jit(_power)(jnp.asarray(x), jnp.asarray(e)))
    got_lane = np.asarray(jax.jit(_power)(jnp.asarray(x), jnp.full(x.shape, e)))
    np.testing.assert_array_equal(got_lane, want)
    if e in (0.5, 2.0):
        # √x and x·x are correctly rounded; XLA's pow is within an ulp of them
        np.testing.assert_array_equal(got_fixed, np.sqrt(x) if e == 0.5 else x * x)
        np.testing.assert_allclose(got_fixed, want, rtol=2.3e-16, atol=0)
    else:
        np.testing.assert_array_equal(got_fixed, want)
    assert got_fixed[0] == (1.0 if e == 0 else 0.0)   # 0^0 = 1
    x32 = jnp.asarray(x, jnp.float32)
    assert jax.jit(_power)(x32, jnp.asarray(e, jnp.float32)).dtype == jnp.float32
