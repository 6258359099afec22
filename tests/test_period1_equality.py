"""The fast ``period1`` against ``period1_reference`` (the algorithm before the
speed-up, frozen verbatim in :mod:`kernels.period1_reference`): same verified answers.

Every output is compared: counts, statuses and flags identical; floats to 1e-9
(relative to 1 + |value|; NaN only where the other is NaN), except the location of
an asymmetric pair and the payoffs at it
(:data:`sweep.benchmarking.period1.LOOSE`, the contract the bench applies too).  Why those cannot be held
to 1e-9: one member of a pair is a best reply, which the reference locates by golden
section to ~1e-7 (the fast kernel by Brent's method to ~1.5e-8,
kernels/period1_search.py, BRENT_XTOL) and, where Φ1 is
flat below double precision near its maximum, only to the point where payoff
differences vanish in rounding.  Any change in the last bits of Φ1 moves it
there: on the named vectors below the fast kernel differs from the reference by up
to 5.1e-7 in the pair's location and 5.3e-8 in ``payoff_low`` (payoff_high, the
maximised payoff, by ≤ 8.9e-16; with golden section in both kernels the figures were
3.4e-7 and 3.6e-8).  The fast kernel
runs through ``tests.test_period1.run`` (the K-lane program that module compiles, so
no second compile of it); the reference is compiled once here, with XLA's default
options like every program of the suite.  (An earlier version compiled it at XLA's
lowest backend optimization level to save compile time and measured the reference
"differing from itself" by 2e-6 there; that was jaxlib miscompiling the terminal
root solve at that level, ``benchmarks/xla_opt_levels.py``.)  Vectors: the named vectors
of the period-1 tests and the audit (asymmetric pairs, the kink equilibrium, the
terminal-order vector under both orders), random admissible draws and random
draws outside the paper's region.  The 20,000-vector comparison is
``benchmarks/period1_equality.py``.

:func:`kernels.lane_blocks.map_compacted` (what makes the fast kernel fast) is
tested on its own on a toy phase with several blocks, padding and a slot axis.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kernels.lane_blocks import map_compacted
from kernels.period1_reference import period1_reference
from sweep.benchmarking import period1 as contract

from . import reference_equilibria as ref
from .test_period1 import ASYM_VECTORS, K, KEYS, _args, admissible_np, run
from .test_period1_audit import NAMED, ORDER_VECTOR

_REF = {}


def run_reference(p, terminal_order=None):
    args = _args(p, np.float64)
    if terminal_order is not None:
        args["terminal_order"] = jnp.asarray(terminal_order, jnp.float64)
    if "f" not in _REF:
        _REF["f"] = jax.jit(period1_reference).lower(args).compile()
    return {k: np.asarray(v) for k, v in _REF["f"](args).items()}


def run_fast(p, terminal_order=None):
    if terminal_order is None:
        return run(p)
    return run({**p, "terminal_order": terminal_order})


def disagreements(fast, slow):
    """Outputs (name → lanes) where the two kernels differ beyond the contract
    (:func:`sweep.benchmarking.period1.within_contract`, shared with the bench)."""
    assert set(fast) == set(slow)
    for k in fast:
        assert fast[k].dtype == slow[k].dtype, k
    return {k: v.tolist() for k, v in contract.disagreements(fast, slow).items()}


def batches():
    """Batches of K vectors: the named ones (padded), random admissible draws, and
    random draws of which most are outside the paper's region."""
    named = list(NAMED.values())            # the audit's vectors and ASYM_VECTORS
    out = [{k: np.array([v[k] for v in named] + [named[0][k]] * (K - len(named))) for k in KEYS}]
    rng = np.random.default_rng(2026)
    v = ref.sample_vectors(rng, 40 * K)
    keep = np.flatnonzero(admissible_np(v))
    assert keep.size >= 6 * K
    for j in range(6):
        out.append({k: v[k][keep[j * K:(j + 1) * K]] for k in KEYS})
    w = ref.sample_vectors(rng, 2 * K)
    # s1 anywhere in [0, 1] and η beyond the paper's grid: A3 fails on many rows
    w["s1"] = rng.uniform(0.0, 1.0, 2 * K)
    w["eta"] = np.exp(rng.uniform(np.log(0.01), np.log(100.0), 2 * K))
    for j in range(2):
        out.append({k: w[k][j * K:(j + 1) * K] for k in KEYS})
    return out


