"""Regenerate ``equilibria.ipynb`` (clean: no outputs): an atlas of the period-1
mobility game over the paper's OA.5 region extended with s1.  Edit here, then
``python notebooks/build_equilibria.py``."""
from __future__ import annotations

from build_notebooks import SETUP, code, md, write

ATLAS = [
    md(r'''
# An atlas of the period-1 mobility game: where the paper's statements hold

The paper proves its period-1 results on a restricted domain and illustrates them with
single examples. This notebook maps them over the region of its Tables OA4–OA5
(docs/model.md §8: the 10 axes b, α1, α2, π2, π1, φ, γ, δ, λR, η, power wage, baseline
profile, β = 0.95) **extended with the period-1 skill s1 as an eleventh axis**, with the
`period1` kernel (docs/model.md §6), whose symmetric equilibria are verified against
every deviation and whose asymmetric pairs are verified best replies:

1. the number of verified symmetric equilibria `n_sym_eq` (unique, multiple, none found);
2. where asymmetric (free-riding) equilibria exist, and the free rider's payoff gain;
3. strategic complements vs substitutes at h1* (eq. 11, output `complements`);
4. the sign of h1* − h1_sf (Cor. 4) and the crossing η* as a surface over (s1, π1).

**Inside / outside.** Every admissible vector (`admissible`: A1–A4 and s1 in its domain)
is split into *inside the paper's domain* and *outside*. Inside means
`admissible & in_D1 & monotone`: s1 ∈ D1 (docs/model.md §7, eq. OA3 — every skill
reachable in period 2 lies in D2, where the terminal equilibrium is unique; `in_D1` also
requires eq. OA1), and the monotone condition of Cor. 3 — together the selection the
paper uses for its period-1 analysis (Tables OA4–OA5 count exactly the vectors with
A1, A2, A4, OA1 and Cor. 3's condition, and D1 is where Lemma 2 and Prop. 6 apply).
Outside is every other admissible vector.

Each statement gets the share of vectors where it holds inside and outside, and a short
list of concrete counterexamples with the `sweep eval period1 ...` command that
reproduces each (the test suite re-evaluates every listed counterexample).
'''),
    md(r'''
**Parameters.** `RESOLUTION` sets the sizes. The atlas keeps, of each OA.5 axis other
than η, `max(2, RESOLUTION // 10)` evenly spread values of the paper's list (the
endpoints below 30; the full paper lists from `RESOLUTION = 40`), all six values of η
from `RESOLUTION = 20` (three below), and `max(4, 2·RESOLUTION // 5)` values of s1 in
[0.06, 0.74]. The η* surface is (`RESOLUTION`/2)² cells of (s1, π1) × `RESOLUTION`
values of η. At the default 20: 2⁹·6·8 = 24,576 atlas vectors and 2,000 for the surface.
`SWEEP_NB_RESOLUTION` overrides it (the tests use 10: 6,144 + 250 vectors).
'''),
    code("RESOLUTION = 20", tags=["parameters"]),
    code(SETUP),
    code(r'''
import json
import shlex

# The OA.5 grid of Tables OA4-OA5 (docs/model.md §8), in sweep/specs/oa5.toml's axis order
OA5 = dict(b=[1.03, 1.05, 1.08, 1.12], alpha1=[0.55, 0.65, 0.75], alpha2=[0.70, 0.82, 0.90],
           pi2=[0.25, 0.35, 0.45, 0.55], pi1=[0.45, 0.55, 0.65, 0.75], phi=[0.5, 1.2, 2.0],
           gamma=[0.1, 0.2, 0.3], delta=[0.05, 0.10, 0.20, 0.50], lam_R=[3.0, 5.0, 10.0, 20.0],
           eta=[0.2, 0.5, 1.0, 2.0, 5.0, 10.0])
FIXED = dict(beta=0.95, profile="pi(1-pi)")
AXES = list(OA5) + ["s1"]
N = RESOLUTION
M = max(2, N // 10)            # values kept per OA.5 axis other than eta
N_ETA = 6 if N >= 20 else 3    # values of eta kept (all six from RESOLUTION = 20)
N_S1 = max(4, (2 * N) // 5)    # values of s1
# One chunk size and one axis structure (the same 11 list axes, the same reductions) for
# every period1 sweep here: the engine's compiled chunk function is reused, so period1
# (about a minute to compile) compiles once.
P1_CHUNK = 512


def thin(values, m):
    """m evenly spread entries of a sorted list, endpoints included (all when m >= len)."""
    if m >= len(values):
        return list(values)
    return [values[int(round(i * (len(values) - 1) / (m - 1)))] for i in range(m)]


INSIDE = ["admissible", "in_D1", "monotone"]
STATS = dict(n_sym_eq=["mean", "min", "max"], asym_eq=["share"], complements=["share"])
REDUCE = {"adm": dict(by=["eta", "s1"], where=["admissible"], **STATS),
          "inside": dict(by=["eta", "s1"], where=INSIDE, **STATS)}
KEEP = ["admissible", "in_D1", "monotone", "n_sym_eq", "h1_star", "h1_sf", "complements",
        "asym_eq", "asym_high", "asym_low", "payoff_high", "payoff_low",
        "terminal_order_matters", "crossings_overflow"]


def p1_spec(axes, reduce=True):
    """A period1 spec over the 11 axes (lists, in AXES order), with the shared reductions
    or (``reduce=False``) rows only."""
    assert list(axes) == AXES
    spec = dict(kernel="period1", chunk_size=P1_CHUNK, outputs=KEEP, fixed=FIXED,
                axes={k: [float(v) for v in axes[k]] for k in AXES})
    return dict(spec, reduce=REDUCE) if reduce else spec


S1_VALUES = [round(float(v), 12) for v in np.linspace(0.06, 0.74, N_S1)]
atlas_axes = {k: thin(v, N_ETA if k == "eta" else M) for k, v in OA5.items()}
atlas_axes["s1"] = S1_VALUES
print({k: v for k, v in atlas_axes.items()})
print("vectors:", int(np.prod([len(v) for v in atlas_axes.values()])))
'''),
    md(r'''
## 1. The atlas sweep

One sweep of `period1`; two on-device reductions by (η, s1) — over every admissible
vector and over the vectors inside the paper's domain — give the maps; the rows (a few
columns) give the tables by statement and the counterexamples.
'''),
    code(r'''
import time

t0 = time.perf_counter()
rows, atlas_run = nbtools.sweep_run(f"atlas_{N}", p1_spec(atlas_axes),
                                    comment="period1 atlas over the OA.5 region x s1 (equilibria.ipynb)")
summ = {r: nbtools.open_summary_of(f"atlas_{N}", r) for r in REDUCE}
print(f"atlas: {time.perf_counter() - t0:.1f} s (compile included on the first run)")
adm = rows[rows.admissible].copy()
adm["inside"] = adm.in_D1 & adm.monotone
adm["where"] = np.where(adm.inside, "inside", "outside")
print(f"{len(rows):,} vectors, {len(adm):,} admissible: {int(adm.inside.sum()):,} inside the paper's domain, "
      f"{int((~adm.inside).sum()):,} outside")
'''),
    md(r'''
## 2. How many symmetric equilibria?

Lemma 2 and Prop. 6: on the paper's domain the symmetric equilibrium is unique.
`n_sym_eq` counts verified symmetric equilibria (0: none found — every candidate of
Lemma 2 fails the deviation test).
'''),
    code(r'''
adm["n_class"] = pd.cut(adm.n_sym_eq, [-1, 0, 1, 127], labels=["none found", "unique", "multiple"])
table_n = pd.crosstab(adm["where"], adm.n_class, normalize="index").mul(100).round(2)
table_n["vectors"] = adm.groupby("where").size()
table_n
'''),
    md(r'''
## 3. Free riding: asymmetric equilibria and the free rider's gain

An asymmetric equilibrium is a verified pair of best replies (x, y), x ≠ y: the high
firm trains, the low one free-rides on the skill a worker brings over in period 2. The
free rider's gain is `payoff_low − payoff_high` (Φ1 of eq. 10). `asym_eq` False means
the search found none, not that none exists.
'''),
    code(r'''
asym = adm[adm.asym_eq].assign(gain=lambda d: d.payoff_low - d.payoff_high,
                                 spread=lambda d: d.asym_high - d.asym_low)
table_asym = pd.DataFrame({
    "share with asym. eq. (%)": adm.groupby("where").asym_eq.mean().mul(100).round(2),
    "vectors with asym. eq.": asym.groupby("where").size(),
    "free rider gain: mean": asym.groupby("where").gain.mean(),
    "free rider gain: max": asym.groupby("where").gain.max(),
    "share gain > 0 (%)": asym.groupby("where").gain.apply(lambda g: 100 * (g > 0).mean()).round(1),
    "mean spread x - y": asym.groupby("where").spread.mean(),
}).reindex(["inside", "outside"])
table_asym
'''),
    md(r'''
## 4. Complements or substitutes (eq. 11), and the paper's link to free riding

Eq. 11 classifies engagements at h1* as local complements or substitutes (defined where
h1* is unique). The paper's free-riding story (Figure 5) is one of **substitutes**: one
firm trains because the other does not. We test the reading "an asymmetric equilibrium
occurs only where engagements are substitutes at h1*" on vectors with a unique h1*.
'''),
    code(r'''
uni = adm[adm.n_sym_eq == 1]
table_comp = pd.DataFrame({
    "unique h1*": uni.groupby("where").size(),
    "complements (%)": uni.groupby("where").complements.mean().mul(100).round(2),
    "asym. eq. under complements": uni[uni.asym_eq & uni.complements].groupby("where").size(),
    "asym. eq. under substitutes": uni[uni.asym_eq & ~uni.complements].groupby("where").size(),
}).reindex(["inside", "outside"]).fillna(0)
table_comp
'''),
    md(r'''
### Maps over (s1, η) from the on-device reductions

Shares per (s1, η) cell, pooled over the other nine axes: inside the paper's domain
(reduction `inside`) and outside (reduction `adm` minus `inside`: counts and sums
subtract).
'''),
    code(r'''
A, I = summ["adm"], summ["inside"]


def outside(stat):
    """A share outside the paper's domain from the two reductions: (sum_adm - sum_in) / (n_adm - n_in)."""
    n_in = I["count"].fillna(0)
    n_out = A["count"] - n_in
    return (A[stat] * A["count"] - (I[stat] * n_in).fillna(0)) / n_out.where(n_out > 0)


maps = {("asym. eq. share", "inside"): I["share_asym_eq"], ("asym. eq. share", "outside"): outside("share_asym_eq"),
        ("complements share", "inside"): I["share_complements"],
        ("complements share", "outside"): outside("share_complements"),
        ("mean n_sym_eq", "inside"): I["mean_n_sym_eq"], ("mean n_sym_eq", "outside"): outside("mean_n_sym_eq")}
fig, axes = plt.subplots(2, 3, figsize=(12, 6.5), constrained_layout=True, sharex=True, sharey=True)
for j, what in enumerate(["asym. eq. share", "complements share", "mean n_sym_eq"]):
    for i, where in enumerate(["inside", "outside"]):
        da = maps[(what, where)].transpose("eta", "s1")
        ax = axes[i, j]
        vmax = 2.0 if "n_sym" in what else 1.0
        im = ax.pcolormesh(np.arange(da.sizes["s1"]), np.arange(da.sizes["eta"]), da.values,
                           vmin=0, vmax=vmax, cmap="viridis", shading="nearest")
        ax.set_title(f"{what} — {where}")
        fig.colorbar(im, ax=ax, shrink=0.8)
for ax in axes[-1]:
    ticks = np.linspace(0, len(S1_VALUES) - 1, 5).astype(int)
    ax.set_xticks(ticks, [f"{S1_VALUES[t]:.2f}" for t in ticks])
    ax.set_xlabel("$s_1$")
for ax in axes[:, 0]:
    ax.set_yticks(range(len(OA5["eta"])), [f"{e:g}" for e in OA5["eta"]])
    ax.set_ylabel(r"$\eta$")
fig.suptitle("period1 over the OA.5 region × s1 (white: no vector of that kind)")
nbtools.savefig(fig, "equilibria_maps")
'''),
    md(r'''
## 5. Mobility against the single firm (Cor. 4) and the crossing η*

Cor. 4: for large η the mobility engagement lies below the single firm's, h1* ≤ h1_sf.
We test it at the largest η of the grid (η = 10) on vectors with a unique h1*, and show
the sign of h1* − h1_sf by η.
'''),
    code(r'''
uni = uni.assign(diff=uni.h1_star - uni.h1_sf)
sign = (uni.assign(sign=np.sign(uni["diff"].where(uni["diff"].abs() > 1e-9, 0.0)))
        .groupby(["where", "eta"]).sign.value_counts(normalize=True).unstack(fill_value=0).mul(100).round(1))
sign.columns = [{-1.0: "h1* < h1_sf (%)", 0.0: "equal (%)", 1.0: "h1* > h1_sf (%)"}[c] for c in sign.columns]
sign
'''),
    md(r'''
**η* as a surface.** At this project's Figure 4/OA1 calibration (`BASE`, the policies
notebook) we sweep η (`RESOLUTION` values, log-spaced in [10^-1, 10^1.3]) over a
(`RESOLUTION`/2)² grid of (s1, π1) and locate, per cell, η*: the largest η at which h1*
goes from not below h1_sf (h1* ≥ h1_sf − 1e-9) to below it, log-linearly interpolated
between the two grid values of η (corner equilibria make h1* − h1_sf jump, so the
bracket, not the interpolation, is what the grid resolves).
Same axis structure and chunk size as the atlas, but rows only (no reductions): one more
compile of `period1`, which the known counterexamples below share (the engine pads axis
tables to common lengths, so sweeps of one structure, one chunk size and at least one
chunk of vectors share an executable).
'''),
    code(r'''
BASE = dict(b=1.05, alpha1=0.7, alpha2=0.9, pi1=0.5, pi2=0.5, phi=1.0, gamma=0.2, delta=0.2, lam_R=5.0)
ETAS = [float(v) for v in np.logspace(-1.0, 1.3, N)]
# at least 8 values each, so the surface fills a chunk (P1_CHUNK vectors) at RESOLUTION 10
S1S = [round(float(v), 12) for v in np.linspace(0.15, 0.6, max(N // 2, 8))]
PI1S = [round(float(v), 12) for v in np.linspace(0.3, 0.75, max(N // 2, 8))]
surf_axes = {k: [BASE[k]] for k in OA5 if k in BASE}
surf_axes.update(pi1=PI1S, eta=ETAS, s1=S1S)
surf_axes = {k: surf_axes[k] for k in AXES}
surf, _ = nbtools.sweep_run(f"eta_star_{N}", p1_spec(surf_axes, reduce=False),
                            comment="period1: h1* - h1_sf over (pi1, eta, s1)")


def eta_star(d):
    """Largest η where h1* goes from ≥ h1_sf to < h1_sf along η (NaN: no such crossing)."""
    d = d[(d.n_sym_eq == 1) & d.admissible].sort_values("eta")
    x, y = np.log(d.eta.to_numpy()), (d.h1_star - d.h1_sf).to_numpy() + 1e-9
    k = np.nonzero((y[:-1] >= 0) & (y[1:] < 0))[0]
    if len(k) == 0:
        return np.nan
    i = k[-1]
    return float(np.exp(x[i] + (x[i + 1] - x[i]) * y[i] / (y[i] - y[i + 1])))  # y[i] >= 0 > y[i+1]


star = surf.groupby(["pi1", "s1"]).apply(eta_star).unstack("s1")
above = surf[(surf.n_sym_eq == 1)].groupby(["pi1", "s1"]).apply(
    lambda d: bool((d.h1_star > d.h1_sf + 1e-9).any())).unstack("s1")
print(f"cells with a crossing: {int(star.notna().to_numpy().sum())} of {star.size}; "
      f"cells where h1* never exceeds h1_sf: {int((~above).to_numpy().sum())}")

fig, axes = plt.subplots(1, 2, figsize=(11, 4.3), constrained_layout=True)
im = axes[0].pcolormesh(star.columns, star.index, np.log10(star.to_numpy()), cmap="magma", shading="nearest")
fig.colorbar(im, ax=axes[0], label=r"$\log_{10}\eta^*$")
axes[0].set(xlabel="$s_1$", ylabel=r"$\pi_1$", title=r"crossing $\eta^*$ of $h_1^*$ and $h_1^{sf}$ (white: none)")
at = surf[np.isclose(surf.pi1, PI1S[len(PI1S) // 2]) & (surf.n_sym_eq == 1)]
for s1v, d in list(at.groupby("s1"))[:: max(1, N // 5)]:
    d = d.sort_values("eta")
    axes[1].semilogx(d.eta, d.h1_star - d.h1_sf, label=f"$s_1$={s1v:.2f}")
axes[1].axhline(0, color="k", lw=0.8)
axes[1].set(xlabel=r"$\eta$", ylabel=r"$h_1^*-h_1^{sf}$", title=rf"at $\pi_1$={PI1S[len(PI1S) // 2]:.2f}")
axes[1].legend(fontsize=8)
nbtools.savefig(fig, "equilibria_eta_star")
'''),
    md(r'''
## 6. The statements, inside and outside, with counterexamples

Per statement: the share of admissible vectors where it holds, inside and outside the
paper's domain. Counterexamples are taken inside first (they would contradict a proof,
or show our domain is wider than the paper's), then outside, preferring vectors whose
answer does not depend on the terminal selection order and whose F1 scan did not
overflow. Each comes with the command that reproduces it; the test suite
(`tests/test_notebooks.py`) evaluates every listed vector again and checks the claim.
'''),
    code(r'''
ETA_MAX = max(OA5["eta"])
STATEMENTS = {
    "unique symmetric equilibrium (Lemma 2, Prop. 6)":
        (adm, lambda d: d.n_sym_eq == 1),
    "asymmetric equilibria only under substitutes (eq. 11, Figure 5)":
        (adm[(adm.n_sym_eq == 1)], lambda d: ~(d.asym_eq & d.complements)),
    f"h1* <= h1_sf at eta = {ETA_MAX:g} (Cor. 4)":
        (adm[(adm.n_sym_eq == 1) & (adm.eta == ETA_MAX)], lambda d: d.h1_star <= d.h1_sf + 1e-9),
}
CLAIM_COLUMNS = ["n_sym_eq", "asym_eq", "complements", "h1_star", "h1_sf"]
summary, counterexamples = [], []
for name, (d, holds) in STATEMENTS.items():
    ok = holds(d)
    summary.append({"statement": name,
                    "inside: vectors": int(d.inside.sum()), "inside: holds (%)": 100 * ok[d.inside].mean(),
                    "outside: vectors": int((~d.inside).sum()), "outside: holds (%)": 100 * ok[~d.inside].mean()})
    bad = d[~ok].assign(clean=lambda x: ~x.terminal_order_matters & ~x.crossings_overflow)
    bad = bad.sort_values(["inside", "clean"], ascending=False)
    for _, r in pd.concat([bad[bad.inside].head(2), bad[~bad.inside].head(2)]).iterrows():
        params = {k: float(r[k]) for k in AXES}
        claim = {k: (None if pd.isna(r[k]) else (r[k].item() if hasattr(r[k], "item") else r[k]))
                 for k in CLAIM_COLUMNS}
        counterexamples.append({"statement": name, "inside": bool(r.inside), "params": params,
                                "fixed": FIXED, "claim": claim})
pd.set_option("display.max_colwidth", 80)
pd.DataFrame(summary).round(2)
'''),
    md(r'''
**Known counterexamples.** Violations are rare (a few in 10⁴ admissible vectors), so a
coarse grid may list none. These three were found by this atlas on a finer s1 grid
(s1 ∈ {0.02, 0.10, …, 0.74}); each is re-run here in a sweep of the same structure as
the η* surface (rows only), whose s1 axis holds the vector's s1 and 63 neighbours within
±0.02 and whose η axis the vector's η and 7 neighbours within ±5% (one full chunk: the
executable of the η* surface serves, no new compile). The share of admissible s1
neighbours at the vector's own η where the statement fails shows how far along s1 the
violation extends.
The inside vector (`n_sym_eq` = 0: every candidate fails the deviation test) is the
kernel's answer; it has not been brute-forced here (the brute-force audit `benchmarks/period1_audit.py` can).
'''),
    code(r'''
KNOWN = [
    ("unique symmetric equilibrium (Lemma 2, Prop. 6)",
     dict(b=1.12, alpha1=0.75, alpha2=0.9, pi2=0.55, pi1=0.75, phi=2.0, gamma=0.3, delta=0.5, lam_R=20.0,
          eta=10.0, s1=0.34)),
    ("unique symmetric equilibrium (Lemma 2, Prop. 6)",
     dict(b=1.12, alpha1=0.55, alpha2=0.9, pi2=0.55, pi1=0.75, phi=2.0, gamma=0.1, delta=0.5, lam_R=20.0,
          eta=0.5, s1=0.1)),
    ("unique symmetric equilibrium (Lemma 2, Prop. 6)",
     dict(b=1.12, alpha1=0.75, alpha2=0.9, pi2=0.25, pi1=0.45, phi=0.5, gamma=0.3, delta=0.5, lam_R=20.0,
          eta=0.5, s1=0.26)),
]
N_S1_NEAR, N_ETA_NEAR = 64, P1_CHUNK // 64
for i, (name, vec) in enumerate(KNOWN):
    axes = {k: [vec[k]] for k in AXES}
    near = np.linspace(vec["s1"] - 0.02, vec["s1"] + 0.02, N_S1_NEAR - 1)
    axes["s1"] = sorted({float(vec["s1"]), *(float(v) for v in near[np.abs(near - vec["s1"]) > 1e-12])})
    axes["s1"] += [vec["s1"] + 0.02 + 1e-3 * (j + 1) for j in range(N_S1_NEAR - len(axes["s1"]))]
    axes["eta"] = sorted({float(vec["eta"]), *(float(vec["eta"] * f) for f in np.linspace(0.95, 1.05, N_ETA_NEAR)
                                               if abs(f - 1) > 1e-12)})[:N_ETA_NEAR]
    assert vec["eta"] in axes["eta"] and len(axes["s1"]) * len(axes["eta"]) == P1_CHUNK
    d, _ = nbtools.sweep_run(f"known_{i}", p1_spec(axes, reduce=False),
                             comment="period1 at one known counterexample and (s1, eta) neighbours (equilibria.ipynb)")
    at_eta = d[(d.eta == vec["eta"]) & d.admissible]
    frac = 1 - STATEMENTS[name][1](at_eta.astype({"n_sym_eq": int})).mean()
    r = d[(d.s1 == vec["s1"]) & (d.eta == vec["eta"])].iloc[0]
    holds = STATEMENTS[name][1](r.to_frame().T.astype({"n_sym_eq": int}))
    inside = bool(r.admissible and r.in_D1 and r.monotone)
    print(f"known {i}: n_sym_eq = {int(r.n_sym_eq)}, inside = {inside}, statement holds: {bool(holds.iloc[0])}; "
          f"fails at {100 * frac:.1f}% of admissible s1 within ±0.02")
    if not bool(holds.iloc[0]) and not any(c["params"] == vec for c in counterexamples):
        claim = {k: (None if pd.isna(r[k]) else (r[k].item() if hasattr(r[k], "item") else r[k]))
                 for k in CLAIM_COLUMNS}
        counterexamples.append({"statement": name, "inside": inside, "params": {k: float(vec[k]) for k in AXES},
                                "fixed": FIXED, "claim": claim})
'''),
    code(r'''
def eval_command(c):
    args = [f"{k}={v!r}" for k, v in c["params"].items()] + [f"beta={c['fixed']['beta']!r}"]
    return "sweep eval period1 " + " ".join(args) + f" profile={shlex.quote(c['fixed']['profile'])}"


for c in counterexamples:
    print(f"[{'inside' if c['inside'] else 'outside'}] {c['statement']}: {c['claim']}")
    print("   ", eval_command(c))
# the test suite re-evaluates each of these with sweep.engine.evaluate (what `sweep eval` runs)
(nbtools.FIGURES / "equilibria_counterexamples.json").write_text(json.dumps(counterexamples, indent=1))
print(len(counterexamples), "counterexamples written to figures/equilibria_counterexamples.json")
'''),
    md(r'''
**Reading the atlas.** The coarse default grid keeps the endpoints of each OA.5 axis
(2⁹ combinations) at every η and 8 values of s1; raise `RESOLUTION` (40 gives the full
OA.5 lists) before drawing conclusions about shares. A vector counts once per statement;
"none found" symmetric equilibria and missed asymmetric pairs are limits of the
kernel's searches (docs/model.md §6), not proofs of absence.
'''),
]

if __name__ == "__main__":
    write("equilibria.ipynb", ATLAS)
