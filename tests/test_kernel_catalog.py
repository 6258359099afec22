"""The kernel catalog, the one-declaration helper, the named status codes, user
kernel modules and the device-count helper: the scaffolding a new kernel uses."""
from __future__ import annotations

import json
import sys
import types

import pytest

from kernels import catalog
from kernels.declare import FLAGS, admissibility_outputs, declare
from kernels.registry import Domain, KernelSpec, Output, Param
from kernels.status import MESSAGES, OK, Status, describe


def test_status_codes_keep_their_stored_values_and_have_one_message_each():
    # the int8 values in existing Parquet datasets: never renumbered
    assert [(s.name, int(s)) for s in Status] == [
        ("CONVERGED", 0), ("NO_SIGN_CHANGE", 1), ("NONFINITE", 2), ("MAX_ITER", 3),
        ("AT_LOWER", 4), ("AT_UPPER", 5), ("SKIPPED", 6), ("NOT_UNIQUE", 7)]
    assert set(MESSAGES) == set(Status) and len(set(MESSAGES.values())) == len(Status)
    assert OK == (0, 4, 5)
    assert describe(7).startswith("NOT_UNIQUE: ") and describe(42) == "42: unknown status code"


def test_catalog_lists_every_kernel_module_once():
    names = [k.name for k in catalog.KERNELS]
    assert names == ["coverage_oa4", "coverage_oa5", "period1", "period1_reference", "single_firm", "terminal",
                     "terminal_bonus", "period1_bonus"]
    assert set(names) <= set(catalog.kernel_names())
    for k in catalog.KERNELS:
        assert catalog.get_kernel(k.name) is k
        # the standard admissibility outputs come last, in the standard order
        flags = [o.name for o in k.outputs if o.name in FLAGS]
        assert flags == sorted(flags, key=FLAGS.index)
        assert k.outputs[-1].name == "admissible"


def test_register_and_unregister():
    spec = KernelSpec("test_catalog_tmp", lambda p: {"v": p["x"]}, (Param("x", Domain(0.0, 1.0)),),
                      (Output("v", "float"),), "temporary")
    catalog.register(spec)
    try:
        assert catalog.get_kernel("test_catalog_tmp") is spec and catalog.is_registered("test_catalog_tmp")
        with pytest.raises(ValueError, match="registered twice"):
            catalog.register(spec)
    finally:
        catalog.unregister("test_catalog_tmp")
    assert not catalog.is_registered("test_catalog_tmp")
    with pytest.raises(KeyError):
        catalog.get_kernel("test_catalog_tmp")
    with pytest.raises(ValueError, match="part of the catalog"):
        catalog.unregister("terminal")
    with pytest.raises(ValueError, match="registered twice"):
        catalog.register(catalog.get_kernel("terminal"))


def test_declare_appends_the_standard_flags():
    spec = declare("k", lambda p: p, (), (Output("x", "float"),), "d", flags=("domain", "A2", "OA1"),
                   requires=("domain", "A2"), periods=(2,))
    assert [(o.name, o.kind) for o in spec.outputs] == [
        ("x", "float"), ("domain", "bool"), ("A2", "bool"), ("OA1", "bool"), ("admissible", "bool")]
    assert spec.outputs[2].doc == "A2 for period 2: φℓ(π2) < 1"
    assert spec.outputs[-1].doc == "domain & A2"
    assert spec.categoricals[0].name == "profile"
    with pytest.raises(ValueError, match="not in the standard order"):
        admissibility_outputs(("A2", "domain"))
    with pytest.raises(ValueError, match="unknown admissibility flags"):
        admissibility_outputs(("domain", "A5"))
    with pytest.raises(ValueError, match="not among the flags"):
        admissibility_outputs(("domain",), requires=("domain", "A1"))
    with pytest.raises(ValueError, match="duplicate output names"):
        declare("k", lambda p: p, (), (Output("domain", "bool"),), "d", flags=("domain",))


def test_kernel_modules_register_their_KERNELS(monkeypatch):
    from sweep.kernel_modules import load_kernel_modules

    spec = KernelSpec("test_user_module_kernel", lambda p: {"v": p["x"]},
                      (Param("x", Domain(0.0, 1.0)),), (Output("v", "float"),), "from a user module")
    mod = types.ModuleType("test_user_kernels_mod")
    mod.KERNELS = (spec,)
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    try:
        load_kernel_modules([mod.__name__])
        load_kernel_modules([mod.__name__])          # the same spec again: a no-op
        assert catalog.get_kernel(spec.name) is spec
        other = types.ModuleType("test_user_kernels_other")
        other.KERNELS = (KernelSpec(spec.name, spec.fn, spec.params, spec.outputs, "another"),)
        monkeypatch.setitem(sys.modules, other.__name__, other)
        with pytest.raises(ValueError, match="already registered"):
            load_kernel_modules([other.__name__])
    finally:
        catalog.unregister(spec.name)


def test_device_count_helper(monkeypatch):
    from sweep import devices

    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_fast_math=false")
    assert devices.expose_cpu_devices(3) is True
    assert devices.os.environ["XLA_FLAGS"] == ("--xla_cpu_fast_math=false "
                                               "--xla_force_host_platform_device_count=3")
    assert devices.expose_cpu_devices(5) is False          # an explicit setting wins
    assert "count=3" in devices.os.environ["XLA_FLAGS"]
    assert devices.with_device_count("--a --xla_force_host_platform_device_count=2", 4) == \
        "--a --xla_force_host_platform_device_count=4"


def test_sweep_kernels_NAME_lists_parameters_outputs_and_status_codes(capsys):
    from sweep.cli import main

    assert main(["kernels", "coverage_oa4", "--json"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)
    assert doc["name"] == "coverage_oa4"
    assert [p["name"] for p in doc["params"]][:2] == ["alpha2", "pi2"]
    assert "status_sbarbar2" in [o["name"] for o in doc["outputs"]]
    assert [(c["code"], c["name"]) for c in doc["status_codes"]] == [(int(s), s.name) for s in Status]
    assert main(["kernels", "terminal"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("terminal: ") and "coverage_oa5" not in out
    assert "7  NOT_UNIQUE" in out and "status codes" in out
    assert main(["kernels", "no_such_kernel"]) == 2
    assert "unknown kernel 'no_such_kernel'" in capsys.readouterr().err
