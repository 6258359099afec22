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
import json
import os
import platform
import tempfile
from pathlib import Path

from .dataset import (
    MANIFEST_NAME,
    clean_temp_files,
    create_bytes_exclusive,
    foreign_parts,
    read_manifest,
    remove_sweep_files,
)
from .errors import OutputError

__all__ = ["FORMAT", "build_manifest", "read_manifest", "prepare_output", "versions"]

FORMAT = "skillsweep-dataset/1"


def versions() -> dict[str, str]:
    """Versions of the package and of the libraries that determine the numbers."""
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
        "axes": [
            {"name": a.name, "categorical": a.categorical, "size": len(a), "values": list(a.values)}
            for a in spec.axes
        ],
        "fixed": spec.resolved_fixed(),
        "columns": columns,
        "spec": {"source": spec.source, "text": spec.text, "parsed": spec.canonical()},
        "versions": versions(),
        "device": device,
        "factored": factored,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "parts": "part-NNNNNN.parquet, one per chunk; a chunk is done iff its part file "
                 "exists with this spec_hash in its key-value metadata",
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
        if existing is None or existing["spec_hash"] != spec.hash:
            if not overwrite:
                raise OutputError(
                    f"--out {out}: holds a different sweep ({_describe(existing)}) than this spec "
                    f"(kernel {spec.kernel!r}, {spec.n_vectors} vectors, spec hash {spec.hash[:12]}); "
                    f"use --overwrite to replace it, or choose another --out")
            remove_sweep_files(out)
    else:
        others = [e.name for e in os.scandir(out)
                  if not e.name.startswith(".") and not e.name.startswith("part-")]
        # A concurrent shard may have created the manifest since the exists() check
        # above: not a foreign file; create_bytes_exclusive below checks its spec hash.
        others = [n for n in others if n != MANIFEST_NAME]
        if others:
            raise OutputError(f"--out {out}: not empty and not a sweep output directory (no "
                              f"{MANIFEST_NAME}; found {others[0]!r}); choose a new or empty directory")
        foreign = foreign_parts(out, spec.hash)
        if foreign:
            if not overwrite:
                raise OutputError(f"--out {out}: holds part files of another sweep (e.g. "
                                  f"{foreign[0].name}); use --overwrite to replace them")
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
