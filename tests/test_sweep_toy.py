"""`sweep kernels` and `sweep eval` on the toy kernel (registered by tests/conftest.py)."""
from __future__ import annotations

import json

from tests.toy_kernels import TOY


# ---------------------------------------------------------------------------
# `sweep kernels` and `sweep eval` (in-process: the toy kernels are registered here)


def test_kernels_lists_toy_with_params_and_outputs(capsys):
    from sweep.cli import main

    assert main(["kernels"]) == 0
    out = capsys.readouterr().out
    assert f"{TOY}: test-only toy kernel" in out
    assert "(0, 10)" in out and "required" in out and "[-5, 5]" in out
    assert "categorical mode" in out and "prod" in out

    assert main(["kernels", "--json"]) == 0
    doc = {k["name"]: k for k in json.loads(capsys.readouterr().out)}
    toy = doc[TOY]
    assert [p["name"] for p in toy["params"]] == ["x", "y", "c1", "c2"]
    assert toy["params"][0] == {"name": "x", "domain": "(0, 10)", "default": None, "required": True,
                                "doc": "required, open domain (0, 10)"}
    assert toy["categoricals"][0]["choices"] == ["lo", "hi", "mid"]
    assert [(o["name"], o["kind"]) for o in toy["outputs"]] == [("prod", "float"), ("big", "bool"),
                                                                ("status", "int8")]


def test_eval_prints_all_outputs(capsys):
    from sweep.cli import main

    assert main(["eval", TOY, "x=6", "y=0.5", "mode=hi"]) == 0
    out = capsys.readouterr().out
    assert "prod" in out and "= 6.75" in out  # 6*0.5*2 + 0.75
    assert main(["eval", TOY, "x=6", "y=0.5", "mode=hi", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["outputs"] == {"prod": 6.75, "big": True, "status": 1}
    assert doc["params"] == {"x": 6.0, "y": 0.5, "c1": 0.75, "c2": 2.0}
    assert doc["categoricals"] == {"mode": "hi"}


def test_eval_float32_and_defaults(capsys):
    from sweep.cli import main

    assert main(["eval", TOY, "x=0.1", "--dtype", "float32", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["dtype"] == "float32"
    # defaults: y = 1, mode's default choice "lo" -> c1 = 0.25, c2 = 1
    assert abs(doc["outputs"]["prod"] - 0.35) < 1e-6
    assert doc["outputs"]["big"] is False and doc["outputs"]["status"] == 0


def test_eval_bad_input_exits_2(capsys):
    from sweep.cli import main

    assert main(["eval", TOY, "x=11"]) == 2
    err = capsys.readouterr().err
    assert "x" in err and "(0, 10)" in err
    assert main(["eval", TOY, "y=0.5"]) == 2  # x is required
    assert "missing required parameter" in capsys.readouterr().err
    assert main(["eval", TOY, "x=1", "mode=nope"]) == 2
    assert "unknown choice 'nope'" in capsys.readouterr().err
    assert main(["eval", TOY, "x"]) == 2
    assert "expected key=value" in capsys.readouterr().err
    assert main(["eval", "no_such_kernel", "x=1"]) == 2
    assert "unknown kernel 'no_such_kernel'" in capsys.readouterr().err
