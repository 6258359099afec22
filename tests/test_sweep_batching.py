"""Kernels that declare ``max_batch`` are evaluated in sequential sub-batches, with
the same results as one batch (engine: ``_batched_call`` / ``_per_device``)."""

import numpy as np
import pandas as pd

from kernels.catalog import get_kernel
from sweep.engine import _per_device, run
from sweep.spec import parse_spec
from tests.conftest import BATCHED_OA5 as NAME


def test_per_device_rounds_up_to_whole_batches(batched_oa5):
    ks = batched_oa5
    assert _per_device(ks, 1000, 2) == 512          # 500 -> 8 batches of 64
    assert _per_device(ks, 100, 2) == 50            # below max_batch: unchanged
    assert _per_device(get_kernel("coverage_oa5"), 1000, 2) == 500


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
