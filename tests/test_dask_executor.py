"""The Dask executor: same dataset as a local run, on a LocalCluster it starts, on a
scheduler address and through the CLI; failed attempts retried; a chunk that keeps
failing reported; a worker SIGKILLed in the middle of a chunk replaced without
losing or duplicating rows.

Faults are injected by a test-only kernel (``sweep_test_dask_hook``, registered
here; Dask workers import this module because the executor ships
``SWEEP_KERNEL_MODULES`` to them) whose host callback blocks or raises on the
chunk holding ``x == trigger``, coordinated through marker files.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from sweep import dataset  # noqa: E402
from sweep.engine import run  # noqa: E402
from sweep.errors import RunError  # noqa: E402
from sweep.executor_dask import DaskExecutor, _groups, run_chunk_group  # noqa: E402
from sweep.executors import get_executor  # noqa: E402
from sweep.spec import parse_spec  # noqa: E402
from tests.toy_kernels import (  # noqa: E402
    BLOCK_ONCE, FAIL_ALWAYS, FAIL_ONCE, HOOK, HOOK_DIR_ENV, NORMAL, REPO, TOY, subprocess_env, sweep_cmd,
)

MODULES = "tests.toy_kernels"


def hook_spec(behavior=NORMAL, tag=0, trigger=-1.0, n=120, chunk=10):
    # x = 1, 2, ..., n: the chunk holding x == trigger is (trigger - 1) // chunk
    return parse_spec({"kernel": HOOK, "chunk_size": chunk,
                       "fixed": {"behavior": float(behavior), "tag": float(tag), "trigger": float(trigger)},
                       "axes": {"x": {"linspace": [1.0, float(n), n]}}}, source=f"hook-{tag}.toml")


def toy_spec(chunk=5):
    return parse_spec({"kernel": TOY, "chunk_size": chunk, "fixed": {"y": 0.5},
                       "axes": {"mode": ["hi", "lo", "mid"], "x": {"linspace": [0.5, 9.5, 23]}}},
                      source="toy.toml")


def local_reference(spec, tmp_path):
    out = tmp_path / "reference"
    run(spec, out, progress=False)
    return dataset.read_arrow(out)


def assert_each_index_once(out, n):
    df = pd.read_parquet(out / "data")  # every part file, as any reader sees the directory
    assert sorted(df["index"].tolist()) == list(range(n))


@pytest.fixture(scope="module")
def hook_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("hook")
    old = {k: os.environ.get(k) for k in (HOOK_DIR_ENV, "SWEEP_KERNEL_MODULES")}
    # Set before the cluster starts: spawned workers inherit this environment, and the
    # executor ships SWEEP_KERNEL_MODULES with every task.
    os.environ[HOOK_DIR_ENV] = str(d)
    os.environ["SWEEP_KERNEL_MODULES"] = MODULES
    yield d
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def cluster(hook_dir):
    """Two single-threaded worker processes, one XLA CPU device each (as the executor
    would start them), shared by the tests below."""
    cl = DaskExecutor(n_workers=2)._local_cluster()
    client = distributed.Client(cl)
    client.wait_for_workers(2)
    yield cl, client
    client.close()
    cl.close()


# ---------------------------------------------------------------------------
# no cluster needed


def test_groups_are_lazy_runs_of_the_todo_list():
    it = (k for k in (0, 2, 3, 5, 6, 7, 9))
    assert list(_groups(it, 3)) == [[0, 2, 3], [5, 6, 7], [9]]
    groups = _groups(iter(range(10**12)), 4)  # a lazy list of a trillion chunks is fine
    assert next(groups) == [0, 1, 2, 3]


def test_group_size_amortizes_overhead_but_keeps_workers_busy():
    ex = DaskExecutor()
    axes = {"y": {"linspace": [-1, 1, 4096]}, "x": {"linspace": [1, 2, 4096]}}  # 2**24 vectors
    big = parse_spec({"kernel": TOY, "chunk_size": 1 << 20, "axes": axes})
    small = parse_spec({"kernel": TOY, "chunk_size": 1024, "axes": axes})
    few = parse_spec({"kernel": TOY, "chunk_size": 10, "axes": {"x": {"linspace": [1, 2, 200]}}})
    task = type("T", (), {})
    for spec, threads, expect in ((big, 8, 1), (small, 8, 128), (small, 1024, 4), (small, 4096, 1), (few, 2, 2)):
        t = task()
        t.spec = spec
        assert ex._group_size(t, threads) == expect, (spec.chunk_size, threads)
    assert DaskExecutor(chunks_per_task=7)._group_size(None, 2) == 7


def test_get_executor_and_bad_options():
    ex = get_executor("dask", n_workers=3)
    assert isinstance(ex, DaskExecutor) and ex.name == "dask" and ex.n_workers == 3
    with pytest.raises(ValueError, match="n_workers"):
        DaskExecutor(n_workers=0)
    with pytest.raises(ValueError, match="not both"):
        DaskExecutor(address="tcp://127.0.0.1:1", client=object())


def test_group_skips_chunks_an_earlier_attempt_finished(tmp_path):
    spec = toy_spec()
    from sweep.engine import ChunkTask

    task = ChunkTask(spec, tmp_path)
    assert run_chunk_group(task, [0, 1]) == [(0, 5), (1, 5)]
    before = {k: p.stat().st_mtime_ns for k, p in dataset.list_parts(tmp_path).items()}
    # a retry of the group: chunks 0 and 1 are done and are not rewritten
    assert run_chunk_group(task, [0, 1, 13]) == [(0, 5), (1, 5), (13, 4)]
    after = dataset.list_parts(tmp_path)
    assert {k: after[k].stat().st_mtime_ns for k in before} == before and 13 in after


# ---------------------------------------------------------------------------
# real clusters


def test_cli_local_cluster_matches_local_run(tmp_path):
    spec = toy_spec()
    spec_path = tmp_path / "toy.toml"
    spec_path.write_text('kernel = "sweep_test_toy"\nchunk_size = 5\n[fixed]\ny = 0.5\n[axes]\n'
                         'mode = ["hi", "lo", "mid"]\nx = { linspace = [0.5, 9.5, 23] }\n')
    out = tmp_path / "out"
    env = subprocess_env()
    res = subprocess.run(sweep_cmd("run", spec_path, "--out", out, "--executor", "dask", "--dask-workers", "2",
                                   "--json", "--no-progress"),
                         env=env, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)  # stdout is the JSON document only
    assert doc["complete"] and doc["chunks_computed"] == 14 and doc["vectors_computed"] == 69
    assert doc["spec_hash"] == spec.hash
    assert dataset.read_arrow(out).equals(local_reference(spec, tmp_path))
    assert [p.name for p in [*out.iterdir(), *(out / "data").iterdir()] if p.name.startswith(".")] == []

    # dask options without --executor dask: a usage error, nothing written
    res = subprocess.run(sweep_cmd("run", spec_path, "--out", tmp_path / "o2", "--dask-workers", "2"),
                         env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "need --executor dask" in res.stderr
    assert not (tmp_path / "o2").exists()


def test_scheduler_address_matches_local_run_and_resumes(cluster, tmp_path):
    cl, client = cluster
    spec = toy_spec(chunk=2)  # 35 chunks: grouped into tasks of several chunks
    ex = DaskExecutor(address=cl.scheduler_address, n_workers=2)
    out = tmp_path / "out"
    res = run(spec, out, progress=False, executor=ex)
    assert res.complete and res.chunks_computed == 35 and res.vectors_computed == 69
    assert ex.last_run["workers"] == 2 and ex.last_run["chunks_per_task"] == 4
    assert ex.last_run["tasks"] == 9
    assert dataset.read_arrow(out).equals(local_reference(spec, tmp_path))
    again = run(spec, out, progress=False, executor=ex)
    assert again.chunks_computed == 0 and again.chunks_skipped == 35
    assert len(client.nthreads()) == 2  # the executor left the cluster it did not start running


def test_failed_attempt_is_retried(cluster, hook_dir, tmp_path):
    _, client = cluster
    spec = hook_spec(FAIL_ONCE, tag=1, trigger=55.0)
    res = run(spec, tmp_path / "out", progress=False, executor=DaskExecutor(client=client))
    assert res.complete and res.chunks_computed == 12
    assert (hook_dir / "1" / "failed").exists()  # the first attempt did fail
    assert_each_index_once(tmp_path / "out", 120)
    assert dataset.read_arrow(tmp_path / "out").equals(local_reference(spec, tmp_path))


def test_chunk_that_keeps_failing_is_reported(cluster, hook_dir, tmp_path):
    _, client = cluster
    spec = hook_spec(FAIL_ALWAYS, tag=2, trigger=75.0)  # chunk 7
    with pytest.raises(RunError) as info:
        run(spec, tmp_path / "out", progress=False, executor=DaskExecutor(client=client, retries=1,
                                                                          chunks_per_task=1))
    msg = str(info.value)
    assert "ChunkFailed" in msg and "chunk 7" in msg and "injected failure" in msg and "Kept:" in msg
    assert len((hook_dir / "2" / "attempts").read_text().split()) == 2  # 1 try + 1 retry
    assert 7 not in dataset.completed_chunks(tmp_path / "out", spec.hash)


def test_worker_killed_mid_chunk_run_completes_each_index_once(cluster, hook_dir, tmp_path):
    _, client = cluster
    spec = hook_spec(BLOCK_ONCE, tag=3, trigger=42.0)  # chunk 4 blocks until its worker is killed
    out = tmp_path / "out"
    worker_pids = set(client.run(os.getpid).values())
    result: dict = {}

    def target():
        try:
            result["res"] = run(spec, out, progress=False,
                                executor=DaskExecutor(client=client, chunks_per_task=1))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            result["exc"] = exc

    t = threading.Thread(target=target)
    t.start()
    marker = hook_dir / "3" / "blocked"
    deadline = time.monotonic() + 60
    while not (marker.exists() and marker.read_text()):
        assert t.is_alive(), result
        assert time.monotonic() < deadline, "the hooked chunk never started"
        time.sleep(0.02)
    pid = int(marker.read_text())
    assert pid in worker_pids  # a Dask worker process is inside the kernel of chunk 4
    assert 4 not in dataset.list_parts(out)
    os.kill(pid, signal.SIGKILL)
    t.join(timeout=120)
    assert not t.is_alive(), "the run did not finish after the worker was killed"
    assert "exc" not in result, result.get("exc")
    res = result["res"]
    assert res.complete and res.chunks_computed == 12 and res.vectors_computed == 120
    assert pid not in set(client.run(os.getpid).values())  # that worker is gone
    assert_each_index_once(out, 120)
    assert dataset.read_arrow(out).equals(local_reference(spec, tmp_path))
    assert [p.name for p in [*out.iterdir(), *(out / "data").iterdir()] if p.name.startswith(".")] == []
