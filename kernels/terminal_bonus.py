"""Kernel ``terminal_bonus``: the terminal game with a pay bonus (docs/model.md §9, OA.8).

Each firm chooses engagement h and whether to pay a bonus ω on top of the market wage
(z ∈ {0,1}).  The kernel lists the symmetric KKT candidates of both bonus classes
(Prop. 3's three cases with the margin M − ωz), keeps those that no deviation
(h', z') ∈ [0,1] × {0,1} beats, selects one by the rule of docs/model.md §9 and
reports its continuation values Π̄2 and V̄2 (see :mod:`kernels.bonus_terminal_game`).

ω = 0 is the base model: the z = 0 class is then the game of ``terminal``, with the
same candidates on the same grid and the same order (h = 1, then h = 0, then the lowest
root).  The difference: ``terminal`` returns its Prop. 3 selection without a deviation
test, this kernel returns verified equilibria only, so where the selected candidate of
``terminal`` is not an equilibrium (possible off D2) ``h2_star`` here is another,
verified, equilibrium or NaN with status NOT_UNIQUE.  At ω = 0 the z = 1 class repeats
the z = 0 equilibria (paying a zero bonus changes nothing), so ``n_sym_eq`` is even
there and the tie rule selects z2* = 0.
"""
from __future__ import annotations

import jax.numpy as jnp

from . import admissibility as adm
from . import domains as dom
from .bonus_terminal_game import asymmetric_terminal, continuation, select_terminal, strategy_values
from .params import broadcast_outputs, make_params, params_for
from .declare import declare
from .profiles import profile_scale_of
from .registry import Domain, Output, Param
from .terminal import H_GRID, Period2, learning_term

#: the bonus ω ≥ 0 per employed worker and period (docs/model.md §9)
OMEGA = Param("omega", Domain(0.0, float("inf"), True, False), None,
              "pay bonus ω ≥ 0 per worker and period (OA.8)")

TB_PARAMS = params_for(("alpha2", "pi2", "phi", "gamma", "delta", "lam_R", "beta", "b", "eta",
                        "s2")) + (OMEGA,)

TB_OUTPUTS = (
    Output("h2_star", "float", "selected symmetric terminal engagement h2* (docs/model.md §9 rule); "
                               "NaN when no verified symmetric equilibrium"),
    Output("z2_star", "bool", "the selected equilibrium pays the bonus (False when h2_star is NaN)"),
    Output("status_h2_star", "int8",
           "0 interior root, 4 corner 0, 5 corner 1, 7 not unique: no verified symmetric equilibrium "
           "(or s2 = α2, where every h is one), 2 non-finite"),
    Output("n_sym_eq", "int8", "verified symmetric equilibria over both bonus classes "
                               "(at ω = 0 each appears in both); −1 at s2 = α2"),
    Output("pay_eq", "bool", "a verified symmetric equilibrium with both firms paying exists"),
    Output("nopay_eq", "bool", "a verified symmetric equilibrium with neither paying exists"),
    Output("h2_nopay", "float", "selected h within the no-bonus class (NaN when none)"),
    Output("h2_pay", "float", "selected h within the bonus class (NaN when none)"),
    Output("Pi2_bar", "float", "continuation profit Π̄2 = (M(s2,h2*) − ωz2*)/2 (NaN with h2_star)"),
    Output("V2_bar", "float", "worker value V̄2 = W(s2) + ωz2* + βB(g(s2,h2*)) + η log 2"),
    Output("sel_differs", "bool", "both classes have equilibria: bonus-first or no-bonus-first "
                                  "selection would choose another class"),
    Output("h0_first_differs", "bool", "selecting h = 0 before h = 1 within a class would choose "
                                       "another h2*"),
    Output("asym_eq", "bool", "a verified asymmetric terminal equilibrium was found (best-response "
                              "2-cycle; False is not a proof of absence)"),
    Output("asym_mixed_bonus", "bool", "the asymmetric equilibrium found has different bonus choices"),
    Output("roots_overflow", "bool", "F2_z − λRδ changes sign more than twice on the h grid in a class"),
    Output("in_D2", "bool", "s2 ∈ D2 = (s̿2, α2) of the base game (eq. 6)"),
    Output("below_benchmark", "bool", "s2 < α2"),
)


