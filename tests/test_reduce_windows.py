"""Exact quantiles read in the chunk pass from predicted key windows
(``sweep.sinks.reduce.plan_windows``), with no narrowing pass over the grid.

The toy grid (tests/test_reduce.py: 414 vectors, chunks of 40) is too small for
the default sample sizes, so each test lowers ``WINDOW_MIN_SAMPLE``; references are
``numpy.quantile`` over the toy kernel's closed form and, bit for bit, the same
run with windows switched off (every rank narrowed by passes over the grid).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq
import pytest

import sweep.run as run_module
import sweep.sinks.reduce as red
from sweep.dataset import open_summary
from sweep.engine import run
from tests.test_reduce import MODES, QS, reference, toy_spec

REDUCE = {"by_mode": {"by": ["mode"], "prod": {"stats": ["mean"], "quantiles": QS}},
          "all": {"prod": {"quantiles": [0.5, 0.9]}}}


@pytest.fixture
def counted(monkeypatch):
    """Windows on for the toy grid; counts narrowing passes and ranks read from windows."""
    monkeypatch.setattr(red, "WINDOW_MIN_SAMPLE", 4)
    seen = {"passes": 0, "resolved": 0, "planned": 0}
    real_narrow, real_resolve, real_plan = red.narrow_jointly, red._Windows.resolve, red.plan_windows

    def narrow(items, *a):
        ran = real_narrow(items, *a)
        seen["passes"] += bool(ran)
        return ran

    def resolve(self, *a):
        n = real_resolve(self, *a)
        seen["resolved"] += n
        return n

    def plan(*a, **k):
        stride = real_plan(*a, **k)
        seen["planned"] += bool(stride)
        return stride

    monkeypatch.setattr(red, "narrow_jointly", narrow)
    monkeypatch.setattr(red._Windows, "resolve", resolve)
    monkeypatch.setattr(run_module, "plan_windows", plan)
    return seen


def _check_against_numpy(out) -> int:
    rows = reference()
    checked = 0
    ds = open_summary(out, "by_mode")
    for m in MODES:
        v = np.array([p for x, mm, y, p in rows if mm == m])
        for q in QS:
            assert float(ds.sel(mode=m)[f"q{q:g}_prod"]) == np.quantile(v, q, method="linear"), (m, q)
            checked += 1
    every = np.array([p for *_, p in rows])
    allr = open_summary(out, "all", pandas=True).iloc[0]
    for q in (0.5, 0.9):
        assert allr[f"q{q:g}_prod"] == np.quantile(every, q, method="linear"), q
        checked += 1
    return checked


def _same_summaries(a, b) -> None:
    for name in REDUCE:
        x, y = pq.read_table(a / f"summary-{name}.parquet"), pq.read_table(b / f"summary-{name}.parquet")
        assert x.equals(y), name


def _narrowed_only(tmp_path, monkeypatch):
    """The same spec with windows off: the reference run of the narrowing passes."""
    out = tmp_path / "narrowed"
    with monkeypatch.context() as mp:
        mp.setattr(run_module, "plan_windows", lambda *a, **k: 0)
        run(toy_spec(reduce=REDUCE), out, progress=False)
    return out


@pytest.mark.parametrize("mask_windows", [8, 0], ids=["masks", "one-sort"])
def test_windows_read_every_rank_without_a_narrowing_pass(tmp_path, monkeypatch, counted, mask_windows):
    # wide windows: the toy sample (one chunk's lanes) is small, so its quantiles are rough
    monkeypatch.setattr(red, "WINDOW_HALF_WIDTH", 0.25)
    monkeypatch.setattr(red, "MASK_WINDOWS", mask_windows)  # both ways of finding a window's keys
    out = tmp_path / "windows"
    res = run(toy_spec(reduce=REDUCE), out, progress=False)
    assert res.n_chunks == 11 and counted["planned"] == 1
    # 3 groups x 6 quantiles + 2, each one or two ranks: every one from the windows
    assert counted["resolved"] >= 20 and counted["passes"] == 0, counted
    assert _check_against_numpy(out) == 20
    ref = _narrowed_only(tmp_path, monkeypatch)
    assert counted["passes"] >= 1  # the reference really narrowed
    _same_summaries(out, ref)


def test_windows_that_miss_leave_their_ranks_to_the_narrowing_passes(tmp_path, monkeypatch, counted):
    """A prediction that misses costs a narrowing pass, never exactness: group 0's
    windows are moved above every key (they hold nothing); the other groups' ranks
    are still read from theirs."""
    monkeypatch.setattr(red, "WINDOW_HALF_WIDTH", 0.25)
    real = red._predict

    def missing(sink, gathered, scale):
        w = real(sink, gathered, scale)
        for o in w.lo:
            used = w.lo[o][0] < w.hi[o][0]
            assert used.any()
            w.lo[o][0, used] = red._KEY_MAX - np.uint64(2)
            w.hi[o][0, used] = red._KEY_MAX - np.uint64(1)
        return red._Windows(w.G, w.W, w.lo, w.hi)

    monkeypatch.setattr(red, "_predict", missing)
    out = tmp_path / "windows"
    run(toy_spec(reduce=REDUCE), out, progress=False)
    assert counted["resolved"] > 0 and counted["passes"] >= 1, counted
    assert _check_against_numpy(out) == 20
    _same_summaries(out, _narrowed_only(tmp_path, monkeypatch))


def test_windows_whose_keys_pass_the_memory_bound_are_narrowed(tmp_path, monkeypatch, counted):
    """Keys kept beyond twice GATHER_KEYS_HOST per output are dropped during the
    chunk pass (memory stays bounded whatever the prediction); those ranks are
    narrowed, exactly."""
    monkeypatch.setattr(red, "WINDOW_HALF_WIDTH", 0.25)
    real_plan = red.plan_windows

    def plan_then_shrink(*a, **k):
        stride = real_plan(*a, **k)
        monkeypatch.setattr(red, "GATHER_KEYS_HOST", 1)  # after the windows are chosen
        return stride

    monkeypatch.setattr(run_module, "plan_windows", plan_then_shrink)
    kept = []
    real_resolve = red._Windows.resolve

    def resolve(self, *a):
        kept.append(set(self.over))
        return real_resolve(self, *a)

    monkeypatch.setattr(red._Windows, "resolve", resolve)
    out = tmp_path / "windows"
    run(toy_spec(reduce=REDUCE), out, progress=False)
    assert kept == [{"prod"}, {"prod"}] and counted["passes"] >= 1
    monkeypatch.setattr(red, "GATHER_KEYS_HOST", 1 << 24)
    assert _check_against_numpy(out) == 20
    _same_summaries(out, _narrowed_only(tmp_path, monkeypatch))


def test_a_resumed_run_narrows_instead(tmp_path, monkeypatch, counted):
    """Windows live in the memory of the process that ran every chunk: a run that
    resumes plans none and narrows, to the same bytes."""
    monkeypatch.setattr(red, "WINDOW_HALF_WIDTH", 0.25)
    out = tmp_path / "windows"
    run(toy_spec(reduce=REDUCE), out, progress=False)
    before = {n: (out / f"summary-{n}.parquet").read_bytes() for n in REDUCE}
    assert counted["planned"] == 1 and counted["passes"] == 0
    for n in REDUCE:
        (out / f"summary-{n}.parquet").unlink()
        for p in sorted((out / "reduce" / n).iterdir())[::4]:
            p.unlink()
    res = run(toy_spec(reduce=REDUCE), out, progress=False)
    assert 0 < res.chunks_computed < res.n_chunks
    assert counted["planned"] == 1 and counted["passes"] >= 1
    assert {n: (out / f"summary-{n}.parquet").read_bytes() for n in REDUCE} == before


@dataclass(frozen=True)
class _Strided:
    """A device part reading every ``lane_stride``-th vector's flat index and output."""

    lane_stride: int

    def __call__(self, lanes):
        return {"prod": lanes.outputs["prod"][None], "valid": lanes.valid[None],
                "x": lanes.digits[0][None], "y": lanes.digits[2][None]}


