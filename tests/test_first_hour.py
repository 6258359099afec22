"""The first hour of a new user (issue 12): what they read and type must work as written."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sweep import __version__, dataset
from sweep.cli import main
from sweep.engine import run
from sweep.errors import OutputError, SpecError
from sweep.manifest import pooled_axes
from sweep.spec import load_spec, parse_spec

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
MODEL_DOC = REPO / "docs" / "model.md"


def readme_spec_example() -> str:
    """The indented TOML block under README's "### Spec files", dedented."""
    section = README.split("### Spec files", 1)[1]
    lines, started = [], False
    for line in section.splitlines():
        if line.startswith("    kernel = "):
            started = True
        if started:
            if line and not line.startswith("    "):
                break
            lines.append(line[4:])
    assert lines, "no spec example found under ### Spec files"
    return "\n".join(lines).strip() + "\n"


def test_readme_spec_example_runs_as_written(tmp_path):
    text = readme_spec_example()
    assert 'kernel = "coverage_oa5"' in text and "[axes]" in text
    path = tmp_path / "example.toml"
    path.write_text(text)
    spec = load_spec(path)
    res = run(spec, tmp_path / "out", progress=False)
    assert res.complete and res.n_vectors == 4 * 41 * 21
    df = dataset.read_dataset(tmp_path / "out", columns=["index", "admissible", "rho1"])
    assert df["index"].tolist() == list(range(res.n_vectors))
    assert df["admissible"].any()  # the example's fixed values give admissible rows


def test_missing_parameters_are_listed_at_once():
    with pytest.raises(SpecError) as info:
        parse_spec({"kernel": "coverage_oa5", "fixed": {"beta": 0.95}, "axes": {"eta": [1.0, 2.0]}},
                   source="s.toml")
    msg = str(info.value)
    missing = ["alpha1", "alpha2", "pi1", "pi2", "phi", "gamma", "delta", "lam_R", "b"]
    assert "missing 9 required parameters" in msg
    for name in missing:
        assert re.search(rf"\b{name} in \(", msg), name
    # one missing parameter: the one-key message of before
    with pytest.raises(SpecError, match=r"s.toml: fixed.x: missing required parameter"):
        parse_spec({"kernel": "sweep_test_toy"}, source="s.toml")


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"sweep (skillsweep) {__version__}"


def test_eval_repeated_key_is_an_error(capsys):
    assert main(["eval", "sweep_test_toy", "x=0.5", "x=0.6"]) == 2
    err = capsys.readouterr().err
    assert "x is given twice" in err and "x=0.6" in err


def test_refusal_of_a_different_spec_names_the_keys_that_differ(tmp_path, capsys):
    a = tmp_path / "a.toml"
    a.write_text('kernel = "sweep_test_toy"\nchunk_size = 5\n[fixed]\ny = 0.5\n[axes]\nx = [1.0, 2.0, 3.0]\n')
    b = tmp_path / "b.toml"
    b.write_text('kernel = "sweep_test_toy"\nchunk_size = 7\n[fixed]\ny = 0.6\n[axes]\nx = [1.0, 2.0, 4.0]\n')
    out = tmp_path / "out"
    run(load_spec(a), out, progress=False)
    with pytest.raises(OutputError) as info:
        run(load_spec(b), out, progress=False)
    msg = str(info.value)
    assert "they differ in " in msg and "chunk_size" not in msg  # both capped at the 3-point grid
    assert "fixed.y (0.5 vs 0.6)" in msg and "axes.x (different values)" in msg


def test_summarize_names_the_pooled_axes():
    manifest = {"axes": [{"name": "b", "size": 4}, {"name": "eta", "size": 6}, {"name": "phi", "size": 3}]}
    assert pooled_axes(manifest, ("eta",)) == ["b (4 values)", "phi (3 values)"]
    assert pooled_axes(manifest, ()) == ["b (4 values)", "eta (6 values)", "phi (3 values)"]


def test_docs_model_has_the_cited_sections_and_every_citation_resolves():
    text = MODEL_DOC.read_text()
    headings = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", text, flags=re.M))
    assert {str(i) for i in range(1, 10)} | {"2.1"} <= headings
    cited = set()
    for path in list(REPO.glob("*.md")) + [p for d in ("sweep", "kernels", "tests", "notebooks", "benchmarks", "docs")
                                          for p in (REPO / d).rglob("*") if p.suffix in (".py", ".md", ".toml")]:
        body = path.read_text(errors="replace")
        if path.name == "test_first_hour.py":
            continue
        assert "MODEL" + ".md" not in body, f"{path}: cites a model file the repository does not have"
        cited.update(re.findall(r"docs/model\.md §(\d+(?:\.\d+)?)", body))
    assert cited and cited <= headings, cited - headings


def test_readme_explains_the_kernel_to_table_mapping():
    i = README.index("Kernel names follow the online appendix")
    para = README[i:i + 600]
    assert "`coverage_oa4`" in para and "Table OA3" in para
    assert "`coverage_oa5`" in para and "Tables OA4 and OA5" in para


def test_cli_help_lists_verify():
    res = subprocess.run([sys.executable, "-m", "sweep", "--help"], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 0 and "verify" in res.stdout
