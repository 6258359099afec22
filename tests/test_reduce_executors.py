"""Reductions under SIGKILL + resume and under the Dask executor: the summary is
identical, bit for bit, to an uninterrupted local run's."""
from __future__ import annotations

import json
import subprocess

import pyarrow.parquet as pq
import pytest

from sweep.engine import run
from sweep.spec import load_spec, parse_spec
from tests.toy_kernels import REPO, kill_mid_run, subprocess_env, sweep_cmd  # registered by conftest

SLOW_SPEC = """\
kernel = "sweep_test_slow"
chunk_size = 200
[axes]
x = { linspace = [0.5, 9.5, 8000] }

[reduce.all]
v = { stats = ["mean", "std", "min", "max"], quantiles = [0.1, 0.5, 0.9] }
pos = ["share"]
"""


def _summary(out, name="all"):
    return (out / f"summary-{name}.parquet").read_bytes()


def test_sigkill_then_resume_gives_the_same_summary_bit_for_bit(tmp_path):
    spec_path = tmp_path / "slow.toml"
    spec_path.write_text(SLOW_SPEC)
    out = tmp_path / "out"
    partials = out / "reduce" / "all"
    kill_mid_run(spec_path, out, lambda: len(list(partials.glob("part-*.parquet"))) if partials.is_dir() else 0,
                 wait=90, jitter=0.3)
    kept = len(list(partials.glob("part-*.parquet")))
    assert 3 <= kept < 40 and not (out / "summary-all.parquet").exists()

    res = subprocess.run(sweep_cmd("run", spec_path, "--out", out, "--no-progress", "--json"),
                         env=subprocess_env(), cwd=REPO, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["complete"] and doc["chunks_skipped"] >= 3 and doc["summaries"] == ["all"]
    assert [p.name for p in partials.iterdir() if p.name.startswith(".")] == []
    reference = tmp_path / "reference"
    run(load_spec(spec_path), reference, progress=False)  # uninterrupted, in this process
    assert _summary(out) == _summary(reference)


def test_dask_executor_gives_the_same_summary_bit_for_bit(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    from sweep.executor_dask import DaskExecutor

    monkeypatch.setenv("SWEEP_KERNEL_MODULES", "tests.toy_kernels")
    spec = parse_spec({"kernel": "sweep_test_toy", "chunk_size": 5, "fixed": {"y": 0.5},
                       "axes": {"mode": ["hi", "lo", "mid"], "x": {"linspace": [0.5, 9.5, 23]}},
                       "reduce": {"m": {"by": ["mode"], "where": ["!big"],
                                        "prod": {"stats": ["mean", "sum"], "quantiles": [0.25, 0.5]}}}},
                      source="toy.toml")
    local, dask = tmp_path / "local", tmp_path / "dask"
    run(spec, local, progress=False)
    res = run(spec, dask, progress=False, executor=DaskExecutor(n_workers=2))
    assert res.complete and res.summaries == ["m"]
    a, b = pq.read_table(local / "summary-m.parquet"), pq.read_table(dask / "summary-m.parquet")
    assert a.num_rows == 3 and a.equals(b) and _summary(local, "m") == _summary(dask, "m")
