"""Building blocks of the terminal pay-bonus game (kernels.bonus_terminal_game) that the
kernel tests reach only through whole equilibria: the crossing-cell search and the
compacted row evaluation.  Both are checked against plain numpy loops written here."""
import jax
import jax.numpy as jnp
import numpy as np

from kernels.bonus_terminal_game import ROOTS, _crossing_cells, compact_rows
from kernels.terminal import H_GRID


def test_crossing_cells_match_a_loop_over_the_grid():
    # rows with 0, 1, ..., many sign changes: random signs with a per-row flip rate
    rng = np.random.default_rng(7)
    rows, hs = 600, np.linspace(0.0, 1.0, H_GRID)
    rate = rng.choice([0.0, 0.01, 0.03, 0.1, 0.5], size=(rows, 1))
    flips = rng.random((rows, H_GRID)) < rate
    f = np.where(np.cumsum(flips, axis=1) % 2 == 0, 1.0, -1.0) * rng.uniform(0.1, 2.0, (rows, H_GRID))
    f[rng.random((rows, H_GRID)) < 0.02] = 0.0          # zero counts as not positive
    has, lo, hi, n = map(np.asarray, _crossing_cells(jnp.asarray(f), jnp.asarray(hs)))
    counts = []
    for r in range(rows):
        pos = f[r] > 0.0
        cells = [i for i in range(H_GRID - 1) if pos[i] != pos[i + 1]]
        counts.append(len(cells))
        assert n[r] == len(cells)
        for j in range(ROOTS):
            assert has[r, j] == (j < len(cells))
            i = cells[j] if j < len(cells) else 0       # argmax of nothing is cell 0
            assert lo[r, j] == hs[i] and hi[r, j] == hs[i + 1]
    counts = np.array(counts)
    # every case occurs: none, fewer than ROOTS, exactly ROOTS, more (overflow)
    assert (counts == 0).any() and (counts == 1).any() and (counts == ROOTS).any() and (counts > ROOTS).any()


def test_compact_rows_does_not_depend_on_the_block_size():
    rng = np.random.default_rng(3)
    n = 1000
    x = jnp.asarray(rng.uniform(0.1, 3.0, n))
    mask = jnp.asarray(rng.random(n) < 0.3)

    def fn(idx):
        v = x[idx]
        return jnp.exp(-v) * jnp.log1p(v) + v ** 1.5

    # compiled, as the kernels are (op-by-op evaluation rounds differently in the last bit)
    expect = np.where(np.asarray(mask), np.asarray(jax.jit(fn)(jnp.arange(n))), 0.0)
    assert np.asarray(mask).sum() > 0
    # one block, then blocks of 32 and of 50 rows (about 10 and 6 blocks): bit for bit
    for fraction in (1.0, 1 / 32, 0.05):
        got = np.asarray(jax.jit(lambda m: compact_rows(fn, m, fraction))(mask))
        np.testing.assert_array_equal(got, expect)
