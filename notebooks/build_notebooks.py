"""Regenerate ``coverage.ipynb`` and ``policies.ipynb`` (clean: no outputs) from the
cell sources below.  Edit here, then ``python notebooks/build_notebooks.py``."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def md(s):
    return new_markdown_cell(s.strip("\n"))


def code(s, tags=None):
    c = new_code_cell(s.strip("\n"))
    if tags:
        c.metadata["tags"] = list(tags)
    return c


def write(name, cells):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, c in enumerate(nb.cells):  # stable ids: clean diffs
        c["id"] = f"{Path(name).stem}-{i:02d}"
    nbformat.validate(nb)
    nbformat.write(nb, HERE / name)


SETUP = '''
import sys
from pathlib import Path

# nbtools.py lives next to the notebook (Jupyter's working directory); also works from the repo root
sys.path.insert(0, str(next((p for p in (Path.cwd(), Path.cwd() / "notebooks") if (p / "nbtools.py").exists()),
                            Path.cwd())))
import nbtools

RESOLUTION = nbtools.setup(RESOLUTION)       # x64 on, one JAX device per CPU core; env override
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

plt.rcParams.update({"figure.dpi": 100, "axes.grid": False, "font.size": 10})
print("resolution:", RESOLUTION)
'''

# ---------------------------------------------------------------------------
COVERAGE = [
    md(r'''
# Coverage of the period-1 domains: Tables OA3–OA5 and maps of $\rho_1$, $\rho_1^D+\rho_1^F$

This notebook

1. runs the paper's OA.4/OA.5 grids through the sweep engine (the shipped specs
   `sweep/specs/oa3.toml` and `sweep/specs/oa5.toml`, exactly what `sweep run` and
   `sweep reproduce` use) into Parquet datasets under `notebooks/data/`;
2. recomputes Tables OA3, OA4 and OA5 from those Parquet files **twice**, with pandas
   and with DuckDB SQL, and asserts both equal `sweep.tables.summarize` (the numbers
   `sweep summarize` / `sweep reproduce` print) and the published tables;
3. sweeps `coverage_oa5` over pairs of parameters — $(\pi_2,\alpha_2)$, $(\eta,\delta)$,
   $(\phi,\gamma)$ — on a `RESOLUTION`×`RESOLUTION` grid with the other parameters
   fixed, and maps the share $\rho_1 = |D_1|/(\alpha_1-\underline{s})$ of the feasible
   period-1 interval on which the period-1 analysis applies, and the share
   $\rho_1^D+\rho_1^F$ of $D_1$ on which terminal engagement is fixed (0 or 1) along
   every period-1 path (docs/model.md §7).

A dataset directory that already holds the same spec is read, not recomputed (the
engine resumes and skips finished chunks). Figures go to `notebooks/figures/`.
'''),
    md("**Parameters.** `RESOLUTION` is the number of points per axis of each map (200 gives "
       "200×200 maps; a few seconds each). The environment variable `SWEEP_NB_RESOLUTION` "
       "overrides it (the tests use a small value)."),
    code("RESOLUTION = 60", tags=["parameters"]),
    code(SETUP),
    md(r'''
## 1. The paper's grids through the engine

Table OA3 is a sweep of `coverage_oa4` over $\alpha_2$ (6 vectors). Tables OA4 and OA5
share one sweep of `coverage_oa5` over the 10-dimensional grid of docs/model.md §8
(497,664 vectors).
'''),
    code('''
from sweep.reproduce import paper_spec
from sweep.tables import PUBLISHED, TABLES, compare, render, summarize

oa3_df, oa3_run = nbtools.sweep_run("oa3_paper", parsed=paper_spec("oa3"))
oa5_df, oa5_run = nbtools.sweep_run(
    "oa5_paper", parsed=paper_spec("oa5"),
    columns=["eta", "admissible", "D1_nonempty", "rho1", "rho1_D", "rho1_F"])
OA3_DIR, OA5_DIR = nbtools.DATA / "oa3_paper", nbtools.DATA / "oa5_paper"
print(f"OA5 dataset: {len(oa5_df):,} rows, {int(oa5_df.admissible.sum()):,} admissible")
'''),
    md("## 2. Tables OA3–OA5 with pandas"),
    code('''
# Table OA3: one row per alpha2
pd_oa3 = (oa3_df.sort_values("alpha2")
          [["alpha2", "sbarbar2", "share_below_benchmark", "share_smooth"]].reset_index(drop=True))

# Table OA4: over admissible vectors; rho1 statistics over those with D1 nonempty
adm = oa5_df[oa5_df.admissible]
ne = adm[adm.D1_nonempty]
pd_oa4 = pd.DataFrame([dict(
    nonempty_D1=adm.D1_nonempty.mean(), mean_rho1=ne.rho1.mean(),
    p10_rho1=ne.rho1.quantile(0.1), median_rho1=ne.rho1.quantile(0.5), p90_rho1=ne.rho1.quantile(0.9))])

# Table OA5: per eta, over admissible vectors with D1 nonempty
pd_oa5 = (ne.assign(sum_DF=ne.rho1_D + ne.rho1_F).groupby("eta")
          .agg(mean_rho1_D=("rho1_D", "mean"), mean_rho1_F=("rho1_F", "mean"),
               mean_sum=("sum_DF", "mean"), median_sum=("sum_DF", "median"))
          .reset_index())
pd_oa3, pd_oa4, pd_oa5
'''),
    md(r'''
## 3. The same tables with DuckDB

SQL straight over the part files (`quantile_cont` is the same linear interpolation
as numpy/pandas).
'''),
    code('''
import duckdb

con = duckdb.connect()
oa3_src = f"read_parquet('{OA3_DIR}/data/part-*.parquet')"
oa5_src = f"read_parquet('{OA5_DIR}/data/part-*.parquet')"

db_oa3 = con.sql(f"""
    SELECT alpha2, sbarbar2, share_below_benchmark, share_smooth
    FROM {oa3_src} ORDER BY alpha2""").df()

db_oa4 = con.sql(f"""
    SELECT avg(CAST(D1_nonempty AS DOUBLE))                      AS nonempty_D1,
           avg(rho1)                 FILTER (WHERE D1_nonempty)  AS mean_rho1,
           quantile_cont(rho1, 0.1)  FILTER (WHERE D1_nonempty)  AS p10_rho1,
           quantile_cont(rho1, 0.5)  FILTER (WHERE D1_nonempty)  AS median_rho1,
           quantile_cont(rho1, 0.9)  FILTER (WHERE D1_nonempty)  AS p90_rho1
    FROM {oa5_src} WHERE admissible""").df()

db_oa5 = con.sql(f"""
    SELECT eta, avg(rho1_D) AS mean_rho1_D, avg(rho1_F) AS mean_rho1_F,
           avg(rho1_D + rho1_F) AS mean_sum, quantile_cont(rho1_D + rho1_F, 0.5) AS median_sum
    FROM {oa5_src} WHERE admissible AND D1_nonempty
    GROUP BY eta ORDER BY eta""").df()
db_oa3, db_oa4, db_oa5
'''),
    md(r'''
## 4. Check: pandas = DuckDB = `sweep summarize` = the paper

`summarize` is what `sweep summarize DIR --table …` and `sweep reproduce` print. The
three computations must agree to rounding error (1e-12), and each must print the
paper's digits (`compare`; the one documented rounding quirk of Table OA3 at
$\alpha_2=0.95$ is compared to ±0.1 pp and reported).
'''),
    code('''
checks = {}
for table, pdf, ddf, dset in (("oa3", pd_oa3, db_oa3, OA3_DIR), ("oa4", pd_oa4, db_oa4, OA5_DIR),
                              ("oa5", pd_oa5, db_oa5, OA5_DIR)):
    doc = summarize(dset, table)
    ref = pd.DataFrame(doc["rows"])[pdf.columns]
    for label, df in (("pandas", pdf), ("DuckDB", ddf)):
        np.testing.assert_allclose(df.to_numpy(float), ref.to_numpy(float), rtol=0, atol=1e-12,
                                   err_msg=f"{table}: {label} differs from sweep.tables.summarize")
    for label, df in (("pandas", pdf), ("DuckDB", ddf)):
        cmp = compare(table, df.to_dict("records"))
        assert cmp["matches_published"], (table, label, cmp["mismatches"])
    checks[table] = doc
    print(render(doc, published=True))
    for q in compare(table, doc["rows"])["known_quirks"]:
        print(f"  note ({q['column']} at {q['key']}): {q['note']}")
    print()
print("pandas, DuckDB and sweep summarize agree to 1e-12, and all print the published digits.")
'''),
    md(r'''
## 5. Maps of $\rho_1$ and $\rho_1^D+\rho_1^F$ over pairs of parameters

Baseline: the centre of the paper's grid, $b=1.05$, $\alpha_1=0.65$, $\alpha_2=0.82$,
$\pi_1=0.65$, $\pi_2=0.35$, $\phi=1.2$, $\gamma=0.2$, $\delta=0.2$, $\lambda R=5$,
$\eta=1$, $\beta=0.95$, baseline profile $\ell(\pi)=\pi(1-\pi)$. Each map varies two of
them over `RESOLUTION` points each and fixes the rest.

Grey cells are **inadmissible** vectors (the table's admissibility: A1, A2, A4,
$\underline{s}<\alpha_1$, eq. OA1 and the monotone-policy condition
$\lambda R\pi_2 \ge b\alpha_2^{b-1}$), e.g. $\pi_2 > \pi_1$ violates A1 and small
$\pi_2$ violates the monotone condition. Where $D_1$ is empty, $\rho_1 = 0$ and
$\rho_1^D+\rho_1^F$ is undefined (also grey, hatched). $\rho_1$ does not depend on
$\eta$ ($D_1$ is set by eq. OA2, which has no $\eta$).
'''),
    code('''
BASE = dict(b=1.05, alpha1=0.65, alpha2=0.82, pi1=0.65, pi2=0.35, phi=1.2, gamma=0.2,
            delta=0.2, lam_R=5.0, eta=1.0, beta=0.95, profile="pi(1-pi)")
N = RESOLUTION
PAIRS = [  # (x axis, y axis): name, axis definition, label
    (("pi2", {"linspace": [0.1, 0.75, N]}, r"AI failure probability $\\pi_2$"),
     ("alpha2", {"linspace": [0.55, 0.99, N]}, r"AI capability $\\alpha_2$")),
    (("eta", {"logspace": [-1.3, 1.3, N]}, r"sorting friction $\\eta$ (log scale)"),
     ("delta", {"linspace": [0.01, 0.6, N]}, r"intervention influence $\\delta$")),
    (("phi", {"linspace": [0.05, 3.5, N]}, r"learning strength $\\phi$"),
     ("gamma", {"linspace": [0.01, 0.6, N]}, r"erosion rate $\\gamma$")),
]
maps = {}
for (xn, xax, xl), (yn, yax, yl) in PAIRS:
    fixed = {k: v for k, v in BASE.items() if k not in (xn, yn)}
    # Reductions by (y, x) on the device: each map cell is one group, so the run
    # keeps two small summaries instead of rows (sweep.sinks.reduce).
    reduce = {
        "rho1": {"by": [yn, xn], "where": ["admissible"], "rho1": ["mean"], "D1_nonempty": ["share"]},
        "sum_DF": {"by": [yn, xn], "where": ["admissible", "D1_nonempty"],
                   "define": {"rho1_sum": "rho1_D + rho1_F"}, "rho1_sum": ["mean"]},
    }
    spec = dict(kernel="coverage_oa5", dtype="float64", fixed=fixed, axes={yn: yax, xn: xax}, reduce=reduce)
    summaries, _ = nbtools.sweep_summaries(
        f"map_{xn}_{yn}_{N}", spec,
        comment=f"coverage_oa5 map over ({xn}, {yn}), {N}x{N}, other parameters at the baseline")
    maps[(xn, yn)] = (summaries, xl, yl)
'''),
    code('''
cmap = plt.get_cmap("viridis").copy()
cmap.set_bad("0.82")
fig, axes = plt.subplots(len(PAIRS), 2, figsize=(11, 4.1 * len(PAIRS)), constrained_layout=True)
for row, ((xn, yn), (sm, xl, yl)) in zip(axes, maps.items()):
    # xarray: dimensions (y, x), coordinates = the axis values.  A group nobody
    # passed the filter of (inadmissible, or D1 empty) has a NaN mean: grey.
    cells = ((row[0], sm["rho1"]["mean_rho1"], r"$\\rho_1 = |D_1|/(\\alpha_1-\\underline{s})$"),
             (row[1], sm["sum_DF"]["mean_rho1_sum"], r"$\\rho_1^D+\\rho_1^F$ (terminal engagement fixed)"))
    for ax, z, title in cells:
        x, y = z[xn].to_numpy(), z[yn].to_numpy()
        m = ax.pcolormesh(x, y, np.ma.masked_invalid(z.to_numpy()), cmap=cmap, vmin=0, vmax=1,
                          shading="nearest", rasterized=True)
        if z.name == "mean_rho1_sum":   # hatch admissible vectors whose D1 is empty
            r = sm["rho1"]
            empty = ((r["count"] > 0) & (r["share_D1_nonempty"] == 0)).to_numpy().astype(float)
            if empty.any():
                ax.contourf(x, y, empty, levels=[0.5, 1.5], colors="none", hatches=["///"])
        if xn == "eta":
            ax.set_xscale("log")
        ax.plot(BASE[xn], BASE[yn], marker="x", color="w", ms=8, mew=2)
        ax.set_xlabel(xl); ax.set_ylabel(yl)
        ax.set_title(title + f" over $({xl.split('$')[1]}, {yl.split('$')[1]})$", fontsize=10)
        fig.colorbar(m, ax=ax, shrink=0.9)
fig.suptitle(f"Coverage of the period-1 domain D1 (coverage_oa5, {N}×{N} per map; "
             "grey: inadmissible or undefined, hatched: D1 empty, ×: baseline)", fontsize=11)
nbtools.savefig(fig, "coverage_maps")
plt.show()
'''),
    md(r'''
**Reading the maps.**

* $(\pi_2, \alpha_2)$: the admissible box is cut out by the monotone-policy condition
  $\lambda R\pi_2 \ge b\alpha_2^{b-1}$ (left edge, $\pi_2 \approx 0.21$) and by A1
  ($\pi_2 \le \pi_1 = 0.65$, right edge; $\alpha_2 \ge \alpha_1 = 0.65$, bottom edge).
  Inside it $D_1$ covers about 80% of the feasible period-1 interval. Terminal
  engagement is pinned at a corner on all of $D_1$ when the AI is reliable (small
  $\pi_2$); for less reliable and more capable AI the interior band of $h_2^*$ moves
  into $D_1$ and $\rho_1^D+\rho_1^F$ falls.
* $(\eta, \delta)$: $\rho_1$ does not depend on $\eta$ and falls to 0 as $\delta \to 0$
  ($D_1$ empty below $\delta \approx 0.03$, hatched). $\rho_1^D+\rho_1^F = 1$ except on a
  thin curve along which the interior band of terminal engagement sweeps through $D_1$.
* $(\phi, \gamma)$: stronger learning and erosion shrink $D_1$ mildly; again the
  fixed-engagement share is 1 except on a band.

This is why Table OA5's medians are 100%: for most parameter vectors terminal
engagement is fixed at 0 or 1 along every period-1 path.
'''),
    code('''
# Summary of the saved figures
sorted(p.name for p in nbtools.FIGURES.glob("coverage*.png"))
'''),
]

# ---------------------------------------------------------------------------
POLICIES = [
    md(r'''
# Engagement policies: single firm, terminal game, period-1 game

Every curve below is read from a Parquet dataset written by the sweep engine
(`notebooks/data/`); nothing plotted is typed into the notebook. Kernels: `single_firm`
(docs/model.md §4), `terminal` (§5), `period1` (§6), plus two notebook helper kernels
registered by `nbtools.py` from the catalog's own functions: `nb_single_firm_path`
(`single_firm` + the period-2 skill $g(s_1,h_1^{sf};A_1)$) and `nb_period1_payoff`
(firm $j$'s payoff $\Phi_1^j(h_1^j,h_1^{-j})$ of eq. 10, swept on a grid to draw best
responses).

Figures:
1. the single-firm policy: period-2 skill $g(s_1,h_1^{sf})$ against $s_1$, with the target $s^*$;
2. the engagement reversal: $h_1^{sf}$ falls in skill, terminal engagement under mobility $h_2^*$ rises in skill;
3. $h_2^*$ against AI unreliability $\pi_2$ for each learning-profile preset;
4. period-1 engagement under mobility $h_1^*$ against $\eta$ beside $h_1^{sf}$, with the crossing $\eta^*$;
5. both firms' period-1 best responses with the symmetric and asymmetric equilibria.
'''),
    md("**Parameters.** `RESOLUTION` sets the points per axis (curves use 4×, the best-response "
       "grid 2×+1). `SWEEP_NB_RESOLUTION` overrides it."),
    code("RESOLUTION = 60", tags=["parameters"]),
    code(SETUP),
    md(r'''
## Parameter choices

`BASE` is a vector where the single-firm band and the terminal interior band are both
wide enough to see (found by small exploratory sweeps of `single_firm`, `terminal` and `coverage_oa5`): power wage $b=1.05$,
$\alpha_1=0.7$, $\alpha_2=0.9$, $\pi_1=\pi_2=0.5$, $\phi=1$, $\gamma=0.2$, $\delta=0.2$,
$\lambda R=5$, $\beta=0.95$, baseline profile, and $\eta=1$ in the terminal game.
`FREE_RIDE` is a vector where the period-1 game has an asymmetric equilibrium (one
firm trains fully, the other free-rides), found by a random search over the paper's
ranges with the `period1` kernel.
'''),
    code('''
BASE = dict(b=1.05, alpha1=0.7, alpha2=0.9, pi1=0.5, pi2=0.5, phi=1.0, gamma=0.2, delta=0.2,
            lam_R=5.0, beta=0.95, profile="pi(1-pi)")
ETA = 1.0            # sorting friction in the terminal game (figures 2, 3)
S1_ETA = 0.3         # period-1 skill of figure 4
FREE_RIDE = dict(b=1.12, alpha1=0.72, alpha2=0.91, pi1=0.47, pi2=0.41, phi=1.3, gamma=0.125,
                 delta=0.14, lam_R=10.0, beta=0.95, eta=10.0, profile="pi(1-pi)")
S1_BR = 0.22         # period-1 skill of the best-response figure
N = RESOLUTION
P1_CHUNK = 8         # one chunk size for every period1 sweep: the kernel compiles once
period2 = {k: BASE[k] for k in ("alpha2", "pi2", "phi", "gamma", "delta", "lam_R", "beta", "b", "profile")}
'''),
    md("## 1. Single firm: the period-2 skill it steers to"),
    code('''
sf, _ = nbtools.sweep_run(f"single_firm_s1_{N}", dict(
    kernel="nb_single_firm_path", fixed={k: v for k, v in BASE.items()},
    axes={"s1": {"linspace": [0.0, BASE["alpha1"], 4 * N + 1]}}),
    comment="single firm over s1 (figure 1, 2)")
first = sf.iloc[0]
s_star, s_L, s_H = first.s_star, first.s_L, first.s_H
assert (sf.regime == 0).all() and np.allclose(sf[["s_star", "s_L", "s_H"]], [s_star, s_L, s_H])
adm = sf[sf.admissible]
print(f"s* = {s_star:.4f}, s_L = {s_L:.4f}, s_H = {s_H:.4f}, admissible s1 in "
      f"({adm.s1.min():.3f}, {adm.s1.max():.3f})")
'''),
    code('''
fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
ax.plot(adm.s1, adm.s2_sf, color="C0", lw=2, label=r"$g(s_1, h_1^{sf}(s_1); A_1)$")
ax.plot(adm.s1, adm.s1, color="0.6", lw=1, ls=":", label=r"$s_2 = s_1$ (45° line)")
ax.axhline(s_star, color="C3", ls="--", lw=1.2, label=rf"target $s^* = {s_star:.3f}$ (eq. 2)")
for x, name in ((s_L, "s_L"), (s_H, "s_H")):
    ax.axvline(x, color="0.4", ls="-.", lw=1)
    ax.annotate(f"${name}$", (x, ax.get_ylim()[0]), xytext=(3, 5), textcoords="offset points")
ax.set_xlabel(r"period-1 skill $s_1$"); ax.set_ylabel(r"period-2 skill $s_2 = g(s_1, h_1^{sf})$")
ax.set_title("Single firm steers period-2 skill to the target $s^*$\\n"
             r"(full engagement for $s_1\\leq s_L$, none for $s_1 \\geq s_H$)")
ax.legend(loc="upper left", fontsize=9)
bx.plot(adm.s1, adm.h1_sf, color="C0", lw=2)
for x in (s_L, s_H):
    bx.axvline(x, color="0.4", ls="-.", lw=1)
bx.set_xlabel(r"period-1 skill $s_1$"); bx.set_ylabel(r"single-firm engagement $h_1^{sf}$")
bx.set_title(r"Single-firm period-1 engagement $h_1^{sf}(s_1)$ (eq. 3)")
bx.set_ylim(-0.03, 1.03)
fig.suptitle(rf"Single firm, admissible $s_1\\in(\\underline{{s}}, \\alpha_1)$; $b={BASE['b']}$, "
             rf"$\\alpha_1={BASE['alpha1']}$, $\\alpha_2={BASE['alpha2']}$, $\\pi_1={BASE['pi1']}$, "
             rf"$\\pi_2={BASE['pi2']}$, $\\phi={BASE['phi']}$, $\\gamma={BASE['gamma']}$, "
             rf"$\\delta={BASE['delta']}$, $\\lambda R={BASE['lam_R']}$", fontsize=10)
nbtools.savefig(fig, "single_firm_policy")
plt.show()
'''),
    md(r'''
## 2. The engagement reversal

Without mobility the firm trains weak workers most ($h_1^{sf}$ falls in $s_1$). With
mobility, terminal engagement $h_2^*$ rises in skill (Cor. 3: $\lambda R\pi_2 \ge
b\alpha_2^{b-1}$ holds here): only workers skilled enough to be worth competing for
are trained. Same parameters in both panels; the terminal game is at $\eta=1$. The
shaded band marks $s_2 \notin D_2$ (outside the single-crossing domain).
'''),
    code('''
term, _ = nbtools.sweep_run(f"terminal_s2_{N}", dict(
    kernel="terminal", fixed=dict(period2, eta=ETA),
    axes={"s2": {"linspace": [0.0, BASE["alpha2"], 4 * N + 1]}}),
    comment="terminal equilibrium over s2 (figure 2)")
t_ok = term[term.admissible & term.h2_star.notna()]
sbb2 = term.sbarbar2.iloc[0]
print(f"s̿2 = {sbb2:.4f}; h2* defined (unique) at {len(t_ok)} of {len(term)} skills; "
      f"interior h2* for s2 in ({t_ok[(t_ok.h2_star > 0) & (t_ok.h2_star < 1)].s2.min():.3f}, "
      f"{t_ok[(t_ok.h2_star > 0) & (t_ok.h2_star < 1)].s2.max():.3f})")

fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True, constrained_layout=True)
ax.plot(adm.s1, adm.h1_sf, color="C0", lw=2, label=r"$h_1^{sf}(s_1)$, single firm")
ax.set_xlabel(r"period-1 skill $s_1$"); ax.set_ylabel("engagement")
ax.set_title(r"No mobility: $h_1^{sf}$ falls in skill")
ax.legend(loc="upper right")
bx.plot(t_ok.s2, t_ok.h2_star, color="C1", lw=2, label=rf"$h_2^*(s_2)$, mobility, $\\eta={ETA}$")
bx.axvspan(0, sbb2, color="0.9", label=r"$s_2 \\leq \\bar{\\bar{s}}_2$ (outside $D_2$)")
bx.set_xlim(0, BASE["alpha2"])
bx.set_xlabel(r"period-2 skill $s_2$")
bx.set_title(r"Mobility: terminal engagement $h_2^*$ rises in skill")
bx.legend(loc="upper left")
ax.set_ylim(-0.03, 1.03)
fig.suptitle(rf"The engagement reversal: $b={BASE['b']}$, $\\alpha_1={BASE['alpha1']}$, $\\alpha_2={BASE['alpha2']}$, "
             rf"$\\pi_1={BASE['pi1']}$, $\\pi_2={BASE['pi2']}$, $\\phi={BASE['phi']}$, $\\gamma={BASE['gamma']}$, "
             rf"$\\delta={BASE['delta']}$, $\\lambda R={BASE['lam_R']}$, $\\beta={BASE['beta']}$", fontsize=10)
nbtools.savefig(fig, "engagement_reversal")
plt.show()
'''),
    md(r'''
## 3. Terminal engagement against AI unreliability, by learning profile

$h_2^*$ at $s_2 = 0.6$ over $\pi_2 \in (0, 1)$ for each preset of docs/model.md §2.1 (a
`profile` axis of preset names). $\pi_2$ enters both the value of a fallback worker
and the learning term $\phi\ell(\pi_2)$. At these parameters terminal engagement
switches on once the AI is unreliable enough, at a profile-specific threshold; for
profiles whose learning vanishes as $\pi_2 \to 1$ fast enough ($\pi^2(1-\pi)^2$,
$\pi^{0.5}(1-\pi)$) it switches off again for very unreliable AI (the hump of Prop. 5),
and for profiles that put learning on reliable AI ($\pi(1-\pi)^2$, $1-\pi$) a worker
of skill $s_2 = 0.6$ is never engaged. (The spec also puts $\alpha_2$ on a one-value axis: with $\pi_2$
on an axis and $\alpha_2$ fixed the `terminal` kernel's Prop. 5 derivatives fail on a
shape mismatch — reported upstream.)
'''),
    code('''
import re

PROFILES = ["pi(1-pi)", "pi^0.5(1-pi)", "pi^1.5(1-pi)", "pi(1-pi)^2", "pi^2(1-pi)^2",
            "(0.05+pi)(1-pi)", "pi^2(1-pi)", "pi", "1-pi", "0.05+pi(1-pi)"]
S2_PROFILE = 0.6
fixed = {k: v for k, v in period2.items() if k not in ("pi2", "profile", "alpha2")}
prof, _ = nbtools.sweep_run(f"terminal_profiles_pi2_{N}", dict(
    kernel="terminal", fixed=dict(fixed, eta=ETA, s2=S2_PROFILE),
    axes={"alpha2": [BASE["alpha2"]], "profile": PROFILES,
          "pi2": {"linspace": [0.01, 0.99, 4 * N + 1]}}),
    comment="terminal h2* over pi2 for every learning-profile preset (figure 3)")
print(prof.groupby("profile", observed=True).apply(
    lambda d: pd.Series({"h2* undefined (not unique)": int(d.h2_star.isna().sum()),
                         "interior points": int(((d.h2_star > 0) & (d.h2_star < 1)).sum())})))

fig, axes = plt.subplots(2, 5, figsize=(15, 6.2), sharex=True, sharey=True, constrained_layout=True)
base = prof[prof.profile == PROFILES[0]].sort_values("pi2")
for ax, name in zip(axes.flat, PROFILES):
    d = prof[prof.profile == name].sort_values("pi2")
    if name != PROFILES[0]:
        ax.plot(base.pi2, base.h2_star, color="0.6", lw=1.2, ls="--", label=r"baseline $\\pi(1-\\pi)$")
    ax.plot(d.pi2, d.h2_star, color="C0", lw=2, label="this profile")
    tex = re.sub(r"\\^([0-9.]+)", r"^{\\1}", name).replace("pi", r"\\pi")
    ax.set_title(rf"$\\ell(\\pi) = {tex}$" + (" (baseline)" if name == PROFILES[0] else ""), fontsize=10)
    if not (d.h2_star > 0).any():
        ax.text(0.5, 0.5, r"$h_2^* = 0$ for every $\\pi_2$", transform=ax.transAxes, ha="center", fontsize=9)
    ax.set_ylim(-0.03, 1.05)
for ax in axes[1]:
    ax.set_xlabel(r"AI failure probability $\\pi_2$")
for ax in axes[:, 0]:
    ax.set_ylabel(r"terminal engagement $h_2^*$")
axes[0, 1].legend(fontsize=8, loc="upper left")
fig.suptitle(rf"Terminal engagement $h_2^*$ against AI unreliability $\\pi_2$, one panel per learning-profile preset "
             rf"($s_2={S2_PROFILE}$, $\\alpha_2={BASE['alpha2']}$, $\\eta={ETA}$, $\\phi={BASE['phi']}$, "
             rf"$\\gamma={BASE['gamma']}$, $\\delta={BASE['delta']}$, $\\lambda R={BASE['lam_R']}$, $b={BASE['b']}$)",
             fontsize=11)
nbtools.savefig(fig, "terminal_profiles_pi2")
plt.show()
'''),
    md(r'''
## 4. Period-1 engagement under mobility against sorting friction $\eta$

The `period1` kernel's verified symmetric equilibrium $h_1^*$ (Lemma 2, Prop. 6) at
$s_1 = 0.3$, against $\eta$, beside the single-firm level $h_1^{sf}$ (which does not
depend on $\eta$). Cor. 4: for large $\eta$, $h_1^* \le h_1^{sf}$; as $\eta$ falls
$h_1^*$ rises above it. $\eta^*$ is where they cross (bracketed between grid points).
'''),
    code('''
def period1_spec(par, eta_axis, s1_axis):
    """A period1 spec with axes (eta, s1) and chunk P1_CHUNK: same structure, one compile."""
    fixed = {k: v for k, v in par.items() if k not in ("eta", "s1")}
    return dict(kernel="period1", chunk_size=P1_CHUNK, fixed=fixed, axes={"eta": eta_axis, "s1": s1_axis})

p1eta, _ = nbtools.sweep_run(f"period1_eta_{N}", period1_spec(
    BASE, {"logspace": [-0.5, 1.3, 2 * N]}, [S1_ETA]), comment="period1 over eta (figure 4)")
p1eta = p1eta.sort_values("eta")
h_sf = p1eta.h1_sf.iloc[0]
ok = p1eta[p1eta.n_sym_eq == 1]
print(f"h1_sf = {h_sf:.4f}; unique symmetric equilibrium at {len(ok)} of {len(p1eta)} values of eta")
diff = (ok.h1_star - h_sf).to_numpy()
cross = np.nonzero(np.sign(diff[:-1]) != np.sign(diff[1:]))[0]
brackets = [(ok.eta.iloc[i], ok.eta.iloc[i + 1]) for i in cross]
print("h1* - h1_sf changes sign between eta =", [f"({a:.3f}, {b:.3f})" for a, b in brackets])

fig, ax = plt.subplots(figsize=(8.5, 4.8), constrained_layout=True)
ax.plot(ok.eta, ok.h1_star, "o-", color="C1", ms=3, lw=1.8, label=r"$h_1^*(\\eta)$, mobility (symmetric equilibrium)")
ax.axhline(h_sf, color="C0", lw=1.8, ls="--", label=rf"$h_1^{{sf}} = {h_sf:.3f}$, single firm")
multi = p1eta[p1eta.n_sym_eq != 1]
if len(multi):
    ax.plot(multi.eta, multi.h1_star_min, "x", color="C3", label=r"several/no symmetric equilibria ($h_1^*$ min)")
for a, b in brackets:
    eta_star = np.sqrt(a * b)
    ax.axvspan(a, b, color="C2", alpha=0.25)
    ax.annotate(rf"$\\eta^* \\in ({a:.2f}, {b:.2f})$", (eta_star, 0.5), xytext=(8, 0),
                textcoords="offset points", color="C2", fontsize=10)
ax.set_xscale("log")
ax.set_xlabel(r"sorting friction $\\eta$ (log scale)")
ax.set_ylabel(r"period-1 engagement $h_1$")
ax.set_ylim(-0.03, 1.03)
ax.set_title(rf"Mobility vs single firm at $s_1={S1_ETA}$: $h_1^*$ crosses $h_1^{{sf}}$ at $\\eta^*$ (Cor. 4)",
             fontsize=10)
ax.legend(loc="center left", fontsize=9)
nbtools.savefig(fig, "period1_vs_eta")
plt.show()
'''),
    md(r'''
## 5. Period-1 best responses and equilibria (free riding)

At `FREE_RIDE` ($s_1 = 0.22$) engagement choices are strategic substitutes (eq. 11
fails) and, in a window of $\eta$ around 10, the `period1` kernel finds besides the
symmetric equilibrium an asymmetric one in which one firm trains (almost) fully and
the other free-rides — and the free rider earns more. The right panel is a `period1`
sweep over $\eta \in [8.5, 11.5]$; the left panel uses the $\eta$ of that dataset
closest to 10 at which an asymmetric equilibrium was found. Best responses are the
argmax over $h_1^j$ of the payoff $\Phi_1^j(h_1^j, h_1^{-j})$ swept on a
$(2N{+}1)\times(2N{+}1)$ grid (`nb_period1_payoff`); firm $-j$'s is the mirror image
(the game is symmetric). Equilibrium markers come from the `period1` dataset.
'''),
    code('''
# same axis shapes as figure 4's sweep (2N values of eta, one s1): no second compile
p1br, _ = nbtools.sweep_run(f"period1_free_ride_{N}", period1_spec(
    FREE_RIDE, {"linspace": [8.5, 11.5, 2 * N]}, [S1_BR]), comment="period1 equilibria along eta (figure 5)")
p1br = p1br.sort_values("eta")
cand = p1br[p1br.asym_eq] if p1br.asym_eq.any() else p1br
at = cand.iloc[np.argmin(np.abs(cand.eta.to_numpy() - FREE_RIDE["eta"]))]
ETA_BR = float(at.eta)
print(f"asymmetric equilibria at {int(p1br.asym_eq.sum())} of {len(p1br)} values of eta; "
      f"best responses drawn at eta = {ETA_BR:.4f}")
M = 2 * N + 1
pay, _ = nbtools.sweep_run(f"period1_payoff_{M}", dict(
    kernel="nb_period1_payoff", fixed=dict(FREE_RIDE, s1=S1_BR, eta=ETA_BR),
    axes={"h1_other": {"linspace": [0.0, 1.0, M]}, "h1": {"linspace": [0.0, 1.0, M]}}),
    comment="period-1 payoff of firm j over both engagements (figure 5)")
print(at[["n_sym_eq", "h1_star_min", "h1_star_max", "asym_eq", "asym_high", "asym_low",
          "payoff_high", "payoff_low", "complements", "in_D1", "admissible"]].to_string())

table = pay.pivot(index="h1_other", columns="h1", values="Phi1")
xs = table.columns.to_numpy()
br = xs[np.argmax(table.to_numpy(), axis=1)]          # firm j's best reply to each h1^-j
ys = table.index.to_numpy()
'''),
    code('''
fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 5.2), constrained_layout=True)
ax.plot(br, ys, color="C0", lw=2, label=r"firm $j$: $h_1^j = BR(h_1^{-j})$")
ax.plot(xs, br[np.searchsorted(ys, xs)], color="C1", lw=2, ls="--", label=r"firm $-j$: $h_1^{-j} = BR(h_1^j)$")
ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls=":")
if at.n_sym_eq >= 1:
    for h in sorted({at.h1_star_min, at.h1_star_max}):
        ax.plot(h, h, "o", ms=11, mfc="none", mec="k", mew=2)
    ax.plot([], [], "o", ms=9, mfc="none", mec="k", mew=2, label=rf"symmetric equilibrium $h_1^*={at.h1_star_min:.3f}$")
if at.asym_eq:
    ax.plot([at.asym_high, at.asym_low], [at.asym_low, at.asym_high], "s", ms=11, mfc="none", mec="C3", mew=2,
            label=rf"asymmetric equilibria $({at.asym_high:.2f}, {at.asym_low:.2f})$ and mirror")
ax.set_xlim(-0.03, 1.03); ax.set_ylim(-0.03, 1.03); ax.set_aspect("equal")
ax.set_xlabel(r"firm $j$'s engagement $h_1^j$"); ax.set_ylabel(r"firm $-j$'s engagement $h_1^{-j}$")
ax.set_title(rf"Period-1 best responses at $s_1={S1_BR}$, $\\eta={ETA_BR:.2f}$ (grid step {xs[1] - xs[0]:.3f})",
             fontsize=10)
ax.legend(loc="upper right", fontsize=8.5, framealpha=0.9)

d = p1br
bx.plot(d.eta, d.h1_star_min, "o-", color="k", ms=3, label=r"symmetric $h_1^*$")
if (d.h1_star_max != d.h1_star_min).any():
    bx.plot(d.eta, d.h1_star_max, "o--", color="0.4", ms=3, label=r"symmetric $h_1^*$ (largest)")
a = d[d.asym_eq]
bx.plot(a.eta, a.asym_high, "s", color="C3", ms=6, label="asymmetric: trainer")
bx.plot(a.eta, a.asym_low, "v", color="C2", ms=6, label="asymmetric: free rider")
bx.plot(d.eta, d.h1_sf, color="C0", lw=1.2, ls=":", label=r"single firm $h_1^{sf}$")
bx.axvline(ETA_BR, color="0.6", lw=0.8)
bx.set_xlabel(r"sorting friction $\\eta$"); bx.set_ylabel(r"period-1 engagement $h_1$")
bx.set_ylim(-0.03, 1.08)
bx.set_title(rf"Equilibria of the period-1 game along $\\eta$ ($s_1={S1_BR}$)", fontsize=10)
bx.legend(fontsize=8.5, loc="center right")
fp = FREE_RIDE
fig.suptitle(rf"Free riding: $b={fp['b']}$, $\\alpha_1={fp['alpha1']}$, $\\alpha_2={fp['alpha2']}$, "
             rf"$\\pi_1={fp['pi1']}$, $\\pi_2={fp['pi2']}$, $\\phi={fp['phi']}$, $\\gamma={fp['gamma']}$, "
             rf"$\\delta={fp['delta']}$, $\\lambda R={fp['lam_R']}$", fontsize=10)
nbtools.savefig(fig, "period1_best_responses")
plt.show()
'''),
    code('''
sorted(p.name for p in nbtools.FIGURES.glob("*.png"))
'''),
]

if __name__ == "__main__":
    write("coverage.ipynb", COVERAGE)
    write("policies.ipynb", POLICIES)
    print("wrote coverage.ipynb, policies.ipynb")
