"""Factored evaluation in the engine (kernels.registry.Factor on cartesian grids).

A factored run evaluates the kernel's stage once per point of the sub-grid of the
axes it depends on and combines per vector; it must give the rows of the
unfactored run (exactly for ints and bools, to 1e-13 relative for floats), with
the sub-grid axes anywhere in the axis order, with no sub-grid axis at all, and
with a categorical axis among them; and compile once.

The engine's factoring knows nothing of the economics, so these tests use
``sweep_test_factored`` (tests/toy_kernels.py: a stage on (a, b, c) and a
categorical, NaN where its "threshold" does not exist, a combine on (x, y)),
checked against its numpy reference too; ``coverage_oa5``'s own factor is tested
in tests/test_coverage.py (factored = direct on a cartesian grid) and its plan on
the paper grid below.
"""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import sweep.plan
from sweep import dataset, engine
from sweep.engine import ChunkRunner, ChunkTask, factor_plan, run
from sweep.spec import parse_spec
from tests import toy_kernels
from tests.test_sweep_engine import count_compiles

FAC_FIXED = {"a": 2.0, "b": 1.0, "c": 0.5, "x": 0.5, "y": -0.3}


def fac_spec(axes: dict, fixed: dict | None = None, *, chunk_size=25, dtype="float64"):
    fixed = dict(FAC_FIXED if fixed is None else fixed)
    for name in axes:
        fixed.pop(name, None)
    return parse_spec({"kernel": toy_kernels.FACTORED, "dtype": dtype, "chunk_size": chunk_size,
                       "fixed": fixed, "axes": axes})


#: sub-grid axes (a, b, c) interleaved with the others (x, y); a·k1 < b on some rows
INTERLEAVED = {"a": [0.5, 2.5], "x": [-1.0, 0.5, 2.0], "b": [0.4, 1.0], "y": [-0.5, 1.0], "c": [0.1, 1.0, 3.0]}


def assert_matches_reference(df, spec):
    """Every row equals :func:`tests.toy_kernels.factored_expected` (floats to 1e-12
    relative in float64, 1e-5 in float32; NaN exactly where the reference has NaN)."""
    cols = {}
    for k in ("a", "b", "c", "x", "y"):
        cols[k] = df[k].to_numpy(np.float64) if k in df else np.full(len(df), spec.resolved_fixed()[k])
    if "shape" in df:
        names = df["shape"].astype(str).to_numpy()
        for t in ("k1", "k2"):
            cols[t] = np.array([toy_kernels.SHAPE.choices[n][t] for n in names])
    else:
        for t in ("k1", "k2"):
            cols[t] = np.full(len(df), spec.resolved_fixed()[t])
    want = toy_kernels.factored_expected(**cols)
    rtol = 1e-12 if spec.dtype == "float64" else 1e-5
    for name, w in want.items():
        got = df[name].to_numpy()
        if w.dtype.kind == "f":
            np.testing.assert_array_equal(np.isnan(got), np.isnan(w), err_msg=name)
            np.testing.assert_allclose(got.astype(np.float64), w, rtol=rtol, atol=rtol, equal_nan=True,
                                       err_msg=name)
        else:
            np.testing.assert_array_equal(got, w, err_msg=name)


def assert_same_rows(a, b, spec):
    """ints/bools/index/axes exactly; floats to 1e-13 relative, NaN where NaN."""
    assert list(a.columns) == list(b.columns) and len(a) == len(b) == spec.n_vectors
    assert a["index"].tolist() == list(range(spec.n_vectors))
    for o in spec.kernel_spec.outputs:
        x, y = a[o.name].to_numpy(), b[o.name].to_numpy()
        if o.kind == "float":
            assert x.dtype == y.dtype == np.dtype(spec.dtype), o.name
            np.testing.assert_array_equal(np.isnan(x), np.isnan(y), err_msg=o.name)
            np.testing.assert_allclose(x, y, rtol=1e-13, atol=0, equal_nan=True, err_msg=o.name)
        else:
            np.testing.assert_array_equal(x, y, err_msg=o.name)
    for name in spec.axis_names:
        np.testing.assert_array_equal(a[name].astype(str), b[name].astype(str))


