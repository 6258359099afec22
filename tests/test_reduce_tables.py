"""Tables OA4/OA5 from on-device reductions equal the tables from rows.

One run of a refined paper grid (3 points per axis: 59,049 vectors) keeps both
rows and the reductions of :data:`sweep.tables.REDUCE_OA45`; the tables read from
the summaries must equal those summarized from the rows with SQL (quantiles and
counts exactly, means to 1e-12 relative), and both must equal a numpy reference
computed from the rows read with pandas (``numpy.quantile(method="linear")``).
"""
from __future__ import annotations

import numpy as np
import pytest

from sweep.dataset import read_dataset
from sweep.engine import run
from sweep.reproduce import paper_spec
from sweep.tables import compare, render, summarize, summarize_reductions


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    out = tmp_path_factory.mktemp("oa5k3")
    spec = paper_spec("oa5", 3, reduce=True, rows=True)
    res = run(spec, out, progress=False)
    assert res.complete and sorted(res.summaries) == ["oa_admissible", "oa_by_eta", "oa_rho1"]
    return out


def _same(a, b, key):
    assert (a is None) == (b is None), key
    if a is not None:
        assert a == pytest.approx(b, rel=1e-12, abs=0), key


def test_oa4_from_reductions_equals_rows_and_numpy(both):
    red, rows = summarize_reductions(both, "oa4"), summarize(both, "oa4")
    assert red["source"] == "reductions"
    for k in ("n_vectors", "n_admissible", "n_nonempty"):
        assert red[k] == rows[k]
    r, s = red["rows"][0], rows["rows"][0]
    for k in ("p10_rho1", "median_rho1", "p90_rho1"):
        assert r[k] == s[k], k  # exact quantiles on both sides
    for k in ("nonempty_D1", "mean_rho1"):
        _same(r[k], s[k], k)
    df = read_dataset(both, columns=["admissible", "D1_nonempty", "rho1"])
    sel = df[df.admissible & df.D1_nonempty]["rho1"].to_numpy()
    assert sel.size > 1000 and not np.isnan(sel).any()
    assert [r["p10_rho1"], r["median_rho1"], r["p90_rho1"]] == list(np.quantile(sel, [0.1, 0.5, 0.9]))
    assert r["mean_rho1"] == pytest.approx(sel.mean(), rel=1e-12)
    assert render(red, published=True) == render(dict(rows, rows=[dict(s)]), published=True)


def test_oa5_from_reductions_equals_rows_and_numpy(both):
    red, rows = summarize_reductions(both, "oa5"), summarize(both, "oa5")
    assert [r["eta"] for r in red["rows"]] == [r["eta"] for r in rows["rows"]] and len(red["rows"]) == 3
    df = read_dataset(both, columns=["eta", "admissible", "D1_nonempty", "rho1_D", "rho1_F"])
    df = df[df.admissible & df.D1_nonempty]
    for r, s in zip(red["rows"], rows["rows"]):
        assert r["n"] == s["n"] > 0
        assert r["median_sum"] == s["median_sum"]
        for k in ("mean_rho1_D", "mean_rho1_F", "mean_sum"):
            _same(r[k], s[k], k)
        g = df[df.eta == r["eta"]]
        total = (g.rho1_D + g.rho1_F).to_numpy()
        assert r["median_sum"] == np.quantile(total, 0.5)
        assert r["mean_sum"] == pytest.approx(total.mean(), rel=1e-12)
    # printed cells are the same whichever way the table was computed
    a, b = compare("oa5", red["rows"]), compare("oa5", rows["rows"])
    assert [c["computed"] for c in a["cells"]] == [c["computed"] for c in b["cells"]]


def test_factored_numpy_baseline_prints_the_same_tables(both):
    """The bench's factored numpy baseline (numpy + scipy, no kernel code) against the
    reductions on the same K = 3 grid: every printed cell and count identical, and a
    changed cell is caught."""
    import copy

    from sweep.benchmarking.factored_numpy import compare_tables, oa45_tables

    base = oa45_tables(3)
    ours = {t: summarize_reductions(both, t) for t in ("oa4", "oa5")}
    assert base["oa4"]["n_nonempty"] > 1000 and len(base["oa5"]["rows"]) == 3
    cmp = compare_tables(ours, base)
    assert cmp["agree"], cmp["mismatches"]
    assert cmp["cells"] == 3 + 5 + 2 + 3 * 5 and cmp["max_abs_diff"] < 1e-12
    bad = copy.deepcopy(base)
    bad["oa5"]["rows"][1]["mean_rho1_D"] += 0.002  # 0.2 pp: prints differently
    assert not compare_tables(ours, bad)["agree"]
    bad = copy.deepcopy(base)
    bad["oa4"]["n_admissible"] += 1
    assert compare_tables(ours, bad)["mismatches"] == [
        f"oa4 n_admissible: ours {ours['oa4']['n_admissible']}, baseline {bad['oa4']['n_admissible']}"]


def test_a_failed_bench_section_makes_the_bench_exit_1(tmp_path, monkeypatch, capsys):
    """A section whose own check fails (the factored_numpy section when the tables
    disagree) turns `sweep bench` into exit status 1, naming the section."""
    import argparse
    import sys
    import types

    from sweep import bench
    from sweep.benchmarking import sections

    fake = types.ModuleType("tests_failing_bench_section")
    fake.NAME = "failing_probe"
    fake.run = lambda cfg, ctx: {"failed": "tables differ: oa5 median_sum"}
    fake.markdown = lambda r: "## Failing probe\n"
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    monkeypatch.setattr(sections, "SECTION_MODULES", (fake.__name__,))
    skip = ["baselines", "scaling", "compile", "chunks", "cost", "iterations", "factored", "compaction",
            "roofline", "e2e", "engine"]
    args = argparse.Namespace(argv=["--quick", "--kernels", "no_such_kernel", "--dtypes", "float64", "--n", "16",
                                    "--out", str(tmp_path), "--skip", *skip])
    assert bench.cmd_bench(args) == 1
    assert "section failing_probe: tables differ" in capsys.readouterr().err
