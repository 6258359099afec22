"""Toy kernels for the engine tests: definitions only, no registration on import.

The engine knows nothing about the economics, so its tests use small kernels with
known closed forms.  ``tests/conftest.py`` registers :data:`KERNELS` for the test
session; ``sweep`` subprocesses see them through
``SWEEP_KERNEL_MODULES=tests.toy_kernels`` (the CLI registers a module's
``KERNELS``, see :mod:`sweep.kernel_modules`).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from kernels.registry import Categorical, Domain, Factor, KernelSpec, Output, Param

TOY = "sweep_test_toy"
SLOW = "sweep_test_slow"
BROKEN = "sweep_test_broken"
HOOK = "sweep_test_dask_hook"
TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent
#: the value of SWEEP_KERNEL_MODULES that gives a subprocess these kernels
MODULE = "tests.toy_kernels"

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


TOY_KERNEL = KernelSpec(
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
)

SLOW_KERNEL = KernelSpec(
    name=SLOW,
    fn=slow_fn,
    params=(Param("x", Domain(0.0, 10.0), None, "input"),),
    outputs=(Output("v", "float", "fixed point iterate"), Output("pos", "bool", "v > 0.3")),
    description="test-only slow kernel",
)

#: returns an output it does not declare: every run of it fails at run time
BROKEN_KERNEL = KernelSpec(BROKEN, lambda p: {"wrong": p["x"]}, (Param("x", Domain(0.0, 1.0)),),
                           (Output("v", "float"),), "broken")


# --- the Dask fault-injection kernel ---------------------------------------------

HOOK_DIR_ENV = "SWEEP_TEST_HOOK_DIR"
NORMAL, BLOCK_ONCE, FAIL_ONCE, FAIL_ALWAYS = 0, 1, 2, 3


def _first(path: Path) -> bool:
    """True for the one caller that creates ``path`` (it holds this process's pid)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return True


def _hook(x, behavior, tag, trigger):
    """Host side of the hook kernel: v = x*x + 1, plus the injected fault."""
    x = np.asarray(x)
    b = int(behavior)
    if b != NORMAL and np.any(np.abs(x - trigger) < 1e-12) and os.environ.get(HOOK_DIR_ENV):
        d = Path(os.environ[HOOK_DIR_ENV]) / str(int(tag))
        d.mkdir(parents=True, exist_ok=True)
        if b == BLOCK_ONCE and _first(d / "blocked"):
            deadline = time.monotonic() + 120  # "computing" until the test kills this process
            while time.monotonic() < deadline:
                time.sleep(0.05)
        elif b == FAIL_ONCE and _first(d / "failed"):
            raise RuntimeError("injected failure (first attempt only)")
        elif b == FAIL_ALWAYS:
            with open(d / "attempts", "a") as fh:
                fh.write(f"{os.getpid()}\n")
            raise RuntimeError("injected failure (every attempt)")
    return (x * x + 1.0).astype(x.dtype)


def hook_fn(p):
    x = p["x"]
    v = jax.pure_callback(_hook, jax.ShapeDtypeStruct(x.shape, x.dtype), x, p["behavior"], p["tag"],
                          p["trigger"])
    return {"v": v, "big": v > 10.0, "half": jnp.asarray(x * 0.5, x.dtype)}


HOOK_KERNEL = KernelSpec(
    name=HOOK,
    fn=hook_fn,
    params=(Param("x", Domain(0.0, 1000.0), None, "input"),
            Param("behavior", Domain(0.0, 3.0, True, True), 0.0, "0 normal, 1 block once, "
                  "2 fail once, 3 fail always (on the chunk holding x == trigger)"),
            Param("tag", Domain(0.0, 1e6, True, True), 0.0, "marker-file namespace"),
            Param("trigger", Domain(-1.0, 100.0, True, True), -1.0, "x value of the faulty chunk")),
    outputs=(Output("v", "float", "x*x + 1"), Output("big", "bool", "v > 10"),
             Output("half", "float", "x / 2")),
    description="test-only kernel with injected faults (Dask executor tests)",
)

#: what conftest.py and SWEEP_KERNEL_MODULES register
# --- a factored kernel whose stage returns many flags and int8 codes -------------

PACKED = "sweep_test_packed"
#: flags and int8 codes of the stage: 34 flags + 3 codes × 8 bits need two 32-bit words
N_FLAGS, N_CODES = 34, 3


def packed_expected(x, y):
    """The outputs of :data:`PACKED_KERNEL` in numpy (float64), the independent reference:
    ``flag_i = frac((i+1)·x·0.618…) > 0.5`` xor ``y > 0``; ``code_j = (⌊37(j+1)x⌋ mod 256)
    − 128`` (negative codes included); ``s = sin x + y``; ``q = x² · y``."""
    out = {}
    for i in range(N_FLAGS):
        f = np.modf((i + 1) * x * 0.6180339887498949)[0] > 0.5
        out[f"flag{i}"] = f ^ (y > 0)
    for j in range(N_CODES):
        out[f"code{j}"] = (np.mod(np.floor(37.0 * (j + 1) * x), 256.0) - 128.0).astype(np.int8)
    out["s"], out["q"] = np.sin(x) + y, x * x * y
    return out


def _packed_stage(p):
    x = p["x"]
    st = {f"flag{i}": jnp.modf((i + 1) * x * 0.6180339887498949)[0] > 0.5 for i in range(N_FLAGS)}
    st.update({f"code{j}": (jnp.mod(jnp.floor(37.0 * (j + 1) * x), 256.0) - 128.0).astype(jnp.int8)
               for j in range(N_CODES)})
    st["sin"], st["sq"] = jnp.sin(x), x * x
    return st


def _packed_combine(p, st):
    pos = p["y"] > 0
    out = {f"flag{i}": st[f"flag{i}"] ^ pos for i in range(N_FLAGS)}
    out.update({f"code{j}": st[f"code{j}"] for j in range(N_CODES)})
    out["s"], out["q"] = st["sin"] + p["y"], st["sq"] * p["y"]
    return out


PACKED_KERNEL = KernelSpec(
    name=PACKED,
    fn=lambda p: _packed_combine(p, _packed_stage(p)),
    params=(Param("x", Domain(0.0, 10.0), None, "stage input"),
            Param("y", Domain(-5.0, 5.0, True, True), 1.0, "combine input")),
    outputs=tuple(Output(f"flag{i}", "bool") for i in range(N_FLAGS))
    + tuple(Output(f"code{j}", "int8") for j in range(N_CODES))
    + (Output("s", "float"), Output("q", "float")),
    description="test-only factored kernel: many stage flags and signed int8 codes",
    factor=Factor(params=("x",), stage=_packed_stage, combine=_packed_combine),
)


# --- a small factored kernel with a categorical stage input ------------------------

FACTORED = "sweep_test_factored"

SHAPE = Categorical(
    name="shape",
    targets=("k1", "k2"),
    choices={"flat": {"k1": 1.0, "k2": 0.0}, "wave": {"k1": 0.5, "k2": 1.0}, "steep": {"k1": 2.0, "k2": -0.5}},
    default="flat",
    doc="a categorical stage input (as coverage_oa5's learning profile is)",
)


def _factored_stage(p):
    """Stage on (a, b, c, k1, k2): a NaN where a·k1 < b (as a threshold that does
    not exist), a flag, a signed int8 code."""
    a, b, c, k1, k2 = (p[k] for k in ("a", "b", "c", "k1", "k2"))
    d = a * k1 - b
    return {"root": jnp.sqrt(jnp.where(d >= 0, d, jnp.nan)), "ok": d >= 0,
            "s": jnp.sin(a) * k2 + b * c,
            "code": (jnp.mod(jnp.floor(3.0 * a + c), 7.0) - 3.0).astype(jnp.int8)}


def _factored_combine(p, st):
    x, y = p["x"], p["y"]
    return {"v": st["root"] * x + st["s"] * y, "w": st["s"] * x * x,
            "admissible": st["ok"] & (x > y), "code": st["code"]}


def factored_expected(a, b, c, k1, k2, x, y):
    """:data:`FACTORED_KERNEL`'s outputs in numpy (float64), the independent reference."""
    d = a * k1 - b
    with np.errstate(invalid="ignore"):
        root = np.sqrt(d)
    s = np.sin(a) * k2 + b * c
    return {"v": root * x + s * y, "w": s * x * x, "admissible": (d >= 0) & (x > y),
            "code": (np.mod(np.floor(3.0 * a + c), 7.0) - 3.0).astype(np.int8)}


FACTORED_KERNEL = KernelSpec(
    name=FACTORED,
    fn=lambda p: _factored_combine(p, _factored_stage(p)),
    params=(Param("a", Domain(0.0, 10.0), None, "stage input"),
            Param("b", Domain(0.0, 10.0, True, True), 1.0, "stage input"),
            Param("c", Domain(0.0, 10.0, True, True), 1.0, "stage input"),
            Param("k1", Domain(-5.0, 5.0, True, True), 1.0, "target of shape"),
            Param("k2", Domain(-5.0, 5.0, True, True), 0.0, "target of shape"),
            Param("x", Domain(-5.0, 5.0, True, True), 1.0, "combine input"),
            Param("y", Domain(-5.0, 5.0, True, True), 0.0, "combine input")),
    outputs=(Output("v", "float", "sqrt(a k1 - b) x + s y (NaN where a k1 < b)"),
             Output("w", "float", "s x^2"), Output("admissible", "bool", "a k1 >= b and x > y"),
             Output("code", "int8", "floor(3a + c) mod 7 - 3")),
    description="test-only factored kernel: the engine's factored path without the economics",
    categoricals=(SHAPE,),
    factor=Factor(params=("a", "b", "c", "k1", "k2"), stage=_factored_stage, combine=_factored_combine),
)


# --- a kernel that records the batch shapes it is traced with ---------------------

SHAPES = "sweep_test_shapes"
#: every batch shape :data:`SHAPES_KERNEL`'s function was traced with, in order
TRACED_SHAPES: list = []


def _shapes_fn(p):
    TRACED_SHAPES.append(tuple(jnp.shape(p["x"])))  # a trace-time side effect, on purpose
    return {"v": 2.0 * p["x"] + 1.0}


SHAPES_KERNEL = KernelSpec(
    name=SHAPES, fn=_shapes_fn, params=(Param("x", Domain(0.0, 1e9), None, "input"),),
    outputs=(Output("v", "float", "2x + 1"),), description="test-only: records its batch shapes",
    max_batch=64,
)

KERNELS = (TOY_KERNEL, SLOW_KERNEL, BROKEN_KERNEL, HOOK_KERNEL, PACKED_KERNEL, SHAPES_KERNEL,
           FACTORED_KERNEL)


def subprocess_env() -> dict:
    """Environment for `python -m sweep` subprocesses that can see the toy kernels."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["SWEEP_KERNEL_MODULES"] = MODULE
    env.setdefault("JAX_PLATFORMS", "cpu")
    return env


def sweep_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "sweep", *map(str, args)]


def kill_mid_run(spec_path, out, n_written, *, wait=60.0, jitter=0.5) -> None:
    """Start ``sweep run spec_path --out out`` in a subprocess, wait until
    ``n_written()`` (the files the run has finished, e.g. parts) reaches 3, then
    SIGKILL it at a random moment shortly after; fails if the run ends first.

    "Shortly" is at most ``jitter`` seconds and at most about 8 chunks' time (the
    time from the first file to the third, halved): a fixed half second was longer
    than the whole rest of a 40-chunk run once chunks took under 10 ms, and the kill
    then came after the last chunk."""
    import random
    import signal
    import subprocess

    proc = subprocess.Popen(sweep_cmd("run", spec_path, "--out", out, "--no-progress"),
                            env=subprocess_env(), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + wait
        first, poll = None, 0.005   # seconds between looks at the output directory
        while (k := n_written()) < 3:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, f"fewer than 3 files written after {wait:g} s"
            if k >= 1 and first is None:
                first = time.monotonic()
            time.sleep(poll)
        # (all three seen in one poll: they took less than a polling interval)
        per_file = (time.monotonic() - first) / 2 if first is not None else poll
        # a random moment mid-run, a few chunks on
        time.sleep(random.Random().uniform(0.0, min(jitter, 8 * per_file)))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL, "the run finished before it was killed"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
