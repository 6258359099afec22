"""Spec parsing and validation (sweep.spec), directly and through `sweep run`.

Every bad spec must give a SpecError whose message names the file, the key and
what was expected; through the CLI it must exit 2 and write nothing.
"""
from __future__ import annotations

import numpy as np
import pytest

from sweep.cli import main
from sweep.spec import SpecError, load_spec, parse_spec
from tests.toy_kernels import TOY

GOOD = """\
kernel = "sweep_test_toy"
dtype = "float64"
chunk_size = 16

[fixed]
mode = "hi"

[axes]
x = { linspace = [1, 2, 5] }
y = [-1.0, 0, 2.5]
"""


def write(tmp_path, text, name="spec.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def toml_value(v) -> str:
    return repr(v) if not isinstance(v, str) else f'"{v}"'


def test_good_spec_parses(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.kernel == TOY and spec.dtype == "float64" and spec.chunk_size == 15  # capped at grid size
    assert spec.axis_names == ("x", "y") and spec.shape == (5, 3) and spec.n_vectors == 15
    assert spec.axes[0].values == (1.0, 1.25, 1.5, 1.75, 2.0)
    assert spec.axes[1].values == (-1.0, 0.0, 2.5)
    assert spec.fixed == {"mode": "hi"}
    # categorical expanded into its targets, nothing else left unset
    assert spec.resolved_fixed() == {"c1": 0.75, "c2": 2.0}
    assert spec.text == GOOD and spec.source.endswith("spec.toml")


def test_defaults_and_default_choice():
    spec = parse_spec({"kernel": TOY, "fixed": {"x": 2}})
    assert spec.dtype == "float64" and spec.chunk_size == 1 and spec.n_vectors == 1 and spec.axes == ()
    # y from its Param default, c1/c2 from the categorical's default choice "lo"
    assert spec.resolved_fixed() == {"x": 2.0, "y": 1.0, "c1": 0.25, "c2": 1.0}
    # setting a target directly: the others take their Param defaults
    spec = parse_spec({"kernel": TOY, "fixed": {"x": 2, "c2": 3}})
    assert spec.resolved_fixed() == {"x": 2.0, "y": 1.0, "c1": 0.25, "c2": 3.0}


def test_logspace_and_axis_order():
    spec = parse_spec({"kernel": TOY, "axes": {"y": [1, 2], "x": {"logspace": [-1, 0, 3]}}})
    assert spec.axis_names == ("y", "x")  # order as written
    np.testing.assert_allclose(spec.axes[1].values, [0.1, 10 ** -0.5, 1.0], rtol=1e-15)


def test_categorical_axis():
    spec = parse_spec({"kernel": TOY, "fixed": {"x": 1}, "axes": {"mode": ["mid", "lo"]}})
    assert spec.axes[0].categorical and spec.axes[0].values == ("mid", "lo")
    assert spec.resolved_fixed() == {"x": 1.0, "y": 1.0}  # c1, c2 come from the axis


def test_hash_ignores_formatting_but_not_content(tmp_path):
    a = load_spec(write(tmp_path, GOOD, "a.toml"))
    b = load_spec(write(tmp_path, "# a comment\n" + GOOD.replace("[1, 2, 5]", "[1.0, 2.0, 5]"), "b.toml"))
    assert a.hash == b.hash
    assert a.with_overrides(dtype="float32").hash != a.hash
    assert a.with_overrides(chunk_size=4).hash != a.hash
    c = load_spec(write(tmp_path, GOOD.replace("2.5", "2.4"), "c.toml"))
    assert c.hash != a.hash


def test_to_dict_round_trips(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    again = parse_spec(spec.to_dict(), source="again")
    assert again.hash == spec.hash and again.axes == spec.axes and again.fixed == spec.fixed


def test_overrides_revalidate():
    spec = parse_spec({"kernel": TOY, "axes": {"x": [0.5, 1.0]}})
    assert spec.with_overrides(chunk_size=1).n_chunks == 2
    assert spec.with_overrides(dtype="float32").dtype == "float32"
    with pytest.raises(SpecError, match="dtype"):
        spec.with_overrides(dtype="float16")


# (TOML body, key named in the message, expectation named in the message)
BAD = [
    ('kernel = "nope"\n[fixed]\nx = 1\n', "kernel", "unknown kernel 'nope'"),
    ('[fixed]\nx = 1\n', "kernel", "missing"),
    (f'kernel = "{TOY}"\n[fixed]\nx = 1\nzeta = 2\n', "fixed.zeta", "unknown parameter"),
    (f'kernel = "{TOY}"\n[axes]\nzeta = [1, 2]\n[fixed]\nx = 1\n', "axes.zeta", "unknown parameter"),
    (f'kernel = "{TOY}"\n[fixed]\ny = 1\n', "fixed.x", "missing required parameter"),
    (f'kernel = "{TOY}"\n[axes]\nx = []\n', "axes.x", "non-empty list"),
    (f'kernel = "{TOY}"\n[axes]\nx = [1, "a"]\n', "axes.x", "list of numbers"),
    (f'kernel = "{TOY}"\n[axes]\nx = [1, true]\n', "axes.x", "list of numbers"),
    (f'kernel = "{TOY}"\n[axes]\nx = "1"\n', "axes.x", "linspace"),
    (f'kernel = "{TOY}"\n[axes]\nx = {{ linspace = [1, 2] }}\n', "axes.x.linspace", "[lo, hi, n]"),
    (f'kernel = "{TOY}"\n[axes]\nx = {{ linspace = [1, 2, 0] }}\n', "axes.x.linspace", "n >= 1"),
    (f'kernel = "{TOY}"\n[axes]\nx = {{ linspace = [1, 2, 2.5] }}\n', "axes.x.linspace", "n >= 1"),
    (f'kernel = "{TOY}"\n[axes]\nx = {{ geomspace = [1, 2, 3] }}\n', "axes.x", "logspace"),
    (f'kernel = "{TOY}"\n[axes]\nx = {{ linspace = [1, nan, 3] }}\n', "axes.x.linspace", "finite"),
    (f'kernel = "{TOY}"\n[axes]\nx = [1, inf]\n', "axes.x", "finite"),
    (f'kernel = "{TOY}"\n[fixed]\nx = nan\n', "fixed.x", "finite"),
    (f'kernel = "{TOY}"\n[fixed]\nx = 10\n', "fixed.x", "(0, 10)"),
    (f'kernel = "{TOY}"\n[axes]\nx = [1, 0]\n', "axes.x", "(0, 10)"),
    (f'kernel = "{TOY}"\n[axes]\nx = {{ logspace = [-1, 2, 4] }}\n', "axes.x", "(0, 10)"),
    (f'kernel = "{TOY}"\n[fixed]\nx = 1\ny = -5.5\n', "fixed.y", "[-5, 5]"),
    (f'kernel = "{TOY}"\n[fixed]\nx = "one"\n', "fixed.x", "a number"),
    (f'kernel = "{TOY}"\n[fixed]\nx = 1\n[axes]\nx = [1, 2]\n', "fixed.x", "at most one of [fixed] and [axes]"),
    (f'kernel = "{TOY}"\n[fixed]\nx = 1\nmode = "max"\n', "fixed.mode", "one of 'lo', 'hi', 'mid'"),
    (f'kernel = "{TOY}"\n[fixed]\nx = 1\n[axes]\nmode = ["lo", "max"]\n', "axes.mode", "unknown choice 'max'"),
    (f'kernel = "{TOY}"\n[fixed]\nx = 1\nmode = 3\n', "fixed.mode", "one of 'lo'"),
    (f'kernel = "{TOY}"\n[fixed]\nx = 1\nmode = "hi"\nc1 = 0.5\n', "fixed.c1", "either 'mode' or its parameters"),
    (f'kernel = "{TOY}"\n[fixed]\nx = 1\n[axes]\nmode = ["hi"]\nc2 = [1, 2]\n', "axes.c2", "either 'mode'"),
    (f'kernel = "{TOY}"\ndtype = "float16"\n[fixed]\nx = 1\n', "dtype", '"float64" or "float32"'),
    (f'kernel = "{TOY}"\nchunk_size = 0\n[fixed]\nx = 1\n', "chunk_size", "an integer between 1"),
    (f'kernel = "{TOY}"\nchunk_size = "big"\n[fixed]\nx = 1\n', "chunk_size", "an integer between 1"),
    (f'kernel = "{TOY}"\nchunk_size = 1.5\n[fixed]\nx = 1\n', "chunk_size", "an integer between 1"),
    (f'kernel = "{TOY}"\nkernal = "x"\n[fixed]\nx = 1\n', "kernal", "unknown top-level key"),
    (f'kernel = "{TOY}"\n[axes]\nx = [1, 2, 1]\n', "axes.x", "distinct values"),
    (f'kernel = "{TOY}"\ndtype = "float32"\n[axes]\nx = [9.9999999999]\n', "axes.x", "in float32"),
    ('kernel = = 1\n', "not valid TOML", "not valid TOML"),
]


@pytest.mark.parametrize("text,key,expected", BAD, ids=[f"{i}-{c[1]}" for i, c in enumerate(BAD)])
def test_bad_spec_message_names_file_key_expectation(tmp_path, text, key, expected):
    path = write(tmp_path, text, "bad.toml")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:"), msg
    assert key in msg and expected in msg, msg
    if "not valid TOML" not in msg and "missing" not in msg:
        assert "expected" in msg, msg


def test_too_large_grid_is_rejected_before_building_axes():
    # 3 axes of 2**31 points = 2**93 vectors; refused from the sizes alone (building
    # the axes first would need 48 GiB).
    big = {"linspace": [0.5, 1, 2**31]}
    data = {"kernel": TOY, "axes": {"x": big, "y": big, "c1": big}}
    with pytest.raises(SpecError) as info:
        parse_spec(data, source="huge.toml")
    msg = str(info.value)
    assert msg.startswith("huge.toml: axes:") and "2**62" in msg and f"{2**93}" in msg
    # one axis too long to hold: refused from its count, naming the count and the limit
    with pytest.raises(SpecError, match=r"huge.toml: axes: the axes have 2147483649 points together "
                                        r"\(x=2147483649\); expected at most 2\*\*22 = 4194304"):
        parse_spec({"kernel": TOY, "axes": {"x": {"linspace": [0.5, 1, 2**31 + 1]}}}, source="huge.toml")


def test_missing_file_and_non_table():
    with pytest.raises(SpecError, match="nope.toml: cannot read spec file"):
        load_spec("/nonexistent/nope.toml")
    with pytest.raises(SpecError, match="must be a table"):
        parse_spec([1, 2], source="x")


@pytest.mark.parametrize("i", range(len(BAD)), ids=[f"{i}-{c[1]}" for i, c in enumerate(BAD)])
def test_bad_spec_through_cli_exits_2_and_writes_nothing(tmp_path, capsys, i):
    text, key, expected = BAD[i]
    path = write(tmp_path, text, "bad.toml")
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert str(path) in captured.err and key in captured.err and expected in captured.err
    assert not out.exists()


def test_cli_override_errors_exit_2(tmp_path, capsys):
    path = write(tmp_path, GOOD)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--chunk-size", "0"]) == 2
    assert "--chunk-size" in capsys.readouterr().err
    assert main(["run", str(path), "--out", str(out), "--shard", "4/3"]) == 2
    assert "--shard" in capsys.readouterr().err
    assert main(["run", str(path), "--out", str(out), "--shard", "0/3"]) == 2
    assert main(["run", str(path)]) == 2  # --out is required: an argparse usage error
    assert "--out" in capsys.readouterr().err
    assert main(["run", str(path), "--out", str(out), "--executor", "nosuch"]) == 2
    assert "--executor nosuch" in capsys.readouterr().err
    assert not out.exists()
