"""`sweep` as a separate process: SIGKILL + resume, concurrent shards, --json, a real kernel.

These run ``python -m sweep`` (so XLA_FLAGS gives one CPU device per core and
chunks are sharded across them); the toy kernels are made visible to the
subprocess through ``SWEEP_KERNEL_MODULES``.
"""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd

from sweep import dataset
from sweep.engine import run
from sweep.spec import load_spec
from tests.toy_kernels import REPO, kill_mid_run, subprocess_env, sweep_cmd

SLOW_SPEC = """\
kernel = "sweep_test_slow"
chunk_size = 200
[axes]
x = { linspace = [0.5, 9.5, 8000] }
"""

TOY_SPEC = """\
kernel = "sweep_test_toy"
chunk_size = 6
[axes]
mode = ["lo", "mid", "hi"]
y = [-1.0, 0.0, 2.0]
x = { linspace = [0.5, 9.5, 7] }
"""


def sweep(*args, timeout=120):
    return subprocess.run(sweep_cmd(*args), env=subprocess_env(), cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def test_sigkill_then_resume_gives_each_index_once_and_identical_values(tmp_path):
    spec_path = tmp_path / "slow.toml"
    spec_path.write_text(SLOW_SPEC)
    out = tmp_path / "out"
    kill_mid_run(spec_path, out, lambda: len(dataset.list_parts(out)), wait=60, jitter=0.5)
    killed_with = len(dataset.list_parts(out))
    assert 3 <= killed_with < 40

    res = sweep("run", spec_path, "--out", out, "--no-progress", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["complete"] and doc["chunks_skipped"] >= 3 and doc["chunks_computed"] == 40 - doc["chunks_skipped"]
    leftovers = [p.name for p in [*out.iterdir(), *(out / "data").iterdir()] if p.name.startswith(".")]
    assert leftovers == []  # the killed writer's temporary file was removed

    df = pd.read_parquet(out / "data").sort_values("index", ignore_index=True)
    assert df["index"].tolist() == list(range(8000))
    reference = tmp_path / "reference"
    run(load_spec(spec_path), reference, progress=False)  # uninterrupted, in this process
    ref = dataset.read_dataset(reference)
    np.testing.assert_array_equal(df["x"], ref["x"])
    np.testing.assert_array_equal(df["v"], ref["v"])
    np.testing.assert_array_equal(df["pos"], ref["pos"])


def test_concurrent_shards_write_one_dataset(tmp_path):
    spec_path = tmp_path / "toy.toml"
    spec_path.write_text(TOY_SPEC)
    out = tmp_path / "out"
    procs = [subprocess.Popen(sweep_cmd("run", spec_path, "--out", out, "--no-progress", "--shard", f"{i}/2",
                                        "--json"),
                              env=subprocess_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for i in (1, 2)]
    docs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr
        docs.append(json.loads(stdout))
    assert sorted(d["chunks_computed"] for d in docs) == [5, 6]  # 63 vectors, 11 chunks
    spec = load_spec(spec_path)
    assert dataset.completed_chunks(out, spec.hash) == set(range(11))
    reference = tmp_path / "reference"
    run(spec, reference, progress=False)
    assert dataset.read_arrow(out).equals(dataset.read_arrow(reference))


def test_json_output_is_only_json(tmp_path):
    spec_path = tmp_path / "toy.toml"
    spec_path.write_text(TOY_SPEC)
    res = sweep("run", spec_path, "--out", tmp_path / "out", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)  # the whole of stdout is one document
    assert doc["n_vectors"] == 63 and doc["device"].startswith("cpu: ")
    assert "vec/s" not in res.stderr  # stderr is not a terminal: no progress bar

    res = sweep("eval", "sweep_test_toy", "x=2", "y=3", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["outputs"]["prod"] == 6.25

    res = sweep("run", tmp_path / "missing.toml", "--out", tmp_path / "o2", "--json")
    assert res.returncode == 2 and res.stdout == "" and "cannot read spec file" in res.stderr
    assert not (tmp_path / "o2").exists()


OA5_SPEC = """\
kernel = "coverage_oa5"
dtype = "float64"
chunk_size = 4

[fixed]
b = 1.05
alpha2 = 0.82
pi1 = 0.55
pi2 = 0.45
phi = 1.2
gamma = 0.2
lam_R = 10.0
beta = 0.95

[axes]
alpha1 = [0.55, 0.6, 0.65]
delta = [0.2, 0.25]
eta = [0.85, 1.0, 1.2]
"""

#: every coverage_oa5 quantity the reference computes for an admissible vector
OA5_QUANTITIES = ("s_under", "sbarbar2", "sbarbar1", "s2_hat_D", "s2_bar_D", "s1_D", "s1_F",
                  "rho1", "rho1_D", "rho1_F")


def test_coverage_oa5_end_to_end(tmp_path):
    """`sweep run` in a subprocess on 18 admissible vectors (monotone holds, D1 is
    nonempty, the thresholds are interior roots): every float output is finite and
    equals the independent scalar reference (tests/reference_coverage.py: plain
    floats and scipy brentq, nothing from kernels/) to 1e-10, the bound
    test_coverage.py measures on 2,500 random admissible vectors."""
    from tests.reference_coverage import reference

    spec_path = tmp_path / "oa5.toml"
    spec_path.write_text(OA5_SPEC)
    out = tmp_path / "out"
    res = sweep("run", spec_path, "--out", out, "--json", timeout=300)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["n_vectors"] == 18
    df = pd.read_parquet(out / "data").sort_values("index", ignore_index=True)
    floats = [c for c in df.columns if df[c].dtype.kind == "f" and c not in ("alpha1", "delta", "eta")]
    assert set(OA5_QUANTITIES) <= set(floats)
    assert len(df) == 18 and df["admissible"].all() and df["D1_nonempty"].all()
    assert np.isfinite(df[floats].to_numpy()).all()
    fixed = dict(b=1.05, alpha2=0.82, pi1=0.55, pi2=0.45, phi=1.2, gamma=0.2, lam_R=10.0, beta=0.95)
    interior = {"s2_hat_D": 0, "rho1_D": 0}
    for _, r in df.iterrows():
        ref = reference({**fixed, "alpha1": r["alpha1"], "delta": r["delta"], "eta": r["eta"]})
        assert ref["admissible"] and ref["D1_nonempty"]
        for k in OA5_QUANTITIES:
            assert abs(r[k] - ref[k]) <= 1e-10, (k, r["index"], r[k], ref[k])
        for f in ("A1", "A2", "A3", "A4", "OA1", "monotone"):
            assert bool(r[f]) == ref[f], f
        interior["s2_hat_D"] += ref["sbarbar2"] < ref["s2_hat_D"] < fixed["alpha2"]
        interior["rho1_D"] += 0.0 < ref["rho1_D"] < 1.0
    # the rows exercise the root solves and the shares away from their corners
    assert interior["s2_hat_D"] >= 9 and interior["rho1_D"] >= 3, interior
