"""The ``_sweep.json`` manifest and the checks made on an output directory.

The manifest records what a directory holds: the spec (verbatim TOML and parsed),
its hash, the kernel, sizes, axis values, the resolved fixed parameters, the
Parquet columns, and the versions/device of the process that created it.

It is written once, by whichever process gets there first (an atomic
create-if-absent), and never rewritten by a resume or by another shard: every
writer of one spec would write the same facts, and done-ness lives in the part
files (see :mod:`sweep.dataset`), so there is nothing in it that can race.
"""
from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import platform
import tempfile
from pathlib import Path

from .dataset import (  # noqa: F401  (FORMAT, read_manifest: re-exported, they used to live here)
    DATA_DIR,
    FORMAT,
    MANIFEST_NAME,
    require_current_format,
    clean_temp_files,
    create_bytes_exclusive,
    foreign_parts,
    read_manifest,
    remove_sweep_files,
)
from .errors import OutputError

__all__ = ["FORMAT", "build_manifest", "read_manifest", "prepare_output", "versions", "pooled_axes",
           "axis_values", "spec_differences"]


def versions() -> dict[str, str]:
    """Versions of the package and of the libraries that determine the numbers."""
    return dict(_versions())


@functools.lru_cache(maxsize=1)
def _versions() -> dict[str, str]:
    # Read once per process: installed versions do not change under a running
    # process, and the metadata lookups cost ~12 ms, 6% of a paper-grid run.
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("skillsweep", "jax", "jaxlib", "numpy", "pyarrow"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    if out["skillsweep"] is None:
        from . import __version__

        out["skillsweep"] = __version__
    return out


def build_manifest(spec, *, columns: list[dict], device: str, factored: dict | None = None) -> dict:
    """The manifest document for ``spec`` (JSON-serializable).

    ``factored`` says how the creating run evaluated the kernel (its Factor's
    sub-grid axes and size, or None): how, not what, so not part of the spec hash.
    """
    return {
        "format": FORMAT,
        "spec_hash": spec.hash,
        "kernel": spec.kernel,
        "dtype": spec.dtype,
        "chunk_size": spec.chunk_size,
        "n_vectors": spec.n_vectors,
        "n_chunks": spec.n_chunks,
        # linspace/logspace axes by their parameters, lists by value: two 10^6-point
        # axes take a few hundred bytes, not 120 MB
        "axes": [{"name": a.name, "categorical": a.categorical, "size": len(a), **a.describe()}
                 for a in spec.axes],
        "fixed": spec.resolved_fixed(),
        "columns": columns,
        "spec": {"source": spec.source, "text": spec.text, "parsed": spec.canonical()},
        "versions": versions(),
        "device": device,
        "factored": factored,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        # the parts, listed by rule (a grid may have billions of chunks): chunk k of
        # n_chunks is data_dir/part_name.format(chunk=k); nothing else belongs in data_dir
        "data_dir": DATA_DIR,
        "part_name": "part-{chunk:0%dd}.parquet" % max(6, len(str(max(spec.n_chunks - 1, 0)))),
        "parts": "data/part-NNNNNN.parquet, one per chunk; a chunk is done iff its part file "
                 "exists and its key-value metadata holds this spec_hash, its chunk number and row "
                 "count, and a content checksum (sweep.content) that its values match",
    }


def _check_writable(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a directory; expected a directory path")
    if not out.exists():
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"--out {out}: cannot create the output directory: "
                              f"{exc.strerror or exc}") from None
    # os.access is wrong for root and for read-only mounts: try to create a file.
    try:
        fd, probe = tempfile.mkstemp(prefix=".sweep-probe-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"--out {out}: the output directory is not writable: "
                          f"{exc.strerror or exc}") from None


def _describe(manifest: dict) -> str:
    src = (manifest.get("spec") or {}).get("source")
    return (f"kernel {manifest.get('kernel')!r}, {manifest.get('n_vectors')} vectors, "
            f"spec hash {str(manifest.get('spec_hash'))[:12]}" + (f", from {src}" if src else ""))


def spec_differences(existing: dict | None, spec) -> list[str]:
    """The spec keys in which a directory's manifest and ``spec`` differ, e.g.
    ``["chunk_size (5 vs 7)", "fixed.y (0.5 vs 0.6)", "axes.x"]``."""
    if not existing:
        return []
    old = (existing.get("spec") or {}).get("parsed") or {}
    new = spec.canonical()
    out = []
    for key in ("kernel", "dtype", "chunk_size"):
        if old.get(key) != new.get(key):
            out.append(f"{key} ({old.get(key)!r} vs {new.get(key)!r})")
    of, nf = old.get("fixed") or {}, new.get("fixed") or {}
    for key in sorted(set(of) | set(nf)):
        if of.get(key) != nf.get(key):
            out.append(f"fixed.{key} ({of.get(key, 'unset')!r} vs {nf.get(key, 'unset')!r})")
    oa = {a["name"]: a for a in old.get("axes") or []}
    na = {a["name"]: a for a in new.get("axes") or []}
    for key in list(oa) + [k for k in na if k not in oa]:
        if oa.get(key) != na.get(key):
            what = "only in the directory's spec" if key not in na else (
                "only in this spec" if key not in oa else "different values")
            out.append(f"axes.{key} ({what})")
    if not out and [a["name"] for a in old.get("axes") or []] != [a["name"] for a in new.get("axes") or []]:
        out.append("the order of [axes]")
    return out


def pooled_axes(manifest: dict, grouped_by) -> list[str]:
    """The axes of a dataset that a summary grouped by ``grouped_by`` pools over,
    as ``"name (N values)"``: what each of its numbers averages across."""
    return [f"{a['name']} ({a['size']} values)" for a in manifest.get("axes", [])
            if a["name"] not in set(grouped_by)]


def axis_values(entry: dict) -> list:
    """The values of one manifest axis entry, whether listed or described by
    ``linspace``/``logspace`` parameters."""
    if "values" in entry:
        return list(entry["values"])
    from .spec import _range_values

    for kind in ("linspace", "logspace"):
        if kind in entry:
            lo, hi, n = entry[kind]
            return _range_values(kind, float(lo), float(hi), int(n)).tolist()
    raise KeyError(f"axis {entry.get('name')!r}: no values and no linspace/logspace")


def _refuse_live_writers(out: Path) -> None:
    """--overwrite must not delete files that a live run is still writing (its
    parts would land beside the new sweep's): refuse while one holds the directory."""
    from .leases import live_runs

    runs = live_runs(out)
    if runs:
        raise OutputError(f"--out {out}: another live run ({'; '.join(runs)}) is writing this "
                          f"directory; --overwrite would leave its parts behind. Stop it (or wait for "
                          f"it to finish), then re-run, or choose another --out")


def prepare_output(out_dir, spec, *, overwrite: bool, columns: list[dict], device: str,
                   factored: dict | None = None) -> dict:
    """Make ``out_dir`` ready for ``spec`` and return its manifest.

    Creates the directory if needed; refuses (OutputError) a path that is a
    file, an unwritable directory, a directory holding a different sweep (unless
    ``overwrite``, which deletes that sweep's files — and only those), or a
    non-empty directory that is not a sweep output.  Removes temporary files of
    dead writers.  Writes the manifest if absent.
    """
    out = Path(out_dir)
    _check_writable(out)
    mpath = out / MANIFEST_NAME
    if mpath.exists():
        try:
            existing = read_manifest(out)
        except OutputError:
            if not overwrite:
                raise OutputError(f"{mpath}: unreadable manifest; use --overwrite to replace "
                                  f"the sweep in {out}, or choose another --out") from None
            existing = None
        if existing is not None and existing["spec_hash"] == spec.hash and existing.get("format") != FORMAT:
            if not overwrite:
                require_current_format(out, existing)
            existing = None  # replaced below: first-layout parts cannot be verified
        if existing is None or existing["spec_hash"] != spec.hash:
            if not overwrite:
                diff = spec_differences(existing, spec)
                raise OutputError(
                    f"--out {out}: holds a different sweep ({_describe(existing)}) than this spec "
                    f"(kernel {spec.kernel!r}, {spec.n_vectors} vectors, spec hash {spec.hash[:12]})"
                    + (f"; they differ in {', '.join(diff)}" if diff else "")
                    + "; use --overwrite to replace it, or choose another --out")
            _refuse_live_writers(out)
            remove_sweep_files(out)
    else:
        others = [e.name for e in os.scandir(out)
                  if not e.name.startswith(".") and not e.name.startswith("part-")]
        # A concurrent shard may have created the manifest (and data/) since the
        # exists() check above: not a foreign file; create_bytes_exclusive below
        # checks its spec hash.
        others = [n for n in others if n not in (MANIFEST_NAME, DATA_DIR)]
        if others:
            raise OutputError(f"--out {out}: not empty and not a sweep output directory (no "
                              f"{MANIFEST_NAME}; found {others[0]!r}); choose a new or empty directory")
        foreign = foreign_parts(out, spec.hash)
        if foreign:
            if not overwrite:
                raise OutputError(f"--out {out}: holds part files of another sweep (e.g. "
                                  f"{foreign[0].name}); use --overwrite to replace them")
            _refuse_live_writers(out)
            remove_sweep_files(out)
    clean_temp_files(out)
    manifest = build_manifest(spec, columns=columns, device=device, factored=factored)
    blob = (json.dumps(manifest, indent=2, allow_nan=False) + "\n").encode()
    if not create_bytes_exclusive(mpath, blob):
        # Another process (a concurrent shard) created it first: it must be ours too.
        manifest = read_manifest(out)
        if manifest["spec_hash"] != spec.hash:
            raise OutputError(f"--out {out}: another process started a different sweep there "
                              f"({_describe(manifest)}); choose another --out")
    return manifest
