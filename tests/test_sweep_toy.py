"""Toy kernels for the sweep-engine tests, and the `sweep kernels` / `sweep eval` tests.

The engine knows nothing about the economics, so its tests use small kernels
with known closed forms.  They are registered under test-only names when this
module is imported: by pytest, by the other ``test_sweep_*`` modules, and by
``sweep`` subprocesses through ``SWEEP_KERNEL_MODULES=tests.test_sweep_toy``.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import jax.numpy as jnp
from jax import lax

from kernels.registry import REGISTRY, Categorical, Domain, KernelSpec, Output, Param, register

TOY = "sweep_test_toy"
SLOW = "sweep_test_slow"
TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent

MODE = Categorical(
    name="mode",
    targets=("c1", "c2"),
    choices={"lo": {"c1": 0.25, "c2": 1.0}, "hi": {"c1": 0.75, "c2": 2.0}, "mid": {"c1": 0.5, "c2": 1.5}},
    default="lo",
    doc="a categorical expanded into c1 and c2",
)


def toy_fn(p):
    """prod = x*y*c2 + c1; big = x*y > 1; status = 1 where x > 5 else 0."""
    xy = p["x"] * p["y"]
    return {
        "prod": xy * p["c2"] + p["c1"],
        "big": xy > 1.0,
        "status": jnp.where(p["x"] > 5.0, 1, 0).astype(jnp.int8),
    }


def toy_expected(x, y, c1, c2):
    """Host reference of :func:`toy_fn` (numpy)."""
    return {"prod": x * y * c2 + c1, "big": x * y > 1.0, "status": (x > 5.0).astype("int8")}


_SLOW_ITERS = 3000


def slow_fn(p):
    """A deliberately slow elementwise kernel (a fixed-length loop per lane), so a
    run lasts long enough to be killed in the middle."""
    def body(_, v):
        return jnp.cos(v) * 0.5 + p["x"] * 0.25

    v = lax.fori_loop(0, _SLOW_ITERS, body, p["x"])
    return {"v": v, "pos": v > 0.3}


def _register() -> None:
    if TOY not in REGISTRY:
        register(KernelSpec(
            name=TOY,
            fn=toy_fn,
            params=(
                Param("x", Domain(0.0, 10.0), None, "required, open domain (0, 10)"),
                Param("y", Domain(-5.0, 5.0, True, True), 1.0, "closed domain [-5, 5]"),
                Param("c1", Domain(0.0, 1.0, True, True), 0.25, "target of mode"),
                Param("c2", Domain(0.0, 10.0, True, True), 1.0, "target of mode"),
            ),
            outputs=(Output("prod", "float", "x*y*c2 + c1"), Output("big", "bool", "x*y > 1"),
                     Output("status", "int8", "1 where x > 5")),
            description="test-only toy kernel",
            categoricals=(MODE,),
        ))
    if SLOW not in REGISTRY:
        register(KernelSpec(
            name=SLOW,
            fn=slow_fn,
            params=(Param("x", Domain(0.0, 10.0), None, "input"),),
            outputs=(Output("v", "float", "fixed point iterate"), Output("pos", "bool", "v > 0.3")),
            description="test-only slow kernel",
        ))


_register()


def subprocess_env() -> dict:
    """Environment for `python -m sweep` subprocesses that can see the toy kernels."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["SWEEP_KERNEL_MODULES"] = "tests.test_sweep_toy"
    env.setdefault("JAX_PLATFORMS", "cpu")
    return env


def sweep_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "sweep", *map(str, args)]


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
