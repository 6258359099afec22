"""The import layering of the project: floors kernels <- sweep <- notebooks (and the
benchmarks scripts on top), and no import cycle (tests/layering.py).

The checker is shown to fail on the faults it exists for: an upward import and a
cycle planted in a synthetic package, and in a temporary copy of the real packages.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.layering import FLOORS, import_graph, module_index, violations

REPO = Path(__file__).resolve().parents[1]


def test_the_project_has_no_upward_import_and_no_cycle():
    index = module_index(REPO, FLOORS)
    # the check looks at the real modules (not an empty set)
    assert {"kernels.catalog", "kernels.registry", "sweep.engine", "sweep.cli", "sweep.bench",
            "sweep.benchmarking.measure", "notebooks.nbtools"} <= set(index)
    found = violations(REPO)
    assert not found, "\n".join(map(str, found))


def test_kernel_modules_do_not_import_the_catalog():
    """The catalog imports the kernels, never the reverse: adding a kernel adds an
    edge into the catalog only."""
    graph = import_graph(module_index(REPO, FLOORS))
    importers = sorted(m for m, deps in graph.items() if "kernels.catalog" in deps and m.startswith("kernels"))
    assert importers == ["kernels"]            # the package's lazy get_kernel/kernel_names
    assert {"kernels.coverage", "kernels.terminal", "kernels.period1",
            "kernels.single_firm"} <= graph["kernels.catalog"]


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_checker_finds_planted_faults_in_a_synthetic_package(tmp_path):
    _write(tmp_path, {
        "kernels/__init__.py": "",
        "kernels/a.py": "from . import b\n",
        "kernels/b.py": "def f():\n    from .c import x  # inside a function: still a dependency\n",
        "kernels/c.py": "import kernels.a\nx = 1\n",
        "kernels/d.py": "import numpy\nfrom .a import b\n",
        "kernels/e.py": "def g():\n    from sweep import engine\n",
        "sweep/__init__.py": "",
        "sweep/engine.py": "from kernels import d\n",
        "sweep/cli.py": "import importlib\nm = importlib.import_module('notebooks.tools')\n",
        "notebooks/tools.py": "from sweep import engine\n",
    })
    found = {str(v) for v in violations(tmp_path)}
    assert found == {
        "cycle: kernels.a <-> kernels.b <-> kernels.c",
        "upward: kernels.e imports sweep.engine (floor 0 -> 1)",
        "upward: sweep.cli imports notebooks.tools (floor 1 -> 2)",
    }


def test_checker_is_clean_on_a_clean_synthetic_package(tmp_path):
    _write(tmp_path, {
        "kernels/__init__.py": "from .a import f\n",
        "kernels/a.py": "from . import b\nf = b.g\n",
        "kernels/b.py": "import math\ng = math.sin\n",
        "sweep/__init__.py": "",
        "sweep/x.py": "from kernels import a\nfrom kernels.b import g\nfrom . import y\n",
        "sweep/y.py": "import os\n",
    })
    assert violations(tmp_path) == []


@pytest.mark.parametrize("plant, expected", [
    # a kernel module reaching for the lookup: the cycle the catalog split removed
    ("kernels/registry.py", "cycle"),
    # the model importing the engine
    ("kernels/status.py", "upward"),
    # two engine modules importing each other
    ("sweep/manifest.py", "cycle"),
])
def test_checker_fails_on_a_fault_planted_in_a_copy_of_the_project(tmp_path, plant, expected):
    for pkg in ("kernels", "sweep", "notebooks"):
        shutil.copytree(REPO / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.toml"))
    # (the unchanged copy is clean: test_the_project_has_no_upward_import_and_no_cycle)
    line = {"kernels/registry.py": "\n\ndef _lookup(name):\n    from .catalog import get_kernel\n"
                                   "    return get_kernel(name)\n",
            "kernels/status.py": "\n\ndef _cli():\n    from sweep import cli\n    return cli\n",
            "sweep/manifest.py": "\n\ndef _engine():\n    from . import engine\n    return engine\n"}[plant]
    with open(tmp_path / plant, "a") as fh:
        fh.write(line)
    kinds = {v.kind for v in violations(tmp_path)}
    assert expected in kinds


def test_every_package_on_disk_is_in_the_distribution():
    """A subpackage the build leaves out (``sweep.sinks`` was, once) breaks every
    non-editable install: the patterns of ``[tool.setuptools.packages.find]`` must
    match each directory of ``kernels/`` and ``sweep/`` that holds an ``__init__.py``."""
    import fnmatch
    import re

    root = Path(__file__).resolve().parent.parent
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"\[tool\.setuptools\.packages\.find\](.*?)(?:\n\[|\Z)", text, re.S)
    assert block, "pyproject.toml has no [tool.setuptools.packages.find]"
    include = re.findall(r'"([^"]+)"', re.search(r"include\s*=\s*\[(.*?)\]", block.group(1), re.S).group(1))
    packages = sorted(p.parent.relative_to(root).as_posix().replace("/", ".")
                      for top in ("kernels", "sweep") for p in (root / top).rglob("__init__.py"))
    assert {"kernels", "sweep", "sweep.sinks", "sweep.specs", "sweep.benchmarking"} <= set(packages)
    missing = [p for p in packages if not any(fnmatch.fnmatchcase(p, pat) for pat in include)]
    assert missing == [], missing
