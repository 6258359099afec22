"""Coverage kernels ``coverage_oa4`` (terminal domain D2, Table OA3) and
``coverage_oa5`` (period-1 domains, Tables OA4 and OA5).  docs/model.md §5, §7, §8.
"""
from __future__ import annotations

import jax.numpy as jnp

from . import admissibility as adm
from . import domains as dom
from .params import broadcast_outputs, make_params, params_for
from .profiles import ell, profile_scale_of
from .declare import declare
from .registry import Factor, Output


def learning_terms(p, *pis):
    """L_t = φℓ(π_t) for each π given; the profile constant k is computed once."""
    k = profile_scale_of(p)
    return tuple(p["phi"] * ell(pi, p["ell_a"], p["ell_c"], p["ell_kappa0"], p["ell_kappa1"], scale=k)
                 for pi in pis)


# --- coverage_oa4: size of D2 (Table OA3) ------------------------------------------

OA4_PARAMS = params_for(("alpha2", "pi2", "phi", "gamma", "delta", "lam_R", "b"))

OA4_OUTPUTS = (
    Output("s_under2", "float", "period-2 skill floor s̲2"),
    Output("sbarbar2", "float", "cutoff s̿2 of D2 = (s̿2, α2) (eq. OA2)"),
    Output("share_below_benchmark", "float", "(α2 − s̿2)/α2: share of (0, α2) in D2"),
    Output("share_smooth", "float", "(α2 − s̿2)/(α2 − s̲2): share of (s̲2, α2) in D2"),
    Output("status_sbarbar2", "int8", "root status of s̿2"),
)


def coverage_oa4(p):
    """Terminal single-crossing domain D2 = (s̿2, α2) and its shares (Table OA3)."""
    p = make_params(p, OA4_PARAMS)
    a2, pi2, gam, dl, lr, b = p["alpha2"], p["pi2"], p["gamma"], p["delta"], p["lam_R"], p["b"]
    (L2,) = learning_terms(p, pi2)
    f_dom = adm.in_domain(p, OA4_PARAMS)
    f_A2 = adm.A2(L2)
    f_A4 = adm.A4(b, lr, a2)
    f_OA1 = dom.OA1(a2, pi2, gam, dl, lr, b, L2)
    ok = f_dom & f_A2 & f_A4 & f_OA1
    su2 = dom.s_under2(a2, pi2, gam)
    r = dom.sbarbar2(a2, pi2, gam, dl, lr, b, L2, ok)
    return broadcast_outputs(dict(
        s_under2=su2,
        sbarbar2=r.x,
        share_below_benchmark=(a2 - r.x) / a2,
        share_smooth=(a2 - r.x) / (a2 - su2),
        status_sbarbar2=r.status,
        domain=f_dom, A2=f_A2, A4=f_A4, OA1=f_OA1, admissible=ok,
    ), p)


COVERAGE_OA4_KERNEL = declare(
    "coverage_oa4", coverage_oa4, OA4_PARAMS, OA4_OUTPUTS,
    "Terminal single-crossing domain D2 = (s̿2, α2) and its shares (Table OA3, eq. OA2)",
    flags=("domain", "A2", "A4", "OA1"), periods=(2,),
)


# --- coverage_oa5: period-1 domains (Tables OA4, OA5) ----------------------------------

OA5_PARAMS = params_for(("b", "alpha1", "alpha2", "pi1", "pi2", "phi", "gamma", "delta",
                         "lam_R", "eta", "beta"))

OA5_OUTPUTS = (
    Output("s_under", "float", "period-1 skill floor s̲ (A3)"),
    Output("sbarbar2", "float", "cutoff s̿2 of D2 (eq. OA2)"),
    Output("sbarbar1", "float", "s̿1 = (s̿2 + γ(1−π1)α1)/(1+γ(1−π1))"),
    Output("s2_hat_D", "float", "ŝ2^D: no terminal engagement at or below (Cor. 3)"),
    Output("s2_bar_D", "float", "s̄2^D: full terminal engagement at or above (Cor. 3)"),
    Output("s1_D", "float", "s1^D with g(s1^D,1;A1) = ŝ2^D (eq. OA3)"),
    Output("s1_F", "float", "s1^F with g(s1^F,0;A1) = s̄2^D"),
    Output("D1_nonempty", "bool", "D1 = (max{s̲, s̿1}, α1) is nonempty"),
    Output("rho1", "float", "ρ1 = |D1|/(α1 − s̲) (0 when D1 is empty)"),
    Output("rho1_D", "float", "ρ1^D = |D1 ∩ (−∞, s1^D)|/|D1| (NaN when D1 is empty)"),
    Output("rho1_F", "float", "ρ1^F = |D1 ∩ (s1^F, ∞)|/|D1| (NaN when D1 is empty)"),
    Output("status_sbarbar2", "int8", "root status of s̿2"),
    Output("status_s2_hat_D", "int8", "root status of ŝ2^D"),
    Output("status_s2_bar_D", "int8", "root status of s̄2^D"),
)


#: parameters the terminal stage depends on (everything but α1, π1)
OA5_TERMINAL_PARAMS = ("b", "alpha2", "pi2", "phi", "gamma", "delta", "lam_R", "eta", "beta",
                       "ell_a", "ell_c", "ell_kappa0", "ell_kappa1", "ell_normalize")


