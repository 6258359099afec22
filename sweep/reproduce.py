"""``sweep reproduce``: the paper's coverage tables, recomputed end to end.

Each table's grid is a spec file shipped with the package (``sweep/specs``):
``oa3.toml`` (kernel ``coverage_oa4``) and ``oa5.toml`` (kernel ``coverage_oa5``,
shared by Tables OA4 and OA5).  The run goes through the engine into a Parquet
dataset exactly as ``sweep run`` would, and the tables are then summarized from
that dataset (:mod:`sweep.tables`), so what is printed is what a notebook reading
the dataset would find.

``--points-per-axis K`` refines every axis of the paper's grid to K evenly spaced
values over the same [min, max] (η evenly spaced in log), each rounded to 12
significant digits so that a number appearing on two axes (0.45 on π1 and π2) is
the same double on both and the ties of A1 (π2 ≤ π1, α2 ≥ α1) stay admissible.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import OutputError, SpecError
from .spec import Spec, parse_spec
from .tables import PUBLISHED, REDUCE_OA45, compare, render, summarize, summarize_reductions

try:  # Python ≥ 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib

__all__ = ["SPEC_FILES", "paper_spec", "refine_axis", "reproduce", "cmd_reproduce"]

#: table -> the shipped spec file whose sweep it is summarized from
SPEC_FILES = {"oa3": "oa3.toml", "oa4": "oa5.toml", "oa5": "oa5.toml"}
#: axes refined evenly in log rather than linearly
LOG_AXES = frozenset({"eta"})
SIG_DIGITS = 12


def _round_sig(x: np.ndarray, digits: int = SIG_DIGITS) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in np.asarray(x, dtype=np.float64)]


def refine_axis(name: str, values, k: int) -> list[float]:
    """K evenly spaced values over [min(values), max(values)], in log for η,
    rounded to 12 significant digits."""
    lo, hi = float(min(values)), float(max(values))
    if name in LOG_AXES:
        pts = np.geomspace(lo, hi, k)
    else:
        pts = np.linspace(lo, hi, k)
    pts[0], pts[-1] = lo, hi            # the paper's own end points, bit for bit
    return _round_sig(pts)


def paper_spec(table: str, points_per_axis: int | None = None, dtype: str | None = None,
               reduce: bool = False, rows: bool = True) -> Spec:
    """The spec of ``table``'s paper grid, optionally refined to K points per axis.

    ``reduce``: add the reductions that hold Tables OA4/OA5
    (:data:`sweep.tables.REDUCE_OA45`; only for the ``coverage_oa5`` grid), and
    keep rows only if ``rows``."""
    fname = SPEC_FILES[table]
    text = resources.files("sweep.specs").joinpath(fname).read_text(encoding="utf-8")
    data = tomllib.loads(text)
    source = f"sweep/specs/{fname}"
    if points_per_axis is not None:
        if points_per_axis < 2:
            raise SpecError(f"--points-per-axis: got {points_per_axis}; expected an integer ≥ 2 "
                            f"(each axis needs its min and max)")
        data["axes"] = {n: refine_axis(n, v, points_per_axis) for n, v in data["axes"].items()}
        source += f" (points per axis = {points_per_axis})"
    if dtype is not None:
        data["dtype"] = dtype
    reduce = reduce and data["kernel"] == "coverage_oa5"
    if reduce:
        data["reduce"] = REDUCE_OA45
        if rows:
            from .spec import lookup_kernel

            data["outputs"] = list(lookup_kernel(data["kernel"]).output_names)
    spec = parse_spec(data, source=source)
    if points_per_axis is None and dtype is None and not reduce:
        # keep the verbatim TOML in the manifest when the spec is the shipped file
        spec = Spec(spec.kernel, spec.dtype, spec.chunk_size, spec.fixed, spec.axes, source, text, data)
    return spec


def _dataset_name(fname: str, k: int | None, dtype: str | None, reduce: bool = False,
                  rows: bool = True) -> str:
    name = Path(fname).stem
    if reduce and fname == "oa5.toml":
        name += "_reduce" if not rows else "_reduce_rows"
    if k is not None:
        name += f"_k{k}"
    if dtype == "float32":
        name += "_float32"
    return name


def reproduce(table: str, *, points_per_axis: int | None = None, out: str | None = None,
              progress: bool | None = None, dtype: str | None = None, reduce: bool = True,
              rows: bool = False) -> dict:
    """Run and summarize ``table`` (``oa3``, ``oa4``, ``oa5`` or ``all``).

    Tables OA4/OA5 are computed by on-device reductions (``reduce``, the default):
    the run keeps the reductions' summaries and, only with ``rows``, the rows too.
    ``reduce=False`` runs the grid into rows and summarizes them with SQL (the way
    ``sweep summarize`` reads a dataset of rows).

    Returns the JSON document of DESIGN.md for one table, or for ``all``
    ``{"tables": [...], "matches_published": ..., "seconds": ...}``.  Datasets go
    to ``out/<grid>`` (kept, resumable) or to a temporary directory removed at
    the end.
    """
    from . import engine  # lazy: imports JAX

    t0 = time.perf_counter()
    tables = ["oa3", "oa4", "oa5"] if table == "all" else [table]
    root = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="sweep-reproduce-"))
    if root.exists() and not root.is_dir():
        raise OutputError(f"--out {out}: exists and is not a directory")
    try:
        dirs: dict[str, Path] = {}
        runs: dict[str, dict] = {}
        for t in tables:
            fname = SPEC_FILES[t]
            if fname in dirs:
                continue
            spec = paper_spec(t, points_per_axis, dtype, reduce=reduce, rows=rows)
            d = root / _dataset_name(fname, points_per_axis, dtype, reduce, rows)
            res = engine.run(spec, d, progress=progress)
            dirs[fname], runs[fname] = d, res.to_dict()
        docs = []
        for t in tables:
            fname = SPEC_FILES[t]
            from_red = reduce and t != "oa3"
            doc = summarize_reductions(dirs[fname], t) if from_red else summarize(dirs[fname], t)
            doc["published"] = PUBLISHED[t]
            if points_per_axis is None:
                cmp = compare(t, doc["rows"], doc["dtype"])
                doc["matches_published"] = cmp["matches_published"]
                doc["comparison"] = {k: cmp[k] for k in ("mismatches", "known_quirks")}
            else:
                # A refined grid is a different population: shown beside the
                # paper for context, not compared digit for digit.
                doc["matches_published"] = None
            doc["points_per_axis"] = points_per_axis
            doc["dataset"] = str(dirs[fname]) if out is not None else None
            doc["run_seconds"] = runs[fname]["seconds"]
            doc["seconds"] = time.perf_counter() - t0
            docs.append(doc)
    finally:
        if out is None:
            shutil.rmtree(root, ignore_errors=True)
    seconds = time.perf_counter() - t0
    for d in docs:
        d["seconds"] = seconds
    if table != "all":
        return docs[0]
    flags = [d["matches_published"] for d in docs]
    return {"tables": docs, "matches_published": None if None in flags else all(flags),
            "points_per_axis": points_per_axis, "seconds": seconds}


def _explain(doc: dict) -> list[str]:
    lines = []
    if doc["matches_published"] is None:
        lines.append(f"  ({doc['table']} at {doc['points_per_axis']} points per axis: a refined grid, "
                     "shown beside the paper's numbers for context, not compared)")
        return lines
    cmp = doc["comparison"]
    for q in cmp["known_quirks"]:
        lines.append(f"  note: {doc['table']} {q['column']} at {q['key']}: computed {q['computed']}, "
                     f"published {q['published']}: {q['note']}")
    if doc["matches_published"]:
        extra = " (apart from the known rounding quirk noted above)" if cmp["known_quirks"] else ""
        lines.append(f"  {doc['table']}: every printed digit matches the published table{extra}.")
    else:
        for m in cmp["mismatches"]:
            lines.append(f"  MISMATCH {doc['table']} {m['column']} at {m['key']}: computed "
                         f"{m['computed']}, published {m['published']}")
    return lines


def cmd_reproduce(args) -> int:
    """``sweep reproduce {oa3,oa4,oa5,all} [--points-per-axis K] [--out DIR] [--json]``.

    Exit 0 when the tables match the paper (or a refined grid ran), 1 when a
    paper-resolution table does not match.
    """
    progress = False if getattr(args, "no_progress", False) else None
    doc = reproduce(args.table, points_per_axis=args.points_per_axis, out=args.out,
                    progress=progress, dtype=getattr(args, "dtype", None),
                    reduce=not getattr(args, "from_rows", False), rows=getattr(args, "rows", False))
    docs = doc["tables"] if args.table == "all" else [doc]
    if args.json:
        json.dump(doc, sys.stdout, default=float)
        sys.stdout.write("\n")
    else:
        for d in docs:
            print(render(d, published=True))
            print("\n".join(_explain(d)))
            print()
        n = sum(d["n_vectors"] for d in docs if d["table"] != "OA4")
        print(f"{n:,} vectors computed and summarized in {doc['seconds']:.1f} s")
    return 1 if doc["matches_published"] is False else 0
