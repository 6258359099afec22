"""Shared helpers of the analysis notebooks (``coverage.ipynb``, ``policies.ipynb``).

- Importing this module configures JAX the way the ``sweep`` CLI does (every CPU
  core a device; import it before JAX) and registers the helper kernels below;
  :func:`setup` turns on float64 and reads the resolution.
- :func:`sweep_run` runs a spec (a dict, the structure of a TOML spec file) through
  the engine into ``notebooks/data/<name>`` and returns the dataset as a DataFrame.
  A directory that already holds the same spec is resumed (finished chunks are
  skipped), so re-running a notebook only reads; a directory holding another
  spec (e.g. another resolution) is overwritten.  The spec is also written to
  ``notebooks/specs/<name>.toml`` so ``sweep run`` can reproduce it from a shell.
- Two helper kernels the figures need and the catalog does not provide, built from
  the catalog's own functions and registered under names of their own (nothing in
  ``kernels/`` changes): ``nb_single_firm_path`` (the single-firm outputs plus the
  period-2 skill g(s1, h1_sf; A1)) and ``nb_period1_payoff`` (firm j's period-1
  payoff Φ1^j(h1^j, h1^−j), eq. 10, whose argmax over h1^j on a grid is j's best
  response).

Every plotted number comes from a Parquet dataset written by the engine.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from sweep.devices import expose_cpu_devices

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
FIGURES = HERE / "figures"
SPECS = HERE / "specs"


def setup(default_resolution: int) -> int:
    """Turn on float64 and create the output folders; return the grid resolution:
    ``SWEEP_NB_RESOLUTION`` if set, else ``default_resolution``."""
    import jax

    # Notebooks run in their own kernel: tests/conftest.py does not apply here.
    jax.config.update("jax_enable_x64", True)
    DATA.mkdir(exist_ok=True)
    FIGURES.mkdir(exist_ok=True)
    SPECS.mkdir(exist_ok=True)
    env = os.environ.get("SWEEP_NB_RESOLUTION")
    return int(env) if env else int(default_resolution)


# ---------------------------------------------------------------------------
# running sweeps


def _toml_value(v) -> str:
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    return repr(float(v)) if isinstance(v, float) else str(v)


def to_toml(spec: dict, comment: str = "") -> str:
    """A spec dict as TOML text (the format of ``sweep run SPEC.toml``)."""
    lines = [f"# {line}" for line in comment.splitlines()]
    for key in ("kernel", "dtype", "chunk_size", "outputs"):
        if key in spec:
            lines.append(f"{key} = {_toml_value(spec[key])}")
    for section in ("fixed", "axes"):
        lines += ["", f"[{section}]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in spec.get(section, {}).items()]
    for name, body in spec.get("reduce", {}).items():  # [reduce.NAME]: inline tables suffice
        lines += ["", f"[reduce.{name}]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in body.items()]
    return "\n".join(lines) + "\n"


def sweep_run(name: str, spec: dict | None = None, *, parsed=None, comment: str = "", columns=None,
              rows: bool = True):
    """Run ``spec`` (dict) or the parsed ``parsed`` Spec into ``data/<name>``; return
    ``(DataFrame, RunResult)``.  Resumes when the directory holds the same spec."""
    from sweep import engine
    from sweep.dataset import read_dataset
    from sweep.errors import OutputError
    from sweep.spec import parse_spec

    if parsed is None:
        toml = SPECS / f"{name}.toml"
        text = to_toml(spec, comment or f"Written by notebooks/nbtools.py for data/{name}")
        if not toml.exists() or toml.read_text() != text:
            toml.write_text(text)
        parsed = parse_spec(spec, source=str(toml.relative_to(HERE.parent)))
    out = DATA / name
    try:
        res = engine.run(parsed, out, progress=False)
    except OutputError:
        # the directory holds another spec (another resolution): replace it
        res = engine.run(parsed, out, progress=False, overwrite=True)
    verb = "read (already complete)" if res.chunks_computed == 0 else f"computed in {res.seconds:.1f} s"
    print(f"{name}: {res.n_vectors:,} vectors, kernel {res.kernel}, {verb}  ->  {out.relative_to(HERE.parent)}")
    return (read_dataset(out, columns=columns) if rows else None), res


def sweep_summaries(name: str, spec: dict, *, comment: str = ""):
    """Run ``spec`` (a dict with a ``reduce`` table) into ``data/<name>``; return
    ``({reduction: xarray.Dataset}, RunResult)`` read with ``sweep.dataset.open_summary``."""
    from sweep.dataset import open_summary

    _, res = sweep_run(name, spec, comment=comment, rows=False)
    return {r: open_summary(DATA / name, r) for r in spec["reduce"]}, res


def open_summary_of(name: str, reduction: str):
    """The merged summary ``reduction`` of the dataset ``data/<name>`` as an
    ``xarray.Dataset`` (dims: its ``by`` axes), via ``sweep.dataset.open_summary``."""
    from sweep.dataset import open_summary

    return open_summary(DATA / name, reduction)


def savefig(fig, name: str) -> Path:
    path = FIGURES / f"{name}.png"
    fig.savefig(path, dpi=130, bbox_inches="tight")
    print("wrote", path.relative_to(HERE.parent))
    return path


# ---------------------------------------------------------------------------
# helper kernels (registered once per process)


def _register_helper_kernels() -> None:
    from kernels.catalog import is_registered, register
    from kernels.registry import KernelSpec, Output, Param, Domain

    if is_registered("nb_single_firm_path"):
        return

    import jax.numpy as jnp

    from kernels import single_firm as sf
    from kernels.coverage import learning_terms
    from kernels.params import broadcast_outputs, make_params
    import jax

    from kernels.period1 import P1_PARAMS
    from kernels.period1_search import Period1, payoff, values_at
    from kernels.primitives import g
    from kernels.profiles import PROFILE, profile_scale
    from kernels.terminal import learning_term, period2_of

    def single_firm_path(p):
        """``single_firm`` plus the period-2 skill it steers to, g(s1, h1_sf; A1) (eq. 3)."""
        out = dict(sf.single_firm(p))
        q = make_params(p, sf.SF_PARAMS)
        L1, _ = learning_terms(q, q["pi1"], q["pi2"])
        out["s2_sf"] = g(q["s1"], out["h1_sf"], q["alpha1"], q["pi1"], q["gamma"], L1)
        return broadcast_outputs(out, q)

    register(KernelSpec(
        name="nb_single_firm_path",
        fn=single_firm_path,
        params=sf.SF_PARAMS,
        outputs=sf.SINGLE_FIRM_KERNEL.outputs + (Output("s2_sf", "float", "period-2 skill g(s1, h1_sf; A1)"),),
        description="notebooks: single_firm plus the period-2 skill g(s1, h1_sf; A1)",
        categoricals=(PROFILE,),
    ))

    own = Param("h1", Domain(0.0, 1.0, True, True), None, "firm j's period-1 engagement h1^j")
    other = Param("h1_other", Domain(0.0, 1.0, True, True), None,
                  "the other firm's period-1 engagement h1^−j")
    pay_params = P1_PARAMS + (own, other)

    def payoff_kernel(p):
        """Firm j's period-1 payoff Φ1^j(h1^j, h1^−j) (eq. 10) and its sorting share σ1^j,
        from the same continuation values the ``period1`` kernel uses."""
        p = make_params(p, pay_params)
        shape = jnp.broadcast_shapes(*[jnp.shape(v) for v in p.values()])
        p = {k: jnp.broadcast_to(v, shape) for k, v in p.items()}
        k = profile_scale(p["ell_a"], p["ell_c"], p["ell_kappa0"], p["ell_kappa1"], p["ell_normalize"])
        L1 = learning_term(p, p["pi1"], k)
        q2 = period2_of(p, p["alpha2"], p["pi2"], k)
        q1 = Period1(p["s1"], p["alpha1"], p["pi1"], p["gamma"], p["delta"], p["lam_R"], p["b"], L1)
        xv = values_at(p["h1"], q1, q2)
        yv = values_at(p["h1_other"], q1, q2)
        sigma = jax.nn.sigmoid(q2.beta * (xv.V - yv.V) / q2.eta)
        return broadcast_outputs(dict(Phi1=payoff(xv, yv, q2), sigma1=sigma), p)

    register(KernelSpec(
        name="nb_period1_payoff",
        fn=payoff_kernel,
        params=pay_params,
        outputs=(Output("Phi1", "float", "firm j's period-1 payoff Φ1^j(h1^j, h1^−j) (eq. 10)"),
                 Output("sigma1", "float", "probability σ1^j that the worker joins firm j")),
        description="notebooks: period-1 payoff of firm j for both firms' engagements",
        categoricals=(PROFILE,),
    ))


# Importing this module registers the helper kernels, so the CLI can run the specs
# the notebooks write:  SWEEP_KERNEL_MODULES=nbtools PYTHONPATH=notebooks sweep run ...
if "jax" not in __import__("sys").modules:
    expose_cpu_devices()
_register_helper_kernels()
