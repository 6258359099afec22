"""The ``factored_numpy`` section of ``sweep bench``: ``sweep reproduce`` against the
factored numpy baseline (:mod:`sweep.benchmarking.factored_numpy`), whole commands.

For each grid (K points per axis), in one run so both share the machine's load:

* ``reproduce``: ``python -m sweep reproduce all --points-per-axis K --json`` (Tables
  OA4 and OA5 from on-device reductions; OA3's 6-vector grid rides along), wall time
  of the whole process: interpreter start, JAX import, compiles, chunk pass,
  narrowing passes, summaries;
* ``baseline``: ``python -m sweep.benchmarking.factored_numpy --points-per-axis K
  --json``, wall time of the whole process (numpy and scipy: one core).

Both print Tables OA4 and OA5; they must agree cell for cell as printed and in
their counts (:func:`~sweep.benchmarking.factored_numpy.compare_tables`), or the
section reports ``failed`` and ``sweep bench`` exits 1.

    python -m sweep.benchmarking.factored_baseline [--points-per-axis K ...] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

#: the section's name in ``sweep bench`` (``--skip factored_numpy``)
NAME = "factored_numpy"
#: grids measured by a full bench (K points per axis) and by ``--quick`` (the paper's)
FULL_GRIDS = (5, 6)
QUICK_GRIDS = (None,)


def _whole_command(args: list[str], timeout: float) -> tuple[float, dict | str]:
    """Run ``python -m ARGS`` in a fresh interpreter: (wall seconds, its JSON or an error)."""
    t0 = time.perf_counter()
    try:
        r = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout,
                           cwd=tempfile.gettempdir(), env=dict(os.environ))
    except subprocess.TimeoutExpired:
        return time.perf_counter() - t0, f"timed out after {timeout:.0f} s"
    wall = time.perf_counter() - t0
    if r.returncode not in (0, 1):
        return wall, f"exit {r.returncode}: {(r.stderr or r.stdout)[-1500:]}"
    try:
        return wall, json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return wall, f"no JSON: {r.stdout[-300:]} {r.stderr[-1200:]}"


def measure(points_per_axis: int | None, timeout: float = 1800) -> dict:
    """Both whole commands on one grid, their tables compared."""
    from .factored_numpy import compare_tables

    k = [] if points_per_axis is None else ["--points-per-axis", str(points_per_axis)]
    res: dict = {"points_per_axis": points_per_axis, "loadavg_before": list(os.getloadavg())}
    wall_b, base = _whole_command(["sweep.benchmarking.factored_numpy", *k, "--json"], timeout)
    wall_r, ours = _whole_command(["sweep", "reproduce", "all", *k, "--json", "--no-progress"], timeout)
    res["loadavg_after"] = list(os.getloadavg())
    res["baseline"] = {"seconds": wall_b}
    res["reproduce"] = {"seconds": wall_r}
    if isinstance(base, str) or isinstance(ours, str):
        res["failed"] = f"baseline: {base if isinstance(base, str) else 'ok'}; " \
                        f"reproduce: {ours if isinstance(ours, str) else 'ok'}"
        return res
    res["baseline"]["phases"] = base["seconds"]
    res["n_vectors"] = base["oa4"]["n_vectors"]
    docs = {d["table"].lower(): d for d in ours["tables"]}
    cmp = compare_tables(docs, base)
    res["agreement"] = cmp
    res["speedup"] = wall_b / wall_r
    if not cmp["agree"]:
        res["failed"] = "tables differ: " + "; ".join(cmp["mismatches"][:10])
    return res


def run(cfg: dict, ctx: dict) -> dict:
    """The section: :data:`QUICK_GRIDS` with ``--quick``, else :data:`FULL_GRIDS`."""
    if {NAME, "engine"} & set(cfg.get("skip", ())):
        return {"skipped": "measured with the engine section, which was skipped"}
    grids = QUICK_GRIDS if cfg.get("quick") else FULL_GRIDS
    out = {}
    for k in grids:
        r = measure(k)
        out["paper" if k is None else f"k{k}"] = r
        ctx["log"](f"factored_numpy K={k}: reproduce {r['reproduce']['seconds']:.1f} s, "
                   f"baseline {r['baseline']['seconds']:.1f} s"
                   + (f", FAILED: {r['failed']}" if "failed" in r else ", tables agree"))
    failed = [f"{g}: {r['failed']}" for g, r in out.items() if "failed" in r]
    return {"grids": out, **({"failed": "; ".join(failed)} if failed else {})}


def markdown(result: dict) -> str:
    """The section's part of the markdown report."""
    if "skipped" in result:
        return f"## Reproduce vs factored numpy\n\nSkipped: {result['skipped']}.\n"
    lines = ["## Reproduce vs factored numpy (Tables OA4 + OA5, whole commands)", "",
             "| grid | vectors | `sweep reproduce all` s | factored numpy s | speed-up | tables |",
             "|---|---|---|---|---|---|"]
    for g, r in result.get("grids", {}).items():
        agree = "agree" if r.get("agreement", {}).get("agree") else f"FAILED: {r.get('failed', '?')}"
        sp = f"{r['speedup']:.2f}x" if "speedup" in r else "—"
        lines.append(f"| {g} | {r.get('n_vectors', 0):,} | {r['reproduce']['seconds']:.1f} | "
                     f"{r['baseline']['seconds']:.1f} | {sp} | {agree} |")
    lines += ["", "Speed-up = baseline wall / reproduce wall (> 1: reproduce is faster). Tables agree "
              "when every printed cell and count is identical."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points-per-axis", type=int, nargs="+", default=[5])
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    res = {f"k{k}": measure(k) for k in a.points_per_axis}
    if a.json:
        print(json.dumps(res, default=float))
    else:
        print(markdown({"grids": res}))
    return 1 if any("failed" in r for r in res.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