@pytest.fixture(scope="module")
def compared():
    res = []
    for p in batches():
        res.append((p, run_fast(p), run_reference(p)))
    return res


def test_fast_kernel_agrees_with_reference(compared):
    """Every output of every lane: flags, counts and statuses identical, floats to 1e-9."""
    n_adm = n_out = 0
    for p, fast, slow in compared:
        assert disagreements(fast, slow) == {}
        n_adm += int(slow["admissible"].sum())
        n_out += int((~slow["admissible"]).sum())
    # the comparison covered both sides of the paper's region and real equilibria
    assert n_adm >= 6 * K and n_out >= K // 2
    sym = np.concatenate([slow["n_sym_eq"] for _, _, slow in compared])
    asym = np.concatenate([slow["asym_eq"] for _, _, slow in compared])
    assert (sym >= 1).sum() > 6 * K and asym.sum() >= len(ASYM_VECTORS)


def test_second_terminal_order_solve_agrees():
    """The vector where both terminal corners are candidates (docs/model.md §5,
    "Off D2"), under both orders in one batch: the fast kernel's second solve runs
    only on flagged lanes, and its verdict ``terminal_order_matters`` and every other
    output match the reference's full second pass."""
    p = {k: np.full(K, ORDER_VECTOR[k]) for k in KEYS}
    order = np.where(np.arange(K) % 2 == 1, 1.0, 0.0)
    fast, slow = run_fast(p, order), run_reference(p, order)
    assert slow["terminal_alternative"].all()
    assert disagreements(fast, slow) == {}


def test_map_compacted_matches_full_width():
    """A toy phase (a per-item function of lane and slot arguments) on the needed
    items only, in blocks of 4 with a padded last block: the needed items get exactly
    the full-width values, the others the fill (NaN / 0 / False); ``valid`` is False
    only on padding."""
    n, s = 7, 4
    a = jnp.arange(n, dtype=jnp.float64) + 0.5                 # lane argument
    c = jnp.asarray(2.0)                                       # 0-d: fixed over the batch
    y = jnp.arange(n * s, dtype=jnp.float64).reshape(n, s)     # item argument
    need = (y.astype(jnp.int32) % 3 == 1)
    seen = []

    def phase(valid, lane, item):
        (al, cl), (yi,) = lane, item
        seen.append(valid.shape)
        return al * yi + cl, jnp.where(valid, 1, 2).astype(jnp.int8), valid

    # jitted: eagerly, each primitive of the block loop would compile on its own
    v, k, ok = jax.jit(lambda need, a, c, y: map_compacted(phase, need, (a, c), (y,), block=4))(
        need, a, c, y)
    assert seen and all(sh == (4,) for sh in seen)
    full = np.asarray(a[:, None] * y + c)
    need = np.asarray(need)
    assert 4 < need.sum() < need.size and need.sum() % 4 != 0     # several blocks, padding
    np.testing.assert_array_equal(np.asarray(v)[need], full[need])
    assert np.isnan(np.asarray(v)[~need]).all()
    assert (np.asarray(k)[need] == 1).all() and (np.asarray(k)[~need] == 0).all()
    assert np.asarray(ok)[need].all() and not np.asarray(ok)[~need].any()
    # lanes only (no slot axis)
    (w,) = jax.jit(lambda need, a: map_compacted(lambda valid, lane, item: (lane[0] * 2.0,), need,
                                                 (a,), (), block=2))(need[:, 1], a)
    np.testing.assert_array_equal(np.asarray(w)[need[:, 1]], 2.0 * np.asarray(a)[need[:, 1]])
    assert np.isnan(np.asarray(w)[~need[:, 1]]).all()
