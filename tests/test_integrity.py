"""Datasets prove their integrity: the silent-corruption attacks of issue 12, kept as tests.

Each attack is run against a small toy dataset: ``sweep verify`` must name the
bad file, ``read_dataset``/``summarize`` must refuse it, and ``sweep run`` must
repair it (recompute the part, move a foreign file out of ``data/``) or refuse
with exit status 2 where repair is impossible.
"""
from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import threading
import time

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.toy_kernels import SLOW, subprocess_env, sweep_cmd  # registered by conftest
from sweep import dataset
from sweep.cli import main
from sweep.engine import run
from sweep.errors import OutputError
from sweep.dataset import verify_dataset
from sweep.integrity import DatasetDamaged, content_digest, part_problems
from sweep.leases import LEASE_DIR, Leases, live_runs
from sweep.spec import load_spec

SPEC = """\
kernel = "sweep_test_toy"
chunk_size = {chunk}

[fixed]
y = 0.5

[axes]
mode = ["hi", "lo"]
x = {{ linspace = [0.5, 9.5, {nx}] }}
"""


def make(tmp_path, nx=600, chunk=200, name="spec.toml"):
    path = tmp_path / name
    path.write_text(SPEC.format(nx=nx, chunk=chunk))
    return load_spec(path)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """A finished toy dataset (1,200 rows in 6 parts) and its rows, made once."""
    tmp = tmp_path_factory.mktemp("clean")
    spec = make(tmp)
    out = tmp / "out"
    run(spec, out, progress=False)
    return spec, out, dataset.read_arrow(out)


def copy_of(clean, tmp_path):
    spec, out, rows = clean
    dst = tmp_path / "out"
    shutil.copytree(out, dst)
    return spec, dst, rows


def verify_cli(out, capsys):
    code = main(["verify", str(out)])
    return code, capsys.readouterr().out


# ---------------------------------------------------------------------------
# what a part records


def test_each_part_records_chunk_rows_checksum_and_page_crcs(clean):
    spec, out, _ = clean
    parts = dataset.list_parts(out)
    assert sorted(parts) == list(range(6))
    m = json.loads((out / "_sweep.json").read_text())  # the manifest lists the parts by rule
    assert m["format"] == "skillsweep-dataset/2"
    assert [f"{m['data_dir']}/" + m["part_name"].format(chunk=k) for k in range(m["n_chunks"])] == \
        [str(p.relative_to(out)) for p in parts.values()]
    for k, p in parts.items():
        meta = pq.read_schema(p).metadata
        assert meta[b"sweep.chunk"] == str(k).encode() and meta[b"sweep.rows"] == b"200"
        assert meta[b"sweep.content"] == content_digest(pq.read_table(p)).encode()
        assert part_problems(p, spec_hash=spec.hash, chunk=k, rows=200) == []
    # the page CRCs are there: pyarrow verifies them and rejects a page whose bytes changed
    col = pq.ParquetFile(parts[0]).metadata.row_group(0).column(1)
    assert col.data_page_offset > 0


def test_content_digest_is_independent_of_chunking_and_sensitive_to_values():
    t = pa.table({"a": np.arange(10.0), "m": pa.array(["x", "y"] * 5).dictionary_encode()})
    split = pa.concat_tables([t.slice(0, 3), t.slice(3)])
    assert content_digest(split) == content_digest(t)
    changed = t.set_column(0, "a", pa.array(np.r_[np.arange(9.0), 99.0]))
    assert content_digest(changed) != content_digest(t)
    relabeled = t.set_column(1, "m", pa.array(["x", "z"] * 5).dictionary_encode())
    assert content_digest(relabeled) != content_digest(t)


# ---------------------------------------------------------------------------
# attack 1: random bytes in the middle of a part, footer intact


