"""Reductions on the device (``[reduce]``) and output selection (``outputs``).

References are numpy over the toy kernel's closed form (tests/test_sweep_toy.py),
computed apart from the engine: counts and quantiles must be equal
(``numpy.quantile(method="linear")``), sums and means within 1e-12 relative.
"""
from __future__ import annotations


import numpy as np
import pyarrow.parquet as pq
import pytest

from sweep.cli import main
from sweep.dataset import list_parts, open_summary, read_dataset
from sweep.engine import run
from sweep.spec import parse_spec

MODES = {"lo": (0.25, 1.0), "hi": (0.75, 2.0), "mid": (0.5, 1.5)}
XS = [float(v) for v in np.round(np.linspace(0.13, 9.7, 23) ** 1.1 % 9.9 + 0.05, 6)]
YS = [-2.0, -0.5, 0.0, 0.5, 1.0, 3.0]
QS = [0.0, 0.1, 0.25, 0.5, 0.9, 1.0]


def toy_spec(chunk=40, reduce=None, outputs=None):
    d = {"kernel": "sweep_test_toy", "chunk_size": chunk,
         "axes": {"x": XS, "mode": ["lo", "hi", "mid"], "y": YS},
         "reduce": reduce or {
             "by_mode": {"by": ["mode"], "where": ["!big"],
                         "prod": {"stats": ["count", "sum", "mean", "min", "max", "std"], "quantiles": QS},
                         "big": ["share"]},
             "all": {"where": [], "big": ["share", "sum"], "status": ["mean"],
                     "prod": {"stats": ["mean"], "quantiles": [0.5]}},
             "by_y_mode": {"by": ["y", "mode"], "prod": ["max"]}}}
    if outputs is not None:
        d["outputs"] = outputs
    return parse_spec(d, source="toy.toml")


def reference():
    rows = [(x, m, y, x * y * MODES[m][1] + MODES[m][0]) for x in XS for m in MODES for y in YS]
    return rows


def test_reduction_equals_numpy_and_keeps_no_rows(tmp_path):
    res = run(toy_spec(), tmp_path, progress=False)
    assert res.complete and sorted(res.summaries) == ["all", "by_mode", "by_y_mode"]
    assert not list_parts(tmp_path)  # [reduce] without outputs: no rows
    ds = open_summary(tmp_path, "by_mode")
    assert list(ds.coords["mode"].values) == ["lo", "hi", "mid"]
    rows = reference()
    checked = 0
    for m in MODES:
        v = np.array([p for x, mm, y, p in rows if mm == m and not x * y > 1.0])
        assert v.size > 10
        cell = ds.sel(mode=m)
        assert int(cell["count"]) == v.size == int(cell["count_prod"])
        assert float(cell["sum_prod"]) == pytest.approx(v.sum(), rel=1e-12)
        assert float(cell["mean_prod"]) == pytest.approx(v.mean(), rel=1e-12)
        assert float(cell["std_prod"]) == pytest.approx(v.std(), rel=1e-10)
        assert float(cell["min_prod"]) == v.min() and float(cell["max_prod"]) == v.max()
        for q in QS:
            assert float(cell[f"q{q:g}_prod"]) == np.quantile(v, q, method="linear"), (m, q)
            checked += 1
        assert float(cell["share_big"]) == 0.0
    assert checked == 18
    allr = open_summary(tmp_path, "all", pandas=True).iloc[0]
    big = np.array([x * y > 1.0 for x, m, y, p in rows])
    assert int(allr["count"]) == len(rows) and int(allr["sum_big"]) == big.sum() > 0
    assert allr["share_big"] == big.sum() / len(rows)
    assert allr["mean_status"] == pytest.approx(np.mean([x > 5 for x, m, y, p in rows]), rel=1e-12)
    assert allr["q0.5_prod"] == np.quantile([p for *_, p in rows], 0.5)
    two = open_summary(tmp_path, "by_y_mode")
    assert two["max_prod"].dims == ("y", "mode") and two["max_prod"].shape == (len(YS), 3)
    assert float(two["max_prod"].sel(y=3.0, mode="hi")) == max(p for x, m, y, p in rows if y == 3.0 and m == "hi")


