"""``period1`` against the brute-force reference (issue 17): the vectors named in the
issue and a small sample, each solved by :mod:`tests.reference_bruteforce` (a 2,001-point
Φ1 matrix in numpy, refined by continuous solves; nothing shared with the kernels).

The kernel runs through ``tests.test_period1.run`` (the same compiled K-lane program as
that module, so no second compile).  The full audit (≥ 500 vectors, half outside the
paper's region) is ``benchmarks/period1_audit.py``.
"""
import numpy as np
import pytest

from . import reference_bruteforce as bf
from .test_period1 import ASYM_VECTORS, K, KEYS, run

#: issue 17, item 2: the old search reported (0.2734375, 0.203125); no asymmetric
#: equilibrium exists (best replies to those are 0.2697 and 0.2067)
ITEM2 = dict(b=1.1475579447721092, alpha1=0.76, alpha2=0.82, pi1=0.72, pi2=0.48,
             phi=2.6536195087264005, gamma=0.02782968959075948, delta=0.2814262378331952,
             lam_R=14.606175692791005, beta=0.6342718841578617, eta=10.82076656806756,
             s1=0.13459437240788813)
#: issue 17, item 3: a near-diagonal pair (0.004116, 0) inside the paper's region
ITEM3 = dict(b=1.0839996146917186, alpha1=0.5549580295782459, alpha2=0.8663570714173788,
             pi1=0.7376640291216449, pi2=0.5368986331343566, phi=1.1381338328341344,
             gamma=0.16046158279263448, delta=0.3106789078173648, lam_R=19.107610290373092,
             beta=0.95, eta=5.469395415213567, s1=0.4508568736295128)
#: issue 17, item 4: a kink equilibrium at h1 = 0.92989, where g(s1,h1;A1) is the skill
#: at which h2* leaves the corner 0 (F2(0) = λRδ there, to rounding); lost under jit
#: when the corner test and the terminal solve disagreed by rounding
ITEM4 = dict(b=1.08, alpha1=0.75, alpha2=0.82, pi1=0.9, pi2=0.25, phi=0.5, gamma=0.2,
             delta=0.1, lam_R=5.0, beta=0.95, eta=0.9261187281287935, s1=0.2532258064516129)
#: the notebook's free-riding vector (figure 5 of notebooks/policies.ipynb)
FREE_RIDE = dict(b=1.12, alpha1=0.72, alpha2=0.91, pi1=0.47, pi2=0.41, phi=1.3, gamma=0.125,
                 delta=0.14, lam_R=10.0, beta=0.95, eta=10.0, s1=0.22)

NAMED = dict(item2=ITEM2, item3=ITEM3, item4=ITEM4, free_ride=FREE_RIDE,
             **{f"asym{i}": v for i, v in enumerate(ASYM_VECTORS)})


@pytest.fixture(scope="module")
def named():
    names = list(NAMED)
    assert len(names) <= K
    p = {k: np.array([NAMED[n][k] for n in names] + [NAMED[names[0]][k]] * (K - len(names)))
         for k in KEYS}
    out = run(p)
    return {n: {k: v[i].item() for k, v in out.items()} for i, n in enumerate(names)}


@pytest.fixture(scope="module")
def brute():
    return {n: bf.BruteForceGame(v).solve() for n, v in NAMED.items()}


def test_named_vectors_agree_with_brute_force(named, brute):
    """Every named vector: same n_sym_eq, extreme symmetric equilibria to 1e-6, the
    same asymmetric verdict and pair (to 1e-6, or verified by the brute force where
    Φ1 is flat below double precision and the maximum has no location to 1e-6)."""
    for n, k in named.items():
        g = brute[n]
        assert k["admissible"], n
        cats = bf.classify(k, g.sym, g.asym, g.verified)
        assert cats in ([], ["asym_count"]), (n, cats, k, g.sym, g.asym)