def test_random_bytes_mid_part_detected_refused_and_repaired(clean, tmp_path, capsys):
    spec, out, rows = copy_of(clean, tmp_path)
    p = dataset.list_parts(out)[3]
    blob = bytearray(p.read_bytes())
    footer = int.from_bytes(blob[-8:-4], "little") + 8
    n = min(4096, (len(blob) - footer) // 2)
    start = (len(blob) - footer - n) // 2
    blob[start:start + n] = random.Random(1).randbytes(n)
    p.write_bytes(bytes(blob))
    assert pq.read_schema(p).metadata[b"sweep.chunk"] == b"3"  # footer intact: old check passed

    code, text = verify_cli(out, capsys)
    assert code == 1 and "data/part-000003.parquet" in text and "sweep run" in text
    with pytest.raises(DatasetDamaged, match=r"part-000003.*\n.*Fix: re-run `sweep run"):
        dataset.read_dataset(out)

    res = run(spec, out, progress=False)
    assert res.chunks_computed == 1 and list(res.repaired) == [3] and res.complete
    assert dataset.read_arrow(out).equals(rows)
    assert verify_dataset(out)["ok"]
    assert (out / "_quarantine" / "part-000003.parquet.damaged").exists()  # kept, out of the way


# ---------------------------------------------------------------------------
# attack 2: a part copied over another of the same spec


def test_part_copied_over_another_detected_and_repaired(clean, tmp_path, capsys):
    spec, out, rows = copy_of(clean, tmp_path)
    parts = dataset.list_parts(out)
    shutil.copy(parts[1], parts[4])
    code, text = verify_cli(out, capsys)
    assert code == 1 and "part-000004.parquet: holds chunk 1 but is named as chunk 4" in text
    with pytest.raises(DatasetDamaged):
        dataset.read_dataset(out)
    res = run(spec, out, progress=False)
    assert list(res.repaired) == [4] and res.chunks_computed == 1
    got = dataset.read_dataset(out)
    assert got["index"].tolist() == list(range(1200))
    assert dataset.read_arrow(out).equals(rows)


def test_part_with_wrong_row_count_is_not_done(clean, tmp_path):
    spec, out, rows = copy_of(clean, tmp_path)
    p = dataset.list_parts(out)[2]
    t = pq.read_table(p)
    # a part of the right spec and chunk number, but short: written as if complete
    dataset.write_part(out, 2, spec.n_chunks, t.slice(0, 150),
                       {dataset.META_SPEC_HASH: spec.hash.encode(), dataset.META_CHUNK: b"2"})
    assert 2 not in dataset.completed_chunks(out, spec.hash)
    assert "150 rows, chunk 2 has 200" in dict(verify_dataset(out)["bad"])["data/part-000002.parquet"][0]
    res = run(spec, out, progress=False)
    assert list(res.repaired) == [2] and dataset.read_arrow(out).equals(rows)


# ---------------------------------------------------------------------------
# attack 3: stray .parquet files where the readers look


def test_foreign_files_never_read_and_moved_out_by_run(clean, tmp_path, capsys):
    spec, out, rows = copy_of(clean, tmp_path)
    user = pa.table({"index": np.arange(5, dtype=np.int64), "x": np.ones(5)})
    pq.write_table(user, out / "data" / "mine.parquet")             # a user's own file
    beyond = out / "data" / "part-000009.parquet"                   # another spec's part, past the end
    shutil.copy(dataset.list_parts(out)[0], beyond)
    pq.write_table(user, out / "notes.parquet")                     # beside the manifest: harmless
    code, text = verify_cli(out, capsys)
    assert code == 1 and "data/mine.parquet: not a part" in text and "data/part-000009.parquet" in text
    assert "notes.parquet" in text  # reported as a note
    # read_dataset would read only the sweep's parts, but a dataset that fails verify is refused
    with pytest.raises(DatasetDamaged, match="data/mine.parquet: not a part of this sweep"):
        dataset.read_dataset(out)

    res = run(spec, out, progress=False)
    assert res.chunks_computed == 0 and len(res.quarantined) == 2
    assert sorted(p.name for p in (out / "_quarantine").iterdir()) == ["mine.parquet", "part-000009.parquet"]
    assert verify_dataset(out)["ok"]
    # the README's readers now see exactly the sweep's rows
    df = pd.read_parquet(out / "data").sort_values("index", ignore_index=True)
    assert df["index"].tolist() == list(range(1200))
    n = duckdb.connect().execute(
        f"SELECT count(*), count(DISTINCT index) FROM read_parquet('{out}/data/*.parquet')").fetchone()
    assert n == (1200, 1200)


# ---------------------------------------------------------------------------
# attack 4: --overwrite with a new spec while the old run is still writing


def _fake_live_run(out):
    """A lease file held by another live process (a sleeping child)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    d = out / LEASE_DIR
    d.mkdir(exist_ok=True)
    host = dataset.socket.gethostname()
    host = "".join(c if c.isalnum() or c in "_-" else "-" for c in host)
    (d / f"run.{host}.{child.pid}.0123456789ab").write_text(f"{host} {child.pid}\n")
    return child


def test_overwrite_refused_while_another_run_writes_then_leaves_no_stale_part(clean, tmp_path, capsys):
    spec, out, _ = copy_of(clean, tmp_path)
    other = make(tmp_path, nx=300, chunk=200, name="other.toml")
    child = _fake_live_run(out)
    try:
        assert len(live_runs(out)) == 1 and f"pid {child.pid}" in live_runs(out)[0]
        code = main(["run", str(other.source), "--out", str(out), "--overwrite", "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2 and "another live run" in err and str(child.pid) in err
        assert json.loads((out / "_sweep.json").read_text())["spec_hash"] == spec.hash  # untouched
    finally:
        child.kill()
        child.wait()
    res = run(other, out, overwrite=True, progress=False)
    assert res.complete and res.chunks_computed == 3
    assert sorted(dataset.list_parts(out)) == [0, 1, 2]  # none of the old spec's six parts left
    assert verify_dataset(out)["ok"] and len(dataset.read_dataset(out)) == 600


def test_stale_part_of_old_spec_written_after_overwrite_is_never_read(clean, tmp_path):
    # the race the lease closes, forced: an old run renames a part in after the overwrite
    spec, out, _ = copy_of(clean, tmp_path)
    old_part = dataset.list_parts(out)[5].read_bytes()
    other = make(tmp_path, nx=300, chunk=200, name="other.toml")
    run(other, out, overwrite=True, progress=False)
    (out / "data" / "part-000005.parquet").write_bytes(old_part)  # beyond other's 3 chunks
    assert verify_dataset(out)["foreign"] == ["data/part-000005.parquet"]
    res = run(other, out, progress=False)
    assert res.quarantined and verify_dataset(out)["ok"]
    assert sorted(dataset.list_parts(out)) == [0, 1, 2]


def test_first_layout_dataset_is_refused_with_the_fix(tmp_path, capsys):
    spec = make(tmp_path, nx=30, chunk=10)
    out = tmp_path / "old"
    out.mkdir()
    m = {"format": "skillsweep-dataset/1", "spec_hash": spec.hash, "kernel": spec.kernel,
         "n_chunks": 6, "chunk_size": 10, "n_vectors": 60, "spec": {"source": "spec.toml"}}
    (out / "_sweep.json").write_text(json.dumps(m))
    (out / "part-000000.parquet").write_bytes(b"PAR1")
    with pytest.raises(OutputError, match=r"format 'skillsweep-dataset/1'.*--overwrite"):
        dataset.read_dataset(out)
    assert main(["run", str(spec.source), "--out", str(out), "--no-progress"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["run", str(spec.source), "--out", str(out), "--no-progress", "--overwrite"]) == 0
    assert not (out / "part-000000.parquet").exists() and verify_dataset(out)["ok"]


# ---------------------------------------------------------------------------
# property: random byte flips never give wrong rows on the documented read paths


def test_random_byte_flips_never_return_wrong_rows(clean, tmp_path):
    spec, src, rows = clean
    ref = rows.to_pandas()
    rng = random.Random(12)
    trials, refused = 40, 0
    for t in range(trials):
        out = tmp_path / f"t{t}"
        shutil.copytree(src, out)
        parts = list(dataset.list_parts(out).values())
        for _ in range(rng.randint(1, 3)):
            p = rng.choice(parts)
            blob = bytearray(p.read_bytes())
            i = rng.randrange(len(blob))
            blob[i] ^= 1 << rng.randrange(8)
            p.write_bytes(bytes(blob))
        # read_dataset: refuses, or returns exactly the rows written
        try:
            got = dataset.read_dataset(out)
        except DatasetDamaged:
            refused += 1
        else:
            pd.testing.assert_frame_equal(got, ref)
        # pandas / DuckDB: read after `sweep verify DIR` passes (the README's path)
        if verify_dataset(out)["ok"]:
            df = pd.read_parquet(out / "data").sort_values("index", ignore_index=True)
            pd.testing.assert_frame_equal(df, ref)
            db = duckdb.connect().execute(
                f"SELECT index, prod FROM read_parquet('{out}/data/*.parquet') ORDER BY index").fetchnumpy()
            np.testing.assert_array_equal(db["index"], ref["index"].to_numpy())
            np.testing.assert_array_equal(db["prod"], ref["prod"].to_numpy())
        shutil.rmtree(out)
    assert refused >= trials // 2  # most flips land in data: the test exercised refusals


# ---------------------------------------------------------------------------
# inputs too big to hold: refused from the spec's numbers, at once


def _refuse_in_subprocess(tmp_path, axes: str):
    spec = tmp_path / "big.toml"
    # a model kernel, no SWEEP_KERNEL_MODULES: what a user's `sweep run` imports
    spec.write_text(f'kernel = "coverage_oa4"\n[axes]\n{axes}\n')
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            f"r = subprocess.run({sweep_cmd('run', spec, '--out', tmp_path / 'o', '--no-progress')!r}, "
            "capture_output=True, text=True); dt = time.perf_counter() - t; "
            "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
            "print(r.returncode, dt, u.ru_utime + u.ru_stime, u.ru_maxrss); print(r.stderr, file=sys.stderr)")
    env = {k: v for k, v in subprocess_env().items() if k != "SWEEP_KERNEL_MODULES"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    rc, wall, cpu, rss_kb = res.stdout.split()
    # CPU seconds of the refusing process: what it costs, whatever the machine's load
    # (the shared 2-core CI machine can stretch the wall time of any start-up)
    assert float(wall) < 20, wall
    return int(rc), float(cpu), int(rss_kb) / 1024, res.stderr


def test_grid_of_1e30_vectors_refused_fast_small_exit_2(tmp_path):
    rc, seconds, rss_mb, err = _refuse_in_subprocess(
        tmp_path, "alpha2 = { linspace = [0.5, 0.9, 1000000000000000] }\n"
                  "b = { linspace = [1.01, 2, 1000000000000000] }")
    assert rc == 2, err
    assert "grid has 1000000000000000000000000000000 vectors" in err and "2**62" in err
    assert seconds < 2.0 and rss_mb < 300, (seconds, rss_mb)
    assert not (tmp_path / "o").exists()  # nothing written


def test_axis_of_1e9_points_refused_fast_small_exit_2(tmp_path):
    rc, seconds, rss_mb, err = _refuse_in_subprocess(tmp_path, "b = { linspace = [1.01, 2, 1000000000] }")
    assert rc == 2, err
    assert "1000000000 points" in err and "2**22 = 4194304" in err and "MemoryError" not in err
    assert seconds < 2.0 and rss_mb < 300, (seconds, rss_mb)


def test_two_axes_of_1e6_points_give_a_small_manifest(tmp_path):
    from sweep.manifest import build_manifest

    path = tmp_path / "wide.toml"
    path.write_text('kernel = "sweep_test_toy"\n[axes]\nx = { linspace = [0.5, 9, 1000000] }\n'
                    'y = { logspace = [-2, 0, 1000000] }\n')
    t0 = time.perf_counter()
    spec = load_spec(path)
    m = build_manifest(spec, columns=[], device="cpu")
    blob = json.dumps(m)
    assert len(blob) < 1_000_000 and time.perf_counter() - t0 < 10
    assert m["axes"][0]["linspace"] == [0.5, 9.0, 1000000] and "values" not in m["axes"][0]
    assert spec.n_vectors == 10**12 and len(spec.hash) == 64
    from sweep.manifest import axis_values
    assert axis_values(m["axes"][1])[-1] == pytest.approx(1.0, rel=1e-15)


def test_chunk_that_cannot_fit_in_memory_refused_and_oom_advice():
    from sweep.limits import check_memory, out_of_memory_advice
    from sweep.errors import SpecError
    from sweep.spec import parse_spec

    spec = parse_spec({"kernel": "sweep_test_toy", "chunk_size": 1 << 31,
                       "axes": {"x": {"linspace": [0.5, 9, 4_000_000]}, "y": {"linspace": [-1, 1, 1000]}}})
    with pytest.raises(SpecError, match=r"chunk_size 2147483648: .* more than this machine's 1.0 GB"):
        check_memory(spec, available=1 << 30)
    advice = out_of_memory_advice(RuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating"), spec)
    assert "--chunk-size 536870912" in advice and "--dtype float32" in advice
    assert out_of_memory_advice(ValueError("other"), spec) == ""


# ---------------------------------------------------------------------------
# concurrent runs of one spec share the chunks


def _slow_spec(tmp_path, n=48, chunk=4):
    path = tmp_path / "slow.toml"
    path.write_text(f'kernel = "{SLOW}"\nchunk_size = {chunk}\n[axes]\nx = {{ linspace = [0.5, 9, {n}] }}\n')
    return load_spec(path)


def test_two_concurrent_runs_compute_each_chunk_once_within_cpu_bound(tmp_path):
    # compute must dominate the per-run overhead for a CPU ratio to mean anything:
    # 32,768 lanes x 3,000 iterations, about 2 s of CPU on 2 cores
    spec = _slow_spec(tmp_path, n=32768, chunk=2048)
    run(spec, tmp_path / "warm", progress=False)  # compile once: both timings below are warm
    t0 = time.process_time()
    one = run(spec, tmp_path / "one", progress=False)
    cpu_one = time.process_time() - t0
    results, errors = [], []

    def go():
        try:
            results.append(run(spec, tmp_path / "two", progress=False))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t0 = time.process_time()
    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu_two = time.process_time() - t0
    assert errors == [] and all(r.complete for r in results)
    assert sum(r.chunks_computed for r in results) == spec.n_chunks == one.chunks_computed
    assert dataset.read_arrow(tmp_path / "two").equals(dataset.read_arrow(tmp_path / "one"))
    print(f"CPU: one run {cpu_one:.2f} s, two concurrent runs {cpu_two:.2f} s, ratio {cpu_two / cpu_one:.2f}")
    assert cpu_two <= 1.3 * cpu_one, (cpu_two, cpu_one)


def test_killed_runs_lease_is_taken_over(tmp_path):
    spec = _slow_spec(tmp_path, n=8, chunk=4)
    out = tmp_path / "out"
    out.mkdir()
    child = _fake_live_run(out)
    host = next((out / LEASE_DIR).iterdir()).name.split(".")[1]
    (out / LEASE_DIR / "chunk-1").write_text(f"{host} {child.pid}\n")  # held by a live run
    child.kill()
    child.wait()  # ... which is now dead: its lease has expired
    res = run(spec, out, progress=False)
    assert res.complete and res.chunks_computed == 2
    assert not (out / LEASE_DIR).exists()  # every lease released, the dead run's removed


def test_lease_is_exclusive_between_live_holders(tmp_path):
    a, b = Leases(tmp_path), Leases(tmp_path)
    try:
        assert a.try_take(3) and not b.try_take(3)
        a.release(3)
        assert b.try_take(3)
    finally:
        a.close()
        b.close()


# ---------------------------------------------------------------------------
# reduction partials (DIR/reduce/<name>/) are checked by the same function


def test_verify_checks_reduction_partials(tmp_path, capsys):
    from sweep.spec import parse_spec

    spec = parse_spec({"kernel": "sweep_test_toy", "chunk_size": 10,
                       "axes": {"x": {"linspace": [0.5, 9.5, 30]}},
                       "reduce": {"all": {"prod": ["mean"]}}}, source="r.toml")
    out = tmp_path / "out"
    run(spec, out, progress=False)
    partials = dataset.list_part_files(out / "reduce" / "all")
    assert sorted(partials) == [0, 1, 2]
    report = verify_dataset(out)
    assert report["ok"] and report["partials_checked"] == 3 and report["strays"] == []
    shutil.copy(partials[0], partials[2])  # chunk 0's partial under chunk 2's name
    code, text = verify_cli(out, capsys)
    assert code == 1 and "reduce/all/part-000002.parquet: holds chunk 0 but is named as chunk 2" in text
