"""Kernels that declare ``max_batch`` are evaluated in sequential sub-batches, with
the same results as one batch."""

import numpy as np
import pandas as pd
import pytest

from sweep.engine import run
from sweep.spec import parse_spec
from tests import toy_kernels
from tests.conftest import BATCHED_OA5 as NAME


@pytest.mark.parametrize("chunk, n, expected", [
    (1000, 1000, {(64,)}),   # 1000 lanes: 16 sub-batches of 64 (24 padding lanes)
    (130, 260, {(64,)}),     # 130 lanes: 3 sub-batches of 64
    (50, 100, {(50,)}),      # at most max_batch lanes: one call, no sub-batching
])
def test_kernel_never_sees_more_than_max_batch_lanes(tmp_path, chunk, n, expected):
    """A kernel that declares ``max_batch = 64`` is traced only at batch shapes of at most
    64 lanes (exactly 64 once a chunk needs several), and every vector's value is right,
    the padding lanes of the last sub-batch included nowhere."""
    toy_kernels.TRACED_SHAPES.clear()
    x = np.arange(1.0, n + 1.0)
    spec = parse_spec({"kernel": toy_kernels.SHAPES, "chunk_size": chunk, "axes": {"x": x.tolist()}})
    res = run(spec, tmp_path / "out", progress=False)
    assert res.complete and res.n_vectors == n
    shapes = set(toy_kernels.TRACED_SHAPES)
    assert shapes == expected, shapes
    df = pd.read_parquet(tmp_path / "out" / "data").sort_values("index")
    assert list(df["index"]) == list(range(n))
    np.testing.assert_array_equal(df["v"].to_numpy(), 2.0 * x + 1.0)


def test_sub_batched_run_equals_plain_run(tmp_path, batched_oa5):
    axes = {"alpha1": [0.55, 0.65], "alpha2": [0.7, 0.9], "pi2": [0.25, 0.45], "eta": [0.2, 1.0, 5.0],
            "delta": [0.05, 0.2, 0.5], "lam_R": [3.0, 10.0]}
    fixed = {"b": 1.05, "pi1": 0.55, "phi": 1.2, "gamma": 0.2, "beta": 0.95}
    frames = []
    for kernel, out in ((NAME, tmp_path / "batched"), ("coverage_oa5", tmp_path / "plain")):
        spec = parse_spec({"kernel": kernel, "chunk_size": 300, "fixed": fixed, "axes": axes})
        res = run(spec, out, progress=False, factor=False)
        assert res.complete
        frames.append(pd.read_parquet(out / "data").sort_values("index").reset_index(drop=True))
    a, b = frames
    assert len(a) == 2 * 2 * 2 * 3 * 3 * 2 and list(a["index"]) == list(range(len(a)))
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.dtype.kind == "f":
            np.testing.assert_allclose(x, y, rtol=1e-13, atol=0, equal_nan=True, err_msg=col)
        else:
            np.testing.assert_array_equal(x, y, err_msg=col)
