"""The reference comparisons are tight enough to see a slip in the model.

Each test multiplies one model primitive inside the kernels by (1 + 1e-6), a
relative slip far smaller than any plausible coding error (a wrong factor, sign or
exponent), and checks that the comparison with the independent reference the suite
uses (same vectors or same kind of vectors, same tolerance) fails.  If a tolerance
were loosened until it hid real errors, these tests would fail.  The unperturbed
kernels pass the same comparisons in the tests named below; each kernel is compiled
once here (with the slip), to keep the suite fast.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kernels.catalog import get_kernel
from tests import reference_equilibria as ref_eq
from tests.reference_coverage import cutoff_D2, floor_2, reference

SLIP = 1e-6
#: the tolerances of the comparisons under test (tests/test_coverage.py,
#: tests/test_sweep_cli.py: 1e-10; tests/test_terminal.py: 1e-9)
COVERAGE_TOL = 1e-10
TERMINAL_TOL = 1e-9
PROFILE_BASE = dict(ell_a=1.0, ell_c=1.0, ell_kappa0=0.0, ell_kappa1=0.0, ell_normalize=1.0)


def _slipped(monkeypatch, module, name):
    """Replace ``module.name`` (a primitive as that module calls it) by (1 + SLIP)×."""
    import importlib

    mod = importlib.import_module(module)
    real = getattr(mod, name)
    monkeypatch.setattr(mod, name, lambda *a, **k: real(*a, **k) * (1.0 + SLIP))


def _evaluate(kernel, p):
    # a fresh jit wrapper: traced now, so a monkeypatched primitive is used
    fn = get_kernel(kernel).fn
    out = jax.jit(lambda q: fn(q))({k: jnp.asarray(v) for k, v in p.items()})
    return {k: np.asarray(v) for k, v in out.items()}


#: admissible OA5 vectors with interior thresholds (tests/test_sweep_cli.py's grid)
OA5_FIXED = dict(b=1.05, alpha2=0.82, pi1=0.55, pi2=0.45, phi=1.2, gamma=0.2, lam_R=10.0, beta=0.95)


def _oa5_vectors():
    a1, dl, eta = np.meshgrid([0.55, 0.6, 0.65], [0.2, 0.25], [0.85, 1.0, 1.2], indexing="ij")
    p = {k: np.full(a1.size, v) for k, v in OA5_FIXED.items()}
    p.update(alpha1=a1.ravel(), delta=dl.ravel(), eta=eta.ravel())
    return p


def _oa5_worst_difference(p) -> float:
    out = _evaluate("coverage_oa5", p)
    assert out["admissible"].all()
    worst = 0.0
    for i in range(len(p["alpha1"])):
        r = reference({k: float(v[i]) for k, v in p.items()})
        for k in ("sbarbar2", "s2_hat_D", "s2_bar_D", "s1_D", "s1_F", "rho1_D", "rho1_F"):
            worst = max(worst, abs(float(out[k][i]) - r[k]))
    return worst


def test_oa5_reference_comparison_sees_a_slipped_surplus(monkeypatch):
    """The match surplus M(s,h;A) (in Ψ, η̄ and F2) slipped: the 18 admissible
    vectors of tests/test_sweep_cli.py::test_coverage_oa5_end_to_end, which pass
    there at 1e-10, now differ from the reference by far more."""
    p = _oa5_vectors()
    _slipped(monkeypatch, "kernels.domains", "M")
    worst = _oa5_worst_difference(p)
    assert worst > 10 * COVERAGE_TOL, worst


@pytest.mark.parametrize("module, name", [
    ("kernels.coverage", "ell"),    # the learning profile ℓ(π) (enters L2 = φℓ(π2))
])
def test_oa4_cutoff_comparison_sees_a_slipped_primitive(monkeypatch, module, name):
    # Table OA3's vectors (sweep/specs/oa3.toml): s̿2 against brentq on the paper's Ψ
    a2 = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    fixed = dict(b=1.2, pi2=0.35, phi=0.5, gamma=0.3, delta=0.5, lam_R=3.0)
    p = {**{k: np.full(a2.size, v) for k, v in fixed.items()}, "alpha2": a2}
    want = np.array([cutoff_D2(a, fixed["pi2"], fixed["phi"], fixed["gamma"], fixed["delta"],
                               fixed["lam_R"], fixed["b"]) for a in a2])
    share = (a2 - want) / (a2 - floor_2(a2, fixed["pi2"], fixed["gamma"]))

    def worst():
        out = _evaluate("coverage_oa4", p)
        assert out["admissible"].all()
        return max(np.abs(out["sbarbar2"] - want).max(), np.abs(out["share_smooth"] - share).max())

    assert worst() <= COVERAGE_TOL
    _slipped(monkeypatch, module, name)
    assert worst() > 10 * COVERAGE_TOL


def test_terminal_reference_comparison_sees_a_slipped_surplus(monkeypatch):
    """h2* at interior roots on D2 against the scalar reference of the terminal game
    (tests/reference_equilibria.py) at 1e-9, as tests/test_terminal.py compares it
    (there, unperturbed, on the interior roots of its samples)."""
    p = dict(alpha2=0.9, pi2=0.5, phi=1.0, gamma=0.2, delta=0.2, lam_R=5.0, beta=0.95, b=1.05, eta=1.0)
    s2 = np.linspace(0.49, 0.55, 16)        # D2 skills where h2* is an interior root
    args = {**{k: np.full(s2.size, v) for k, v in {**PROFILE_BASE, **p}.items()}, "s2": s2}
    q = ref_eq.period2(p)
    want = np.array([ref_eq.h2_star(float(x), q) for x in s2])
    assert ((want > 0) & (want < 1)).all()

    def worst():
        out = _evaluate("terminal", args)
        assert out["in_D2"].all()
        return np.abs(out["h2_star"] - want).max()

    _slipped(monkeypatch, "kernels.terminal", "M")
    assert worst() > 10 * TERMINAL_TOL