def test_issue_items_2_to_4(named, brute):
    """The acceptance vectors of issue 17 give the brute-force answers."""
    k, g = named["item2"], brute["item2"]
    assert k["n_sym_eq"] == len(g.sym) == 1 and abs(k["h1_star"] - g.sym[0]) <= 1e-6
    assert not k["asym_eq"] and g.asym == []
    k, g = named["item3"], brute["item3"]
    assert k["n_sym_eq"] == len(g.sym) == 1 and abs(k["h1_star"] - g.sym[0]) <= 1e-6
    assert k["asym_eq"] and len(g.asym) == 1
    hi, lo = g.asym[0]
    assert lo == 0.0 and k["asym_low"] == 0.0 and abs(hi - 0.004116) < 1e-5
    # Φ1(·, 0) is flat to 1e-15 relative within ~1e-5 of its maximum: the kernel's
    # reply must be a best reply for the brute force, not match its digits
    assert abs(k["asym_high"] - hi) <= 1e-5 and g.verified(k["asym_high"], 0.0)
    k, g = named["item4"], brute["item4"]
    assert k["n_sym_eq"] == len(g.sym) == 1 and abs(k["h1_star"] - g.sym[0]) <= 1e-6
    assert abs(k["h1_star"] - 0.92989) < 1e-5


def test_reported_pairs_verified_independently(named, brute):
    """Every pair the kernel reports is an equilibrium for the brute force's own
    continuous best replies (both firms), and its payoffs are eq. 10's."""
    found = [n for n, k in named.items() if k["asym_eq"]]
    assert len(found) >= 3, found
    for n in found:
        k, g = named[n], brute[n]
        hi, lo = k["asym_high"], k["asym_low"]
        assert g.verified(hi, lo) and g.verified(lo, hi), n
        assert abs(k["payoff_high"] - g.phi(hi, lo)) <= 1e-9 * (1 + abs(g.phi(hi, lo)))
        assert abs(k["payoff_low"] - g.phi(lo, hi)) <= 1e-9 * (1 + abs(g.phi(lo, hi)))


#: outside the paper's region: both terminal corners are candidates at some reachable
#: s2 (found by a scan of random admissible vectors with the brute force alone); the
#: period-1 answer (h1* = 1) does not depend on the selection order
ORDER_VECTOR = dict(alpha1=0.7534821844619676, alpha2=0.8269689980067301, pi1=0.8929975719203085,
                    pi2=0.876293763896817, phi=2.5015892410141896, gamma=0.3722216976812561,
                    delta=0.4718431125861371, lam_R=18.88454848682903, beta=0.844852211190171,
                    b=1.2209007040209952, eta=0.19529795590769616, s1=0.06704169447750762)


def test_terminal_order_option_and_flags():
    """docs/model.md §5 "Off D2": with terminal_order = 0 (h2 = 1 first) and = 1
    (h2 = 0 first) the kernel gives the brute force's answer for that order (the
    brute force applies the order itself); both rows are flagged
    terminal_alternative, and terminal_order_matters agrees with whether the brute
    force's two answers differ.  (That the order changes h2* itself is tested in
    tests/test_terminal.py.)"""
    p = {k: np.full(K, ORDER_VECTOR[k]) for k in KEYS}
    p["terminal_order"] = np.where(np.arange(K) % 2 == 1, 1.0, 0.0)
    out = run(p)
    answers, flags = [], []
    for lane, order in ((0, 0.0), (1, 1.0)):
        k = {n: v[lane].item() for n, v in out.items()}
        g = bf.BruteForceGame(ORDER_VECTOR, terminal_order=order).solve()
        assert k["admissible"] and k["terminal_alternative"]
        assert bf.classify(k, g.sym, g.asym, g.verified) in ([], ["asym_count"]), (order, k, g.sym)
        answers.append((g.sym, g.asym))
        flags.append(k["terminal_order_matters"])
    differ = len(answers[0][0]) != len(answers[1][0]) or any(
        abs(a - b) > 1e-6 for a, b in zip(answers[0][0], answers[1][0])) or answers[0][1] != answers[1][1]
    assert flags == [differ, differ]
