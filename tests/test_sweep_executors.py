"""The local executor: device work of chunk k+1 overlaps the write of chunk k,
failures propagate, and nothing is left running; plus dataset.status."""
from __future__ import annotations

import threading
import time

import pytest

from sweep import dataset
from sweep.engine import run
from sweep.executors import ExecutorUnavailable, LocalExecutor, get_executor
from sweep.spec import parse_spec
from tests.toy_kernels import TOY


class FakePending:
    def __init__(self, chunk):
        self.chunk = chunk


class RecordingTask:
    """Dispatch is instant (like JAX async dispatch); finish is slow (like a write)."""

    def __init__(self, fail_at=None):
        self.log = []
        self.lock = threading.Lock()
        self.fail_at = fail_at

    def _record(self, what, k):
        with self.lock:
            self.log.append((what, k, threading.current_thread().name))

    def dispatch(self, k):
        self._record("dispatch", k)
        return FakePending(k)

    def finish(self, pending):
        self._record("write-start", pending.chunk)
        time.sleep(0.03)
        if pending.chunk == self.fail_at:
            raise OSError("disk full")
        self._record("write-end", pending.chunk)
        return 10


def test_next_chunk_is_dispatched_while_the_previous_one_is_written():
    task = RecordingTask()
    done = []
    LocalExecutor(prefetch=2, writers=1).execute(range(5), task, lambda k, rows: done.append((k, rows)))
    assert done == [(k, 10) for k in range(5)]  # written in order, each once
    order = [(w, k) for w, k, _ in task.log]
    # chunk 1 (and 2) were dispatched before the write of chunk 0 ended
    assert order.index(("dispatch", 1)) < order.index(("write-end", 0))
    assert order.index(("dispatch", 2)) < order.index(("write-end", 0))
    threads = {w: t for w, _, t in task.log}
    assert threads["dispatch"] == threading.current_thread().name
    assert threads["write-start"] == "sweep-writer-0"


def test_failure_stops_dispatching_and_is_raised_in_the_caller():
    task = RecordingTask(fail_at=2)
    done = []
    with pytest.raises(OSError, match="disk full"):
        LocalExecutor(prefetch=1, writers=1).execute(range(50), task, lambda k, rows: done.append(k))
    assert done == [0, 1]
    dispatched = [k for w, k, _ in task.log if w == "dispatch"]
    assert len(dispatched) < 10  # bounded queue: it did not race ahead to chunk 49
    assert not any(t.name.startswith("sweep-writer") for t in threading.enumerate())


def test_several_writers_write_every_chunk_once():
    task = RecordingTask()
    done = []
    LocalExecutor(prefetch=4, writers=3).execute(range(12), task, lambda k, rows: done.append(k))
    assert sorted(done) == list(range(12))
    writers = {t for w, _, t in task.log if w == "write-start"}
    assert len(writers) > 1 and all(t.startswith("sweep-writer-") for t in writers)


def test_unknown_executor_is_a_usage_error():
    with pytest.raises(ExecutorUnavailable, match="sweep.executor_nosuch") as info:
        get_executor("nosuch")
    assert info.value.exit_status == 2
    assert isinstance(get_executor("local"), LocalExecutor)


def test_status_reports_missing_chunks(tmp_path):
    spec = parse_spec({"kernel": TOY, "chunk_size": 3, "fixed": {"y": 2.0},
                       "axes": {"x": {"linspace": [1, 2, 10]}}}, source="status.toml")
    run(spec, tmp_path, progress=False, shard="2/2")
    st = dataset.status(tmp_path)
    assert st["n_chunks"] == 4 and st["chunks_done"] == 2
    assert st["missing_chunks"] == [0, 2] and not st["complete"]
    run(spec, tmp_path, progress=False, shard="1/2")
    assert dataset.status(tmp_path)["complete"]