def run_both(spec, tmp_path):
    res_f = run(spec, tmp_path / "factored", progress=False, factor=True)
    res_u = run(spec, tmp_path / "direct", progress=False, factor=False)
    df_f = dataset.read_dataset(tmp_path / "factored").sort_values("index", ignore_index=True)
    df_u = dataset.read_dataset(tmp_path / "direct").sort_values("index", ignore_index=True)
    return res_f, res_u, df_f, df_u


def test_factored_run_equals_direct_with_interleaved_sub_grid_axes(tmp_path):
    spec = fac_spec(INTERLEAVED)
    assert spec.n_vectors == 72 and spec.n_chunks == 3  # last chunk padded
    res_f, res_u, df_f, df_u = run_both(spec, tmp_path)
    assert res_f.factor_subgrid == {"axes": ["a", "b", "c"], "n_sub": 12}
    assert res_u.factor_subgrid is None
    assert_same_rows(df_f, df_u, spec)
    assert_matches_reference(df_f, spec)
    # the rows exercise the interesting cases, not only NaN/inadmissible ones
    assert df_f["admissible"].any() and (~df_f["admissible"]).any()
    assert np.isfinite(df_f["v"]).any() and np.isnan(df_f["v"]).any()
    # the manifest says how it was computed; the spec hash does not depend on it
    m_f = json.loads((tmp_path / "factored" / "_sweep.json").read_text())
    m_u = json.loads((tmp_path / "direct" / "_sweep.json").read_text())
    assert m_f["factored"] == {"axes": ["a", "b", "c"], "n_sub": 12}
    assert m_u["factored"] is None
    assert m_f["spec_hash"] == m_u["spec_hash"] == spec.hash == res_f.spec_hash


def test_factored_float32_run_equals_direct(tmp_path):
    spec = fac_spec(INTERLEAVED, dtype="float32", chunk_size=32)
    res_f, _, df_f, df_u = run_both(spec, tmp_path)
    assert res_f.factor_subgrid is not None
    assert df_f["v"].dtype == np.float32
    assert_same_rows(df_f, df_u, spec)
    assert_matches_reference(df_f, spec)


def test_all_factor_parameters_fixed_is_one_stage_point(tmp_path):
    spec = fac_spec({"x": [-1.0, 0.0, 0.5, 1.5, 2.0], "y": [-0.5, 0.25, 1.0, 3.0]}, chunk_size=8)
    plan = factor_plan(spec)  # the default decides to factor: 2·1 ≤ 20
    assert plan is not None and plan.axes == () and plan.n_sub == 1
    res_f, _, df_f, df_u = run_both(spec, tmp_path)
    assert res_f.factor_subgrid == {"axes": [], "n_sub": 1}
    assert_same_rows(df_f, df_u, spec)
    assert_matches_reference(df_f, spec)
    assert df_f["admissible"].any() and (~df_f["admissible"]).any()


def test_categorical_axis_is_a_sub_grid_axis(tmp_path):
    spec = fac_spec({"x": [-1.0, 2.0], "shape": ["flat", "wave", "steep"], "y": [-0.5, 0.0, 1.0],
                     "c": [0.5, 2.0]}, chunk_size=10)
    res_f, _, df_f, df_u = run_both(spec, tmp_path)
    assert res_f.factor_subgrid == {"axes": ["shape", "c"], "n_sub": 6}
    assert_same_rows(df_f, df_u, spec)
    assert_matches_reference(df_f, spec)
    # each choice reaches the stage: the outputs differ between choices
    assert df_f.groupby(df_f["shape"].astype(str))["w"].mean().nunique() == 3
    assert df_f["admissible"].any()


