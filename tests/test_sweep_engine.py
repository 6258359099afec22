"""The engine in-process: outputs, layout, resume, refusal, shards, compilation, readers."""
from __future__ import annotations

import json
import os
import pickle
import socket
import subprocess
from contextlib import contextmanager

import duckdb
import jax
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from sweep import dataset, engine
from sweep.cli import main
from sweep.sinks import rows as rows_sink
from sweep.engine import ChunkRunner, ChunkTask, RunResult, compute_chunk, run
from sweep.errors import OutputError, RunError
from sweep.spec import load_spec, parse_spec
from tests.toy_kernels import MODE, REPO, TOY, subprocess_env, sweep_cmd, toy_expected

SPEC_TEXT = """\
# toy sweep used by the engine tests
kernel = "sweep_test_toy"
dtype = "{dtype}"
chunk_size = {chunk}

[fixed]
y = 0.5

[axes]
mode = ["hi", "lo"]
x = {{ linspace = [0.5, {hi}, {nx}] }}
"""


def make_spec(tmp_path, *, nx=13, chunk=5, dtype="float64", name="spec.toml", hi=9.5):
    path = tmp_path / name
    path.write_text(SPEC_TEXT.format(nx=nx, chunk=chunk, dtype=dtype, hi=hi))
    return load_spec(path)


def expected_frame(spec):
    """The dataset a correct run must produce, computed independently with numpy."""
    dt = np.dtype(spec.dtype)
    modes = np.repeat(np.array(spec.axes[0].values, dtype=object), len(spec.axes[1]))
    x = np.tile(np.asarray(spec.axes[1].values).astype(dt), len(spec.axes[0]))
    c1 = np.array([MODE.choices[m]["c1"] for m in modes]).astype(dt)
    c2 = np.array([MODE.choices[m]["c2"] for m in modes]).astype(dt)
    out = toy_expected(x, dt.type(0.5), c1, c2)
    return pd.DataFrame({"index": np.arange(len(x), dtype=np.int64), "mode": modes, "x": x, **out})


def read_sorted(out_dir):
    df = dataset.read_dataset(out_dir)
    return df.sort_values("index", ignore_index=True)


