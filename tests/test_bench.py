"""Smoke test of ``sweep bench`` (issue 5): tiny sizes, no timing claims.

Checks that the numpy/scipy baselines compute the same coverage_oa5 outputs as the
kernel, and that the report has its documented keys.  The benchmark itself is
not run here (benchmarks are not tests); see benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))   # benchmarks/ is a source-checkout directory, not an installed package

from benchmarks import baselines, inputs  # noqa: E402
from sweep import bench  # noqa: E402


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "r.json"
    args = argparse.Namespace(argv=["--quick", "--kernels", "coverage_oa5", "no_such_kernel",
                                    "--dtypes", "float64", "--n", "600", "--repeats", "1",
                                    "--out", str(out), "--skip", "scaling", "compile", "chunks",
                                    "cost", "iterations", "factored", "compaction", "roofline", "e2e",
                                    "engine"])
    rc = bench.cmd_bench(args)
    return rc, json.loads(out.read_text()), out.with_suffix(".md").read_text()


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
    from benchmarks.report import markdown

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