def test_second_chunk_of_a_factored_run_compiles_nothing(tmp_path):
    spec = fac_spec(INTERLEAVED, chunk_size=13)  # a chunk size no other test uses
    runner = ChunkRunner(spec)
    assert runner.plan is not None and runner.plan.n_sub == 12
    with count_compiles() as compiles:
        runner.to_arrow(runner.dispatch(0))
        first = len(compiles)
        tables = [runner.to_arrow(runner.dispatch(k)) for k in range(1, spec.n_chunks)]
    assert first >= 1 and len(compiles) == first  # last (padded) chunk included
    assert sum(t.num_rows for t in tables) == spec.n_vectors - 13

    # Another grid of the same structure (other values, a sub-grid in the same size
    # bucket) reuses both the stage and the chunk executables.
    other = fac_spec({"a": [0.7, 3.5], "x": [-2.0, 0.25, 1.0], "b": [0.2, 1.5], "y": [-1.0, 0.5],
                      "c": [0.3, 2.0, 4.0]}, chunk_size=13)
    with count_compiles() as compiles:
        res = run(other, tmp_path / "out", progress=False)
    assert res.factor_subgrid == {"axes": ["a", "b", "c"], "n_sub": 12}
    assert res.chunks_computed == 6 and len(compiles) == 0

    # ... and so does one whose axes have other lengths (the axis tables are padded
    # to a common length), with a sub-grid in the same size bucket
    longer = fac_spec({"a": [0.7, 3.5, 4.0], "x": [-2.0, 0.25, 1.0, 1.5, 3.0], "b": [0.2, 1.5], "y": [-1.0],
                       "c": [0.3, 2.0]}, chunk_size=13)
    with count_compiles() as compiles:
        res = run(longer, tmp_path / "longer", progress=False)
    assert res.factor_subgrid == {"axes": ["a", "b", "c"], "n_sub": 12} and res.chunks_computed == 5
    assert len(compiles) == 0
    assert_matches_reference(dataset.read_dataset(tmp_path / "longer"), longer)


def test_factor_plan_decisions(monkeypatch):
    spec = fac_spec(INTERLEAVED)
    assert factor_plan(spec).positions == (0, 2, 4)
    assert factor_plan(spec, False) is None
    monkeypatch.setenv(engine.FACTOR_ENV, "0")
    assert factor_plan(spec) is None and ChunkRunner(spec).plan is None
    assert factor_plan(spec, True) is not None  # an explicit argument wins
    monkeypatch.delenv(engine.FACTOR_ENV)
    # a grid made only of sub-grid axes does not pay (n_sub == n_vectors) ...
    only_sub = fac_spec({"b": [0.4, 1.0], "c": [0.1, 1.0, 3.0]})
    assert factor_plan(only_sub) is None
    # ... unless asked for
    assert factor_plan(only_sub, True).n_sub == 6
    monkeypatch.setenv(engine.FACTOR_ENV, "1")
    assert factor_plan(only_sub).n_sub == 6
    # a sub-grid past the cap is never tabulated
    monkeypatch.setattr(sweep.plan, "FACTOR_MAX_SUB", 11)
    assert factor_plan(spec) is None and factor_plan(spec, True) is None
    # kernels without a factor are never factored
    toy = parse_spec({"kernel": "sweep_test_toy", "chunk_size": 4, "fixed": {"y": 0.5},
                      "axes": {"x": [1.0, 2.0, 3.0]}})
    assert factor_plan(toy, True) is None


def test_paper_grid_plan():
    from sweep.reproduce import paper_spec

    plan = factor_plan(paper_spec("oa5"))
    assert plan.axes == ("b", "alpha2", "pi2", "phi", "gamma", "delta", "lam_R", "eta")
    assert plan.n_sub == 41472
    assert factor_plan(paper_spec("oa3")) is None  # coverage_oa4 has no factor


def test_chunk_task_carries_the_factor_setting(tmp_path):
    spec = fac_spec(INTERLEAVED)
    task = pickle.loads(pickle.dumps(ChunkTask(spec, tmp_path / "out", factor=False)))
    assert task.factor is False and task.runner().plan is None
    assert ChunkTask(spec, tmp_path / "out").runner().plan is not None
    # an old-style pickled task (no factor attribute) still works
    old = ChunkTask(spec, tmp_path / "out")
    del old.factor
    assert pickle.loads(pickle.dumps(old)).factor is None