def coverage_oa5_terminal(p):
    """Terminal stage of coverage_oa5: D2, ŝ2^D, s̄2^D and the period-2 conditions.

    Depends on period-2 parameters, η and β only (not α1, π1), so on a cartesian
    grid it can be evaluated once per point of that sub-grid (see
    :class:`kernels.registry.Factor`).
    """
    p = make_params(p, [prm for prm in OA5_PARAMS if prm.name in OA5_TERMINAL_PARAMS])
    a2, pi2 = p["alpha2"], p["pi2"]
    gam, dl, lr, b, beta, eta = p["gamma"], p["delta"], p["lam_R"], p["b"], p["beta"], p["eta"]
    (L2,) = learning_terms(p, pi2)
    f_dom2 = adm.in_domain(p, [prm for prm in OA5_PARAMS if prm.name in OA5_TERMINAL_PARAMS])
    f_A2_2 = adm.A2(L2)
    f_A4_2 = adm.A4(b, lr, a2)
    f_OA1 = dom.OA1(a2, pi2, gam, dl, lr, b, L2)
    f_mono = adm.monotone(b, a2, pi2, lr)
    # Thresholds are solved only where their own preconditions hold, so a row
    # that fails an unrelated condition still gets every quantity that exists.
    ok2 = f_dom2 & f_A2_2 & f_A4_2 & f_OA1
    sbb2 = dom.sbarbar2(a2, pi2, gam, dl, lr, b, L2, ok2)
    hat, bar = dom.terminal_thresholds(sbb2, a2, pi2, gam, dl, lr, b, beta, eta, L2, ok2 & f_mono)
    return broadcast_outputs(dict(
        sbarbar2=sbb2.x, s2_hat_D=hat.x, s2_bar_D=bar.x,
        status_sbarbar2=sbb2.status, status_s2_hat_D=hat.status, status_s2_bar_D=bar.status,
        domain2=f_dom2, A2_2=f_A2_2, A4_2=f_A4_2, OA1=f_OA1, monotone=f_mono,
    ), p)


def coverage_oa5_period1(p, t):
    """Period-1 stage of coverage_oa5: combines the terminal stage ``t`` with α1, π1
    into D1, s1^D, s1^F and ρ1, ρ1^D, ρ1^F (closed forms, no root solving)."""
    p = make_params(p, OA5_PARAMS)
    a1, a2, pi1, pi2 = p["alpha1"], p["alpha2"], p["pi1"], p["pi2"]
    gam, lr, b = p["gamma"], p["lam_R"], p["b"]
    (L1,) = learning_terms(p, pi1)
    s_und = dom.s_under(a1, a2, pi1, pi2, gam)
    f_dom = t["domain2"] & adm.in_domain(p, [prm for prm in OA5_PARAMS if prm.name in ("alpha1", "pi1")])
    f_A1 = adm.A1(a1, a2, pi1, pi2)
    f_A2 = adm.A2(L1) & t["A2_2"]
    f_A3 = adm.A3_satisfiable(s_und, a1)
    f_A4 = adm.A4(b, lr, a1) & t["A4_2"]
    admissible = f_dom & f_A1 & f_A2 & f_A3 & f_A4 & t["OA1"] & t["monotone"]
    d1 = dom.period1_domains(a1, pi1, gam, L1, s_und, t["sbarbar2"], t["s2_hat_D"], t["s2_bar_D"])
    nan = jnp.nan
    return broadcast_outputs(dict(
        s_under=s_und,
        sbarbar2=t["sbarbar2"],
        sbarbar1=d1["sbarbar1"],
        s2_hat_D=t["s2_hat_D"],
        s2_bar_D=t["s2_bar_D"],
        s1_D=d1["s1_D"],
        s1_F=d1["s1_F"],
        D1_nonempty=d1["D1_nonempty"] & f_A3,
        # ρ1 is a share of (s̲, α1): meaningful only where A3 is satisfiable.
        rho1=jnp.where(f_A3, d1["rho1"], nan),
        rho1_D=jnp.where(f_A3, d1["rho1_D"], nan),
        rho1_F=jnp.where(f_A3, d1["rho1_F"], nan),
        status_sbarbar2=t["status_sbarbar2"],
        status_s2_hat_D=t["status_s2_hat_D"],
        status_s2_bar_D=t["status_s2_bar_D"],
        domain=f_dom, A1=f_A1, A2=f_A2, A3=f_A3, A4=f_A4, OA1=t["OA1"], monotone=t["monotone"],
        admissible=admissible,
    ), p)


def coverage_oa5(p):
    """Period-1 domains of OA.5: D1, s1^D, s1^F and the shares ρ1, ρ1^D, ρ1^F.

    Defined as the composition of its two stages, so the factored evaluation the
    engine may use on a cartesian grid computes exactly the same numbers.
    """
    return coverage_oa5_period1(p, coverage_oa5_terminal(p))


COVERAGE_OA5_KERNEL = declare(
    "coverage_oa5", coverage_oa5, OA5_PARAMS, OA5_OUTPUTS,
    "Period-1 domains D1, s1^D, s1^F and shares ρ1, ρ1^D, ρ1^F (Tables OA4, OA5)",
    flags=("domain", "A1", "A2", "A3", "A4", "OA1", "monotone"),
    flag_docs={"A3": "A3 satisfiable: s̲ < α1"},
    factor=Factor(OA5_TERMINAL_PARAMS, coverage_oa5_terminal, coverage_oa5_period1),
)
