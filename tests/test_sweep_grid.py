"""The lazy grid: flat index <-> digits <-> values, on the host and on the device."""
from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sweep.grid import Grid, device_values
from sweep.spec import parse_spec
from tests.toy_kernels import MODE, TOY


def spec_of(axes):
    return parse_spec({"kernel": TOY, "fixed": {} if "x" in axes else {"x": 1.0}, "axes": axes})


def test_last_axis_varies_fastest_matches_itertools_product():
    axes = {"x": [1.0, 2.0, 3.0], "mode": ["hi", "lo"], "y": [-1.0, 0.5]}
    grid = Grid.from_spec(spec_of(axes))
    assert grid.sizes == (3, 2, 2) and grid.strides == (4, 2, 1) and grid.n == 12
    vals = grid.values(np.arange(grid.n))
    expected = list(itertools.product(*axes.values()))
    got = list(zip(vals["x"].tolist(), vals["mode"].tolist(), vals["y"].tolist()))
    assert got == expected
    assert vals["mode"].dtype == object and vals["x"].dtype == np.float64
    assert grid.index_of(x=2.0, mode="lo", y=0.5) == 7


sizes_st = st.lists(st.integers(1, 7), min_size=1, max_size=4)


@given(sizes=sizes_st, data=st.data())
def test_flat_index_round_trip(sizes, data):
    names = ["x", "y", "c1", "mode"][: len(sizes)]
    grid = Grid(tuple(names), tuple(sizes), tuple(tuple(range(s)) for s in sizes),
                tuple(n == "mode" for n in names))
    flat = np.array(data.draw(st.lists(st.integers(0, grid.n - 1), min_size=1, max_size=20)), np.int64)
    digits = grid.unravel(flat)
    assert digits.shape == (len(flat), len(sizes))
    np.testing.assert_array_equal(grid.ravel(digits), flat)
    # digits agree with numpy's C-order unravel (last axis fastest)
    np.testing.assert_array_equal(digits, np.stack(np.unravel_index(flat, sizes), axis=-1))


def test_round_trip_with_categorical_axis_and_values():
    spec = spec_of({"mode": ["mid", "hi"], "x": {"linspace": [1, 9, 5]}, "y": [0.0, 1.0, 2.0]})
    grid = Grid.from_spec(spec)
    for i in range(grid.n):
        v = grid.values([i])
        point = {k: (a[0] if k == "mode" else float(a[0])) for k, a in v.items()}
        assert grid.index_of(**point) == i
    with pytest.raises(IndexError):
        grid.unravel([grid.n])
    with pytest.raises(IndexError):
        grid.ravel([[2, 0, 0]])
    with pytest.raises(KeyError, match="not on the grid"):
        grid.index_of(mode="lo", x=1.0, y=0.0)


def test_no_axes_is_a_single_vector():
    grid = Grid.from_spec(parse_spec({"kernel": TOY, "fixed": {"x": 1.0}}))
    assert grid.n == 1 and grid.unravel([0]).shape == (1, 0) and int(grid.ravel(np.zeros((0,), np.int64))) == 0


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_device_values_match_host(dtype):
    spec = spec_of({"x": {"logspace": [-1, 0.5, 7]}, "mode": ["lo", "mid", "hi"], "y": [-2.0, 3.0]})
    grid = Grid.from_spec(spec)
    dt = np.dtype(dtype)
    cat = np.array([[MODE.choices[c][t] for t in MODE.targets] for c in spec.axes[1].values]).astype(dt)
    axis_values = [np.asarray(spec.axes[0].values).astype(dt), cat, np.asarray(spec.axes[2].values).astype(dt)]
    idx = np.arange(grid.n, dtype=np.int64)
    f = jax.jit(device_values)
    cols = f(jnp.asarray(idx), axis_values, np.asarray(grid.sizes, np.int64), np.asarray(grid.strides, np.int64))
    host = grid.values(idx, dtype=dt)
    assert cols[0].dtype == dt and cols[1].dtype == dt
    np.testing.assert_array_equal(np.asarray(cols[0]), host["x"])
    np.testing.assert_array_equal(np.asarray(cols[2]), host["y"])
    names = list(spec.axes[1].values)
    expected_c = cat[[names.index(m) for m in host["mode"]]]
    np.testing.assert_array_equal(np.asarray(cols[1]), expected_c)


