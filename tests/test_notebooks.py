"""Execute the analysis notebooks top to bottom (errors fatal) at a small resolution.

Each notebook runs in its own Jupyter kernel (the ``python3`` kernel spec; when
none is installed for the user, the kernel is started with this interpreter, so a
fresh venv with ipykernel needs no ``ipykernel install``).  Data and figures go to
a temporary copy of ``notebooks/``, so the test never touches a user's
``notebooks/data`` or ``notebooks/figures``.  Both notebooks run concurrently (each
is dominated by single-threaded XLA compilation: the ``period1`` kernel alone takes
about a minute to compile); together they use about 100 s of CPU, and took 2 min 40 s
of wall time on a 2-core machine shared with other jobs (load average ~10).
``-k equilibria`` executes only ``equilibria.ipynb`` and re-evaluates the
counterexamples it lists (about 3 min of wall time and of CPU, two ``period1``
compiles: the notebook's and ``sweep.engine.evaluate``'s one-lane function).
"""
from __future__ import annotations

import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
RESOLUTION = "10"

EXPECTED = {
    "coverage.ipynb": ["coverage_maps.png"],
    "policies.ipynb": ["single_firm_policy.png", "engagement_reversal.png", "terminal_profiles_pi2.png",
                       "period1_vs_eta.png", "period1_best_responses.png"],
    "bonus.ipynb": ["bonus_h1_eta.png", "bonus_free_ride.png", "bonus_hump.png", "bonus_who_pays.png"],
    "equilibria.ipynb": ["equilibria_maps.png", "equilibria_eta_star.png"],
}


def _kernel_manager_class():
    """A kernel manager that starts ``python3`` with this interpreter.

    ``jupyter_client`` resolves ``python3`` to the installed kernel spec, or (when
    none is installed) to ipykernel's built-in spec, whose argv is ``sys.executable``
    of the *client*; pinning the argv here makes both cases run this venv's Python.
    """
    from jupyter_client.manager import KernelManager

    class ThisInterpreter(KernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            return [sys.executable, "-m", "ipykernel_launcher", "-f",
                    os.path.realpath(self.connection_file), *(extra_arguments or [])]

    return ThisInterpreter


def _execute(name: str, workdir: Path) -> None:
    nb = nbformat.read(workdir / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", allow_errors=False,
        kernel_manager_class=_kernel_manager_class(),
        resources={"metadata": {"path": str(workdir)}})
    client.execute()


def _selected(request) -> list:
    """The notebooks the collected tests of this module need (all unless ``-k`` narrows
    them), so ``-k equilibria`` executes that notebook only."""
    names = set()
    for item in request.session.items:
        spec = getattr(item, "callspec", None)
        if item.module is request.module and spec is not None and spec.params.get("name") in EXPECTED:
            names.add(spec.params["name"])
        elif item.module is request.module and item.name.startswith("test_equilibria_"):
            names.add("equilibria.ipynb")
    return sorted(names) or sorted(EXPECTED)


@pytest.fixture(scope="module")
def executed(tmp_path_factory, request):
    work = tmp_path_factory.mktemp("notebooks")
    for p in NOTEBOOKS.iterdir():
        if p.suffix in (".ipynb", ".py"):
            shutil.copy2(p, work / p.name)
    old = {k: os.environ.get(k) for k in ("SWEEP_NB_RESOLUTION", "JAX_PLATFORMS", "MPLBACKEND")}
    os.environ.update(SWEEP_NB_RESOLUTION=RESOLUTION, JAX_PLATFORMS="cpu")
    try:
        wanted = _selected(request)
        with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
            futures = {name: pool.submit(_execute, name, work) for name in wanted}
            errors = {}
            for name, f in futures.items():
                try:
                    f.result()
                except Exception as exc:  # report both notebooks' failures
                    errors[name] = exc
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return work, errors


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_and_writes_figures(executed, name):
    work, errors = executed
    if name in errors:
        raise errors[name]
    for png in EXPECTED[name]:
        path = work / "figures" / png
        assert path.is_file(), f"{name} did not write figures/{png}"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"figures/{png} is not a PNG"
        assert path.stat().st_size > 5000, f"figures/{png} looks empty"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_is_committed_clean(name):
    """Notebooks are committed without outputs (regenerate with notebooks/build_notebooks.py)."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{name}: strip outputs before committing"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.slow
def test_equilibria_counterexamples_reproduce(executed):
    """Every counterexample the atlas lists reproduces with what ``sweep eval period1``
    runs (``sweep.engine.evaluate``, in this process: one compile for all of them):
    the same equilibrium counts and flags, the same h1* and h1_sf to 1e-9."""
    import json
    import math

    from sweep.engine import evaluate

    work, errors = executed
    if "equilibria.ipynb" in errors:
        raise errors["equilibria.ipynb"]
    listed = json.loads((work / "figures" / "equilibria_counterexamples.json").read_text())
    # at the test resolution the atlas finds vectors with other than one symmetric equilibrium
    assert listed, "the atlas listed no counterexample: this test would check nothing"
    for c in listed:
        out = evaluate("period1", {**c["params"], **c["fixed"]})["outputs"]
        for key, claimed in c["claim"].items():
            got = out[key]
            if isinstance(claimed, float) or (claimed is None and isinstance(got, float)):
                both_nan = claimed is None and math.isnan(got)
                assert both_nan or (claimed is not None and abs(got - claimed) <= 1e-9), (c, key, got)
            else:
                assert got == claimed, (c["statement"], c["params"], key, got, claimed)
