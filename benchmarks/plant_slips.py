"""Plant plausible slips in the model and the engine, one at a time, and check that the
tests that should see each one fail.

    python benchmarks/plant_slips.py              # every slip in SLIPS (about 18 minutes on 2 cores)
    python benchmarks/plant_slips.py A4_exponent snap_band_delta   # some of them
    python benchmarks/plant_slips.py --list       # the catalogue, and the equivalent edits

Each slip is a one-line (or few-line) edit of a source file: a slipped factor, sign,
boundary, denominator, tolerance or index, as someone editing the code might make.
The script copies this checkout's ``kernels``, ``sweep`` and ``tests`` (and
``pyproject.toml``, for pytest's settings) to a temporary directory, makes the edit
there, runs the named tests with that copy first on ``PYTHONPATH`` (one process,
stopping at the first failure), and reports whether they failed.  The checkout itself
is never edited.  Exit status 1 when some slip passes its tests.

The tests named for a slip are the ones that catch it (the quickest, not the only
ones); the whole suite catches it too.  ``EQUIVALENT`` lists edits that look like
slips but cannot change any output, with the reason: no test can see them, and none
should try.  Compiled programs of the unedited kernels are shared between runs through
one persistent JAX compilation cache in the temporary directory (an edited program
has a different cache key, so it is always compiled afresh).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

P1 = ["tests/test_period1.py", "-m", "not variants"]
BOUNDS = ["tests/test_single_firm.py::test_flags_on_the_boundaries_of_A1_to_A4",
          "tests/test_coverage.py::test_flags_agree_with_reference_on_all_rows"]
NAN_STATS = ["tests/test_reduce.py::test_groups_holding_a_nan_get_nan_statistics_as_numpy_gives"]
P1EQ = ["tests/test_period1_equality.py", "tests/test_period1.py", "-m", "not variants"]
TABLES = ["tests/test_tables.py::test_reproduce_all_matches_every_published_digit"]
BEST_REPLY = ["tests/test_period1_best_response.py"]
BONUS1 = ["tests/test_bonus.py::test_period1_payoff_matches_the_reference_when_either_firm_pays",
          "tests/test_bonus.py::test_period1_bonus_equilibria_pass_the_reference_deviation_test",
          "tests/test_bonus.py::test_interior_pay_equilibria_pass_the_reference_deviation_test"]
SLOPES = ["tests/test_bonus.py::test_continuation_slopes_are_the_derivatives_of_the_selected_branch"]

#: (id, file, old text, new text, tests that fail on it)
SLIPS = [
    # admissibility (docs/model.md §3): boundaries and exponents
    ("A1_alpha_strict", "kernels/admissibility.py", "(alpha2 >= alpha1) & (pi2 <= pi1)",
     "(alpha2 > alpha1) & (pi2 <= pi1)", BOUNDS),
    ("A1_pi_strict", "kernels/admissibility.py", "(alpha2 >= alpha1) & (pi2 <= pi1)",
     "(alpha2 >= alpha1) & (pi2 < pi1)", BOUNDS),
    ("A2_closed", "kernels/admissibility.py", "ok = L[0] < 1.0", "ok = L[0] <= 1.0", BOUNDS),
    ("A2_closed_period2", "kernels/admissibility.py", "ok = ok & (Lt < 1.0)", "ok = ok & (Lt <= 1.0)", BOUNDS),
    ("A3_closed", "kernels/admissibility.py", "(s1 > s_under) & (s1 < alpha1)",
     "(s1 > s_under) & (s1 <= alpha1)", BOUNDS),
    ("A4_exponent", "kernels/admissibility.py", "ok = ok & (lam_R > _pow(a, b - 1.0))",
     "ok = ok & (lam_R > _pow(a, b))", BOUNDS),
    ("A4_b_closed", "kernels/admissibility.py", "ok = b > 1.0", "ok = b >= 1.0", BOUNDS),
    ("monotone_strict", "kernels/admissibility.py", "lam_R * pi2 >= b * _pow",
     "lam_R * pi2 > b * _pow", BOUNDS),
    ("single_firm_A4_drops_alpha2", "kernels/single_firm.py", "f_A4 = adm.A4(b, lr, a1, a2)",
     "f_A4 = adm.A4(b, lr, a1)", BOUNDS[:1]),
    # single-firm benchmark (§4)
    ("eq2_pi", "kernels/single_firm.py", "lam_R * delta * (1.0 - pi1) / (beta",
     "lam_R * delta * (1.0 - pi2) / (beta", ["tests/test_single_firm.py"]),
    ("eq3_regime", "kernels/single_firm.py", "below & (regime != NEVER)", "below & (regime == INTERIOR)",
     ["tests/test_single_firm.py"]),
    ("eq3_clip", "kernels/single_firm.py", "/ jnp.where(below, gh, 1.0), 0.0, 1.0)",
     "/ jnp.where(below, gh, 1.0), 0.0, 1.5)", ["tests/test_single_firm.py"]),
    # domains and the terminal game (§5, §7)
    ("eq8_sign", "kernels/domains.py", "+ alpha2 * (lam_R * pi2 - b * ab1))",
     "+ alpha2 * (lam_R * pi2 + b * ab1))",
     ["tests/test_terminal.py::test_delta2_is_eq8_and_its_sign_sets_the_shape_of_eta_bar"]),
    ("eq7_factor", "kernels/domains.py", "(2.0 * lam_R * delta)\n", "(lam_R * delta)\n",
     ["tests/test_coverage.py::test_reference_agrees_on_2000_admissible_vectors"]),
    ("D1_lower", "kernels/domains.py", "lower = jnp.maximum(s_und, sbb1)", "lower = jnp.minimum(s_und, sbb1)",
     ["tests/test_tables.py::test_reproduce_all_matches_every_published_digit"]),
    ("skill_floor", "kernels/primitives.py",
     "below = jnp.maximum(s + Gamma(h, pi, gamma, L) * (alpha - s), 0.0)",
     "below = jnp.maximum(s + Gamma(h, pi, gamma, L) * (alpha - s), 1e-3)",
     ["tests/test_terminal.py::test_h2_star_matches_reference"]),
    ("dM_dh_pi", "kernels/primitives.py", "return lam_R * delta * (1.0 - pi) * (s - alpha)",
     "return lam_R * delta * pi * (s - alpha)", P1),
    ("snap_band_delta", "kernels/terminal.py", "return jnp.where(jnp.abs(f) <= rtol * q.lam_R * q.delta, 0.0, f)",
     "return jnp.where(jnp.abs(f) <= rtol * q.lam_R, 0.0, f)",
     ["tests/test_terminal.py::test_snap_band_is_the_documented_one"]),
    ("profile_scale_off", "kernels/profiles.py", "return jnp.where(normalize > 0.5, 0.25 / m, jnp.ones_like(m))",
     "return jnp.where(normalize > 0.5, 0.25 / m, 0.25 * jnp.ones_like(m))",
     ["tests/test_profiles.py::test_normalization_off_gives_k_equal_one"]),
    ("root_jvp_sign", "kernels/roots.py", "    dx_interior = -f_theta_dot / f_x", "    dx_interior = f_theta_dot / f_x",
     ["tests/test_roots.py::test_implicit_derivative_interior_and_corners"]),
    # period 1 (§6)
    ("F1_4eta", "kernels/period1_search.py", "f1 = (q2.beta / (4.0 * q2.eta) * dv2 * gh * m1",
     "f1 = (q2.beta / (2.0 * q2.eta) * dv2 * gh * m1", P1),
    ("eq10_sigma_sign", "kernels/period1_search.py", "sigma = jax.nn.sigmoid(q2.beta * (xv.V - yv.V) / q2.eta)",
     "sigma = jax.nn.sigmoid(q2.beta * (yv.V - xv.V) / q2.eta)", P1),
    ("continuation_slope_half", "kernels/period1_search.py",
     "    return 0.5 * (dM_ds(s2, h2, q2.pi2, q2.delta, q2.lam_R, q2.b)",
     "    return (dM_ds(s2, h2, q2.pi2, q2.delta, q2.lam_R, q2.b)", P1),
    ("continuation_dh_sign", "kernels/period1_search.py",
     "    dh = jnp.where(interior, -f_s / jnp.where(interior, f_h, 1.0), 0.0)",
     "    dh = jnp.where(interior, f_s / jnp.where(interior, f_h, 1.0), 0.0)", P1),
    ("values_beta", "kernels/period1_search.py",
     "    a = M(q1.s1, x, q1.alpha1, q1.pi1, q1.delta, q1.lam_R, q1.b) + q2.beta * pi2",
     "    a = M(q1.s1, x, q1.alpha1, q1.pi1, q1.delta, q1.lam_R, q1.b) + pi2", P1),
    # the pay-bonus game (§9)
    ("F2z_bonus_sign", "kernels/bonus_terminal_game.py",
     "            * (M(s2, h, q.alpha2, q.pi2, q.delta, q.lam_R, q.b) - wz))",
     "            * (M(s2, h, q.alpha2, q.pi2, q.delta, q.lam_R, q.b) + wz))",
     ["tests/test_bonus.py::test_bonus_class_gain_matches_the_reference"]),
    ("class_choice_without_bonus", "kernels/bonus_terminal_game.py",
     "    m1 = M(s2, h1, q.alpha2, q.pi2, q.delta, q.lam_R, q.b) - omega\n",
     "    m1 = M(s2, h1, q.alpha2, q.pi2, q.delta, q.lam_R, q.b)\n",
     ["tests/test_bonus.py::test_terminal_matches_scalar_reference"]),
    ("V2_bar_without_bonus", "kernels/bonus_terminal_game.py", "    v_bar = (W(s2, q.b) + wz + q.beta",
     "    v_bar = (W(s2, q.b) + q.beta", ["tests/test_bonus.py::test_terminal_matches_scalar_reference"]),
    ("bonus_dh_sign", "kernels/bonus_terminal_game.py",
     "    dh = jnp.where(interior, -f_s / jnp.where(interior, f_h, 1.0), 0.0)\n    dpi",
     "    dh = jnp.where(interior, f_s / jnp.where(interior, f_h, 1.0), 0.0)\n    dpi", SLOPES),
    ("bonus_dv_without_W", "kernels/bonus_terminal_game.py",
     "    dv = (W_prime(s2, q.b) + q.beta * B_prime(gg, q.b) * dg_total)",
     "    dv = (q.beta * B_prime(gg, q.b) * dg_total)", SLOPES),
    # engine: reductions, rows, integrity, shards, specs
    ("nan_count_padding", "sweep/sinks/reduce.py", 'put(o + ".nan", "sum", count(mask & nan))',
     'put(o + ".nan", "sum", count(nan))',
     ["tests/test_reduce_tables.py::test_oa4_from_reductions_equals_rows_and_numpy"]),
    ("quantile_upper_rank", "sweep/sinks/reduce.py",
     'b = state[(o, g, min(k0 + 1, int(n[g]) - 1))]["value"] if t > 0 else a',
     'b = state[(o, g, k0)]["value"] if t > 0 else a',
     ["tests/test_reduce.py::test_reduction_equals_numpy_and_keeps_no_rows"]),
    ("std_denominator", "sweep/sinks/reduce.py", 'acc.get(o + ".sumsq") / np.maximum(n, 1)',
     'acc.get(o + ".sumsq") / np.maximum(n - 1, 1)',
     ["tests/test_reduce.py::test_reduction_equals_numpy_and_keeps_no_rows"]),
    ("mean_ignores_nan", "sweep/sinks/reduce.py", "                        return np.where(has_nan, np.nan, mean)",
     "                        return mean", NAN_STATS),
    ("minmax_ignore_nan", "sweep/sinks/reduce.py", 'return np.where(empty, np.nan, acc.get(f"{o}.{s}"))',
     'return np.where(n == 0, np.nan, acc.get(f"{o}.{s}"))', NAN_STATS),
    ("share_denominator", "sweep/sinks/reduce.py", "true / np.maximum(count, 1)", "true / np.maximum(count + 1, 1)",
     ["tests/test_reduce.py::test_reduction_equals_numpy_and_keeps_no_rows"]),
    ("padding_lane_valid", "sweep/compiled.py", "axis_values, structure, raw <= last, extra,",
     "axis_values, structure, raw < last, extra,",
     ["tests/test_reduce.py::test_reduction_equals_numpy_and_keeps_no_rows"]),
    ("row_index_offset", "sweep/sinks/rows.py", "index = np.arange(start, start + n, dtype=np.int64)",
     "index = np.arange(start + 1, start + n + 1, dtype=np.int64)",
     ["tests/test_sweep_engine.py::test_run_produces_every_index_once_with_correct_values"]),
    ("shard_drops_last_chunk", "sweep/plan.py", "    return range(i - 1, n_chunks, n)",
     "    return range(i - 1, n_chunks - 1, n)",
     ["tests/test_reduce.py::test_shards_give_the_same_summary_bit_for_bit"]),
    ("logspace_base", "sweep/spec.py", "np.logspace(lo, hi, n, base=10.0, dtype=np.float64)",
     "np.logspace(lo, hi, n, base=np.e, dtype=np.float64)",
     ["tests/test_sweep_spec.py::test_logspace_and_axis_order"]),
    ("integrity_skips_chunk", "sweep/integrity.py", "    if got_chunk != str(chunk):\n",
     "    if got_chunk != str(chunk) and False:\n",
     ["tests/test_integrity.py::test_part_copied_over_another_detected_and_repaired"]),
    ("integrity_shallow_always", "sweep/integrity.py", "    if out or not deep:", "    if out or deep is not None:",
     ["tests/test_integrity.py::test_random_bytes_mid_part_detected_refused_and_repaired"]),
    # second round (2026-11-30): the period-1 searches, OA.5 domains, the grid, resume, the bonus
    # games, profiles, roots, terminal derivatives and candidate counts
    ("eq11_factor", "kernels/period1.py", "lhs11 = 2.0 * beta * dpi", "lhs11 = beta * dpi", P1EQ),
    # (the golden section's bracket update, slipped here in the second round, gave way
    # to Brent's method on 2026-12-01: its bracket, stopping rule and tracked values)
    ("brent_bracket_side", "kernels/period1_search.py",
     "a = jnp.where(better & (u >= x) | worse & (u < x),", "a = jnp.where(better & (u >= x) | worse & (u > x),",
     BEST_REPLY + P1EQ),
    ("brent_stops_at_once", "kernels/period1_search.py",
     "done = st.done | (jnp.abs(x - m) <= tol2 - 0.5 * (b - a))",
     "done = st.done | (jnp.abs(x - m) <= tol2 + 0.5 * (b - a))", BEST_REPLY),
    ("brent_values_of_the_worse_point", "kernels/period1_search.py",
     "vx = _where(better, val, st.vx) if with_values else None",
     "vx = _where(worse, val, st.vx) if with_values else None", BEST_REPLY),
    ("crossing_cell_count", "kernels/period1_search.py",
     "k = jnp.minimum(jnp.sum(rank[..., None, :] < slots[:, None], axis=-1, dtype=jnp.int32), mask.shape[-1] - 1)",
     "k = jnp.minimum(jnp.sum(rank[..., None, :] <= slots[:, None], axis=-1, dtype=jnp.int32), mask.shape[-1] - 1)",
     P1EQ),
    ("parabola_vertex_sign", "kernels/period1_search.py", "0.5 * (fm - fp) / jnp.where",
     "0.5 * (fp - fm) / jnp.where",
     ["tests/test_period1_fast_parts.py::test_reply_scan_factored_matches_pairwise_sigmoid"]),
    ("two_cycle_slope_sign", "kernels/period1_search.py", "slope = (e1 - e0) / dx", "slope = (e0 - e1) / dx",
     ["tests/test_period1_fast_parts.py::test_interior_two_cycles_locates_the_lower_member_and_the_slope_of_E"]),
    ("corner_pairs_fail_sign", "kernels/period1_search.py",
     "loses = ~no_profitable_deviation(best_grid, phi_yx, scale=2.0)",
     "loses = ~no_profitable_deviation(best_grid, phi_yx, scale=-2.0)", P1EQ),
    ("order_differs_tol", "kernels/period1.py", "def _differs(a, b, tol=1e-7):", "def _differs(a, b, tol=1e-2):",
     ["tests/test_period1_fast_parts.py::test_terminal_order_matters_compares_results_to_1e_7"]),
    ("refine_end_index", "kernels/period1_search.py", "f_hi = jnp.take_along_axis(grid.F1, k + 1, axis=-1)",
     "f_hi = jnp.take_along_axis(grid.F1, k, axis=-1)", P1EQ),
    ("deviation_relative_only", "kernels/deviation.py", "* (1.0 + jnp.abs(own))", "* jnp.abs(own)",
     ["tests/test_deviation.py"]),
    ("deviation_absolute_only", "kernels/deviation.py", "* (1.0 + jnp.abs(own))", "* 1.0",
     ["tests/test_deviation.py"]),
    ("deviation_signed_payoff", "kernels/deviation.py", "* (1.0 + jnp.abs(own))", "* (1.0 + own)",
     ["tests/test_deviation.py"]),
    ("s2_next_alpha2", "kernels/period1.py", "s2_next = g(s1, h1, a1, pi1, gam, L1)",
     "s2_next = g(s1, h1, a2, pi1, gam, L1)", P1EQ),
    ("rho1_denominator", "kernels/domains.py", "width / (alpha1 - s_und), 0.0)", "width / alpha1, 0.0)", TABLES),
    ("rho1_D_lower", "kernels/domains.py", "rho1_D = jnp.clip(s1_D - lower, 0.0, safe_w)",
     "rho1_D = jnp.clip(s1_D - s_und, 0.0, safe_w)", TABLES),
    ("s1_D_inverse", "kernels/domains.py", "s1_D = g1_inverse(s2_hat, alpha1, L1)",
     "s1_D = g0_inverse(s2_hat, alpha1, pi1, gamma)", TABLES),
    ("digit_int64_order", "sweep/grid.py", "lax.rem(lax.div(idx, stride), size)", "lax.rem(lax.div(idx, size), stride)",
     ["tests/test_sweep_grid.py"]),
    ("digit_float_half", "sweep/grid.py", "(idx.astype(jnp.float64) + 0.5)", "(idx.astype(jnp.float64) + 1.0)",
     ["tests/test_sweep_grid.py"]),
    ("done_chunks_union", "sweep/run.py", "done = d if done is None else done & d",
     "done = d if done is None else done | d", ["tests/test_reduce.py", "tests/test_sweep_engine.py"]),
    ("progress_last_chunk", "sweep/plan.py", "    if last in chunks:", "    if last not in chunks:",
     ["tests/test_sweep_engine.py", "tests/test_sweep_cli.py"]),
    ("bonus_unpaid", "kernels/period1_bonus.py", "return sig * (xv.A - omega * zx) + (1.0 - sig) * yv.P",
     "return sig * xv.A + (1.0 - sig) * yv.P", BONUS1),
    ("bonus_gain_sign", "kernels/period1_bonus.py", "f = c * (m1 - wz)", "f = c * (m1 + wz)", BONUS1),
    ("bonus_rival_offer", "kernels/period1_bonus.py", "((omega * zx + xv.U) - (omega * zy + yv.U)) / eta",
     "((omega * zx + xv.U) - yv.U) / eta", BONUS1),
    ("profile_argmax", "kernels/profiles.py", "a / jnp.where(apc > 0, apc, 1.0)", "c / jnp.where(apc > 0, apc, 1.0)",
     ["tests/test_profiles.py"]),
    ("root_tolerance", "kernels/roots.py", "return 4.0 * float(fi.eps), 4.0 * float(fi.tiny)",
     "return 4.0 * float(fi.eps) ** 0.5, 4.0 * float(fi.tiny)", ["tests/test_roots.py", "tests/test_terminal.py"]),
    ("terminal_tangents_swapped", "kernels/terminal.py", "dh_da, dh_dp = lin(one, zero), lin(zero, one)",
     "dh_da, dh_dp = lin(zero, one), lin(one, zero)", ["tests/test_terminal.py"]),
    ("terminal_alternative_count", "kernels/terminal.py", "terminal_alternative=determined & (n >= 2)",
     "terminal_alternative=determined & (n > 2)",
     ["tests/test_terminal.py::test_both_corners_counted_at_the_edge_of_the_both_corners_region"]),
]

#: edits that look like slips and cannot change an output, with the reason
EQUIVALENT = [
    ("rho1_F upper clip 1 instead of |D1|", "kernels/domains.py",
     "s1^F = g0⁻¹(s̄2^D) with s̄2^D ≥ s̿2 > s̲2, so s1^F ≥ max(s̲, s̿1), the lower end of D1: "
     "α1 − s1^F never exceeds |D1| and the upper clip never binds"),
    ("quantile key without + 0.0", "sweep/sinks/reduce.py",
     "−0.0 and +0.0 then get different keys; the quantile read can differ only in the sign of a zero, "
     "which compares equal"),
    ("digit rounding margin 0.25 instead of 0.5", "sweep/grid.py",
     "for integers q and s no integer lies in ((q + 0.25)/s, (q + 0.5)/s], so both floors agree"),
    ("highest sign-changing cell instead of the lowest", "kernels/terminal.py",
     "the choice matters only with three or more interior crossings of F2 = λRδ, and none was found "
     "in 200,000 random vectors with b in (2, 6) (for b ≤ 2 the interior root is unique)"),
    ("terminal_order switch at ≥ 0.5 instead of > 0.5", "kernels/terminal.py",
     "terminal_order is a 0/1 choice; 0.5 is the midpoint of its switch, not a value with a meaning"),
    ("+ η log 2 dropped from V̄2", "kernels/period1_search.py",
     "V̄2 enters Φ1 only through differences (the sorting probability) and its derivative"),
]


def run_one(slip, work: Path, cache: Path) -> tuple[bool | None, str, float]:
    """(caught, last line of pytest's output, seconds); caught None if the edit does not apply."""
    sid, rel, old, new, tests = slip
    path = work / rel
    src = path.read_text()
    if src.count(old) != 1:
        return None, f"the text to edit occurs {src.count(old)} times in {rel}", 0.0
    path.write_text(src.replace(old, new))
    env = dict(os.environ, PYTHONPATH=str(work), JAX_COMPILATION_CACHE_DIR=str(cache))
    t = time.time()
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider",
                            "-o", "addopts=", *tests], cwd=work, env=env, capture_output=True, text=True)
    finally:
        path.write_text(src)
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    return r.returncode != 0, (lines[-1] if lines else r.stderr.strip()[-200:]), time.time() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ids", nargs="*", help="slip ids (default: all)")
    ap.add_argument("--list", action="store_true", help="print the catalogue and exit")
    a = ap.parse_args(argv)
    if a.list:
        for sid, rel, _, _, tests in SLIPS:
            print(f"{sid:30s} {rel:36s} {' '.join(tests)}")
        print("\nequivalent edits (not run):")
        for what, rel, why in EQUIVALENT:
            print(f"- {what} ({rel}): {why}")
        return 0
    known = {s[0]: s for s in SLIPS}
    bad = [i for i in a.ids if i not in known]
    if bad:
        print(f"unknown slip id(s): {', '.join(bad)} (see --list)", file=sys.stderr)
        return 2
    chosen = [known[i] for i in a.ids] if a.ids else SLIPS
    missed = []
    with tempfile.TemporaryDirectory(prefix="plant-slips-") as tmp:
        work, cache = Path(tmp) / "tree", Path(tmp) / "xla-cache"
        for d in ("kernels", "sweep", "tests"):
            shutil.copytree(REPO / d, work / d, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(REPO / "pyproject.toml", work / "pyproject.toml")
        for slip in chosen:
            caught, last, secs = run_one(slip, work, cache)
            word = {True: "caught", False: "MISSED", None: "NOT APPLIED"}[caught]
            print(f"{slip[0]:30s} {word:11s} {secs:5.0f} s  {last}", flush=True)
            if caught is not True:
                missed.append(slip[0])
    print(f"\n{len(chosen) - len(missed)} of {len(chosen)} slips caught" +
          (f"; not caught: {', '.join(missed)}" if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