def test_device_index_arithmetic_is_int64_beyond_2_31():
    # Two axes of 2**20 and 2**19 points: flat indices reach 2**39, past int32.
    sizes = np.array([2**20, 2**19], np.int64)
    strides = np.array([2**19, 1], np.int64)
    axis_values = [jnp.arange(2**20, dtype=jnp.float64), jnp.arange(2**19, dtype=jnp.float64)]
    idx = jnp.asarray(np.array([0, 2**31 + 5, 2**39 - 1], np.int64))
    a, b = jax.jit(device_values)(idx, axis_values, sizes, strides)
    np.testing.assert_array_equal(np.asarray(a), [0, (2**31 + 5) // 2**19, 2**20 - 1])
    np.testing.assert_array_equal(np.asarray(b), [0, (2**31 + 5) % 2**19, 2**19 - 1])


@pytest.mark.parametrize("exact_float", [True, False])
def test_device_digits_match_numpy_up_to_the_float_limit(exact_float):
    # mixed radices (primes, powers of two, a long axis) and indices up to 2**50 − 1,
    # the limit of the float64 arithmetic (see sweep.grid.device_digits)
    from sweep.grid import FLOAT_DIGITS_LIMIT, device_digits

    sizes = np.array([97, 3, 7, 2 ** 20, 11, 64, 5, 13, 9], np.int64)
    strides = np.array([int(np.prod(sizes[j + 1:])) for j in range(len(sizes))], np.int64)
    n = int(np.prod(sizes))
    assert FLOAT_DIGITS_LIMIT // 2 < n <= FLOAT_DIGITS_LIMIT
    rng = np.random.default_rng(1)
    # the ends, random indices, and both sides of every multiple of every stride nearby
    near = (strides[:, None] * rng.integers(1, 50, (len(strides), 20))).ravel()
    idx = np.concatenate([np.arange(2000), n - 1 - np.arange(2000), rng.integers(0, n, 20000),
                          near - 1, near, near + 1])
    idx = np.clip(idx, 0, n - 1).astype(np.int64)
    want = np.stack([(idx // st) % sz for st, sz in zip(strides, sizes)], axis=1)
    got = jax.jit(lambda i: device_digits(i, sizes, strides, exact_float))(jnp.asarray(idx))
    assert all(g.dtype == jnp.int32 for g in got)
    np.testing.assert_array_equal(np.stack([np.asarray(g) for g in got], axis=1), want)


def test_contiguous_runs():
    from sweep.grid import contiguous_runs

    assert contiguous_runs(()) == ()
    assert contiguous_runs((0, 2, 3, 5, 6, 7)) == ((0, 0), (2, 3), (5, 7))
    assert contiguous_runs((4,)) == ((4, 4),)


@pytest.mark.parametrize("positions", [(0, 2, 3, 5, 6, 7, 8, 9), (1, 4), (0, 1, 2, 3, 4), (9,)])
@pytest.mark.parametrize("exact_float", [True, False])
def test_sub_index_matches_digit_by_digit(positions, exact_float):
    # the paper's OA.5 grid; (0, 2, 3, 5..9) is coverage_oa5's terminal sub-grid
    from sweep.grid import device_sub_index, sub_strides

    sizes = np.array([4, 3, 3, 4, 4, 3, 3, 4, 4, 6], np.int64)
    grid_strides = np.array([int(np.prod(sizes[j + 1:])) for j in range(len(sizes))], np.int64)
    subs = np.array(sub_strides(sizes, positions), np.int64)
    idx = np.arange(int(np.prod(sizes)), dtype=np.int64)
    digits = np.stack([(idx // st) % sz for st, sz in zip(grid_strides, sizes)], axis=1)
    want = digits[:, list(positions)] @ subs
    got = jax.jit(lambda i: device_sub_index(i, sizes, grid_strides, subs, positions, exact_float))(
        jnp.asarray(idx))
    assert got.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(got), want)