def broadcast_all(p):
    """Every parameter at the common shape (the searches add trailing axes)."""
    shape = jnp.broadcast_shapes(*[jnp.shape(v) for v in p.values()])
    return {k: jnp.broadcast_to(v, shape) for k, v in p.items()}


def terminal_bonus(p):
    """Terminal pay-bonus game at skill s2 (docs/model.md §9): verified symmetric
    equilibria in (h, z), the selected one, Π̄2, V̄2 and an asymmetric search."""
    p = make_params(p, TB_PARAMS)
    # the profile constant k and L2 = φℓ(π2) from the parameters as given, before the
    # broadcast: with a fixed profile (0-d ell_*, as ``sweep`` passes it) k is one
    # number per call and ℓ takes the cheap exact powers of kernels.profiles._power;
    # broadcast first, k's 512-point search and libm pow calls ran once per lane
    k = profile_scale_of(p)
    L2 = learning_term(p, p["pi2"], k)
    p = broadcast_all(p)
    a2, pi2, gam, dl, lr, b = p["alpha2"], p["pi2"], p["gamma"], p["delta"], p["lam_R"], p["b"]
    s2, omega = p["s2"], p["omega"]
    L2 = jnp.broadcast_to(L2, s2.shape)
    q = Period2(a2, pi2, gam, dl, lr, b, p["beta"], p["eta"], L2)
    f_dom = adm.in_domain(p, TB_PARAMS)
    f_A2 = adm.A2(L2)
    f_A4 = adm.A4(b, lr, a2)
    f_OA1 = dom.OA1(a2, pi2, gam, dl, lr, b, L2)
    admissible = f_dom & f_A2 & f_A4 & f_OA1
    sbb2 = dom.sbarbar2(a2, pi2, gam, dl, lr, b, L2, admissible)
    in_D2 = admissible & (s2 > sbb2.x) & (s2 < a2)

    sel = select_terminal(s2, q, omega)
    pi_bar, v_bar, _ = continuation(s2, q, omega, sel)
    hs = jnp.linspace(0.0, 1.0, H_GRID, dtype=s2.dtype)
    grid = strategy_values(jnp.broadcast_to(hs, s2.shape + (H_GRID,)), s2, q)
    asym, mixed = asymmetric_terminal(s2, q, omega, grid, hs)
    return broadcast_outputs(dict(
        h2_star=sel.h,
        z2_star=sel.z == 1.0,
        status_h2_star=sel.status,
        n_sym_eq=sel.n_sym.astype(jnp.int8),
        pay_eq=sel.pay_eq,
        nopay_eq=sel.nopay_eq,
        h2_nopay=sel.h_class[..., 0],
        h2_pay=sel.h_class[..., 1],
        Pi2_bar=pi_bar,
        V2_bar=v_bar,
        sel_differs=sel.sel_differs,
        h0_first_differs=sel.h0_first_differs,
        asym_eq=asym,
        asym_mixed_bonus=mixed,
        roots_overflow=sel.overflow,
        in_D2=in_D2,
        below_benchmark=s2 < a2,
        domain=f_dom, A2=f_A2, A4=f_A4, OA1=f_OA1,
        admissible=admissible,
    ), p)


TERMINAL_BONUS_KERNEL = declare(
    "terminal_bonus", terminal_bonus, TB_PARAMS, TB_OUTPUTS,
    "Terminal game with a pay bonus (OA.8): verified symmetric equilibria in (h, z), "
    "the selected one, Π̄2, V̄2, asymmetric equilibria",
    flags=("domain", "A2", "A4", "OA1"), periods=(2,),
    flag_docs={"domain": "all parameters in their docs/model.md §1 domain, ω ≥ 0"},
)
