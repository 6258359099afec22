"""Smoke test of ``sweep bench`` (the throughput benchmarks): tiny sizes, no timing claims.

Checks that the numpy/scipy baselines compute the same coverage_oa5 outputs as the
kernel, that the report has its documented keys and lands where ``--out``/``--name``
say, that bad arguments exit 2 writing nothing, and that an extra section is one
module plus one line.  The benchmark itself is not run here (benchmarks are not
tests); see benchmarks/README.md.  The installed-package run (``pip install .``,
then ``sweep bench --quick --out DIR`` from another directory) is in ``.ci/run``.
"""
from __future__ import annotations

import argparse
import json
import sys
import types

import numpy as np
import pytest

from sweep import bench
from sweep.benchmarking import baselines, inputs, sections

#: a stand-in extra section (what a new sections module defines)
EXTRA = types.ModuleType("tests_extra_bench_section")
EXTRA.NAME = "extra_probe"
EXTRA.run = lambda cfg, ctx: {"n": cfg["n"], "kernel_seen": "coverage_oa5" in ctx["doc"]["kernels"]}
EXTRA.markdown = lambda r: f"## Extra probe\n\nn = {r['n']}\n"

SKIP_ALL_BUT_BASELINES = ["scaling", "compile", "chunks", "cost", "iterations", "factored", "compaction",
                          "roofline", "e2e", "engine"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "results"
    args = argparse.Namespace(argv=["--quick", "--kernels", "coverage_oa5", "no_such_kernel",
                                    "--dtypes", "float64", "--n", "600", "--repeats", "1",
                                    "--out", str(out), "--name", "r", "--skip", *SKIP_ALL_BUT_BASELINES])
    with pytest.MonkeyPatch.context() as mp:
        # one module + one line of SECTION_MODULES is all a new section needs
        mp.setitem(sys.modules, EXTRA.__name__, EXTRA)
        mp.setattr(sections, "SECTION_MODULES", (EXTRA.__name__,))
        rc = bench.cmd_bench(args)
        md = (out / "r.md").read_text()
    return rc, json.loads((out / "r.json").read_text()), md


def test_extra_section_is_one_module_and_one_line(report):
    rc, doc, md = report
    assert doc["sections"]["extra_probe"] == {"n": 600, "kernel_seen": True}
    assert "## Extra probe" in md and "n = 600" in md


def test_default_output_is_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = argparse.Namespace(argv=["--quick", "--kernels", "no_such_kernel", "--dtypes", "float64",
                                    "--n", "16", "--skip", *SKIP_ALL_BUT_BASELINES, "baselines"])
    assert bench.cmd_bench(args) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json", "bench.md"]
    assert json.loads((tmp_path / "bench.json").read_text())["complete"] is True


@pytest.mark.parametrize("argv, message", [
    (["--n", "5"], "--n 5: must be at least 16"),
    (["--repeats", "0"], "--repeats 0: must be at least 1"),
    (["--out", "FILE"], "exists and is not a directory"),
    (["--name", "a/b"], "without directories"),
    (["--skip", "no_such_section"], "invalid choice"),
])
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "FILE").write_text("x")
    assert bench.cmd_bench(argparse.Namespace(argv=["--quick", *argv])) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FILE"]


def test_report_keys_and_agreement(report):
    rc, doc, md = report
    assert rc == 0
    for key in ("schema", "command", "environment", "peak_estimate", "config", "kernels", "baselines",
                "ratios", "targets", "seconds"):
        assert key in doc, key
    for key in ("cpu_model", "cores", "jax", "jaxlib", "numpy", "scipy", "device", "loadavg"):
        assert key in doc["environment"], key
    k = doc["kernels"]["coverage_oa5"]["dtypes"]["float64"]["throughput"]
    assert k["vectors_per_s"] > 0 and k["n"] == 600
    assert doc["kernels"]["no_such_kernel"]["available"] is False
    for name in ("bisection", "find_root", "brentq_loop"):
        b = doc["baselines"][name]
        assert b["agrees"], (name, b["agreement"])
        assert b["agreement"]["worst"] <= bench.TOLERANCES[name]
        assert f"kernel_vs_{name}" in doc["ratios"]
    assert {t["ratio"] for t in doc["targets"]} >= {"engine_vs_bisection", "engine_vs_find_root",
                                                    "engine_vs_brentq_loop",
                                                    "e2e_over_engine_kernel[float64,best]"}
    assert "## Baselines vs coverage_oa5" in md and "sweep bench" in md


def test_baselines_agree_with_each_other_on_a_grid_sample():
    # every 997th paper vector: admissible and inadmissible rows, corners included
    cols = inputs.paper_grid(inputs.PAPER_N)
    sel = np.arange(0, inputs.PAPER_N, 997)
    p = {k: v[sel] for k, v in cols.items()}
    p.update(inputs.PAPER_FIXED)
    bis = baselines.oa5_bisection(p)
    fr = baselines.oa5_find_root(p)
    loop = baselines.oa5_brentq_loop({k: (v[:100] if np.ndim(v) else v) for k, v in p.items()})
    assert bis["admissible"].any() and (~bis["admissible"]).any()
    assert baselines.compare(fr, bis)["worst"] < 1e-12
    sub = {k: v[:100] for k, v in bis.items()}
    c = baselines.compare(loop, sub)
    assert c["worst"] < 1e-12 and c["mismatches"] == 0


def test_end_to_end_section_states_the_cpu_bound(report):
    """The end-to-end table divides by the engine's kernel-only figure and shows the
    bound compute ÷ (compute + host) that shared cores put on that ratio."""
    from sweep.benchmarking.report import markdown

    eng = dict(n=1000, chunk_size=500, n_chunks=2, factored=True, vectors_per_s=10000.0,
               best_vectors_per_s=11000.0, cores_got=2.0)
    row = dict(chunk_size=500, n=1000, n_chunks=2, device="cpu", factored=True, write_cpu_seconds=0.3,
               cold_seconds=1.0, warm_seconds=0.25, warm_cpu_seconds=0.45, warm_vectors_per_s=4000.0,
               warm_bytes_on_disk=1234)
    doc = dict(report[1], engine={"float64": [eng]}, end_to_end={"float64": [row]})
    md = markdown(doc)
    line = next(ln for ln in md.splitlines() if ln.startswith("| float64 | 500 | on |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    # ÷ engine kernel-only = 4000/10000; compute CPU = 1000/10000 × 2 = 0.2 s; bound = 0.2/(0.2+0.3)
    assert cells[10] == "0.40×" and cells[11] == "0.300" and cells[12] == "0.200" and cells[13] == "0.40×"


def test_without_scipy_the_scipy_baselines_are_skipped(tmp_path, monkeypatch):
    """`pip install .` alone does not install scipy: the bench still runs (exit 0),
    with the numpy baseline, and says what it skipped.  Same sizes as the report
    fixture, so the compiled kernel is reused."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "scipy" else real(name, *a))
    args = argparse.Namespace(argv=["--quick", "--kernels", "coverage_oa5", "--dtypes", "float64",
                                    "--n", "600", "--repeats", "1", "--out", str(tmp_path),
                                    "--skip", *SKIP_ALL_BUT_BASELINES])
    assert bench.cmd_bench(args) == 0
    doc = json.loads((tmp_path / "bench.json").read_text())
    b = doc["baselines"]
    assert b["bisection"]["agrees"] and b["find_root"] is None and b["brentq_loop"] is None
    assert "scipy is not installed" in b["skipped"]
    assert "Not measured: scipy is not installed" in (tmp_path / "bench.md").read_text()