def test_evaluate_single_vector_is_not_factored():
    spec = fac_spec({}, chunk_size=1)
    assert spec.n_vectors == 1 and factor_plan(spec) is None  # 2·1 > 1: nothing to share
    out = engine.evaluate(toy_kernels.FACTORED, FAC_FIXED)["outputs"]
    want = toy_kernels.factored_expected(*(np.float64(v) for v in (2.0, 1.0, 0.5, 1.0, 0.0, 0.5, -0.3)))
    assert out["v"] == pytest.approx(float(want["v"]), rel=1e-14) and out["admissible"] is True


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_stage_flags_and_codes_survive_the_factored_path_bit_for_bit(tmp_path, dtype):
    """The stage's bools and int8 codes travel between the stage and the chunks packed
    into 32-bit words (34 flags + 3 signed codes: two words), its floats in the run
    dtype: a factored run gives exactly the direct run's values, and in float64 both
    equal the numpy reference (flags and codes exactly, floats to rounding; in float32
    a flag's threshold may fall differently, so only factored = direct is asserted)."""
    x = np.round(np.linspace(0.05, 9.95, 41), 6)
    y = [-1.5, 0.0, 2.0]
    spec = parse_spec({"kernel": toy_kernels.PACKED, "chunk_size": 50, "dtype": dtype,
                       "axes": {"x": x.tolist(), "y": y}})
    frames = {}
    for factor in (True, False):
        res = run(spec, tmp_path / str(factor), progress=False, factor=factor)
        assert res.complete and (res.factor_subgrid is not None) == factor
        frames[factor] = dataset.read_dataset(tmp_path / str(factor)).sort_values("index", ignore_index=True)
    fac, direct = frames[True], frames[False]
    assert res.n_vectors == len(fac) == 41 * 3
    ref = toy_kernels.packed_expected(fac["x"].to_numpy(np.float64), fac["y"].to_numpy(np.float64))
    codes = np.stack([fac[f"code{j}"].to_numpy() for j in range(toy_kernels.N_CODES)])
    assert (codes < 0).any() and (codes >= 0).any()          # both signs occur
    flags = np.stack([fac[f"flag{i}"].to_numpy() for i in range(toy_kernels.N_FLAGS)])
    assert flags.any(axis=1).all() and (~flags).any(axis=1).all()  # no constant flag
    for name, want in ref.items():
        got = fac[name].to_numpy()
        np.testing.assert_array_equal(got, direct[name].to_numpy(), err_msg=name)
        if dtype == "float32":
            assert got.dtype == (np.float32 if want.dtype.kind == "f" else want.dtype), name
        elif got.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14, err_msg=name)
        else:
            np.testing.assert_array_equal(got, want, err_msg=name)


MULTI_DEVICE = r"""
import json, sys
import numpy as np
from sweep.spec import parse_spec
from sweep.engine import ChunkRunner
from sweep.kernel_modules import load_kernel_modules
load_kernel_modules()  # the toy kernels, via SWEEP_KERNEL_MODULES
spec = parse_spec(json.loads(sys.argv[1]))
a, b = ChunkRunner(spec, factor=True), ChunkRunner(spec, factor=False)
assert len(a.devices) == 3 and a.plan is not None and b.plan is None
assert a._stage_args[0]["words"].sharding.is_fully_replicated
for k in range(spec.n_chunks):
    ta, tb = a.to_arrow(a.dispatch(k)), b.to_arrow(b.dispatch(k))
    for n in ta.column_names:
        x, y = ta[n].to_numpy(), tb[n].to_numpy()
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), n
print("OK", a.plan.n_sub, spec.n_chunks)
"""


def test_factored_run_on_three_devices_equals_direct():
    """Stage batches sharded over a 3-device mesh (a count that divides nothing),
    the table replicated to every device, each device gathering for its lanes."""
    import subprocess
    import sys

    from tests.toy_kernels import REPO, subprocess_env

    axes = dict(INTERLEAVED, c=[0.1, 0.3, 0.6, 1.0, 2.0, 3.0, 5.0])
    fixed = {k: v for k, v in FAC_FIXED.items() if k not in axes}
    spec = {"kernel": toy_kernels.FACTORED, "chunk_size": 50, "fixed": fixed, "axes": axes}
    env = subprocess_env()
    env["JAX_PLATFORMS"] = "cpu"
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=3").strip()
    proc = subprocess.run([sys.executable, "-c", MULTI_DEVICE, json.dumps(spec)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "OK 28 4" in proc.stdout