@contextmanager
def count_compiles():
    """Backend compilations (XLA) while the block runs, via jax.monitoring."""
    events = []

    def listener(name, secs, **kwargs):
        if name == "/jax/core/compile/backend_compile_duration":
            events.append(secs)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def test_run_produces_every_index_once_with_correct_values(tmp_path):
    spec = make_spec(tmp_path)
    res = run(spec, tmp_path / "out", progress=False)
    assert isinstance(res, RunResult)
    assert (res.n_vectors, res.n_chunks, res.chunk_size) == (26, 6, 5)
    assert (res.chunks_computed, res.chunks_skipped, res.vectors_computed) == (6, 0, 26)
    assert res.complete and res.chunks_done_total == 6 and res.seconds > 0
    df = read_sorted(tmp_path / "out")
    exp = expected_frame(spec)
    assert df["index"].tolist() == list(range(26))
    assert df["mode"].astype(str).tolist() == exp["mode"].tolist()
    np.testing.assert_array_equal(df["x"], exp["x"])
    np.testing.assert_allclose(df["prod"], exp["prod"], rtol=1e-15)
    np.testing.assert_array_equal(df["big"], exp["big"])
    np.testing.assert_array_equal(df["status"], exp["status"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["_sweep.json", "data"]
    parts = sorted(p.name for p in (tmp_path / "out" / "data").iterdir())
    assert parts == [f"part-{k:06d}.parquet" for k in range(6)]
    assert pq.read_metadata(tmp_path / "out" / "data" / "part-000005.parquet").num_rows == 1  # padded, trimmed


def test_manifest_records_spec_and_environment(tmp_path):
    spec = make_spec(tmp_path)
    run(spec, tmp_path / "out", progress=False)
    m = json.loads((tmp_path / "out" / "_sweep.json").read_text())
    assert m["spec_hash"] == spec.hash and m["kernel"] == TOY and m["dtype"] == "float64"
    assert (m["n_vectors"], m["n_chunks"], m["chunk_size"]) == (26, 6, 5)
    assert m["spec"]["text"] == spec.text and m["spec"]["parsed"] == spec.canonical()
    assert [(a["name"], a["size"]) for a in m["axes"]] == [("mode", 2), ("x", 13)]
    assert m["axes"][0]["values"] == ["hi", "lo"] and m["axes"][1]["values"][0] == 0.5
    assert m["fixed"] == {"y": 0.5}
    assert m["versions"]["jax"] == jax.__version__ and m["versions"]["skillsweep"]
    assert m["device"].startswith("cpu: ")
    assert [c["name"] for c in m["columns"]] == ["index", "mode", "x", "prod", "big", "status"]
    for p in dataset.list_parts(tmp_path / "out").values():
        assert dataset.part_spec_hash(p) == spec.hash


def test_float32_run_stays_float32(tmp_path):
    spec = make_spec(tmp_path, dtype="float32")
    run(spec, tmp_path / "out", progress=False)
    df = read_sorted(tmp_path / "out")
    assert df["x"].dtype == np.float32 and df["prod"].dtype == np.float32
    exp = expected_frame(spec)
    np.testing.assert_allclose(df["prod"], exp["prod"], rtol=1e-6)


def test_two_runs_give_identical_datasets(tmp_path):
    """Reproducible across processes: this process and a fresh `sweep run` (its own
    compilation, device set-up and runner, nothing cached in common) write the same
    rows, bit for bit."""
    spec = make_spec(tmp_path)
    run(spec, tmp_path / "a", progress=False)
    res = subprocess.run(sweep_cmd("run", spec.source, "--out", tmp_path / "b", "--no-progress"),
                         env=subprocess_env(), cwd=str(REPO), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    ta, tb = dataset.read_arrow(tmp_path / "a"), dataset.read_arrow(tmp_path / "b")
    assert ta.num_rows == 26 and ta.equals(tb)


def test_resume_recomputes_only_missing_chunks_and_cleans_temporaries(tmp_path):
    spec = make_spec(tmp_path)
    out = tmp_path / "out"
    run(spec, out, progress=False)
    before = dataset.read_arrow(out)
    (out / "data" / "part-000001.parquet").unlink()
    (out / "data" / "part-000004.parquet").unlink()
    (out / "data" / "part-000002.parquet").write_bytes(b"PAR1 truncated")  # not by us: unreadable
    host = socket.gethostname()
    dead = 2**22 + 12345  # beyond pid_max on typical systems: no such process
    stale = out / f".part-000003.parquet.{host}.{dead}.0123456789ab.tmp"
    stale.write_bytes(b"half a part file")
    res = run(spec, out, progress=False)
    assert (res.chunks_computed, res.chunks_skipped, res.vectors_computed) == (3, 3, 15)
    assert not stale.exists()
    assert dataset.read_arrow(out).equals(before)
    again = run(spec, out, progress=False)
    assert again.chunks_computed == 0 and again.complete


def test_different_spec_refuses_unless_overwrite(tmp_path, capsys):
    a = make_spec(tmp_path, nx=13, name="a.toml")
    b = make_spec(tmp_path, nx=7, name="b.toml")
    out = tmp_path / "out"
    run(a, out, progress=False)
    with pytest.raises(OutputError, match="holds a different sweep"):
        run(b, out, progress=False)
    assert main(["run", str(b.source), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "holds a different sweep" in err and "--overwrite" in err and a.hash[:12] in err
    # the refused run changed nothing
    assert json.loads((out / "_sweep.json").read_text())["spec_hash"] == a.hash
    # a different chunk size is a different dataset too
    with pytest.raises(OutputError):
        run(a, out, progress=False, chunk_size=4)
    assert main(["run", str(b.source), "--out", str(out), "--no-progress", "--overwrite"]) == 0
    df = read_sorted(out)
    assert len(df) == 14 and df["index"].is_unique
    assert json.loads((out / "_sweep.json").read_text())["spec_hash"] == b.hash
    assert set(dataset.completed_chunks(out, b.hash)) == set(range(3))
    assert len(dataset.list_parts(out)) == 3  # a's six parts are gone


def test_output_path_problems_exit_2(tmp_path, capsys):
    spec = make_spec(tmp_path)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["run", spec.source, "--out", str(a_file), "--no-progress"]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err
    assert a_file.read_text() == "x"

    if os.geteuid() == 0:  # root ignores permission bits: use a read-only mount instead
        cannot_create, unwritable = "/sys/sweep-test-out", "/sys/kernel"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cannot_create, unwritable = str(locked / "out"), str(locked)
    assert main(["run", spec.source, "--out", cannot_create, "--no-progress"]) == 2
    assert "cannot create the output directory" in capsys.readouterr().err
    assert main(["run", spec.source, "--out", unwritable, "--no-progress"]) == 2
    assert "not writable" in capsys.readouterr().err

    other = tmp_path / "notes"
    other.mkdir()
    (other / "thesis.tex").write_text("keep me")
    assert main(["run", spec.source, "--out", str(other), "--no-progress", "--overwrite"]) == 2
    assert "not a sweep output directory" in capsys.readouterr().err
    assert sorted(os.listdir(other)) == ["thesis.tex"]


def test_no_recompilation_after_first_chunk(tmp_path):
    spec = make_spec(tmp_path, nx=50, chunk=11)  # chunk size used by no other test
    runner = ChunkRunner(spec)
    with count_compiles() as compiles:
        runner.to_arrow(runner.dispatch(0))
        first = len(compiles)
        tables = [runner.to_arrow(runner.dispatch(k)) for k in range(1, spec.n_chunks)]
    assert first >= 1  # the chunk function was compiled for chunk 0 ...
    assert len(compiles) == first  # ... and never again, last (padded) chunk included
    assert sum(t.num_rows for t in tables) == spec.n_vectors - 11

    # A whole run of another grid of the same shape (other values) reuses the
    # executable too: axis values, fixed values and the start index are arguments.
    other = make_spec(tmp_path, nx=50, chunk=11, name="other.toml", hi=8.0)
    with count_compiles() as compiles:
        res = run(other, tmp_path / "out", progress=False)
    assert res.chunks_computed == 10 and len(compiles) == 0


def test_dataset_opens_with_pandas_pyarrow_and_duckdb(tmp_path):
    spec = make_spec(tmp_path)
    out = tmp_path / "out"
    run(spec, out, progress=False)
    # a leftover temporary of a live writer must be invisible to every reader
    (out / f".part-000009.parquet.{socket.gethostname()}.{os.getpid()}.0123456789ab.tmp").write_bytes(b"x")
    exp = expected_frame(spec)

    df = pd.read_parquet(out / "data").sort_values("index", ignore_index=True)
    assert list(df.columns) == ["index", "mode", "x", "prod", "big", "status"]
    assert isinstance(df["mode"].dtype, pd.CategoricalDtype)
    assert [str(df[c].dtype) for c in ("index", "x", "prod", "big", "status")] == \
        ["int64", "float64", "float64", "bool", "int8"]
    np.testing.assert_allclose(df["prod"], exp["prod"])

    ds = pads.dataset(out)
    schema = ds.schema
    assert schema.field("index").type == pa.int64()
    assert schema.field("mode").type == pa.dictionary(pa.int32(), pa.string())
    assert schema.field("x").type == pa.float64() and schema.field("big").type == pa.bool_()
    assert schema.field("status").type == pa.int8()
    assert ds.count_rows() == 26

    con = duckdb.connect()
    rows = con.execute(
        f"SELECT count(*), count(DISTINCT index), min(index), max(index), "
        f"sum(CASE WHEN mode = 'hi' THEN 1 ELSE 0 END) FROM read_parquet('{out}/data/*.parquet')"
    ).fetchone()
    assert rows == (26, 26, 0, 25, 13)
    got = con.execute(f"SELECT prod FROM read_parquet('{out}/data/*.parquet') ORDER BY index").fetchnumpy()["prod"]
    np.testing.assert_allclose(got, exp["prod"])


def test_part_encoding_choices(tmp_path):
    # index: delta-encoded; a dictionary only for the categorical axis; min/max
    # statistics on the grid columns (for predicate pushdown), not on outputs
    spec = make_spec(tmp_path)
    out = tmp_path / "out"
    run(spec, out, progress=False)
    meta = pq.ParquetFile(next(out.glob("data/part-*.parquet"))).metadata.row_group(0)
    cols = {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}
    assert "DELTA_BINARY_PACKED" in cols["index"].encodings
    assert cols["mode"].has_dictionary_page and not cols["x"].has_dictionary_page
    assert not cols["prod"].has_dictionary_page
    for name in ("index", "mode", "x"):
        assert cols[name].is_stats_set and cols[name].statistics.has_min_max, name
    for name in ("prod", "big", "status"):
        assert not cols[name].is_stats_set, name
    # the filter on a grid column is answered from the statistics by every reader
    assert pads.dataset(out).to_table(filter=pads.field("x") >= 0).num_rows == 26


def test_allocator_setting_is_applied_once_and_can_be_turned_off():
    import subprocess
    import sys

    from sweep.allocator import MALLOC_ENV, retain_freed_memory

    first = retain_freed_memory()
    assert isinstance(first, bool) and retain_freed_memory() is first
    if sys.platform.startswith("linux"):
        code = "from sweep.allocator import retain_freed_memory as r; print(r())"
        env = {**os.environ, MALLOC_ENV: "0"}
        off = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert off.stdout.strip() == "False"
        env.pop(MALLOC_ENV)
        on = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert on.stdout.strip() == str(first)


def test_shards_are_disjoint_and_their_union_is_the_full_run(tmp_path):
    spec = make_spec(tmp_path, nx=17, chunk=4)  # 34 vectors, 9 chunks
    full = tmp_path / "full"
    run(spec, full, progress=False)
    out = tmp_path / "sharded"
    seen = []
    for i in (1, 2, 3):
        res = run(spec, out, progress=False, shard=f"{i}/3")
        assert res.shard == f"{i}/3" and res.chunks_computed == len(range(i - 1, 9, 3))
        assert res.complete == (i == 3)
        seen.append(set(dataset.completed_chunks(out, spec.hash)))
    assert seen[0] == {0, 3, 6} and seen[1] == seen[0] | {1, 4, 7} and seen[2] == set(range(9))
    assert dataset.read_arrow(out).equals(dataset.read_arrow(full))
    assert engine.shard_chunks(9, (2, 3)) == range(1, 9, 3)
    with pytest.raises(ValueError):
        engine.parse_shard("0/3")


def test_runtime_failure_keeps_completed_parts_and_resumes(tmp_path, monkeypatch, capsys):
    spec = make_spec(tmp_path)
    out = tmp_path / "out"
    real = dataset.write_part
    calls = []

    def flaky(out_dir, k, n_chunks, table, metadata, **kwargs):
        calls.append(k)
        if len(calls) == 4:
            raise OSError(28, "No space left on device")
        return real(out_dir, k, n_chunks, table, metadata, **kwargs)

    monkeypatch.setattr(rows_sink, "write_part", flaky)
    assert main(["run", spec.source, "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    # Parts are written by concurrent writers: the ones already under way when the
    # 4th write fails may still finish, so at least 3 parts are kept.
    kept = len(dataset.completed_chunks(out, spec.hash))
    assert 3 <= kept < 6
    assert "No space left on device" in err and f"Kept: {kept} of 6 chunks" in err and "resume" in err
    monkeypatch.setattr(rows_sink, "write_part", real)
    res = run(spec, out, progress=False)
    assert res.chunks_computed == 6 - kept and res.complete
    assert read_sorted(out)["index"].tolist() == list(range(26))


def test_kernel_failure_is_a_runtime_error(tmp_path):
    spec = parse_spec({"kernel": "sweep_test_broken", "axes": {"x": [0.5]}}, source="broken.toml")
    with pytest.raises(RunError, match=r"KeyError.*Kept: 0 of 1 chunks"):
        run(spec, tmp_path / "out", progress=False)


def test_chunk_task_is_self_contained(tmp_path):
    spec = make_spec(tmp_path)
    out = tmp_path / "out"
    run(spec, out, progress=False, shard="1/6")  # manifest + chunk 0
    task = pickle.loads(pickle.dumps(ChunkTask(spec, out)))
    assert task(2) == 5
    assert compute_chunk(spec, out, 5) == 1
    assert dataset.completed_chunks(out, spec.hash) == {0, 2, 5}


def test_progress_bar_goes_to_stderr(tmp_path, capsys):
    spec = make_spec(tmp_path)
    run(spec, tmp_path / "a", progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "26/26" in captured.err and "vec" in captured.err
    run(spec, tmp_path / "b", progress=False)
    assert capsys.readouterr().err == ""


def test_cli_json_prints_only_the_summary(tmp_path, capsys):
    spec = make_spec(tmp_path)
    assert main(["run", spec.source, "--out", str(tmp_path / "out"), "--json", "--chunk-size", "7"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["n_chunks"] == 4 and doc["chunk_size"] == 7 and doc["complete"] is True
    assert doc["vectors_computed"] == 26 and doc["spec_hash"] != spec.hash  # chunk size is in the hash