def test_chunk_size_changes_nothing_beyond_rounding_and_resume_is_bitwise(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run(toy_spec(chunk=40), a, progress=False)
    run(toy_spec(chunk=7), b, progress=False)
    for name in ("by_mode", "all"):
        x, y = open_summary(a, name, pandas=True), open_summary(b, name, pandas=True)
        for c in x.columns:
            if x[c].dtype.kind == "f":
                np.testing.assert_allclose(x[c], y[c], rtol=1e-12, atol=0)
                if c.startswith(("q", "min", "max", "share")):
                    assert np.array_equal(x[c], y[c]), c
            else:
                assert (x[c] == y[c]).all(), c
    # a run that lost some partials (as after a kill) resumes to the same bytes
    before = (a / "summary-by_mode.parquet").read_bytes()
    for p in sorted((a / "reduce" / "by_mode").iterdir())[::3]:
        p.unlink()
    (a / "summary-by_mode.parquet").unlink()
    res = run(toy_spec(chunk=40), a, progress=False)
    assert 0 < res.chunks_computed < res.n_chunks
    assert (a / "summary-by_mode.parquet").read_bytes() == before


def test_shards_give_the_same_summary_bit_for_bit(tmp_path):
    one, sh = tmp_path / "one", tmp_path / "sh"
    run(toy_spec(chunk=9), one, progress=False)
    for i in (1, 2, 3):
        r = run(toy_spec(chunk=9), sh, progress=False, shard=f"{i}/3")
        assert (r.summaries is not None) == (i == 3)  # the call that completes the grid merges
    for name in ("by_mode", "all", "by_y_mode"):
        x = pq.read_table(one / f"summary-{name}.parquet")
        y = pq.read_table(sh / f"summary-{name}.parquet")
        assert x.equals(y) and x.schema.metadata == y.schema.metadata


def test_outputs_selection_keeps_only_those_columns(tmp_path):
    spec = toy_spec(outputs=["prod"])
    run(spec, tmp_path, progress=False)
    df = read_dataset(tmp_path)
    assert list(df.columns) == ["index", "x", "mode", "y", "prod"] and len(df) == len(reference())
    assert (tmp_path / "summary-by_mode.parquet").exists()
    # and from the command line, without [reduce]
    out = tmp_path / "cli"
    spec_file = tmp_path / "s.toml"
    spec_file.write_text('kernel = "sweep_test_toy"\nchunk_size = 50\n[axes]\nx = [1.0, 2.0]\ny = [0.5, 1.0]\n')
    assert main(["run", str(spec_file), "--out", str(out), "--no-progress", "--outputs", "big,status"]) == 0
    assert list(read_dataset(out).columns) == ["index", "x", "y", "big", "status"]
    assert main(["run", str(spec_file), "--out", str(tmp_path / "bad"), "--no-progress", "--outputs", "nope"]) == 2
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("reduce, key", [
    ({"r": {"nope": ["mean"]}}, "reduce.r.nope"),
    ({"r": {"where": ["prod"], "prod": ["mean"]}}, "reduce.r.where[0]"),
    ({"r": {"where": ["!nope"], "prod": ["mean"]}}, "reduce.r.where[0]"),
    ({"r": {"prod": {"quantiles": [1.5]}}}, "reduce.r.prod.quantiles[0]"),
    ({"r": {"prod": {"quantiles": [-0.1]}}}, "reduce.r.prod.quantiles[0]"),
    ({"r": {"by": ["c1"], "prod": ["mean"]}}, "reduce.r.by[0]"),
    ({"r": {"by": ["x"]}}, "reduce.r"),
    ({"r": {"prod": []}}, "reduce.r.prod"),
    ({"r": {"prod": ["median"]}}, "reduce.r.prod[0]"),
    ({"r": {"prod": ["share"]}}, "reduce.r.prod[0]"),
])
def test_bad_reduce_exits_2_naming_the_key(tmp_path, capsys, reduce, key):
    spec_file = tmp_path / "bad.toml"
    spec_file.write_text(_toml(reduce))
    out = tmp_path / "out"
    assert main(["run", str(spec_file), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"bad.toml: {key}:" in err, err
    assert not out.exists()


def _toml(reduce: dict) -> str:
    lines = ['kernel = "sweep_test_toy"', "[axes]", "x = [1.0, 2.0]", 'mode = ["lo", "hi"]']
    for name, body in reduce.items():
        lines.append(f"[reduce.{name}]")
        for k, v in body.items():
            lines.append(f"{k} = {_tv(v)}")
    return "\n".join(lines) + "\n"


def _tv(v):
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_tv(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_tv(x) for x in v) + "]"
    if isinstance(v, str):
        return f'"{v}"'
    return repr(v)


@pytest.mark.parametrize("host_gather", [True, False], ids=["host-gather", "device-gather"])
def test_quantiles_exact_through_many_narrowing_passes(tmp_path, monkeypatch, host_gather):
    """Tiny histograms and gathers force the multi-pass path (bin narrowing by key
    bits over several passes) that large grids take; results stay exact, with the
    gathered keys picked out on the host (CPU devices) or compacted on the device
    (other platforms), and each pass either gathers or histograms an output."""
    import sweep.run
    import sweep.sinks.reduce as red

    monkeypatch.setattr(sweep.run, "plan_windows", lambda *a, **k: 0)  # narrowing only (no windows)
    monkeypatch.setattr(red, "HIST_CELLS", 48)
    monkeypatch.setattr(red, "GATHER_KEYS", 2)
    monkeypatch.setattr(red, "GATHER_KEYS_HOST", 2)
    monkeypatch.setattr(red, "_host_gather", lambda runner: host_gather)
    passes, modes = [], []
    real = red.narrow_jointly
    real_part = red.ReduceSink.narrow_part

    def counted(items, *a):
        ran = real(items, *a)
        if ran:
            passes.append(tuple(s.name for s, _ in items))
        return ran

    def recorded(self, *a, **k):
        part = real_part(self, *a, **k)
        modes.append((part.quant, part.gather, part.host_gather, part.cap))
        return part

    monkeypatch.setattr(red, "narrow_jointly", counted)
    monkeypatch.setattr(red.ReduceSink, "narrow_part", recorded)
    # two quantile reductions: their narrowing passes are shared (one pass over the
    # grid serves both), so a run makes as many passes as the slower one needs
    spec = toy_spec(reduce={"q": {"by": ["mode"], "prod": {"quantiles": [0.1, 0.5, 0.77]}},
                            "all": {"prod": {"quantiles": [0.5]}}})
    run(spec, tmp_path, progress=False)
    assert len(passes) >= 3  # several passes really ran
    gathers = [m for m in modes if m[1]]
    assert gathers and any(set(m[0]) - set(m[1]) for m in modes)  # both kinds of pass ran
    assert all(m[2] == host_gather and m[3] == (0 if host_gather else 2) for m in gathers)
    assert {tuple(sorted(p)) for p in passes} == {("all", "q")}  # every pass served both
    rows = reference()
    ds = open_summary(tmp_path, "q")
    for m in MODES:
        v = np.array([p for x, mm, y, p in rows if mm == m])
        for q in (0.1, 0.5, 0.77):
            assert float(ds.sel(mode=m)[f"q{q:g}_prod"]) == np.quantile(v, q), (m, q)
    every = np.array([p for x, mm, y, p in rows])
    assert float(open_summary(tmp_path, "all")["q0.5_prod"]) == np.quantile(every, 0.5)


def test_host_gather_reads_large_ranges_in_the_first_narrowing_pass(tmp_path, monkeypatch):
    """When the host picks the keys out (CPU devices), ranges of up to
    ``GATHER_KEYS_HOST`` keys are read in the first narrowing pass instead of being
    histogrammed first: with coarse chunk histograms (HIST_CELLS = 48) and a device
    bound of 2 keys, one narrowing pass ends every rank on the host path; the device
    path needs more, and both give numpy's quantiles."""
    import sweep.run
    import sweep.sinks.reduce as red

    monkeypatch.setattr(sweep.run, "plan_windows", lambda *a, **k: 0)  # narrowing only (no windows)
    monkeypatch.setattr(red, "HIST_CELLS", 48)
    monkeypatch.setattr(red, "GATHER_KEYS", 2)
    real = red.narrow_jointly
    reduce = {"q": {"by": ["mode"], "prod": {"quantiles": [0.1, 0.5, 0.77]}}}
    rows = reference()
    counts = {}
    for host in (True, False):
        passes = []
        monkeypatch.setattr(red, "_host_gather", lambda runner, host=host: host)
        monkeypatch.setattr(red, "narrow_jointly", lambda items, *a: passes.append(1) or real(items, *a))
        out = tmp_path / str(host)
        run(toy_spec(reduce=reduce), out, progress=False)
        counts[host] = len(passes)
        ds = open_summary(out, "q")
        for m in MODES:
            v = np.array([p for x, mm, y, p in rows if mm == m])
            for q in (0.1, 0.5, 0.77):
                assert float(ds.sel(mode=m)[f"q{q:g}_prod"]) == np.quantile(v, q), (host, m, q)
    # narrow_jointly is called once more than it runs a pass (the call that finds no open rank)
    assert counts[True] == 2 and counts[False] > 2, counts


CHUNK_SPLIT = r"""
import json, sys
import jax
assert jax.device_count() == 3, jax.device_count()
from sweep.dataset import open_summary
from sweep.engine import run
from sweep.kernel_modules import load_kernel_modules
from sweep.spec import parse_spec
load_kernel_modules()  # SWEEP_KERNEL_MODULES: the toy kernels
d = json.loads(sys.argv[1])
run(parse_spec(d["spec"], source="toy.toml"), d["out"], progress=False)
s = open_summary(d["out"], "by_mode", pandas=True)
print(json.dumps({"count": s["count"].tolist(), "mode": [str(m) for m in s["mode"]]}))
"""


def test_chunks_that_do_not_split_evenly_over_devices_count_each_vector_once(tmp_path):
    """Chunks of 7 vectors on 3 devices run 9 lanes: the 2 extra lanes are padding
    (masked), not the next chunk's first vectors counted twice.  A subprocess, because
    the device count is fixed when JAX starts."""
    import json
    import subprocess
    import sys

    from tests.toy_kernels import REPO, subprocess_env

    env = subprocess_env()
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=3").strip()
    spec_doc = {"kernel": "sweep_test_toy", "chunk_size": 7, "axes": {"x": XS, "mode": ["lo", "hi", "mid"], "y": YS},
                "reduce": {"by_mode": {"by": ["mode"], "where": ["!big"], "prod": ["count"]}}}
    arg = json.dumps({"spec": spec_doc, "out": str(tmp_path / "out")})
    proc = subprocess.run([sys.executable, "-c", CHUNK_SPLIT, arg], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = reference()
    want = [sum(1 for x, m, y, _ in rows if m == mode and not x * y > 1.0) for mode in got["mode"]]
    assert got["mode"] == ["lo", "hi", "mid"] and min(want) > 10
    assert got["count"] == want


@pytest.mark.parametrize("chunk,block", [(37, None), (200, 36)], ids=["tail-only", "blocks-and-tail"])
def test_groups_of_consecutive_axes_need_no_scatter_and_agree_with_it(tmp_path, monkeypatch, chunk, block):
    """`by` axes consecutive in the grid's order (mode here: stride 6, period 18)
    take the dense layout (groups as a period of the flat index); the segment
    scatter gives the same counts exactly and the same sums to rounding, with the
    grid split in chunks that do not align with the period.  With ``BLOCK`` = 36
    (2 rows of the period per block) a chunk's lanes are whole blocks, reduced in
    one variadic reduction, plus a tail; at the real ``BLOCK`` the toy grid's
    chunks are all tail.  A reduction without `by` (one group, period 1) takes the
    same path and must match numpy too."""
    import sweep.sinks.reduce as red

    if block is not None:
        monkeypatch.setattr(red, "BLOCK", block)
    stats = ["count", "sum", "mean", "min", "max"]
    reduce = {"m": {"by": ["mode"], "where": ["!big"], "prod": stats},
              "all": {"where": ["!big"], "prod": stats}}
    spec = toy_spec(chunk=chunk, reduce=reduce)
    sink = red.ReduceSink(spec, spec.reductions[0])
    assert sink.device_part.run_stride == len(YS)
    run(spec, tmp_path / "dense", progress=False)
    real = red.ReduceSink.__init__

    def scatter_only(self, *a):
        real(self, *a)
        from dataclasses import replace
        self.device_part = replace(self.device_part, run_stride=0)

    monkeypatch.setattr(red.ReduceSink, "__init__", scatter_only)
    run(spec, tmp_path / "scatter", progress=False)
    a, b = open_summary(tmp_path / "dense", "m"), open_summary(tmp_path / "scatter", "m")
    rows = reference()
    for m in MODES:
        v = np.array([p for x, mm, y, p in rows if mm == m and not x * y > 1.0])
        assert int(a.sel(mode=m)["count"]) == int(b.sel(mode=m)["count"]) == v.size > 0
        for st in ("min", "max"):
            assert float(a.sel(mode=m)[f"{st}_prod"]) == float(b.sel(mode=m)[f"{st}_prod"]) == getattr(v, st)()
        assert float(a.sel(mode=m)["sum_prod"]) == pytest.approx(v.sum(), rel=1e-13)
        assert float(a.sel(mode=m)["sum_prod"]) == pytest.approx(float(b.sel(mode=m)["sum_prod"]), rel=1e-13)
    every = np.array([p for x, mm, y, p in rows if not x * y > 1.0])
    one = open_summary(tmp_path / "dense", "all")
    assert int(one["count"]) == every.size > 0
    assert float(one["min_prod"]) == every.min() and float(one["max_prod"]) == every.max()
    assert float(one["sum_prod"]) == pytest.approx(every.sum(), rel=1e-13)


def test_groups_holding_a_nan_get_nan_statistics_as_numpy_gives(tmp_path):
    """A group whose values include a NaN gets NaN for sum, mean, min, max, std and
    every quantile (as numpy's reductions give), and ``count`` counts its non-NaN
    values; the other groups equal numpy exactly (quantiles, min, max) or to 1e-12.
    The factored test kernel's ``v`` is NaN where a·k1 < b: with b = 1, the groups
    a = 0.5 and a = 1.0 hold NaNs ("flat" k1 = 1 and "wave" k1 = 0.5), a = 2 and 3 none."""
    from tests import toy_kernels

    A, X, Y = [0.5, 1.0, 2.0, 3.0], [-1.0, -0.25, 0.4, 1.0], [0.0, 0.5]
    shapes = toy_kernels.SHAPE.choices
    spec = parse_spec({"kernel": toy_kernels.FACTORED, "chunk_size": 16,
                       "fixed": {"b": 1.0, "c": 0.5},
                       "axes": {"a": A, "shape": list(shapes), "x": X, "y": Y},
                       "reduce": {"by_a": {"by": ["a"], "v": {"stats": ["count", "sum", "mean", "min", "max", "std"],
                                                              "quantiles": QS}}}},
                      source="nan.toml")
    run(spec, tmp_path, progress=False)
    ds = open_summary(tmp_path, "by_a")
    seen = set()
    for a in A:
        v = np.array([toy_kernels.factored_expected(a, 1.0, 0.5, s["k1"], s["k2"], x, y)["v"]
                      for s in shapes.values() for x in X for y in Y], dtype=np.float64)
        has_nan = bool(np.isnan(v).any())
        seen.add(has_nan)
        cell = ds.sel(a=a)
        assert int(cell["count_v"]) == int((~np.isnan(v)).sum()), a
        for stat, want in (("sum", v.sum()), ("mean", v.mean()), ("std", v.std())):
            got = float(cell[f"{stat}_v"])
            assert np.isnan(got) if has_nan else got == pytest.approx(want, rel=1e-12, abs=1e-15), (a, stat)
        for stat, want in (("min", v.min()), ("max", v.max())):
            got = float(cell[f"{stat}_v"])
            assert np.isnan(got) if has_nan else got == want, (a, stat)
        for q in QS:
            got = float(cell[f"q{q:g}_v"])
            assert np.isnan(got) if has_nan else got == np.quantile(v, q, method="linear"), (a, q)
    assert seen == {True, False}