def test_strided_dispatch_computes_every_sth_vector():
    from sweep.runner import ChunkRunner

    spec = toy_spec(reduce={"all": {"prod": ["mean"]}})
    runner = ChunkRunner(spec)
    rows = reference()  # C order over (x, mode, y): row i is vector i
    # the engine's own rows (the same arithmetic, to the bit), chunk by chunk
    every = np.concatenate([runner.to_arrow(runner.dispatch(k)).column("prod").to_numpy()
                            for k in range(spec.n_chunks)])
    assert every.size == len(rows)
    np.testing.assert_allclose(every, [p for *_, p in rows], rtol=1e-15, atol=1e-15)
    for stride in (7, 13):
        pend = runner.dispatch_strided(_Strided(stride))
        valid = np.asarray(pend.outputs["valid"]).reshape(-1)
        got = np.asarray(pend.outputs["prod"]).reshape(-1)[valid]
        lanes = runner.per_device * len(runner.devices)  # one chunk's lanes of the sequence
        idx = np.arange(0, len(rows), stride)[:lanes]
        want = every[idx]
        assert pend.length == want.size == valid.sum() > 10
        assert idx[-1] > len(rows) / 2  # the sample spans the grid, not its first chunk
        np.testing.assert_array_equal(got, want)
        xs = np.asarray(pend.outputs["x"]).reshape(-1)[valid]
        assert np.array_equal(xs, idx // 18)  # 3 modes x 6 y per x
