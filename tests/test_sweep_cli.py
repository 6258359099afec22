"""`sweep` as a separate process: SIGKILL + resume, concurrent shards, --json, a real kernel.

These run ``python -m sweep`` (so XLA_FLAGS gives one CPU device per core and
chunks are sharded across them); the toy kernels are made visible to the
subprocess through ``SWEEP_KERNEL_MODULES``.
"""
from __future__ import annotations

import json
import random
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

from sweep import dataset
from sweep.engine import evaluate, run
from sweep.spec import load_spec
from tests.toy_kernels import REPO, subprocess_env, sweep_cmd

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
    proc = subprocess.Popen(sweep_cmd("run", spec_path, "--out", out, "--no-progress"),
                            env=subprocess_env(), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(dataset.list_parts(out)) < 3:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "no part files after 60 s"
            time.sleep(0.02)
        time.sleep(random.Random().uniform(0.0, 0.5))  # a random moment mid-run
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL, "the run finished before it was killed"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed_with = len(dataset.list_parts(out))
    assert 3 <= killed_with < 40

    res = sweep("run", spec_path, "--out", out, "--no-progress", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["complete"] and doc["chunks_skipped"] >= 3 and doc["chunks_computed"] == 40 - doc["chunks_skipped"]
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # the killed writer's temporary file was removed

    df = pd.read_parquet(out).sort_values("index", ignore_index=True)
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
chunk_size = 8

[fixed]
{fixed}

[axes]
profile = ["pi(1-pi)", "pi^2(1-pi)"]
{axis}
"""


def test_coverage_oa5_end_to_end(tmp_path):
    from sweep.spec import lookup_kernel

    try:
        ks = lookup_kernel("coverage_oa5")
    except (KeyError, ImportError) as exc:  # the model catalog is not importable
        pytest.fail(f"coverage_oa5 is not available: {exc!r}")
    values = {"alpha1": 0.6, "alpha2": 0.7, "pi1": 0.3, "pi2": 0.25, "delta": 0.5, "lam_R": 1.5,
              "gamma": 0.2, "phi": 1.0, "beta": 0.95, "b": 1.1, "eta": 0.5, "s1": 0.3, "s2": 0.3}
    required = [p.name for p in ks.params if p.default is None]
    missing = [n for n in required if n not in values]
    assert not missing, f"test needs values for {missing}"
    fixed = {n: values[n] for n in required if n != "alpha1"}
    spec_path = tmp_path / "oa5.toml"
    spec_path.write_text(OA5_SPEC.format(fixed="\n".join(f"{k} = {v}" for k, v in fixed.items()),
                                         axis="alpha1 = { linspace = [0.55, 0.75, 5] }"))
    out = tmp_path / "out"
    res = sweep("run", spec_path, "--out", out, "--json", timeout=300)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["n_vectors"] == 10
    df = pd.read_parquet(out).sort_values("index", ignore_index=True)
    assert list(df.columns) == ["index", "profile", "alpha1", *ks.output_names]
    assert df["profile"].astype(str).tolist() == ["pi(1-pi)"] * 5 + ["pi^2(1-pi)"] * 5
    # one row against `sweep eval` semantics (same kernel, one vector, this process)
    row = df.iloc[7]
    one = evaluate("coverage_oa5", {**fixed, "alpha1": float(row["alpha1"]), "profile": "pi^2(1-pi)"})
    for name, value in one["outputs"].items():
        if isinstance(value, float):
            np.testing.assert_allclose(row[name], value, rtol=1e-12, equal_nan=True, err_msg=name)
        else:
            assert row[name] == value, name
