"""The on-disk dataset: part files, atomic writes, completion, reading.

Layout of an output directory ``OUT``::

    OUT/_sweep.json                   manifest (see :mod:`sweep.manifest`)
    OUT/data/part-000000.parquet      rows of chunk 0: index, axis columns, outputs
    OUT/data/part-000001.parquet      ...
    OUT/_quarantine/                  files found in data/ that were not the sweep's
    OUT/.leases/                      chunks being computed by live runs (:mod:`sweep.leases`)

The rows live in their own directory so that ``pandas.read_parquet("OUT/data")``,
``pyarrow.dataset.dataset("OUT/data")`` and DuckDB's ``OUT/data/*.parquet`` read
exactly the sweep's rows, whatever else a user keeps in ``OUT``; ``sweep run``
moves any file in ``data/`` that is not one of its parts to ``_quarantine/``.

**A chunk is done iff its part file exists and passes
:func:`sweep.integrity.part_problems`**: it carries the run's spec hash, the chunk
number of its file name, the chunk's row count and a content checksum that
matches its values (its pages carry CRCs too).  Part files are written to a hidden temporary
name in the same directory and ``os.replace``'d into place, so a part file is
either complete or absent, and several processes (job-array shards, dask
workers) can write into one directory without coordinating: the set of done
chunks is always derivable from the directory listing and the parts alone.

Temporary files (``.part-NNNNNN.parquet.<host>.<pid>.tmp``) start with a dot and
do not end in ``.parquet``, so pyarrow/pandas (which skip ``.``/``_`` files) and
DuckDB globs like ``OUT/data/*.parquet`` never see them.

Directories of the first layout (``skillsweep-dataset/1``: parts beside the
manifest, no checksums) are refused with the command that replaces them: their
parts cannot be verified, so migrating them would carry unverifiable rows over.
"""
from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Iterable

from .errors import OutputError
from .processes import host_name, pid_alive

from .summary import open_summary  # noqa: F401,E402  (summaries of [reduce]: sweep.summary)

__all__ = [
    "MANIFEST_NAME",
    "DATA_DIR",
    "data_dir",
    "scan_data_dir",
    "quarantine_foreign",
    "part_is_done",
    "require_current_format",
    "META_SPEC_HASH",
    "META_CHUNK",
    "part_name",
    "part_path",
    "list_parts",
    "part_spec_hash",
    "completed_chunks",
    "write_part",
    "write_parquet_atomic",
    "list_part_files",
    "completed_files",
    "clean_temp_files",
    "remove_sweep_files",
    "read_dataset",
    "read_arrow",
    "status",
    "FORMAT",
    "read_manifest",
    "verify_dataset",
    "require_intact",
    "describe_problems",
]

MANIFEST_NAME = "_sweep.json"
#: /2: parts under data/ with chunk number, row count and content checksum (sweep.integrity)
FORMAT = "skillsweep-dataset/2"
DATA_DIR = "data"
QUARANTINE_DIR = "_quarantine"  # "_": skipped by pyarrow/pandas directory discovery
META_SPEC_HASH = b"sweep.spec_hash"
META_CHUNK = b"sweep.chunk"
META_KERNEL = b"sweep.kernel"
_PART_RE = re.compile(r"^part-(\d{6,})\.parquet$")
_TMP_RE = re.compile(r"^\.(?:part-\d{6,}\.parquet|_sweep\.json)\.(?P<host>[^.]+)\.(?P<pid>\d+)\.[0-9a-f]+\.tmp$")


def part_name(k: int, n_chunks: int) -> str:
    """``part-NNNNNN.parquet``: zero-padded to 6 digits, more when the run has
    more than a million chunks (so names of one run sort in chunk order)."""
    width = max(6, len(str(max(n_chunks - 1, 0))))
    return f"part-{k:0{width}d}.parquet"


def data_dir(out_dir) -> Path:
    """Where the part files of ``out_dir`` live (what readers are pointed at)."""
    return Path(out_dir) / DATA_DIR


def part_path(out_dir, k: int, n_chunks: int) -> Path:
    return data_dir(out_dir) / part_name(k, n_chunks)


def list_parts(out_dir) -> dict[int, Path]:
    """Chunk id -> part file for every ``part-*.parquet`` in ``out_dir/data`` (no validation)."""
    return list_part_files(data_dir(out_dir))


def list_part_files(parts_dir) -> dict[int, Path]:
    """Chunk id -> file for every ``part-*.parquet`` directly in ``parts_dir`` (rows'
    ``data/``, or a reduction's partials directory)."""
    out = {}
    try:
        entries = list(os.scandir(parts_dir))
    except (FileNotFoundError, NotADirectoryError):
        return out
    for e in entries:
        m = _PART_RE.match(e.name)
        if m and e.is_file():
            out[int(m.group(1))] = Path(e.path)
    return dict(sorted(out.items()))


def scan_data_dir(out_dir, n_chunks: int) -> tuple[dict[int, Path], list[Path]]:
    """``(parts, foreign)``: chunk id -> file for names a chunk of a grid of ``n_chunks``
    chunks has, and every other visible file under ``data/`` (another spec's part
    named past the last chunk, a user's file): readers of ``data/`` would see those."""
    parts, foreign = {}, []
    try:
        entries = list(os.scandir(data_dir(out_dir)))
    except (FileNotFoundError, NotADirectoryError):
        return parts, foreign
    for e in entries:
        if e.name.startswith("."):
            continue  # our temporaries; hidden from pyarrow, pandas and DuckDB globs
        m = _PART_RE.match(e.name)
        if m and e.is_file() and int(m.group(1)) < n_chunks and e.name == part_name(int(m.group(1)), n_chunks):
            parts[int(m.group(1))] = Path(e.path)
        else:
            foreign.append(Path(e.path))
    return dict(sorted(parts.items())), sorted(foreign)


def quarantine_foreign(out_dir, n_chunks: int) -> list[tuple[str, str]]:
    """Move every file under ``data/`` that is not a part name of this grid to
    ``_quarantine/`` (kept, never deleted: it may be a user's); returns ``[(from, to)]``."""
    _, foreign = scan_data_dir(out_dir, n_chunks)
    moved = []
    if not foreign:
        return moved
    q = Path(out_dir) / QUARANTINE_DIR
    q.mkdir(exist_ok=True)
    for p in foreign:
        dest = q / p.name
        i = 1
        while dest.exists():
            dest = q / f"{p.name}.{i}"
            i += 1
        try:
            os.replace(p, dest)
            moved.append((str(p), str(dest)))
        except FileNotFoundError:
            pass
    return moved


def part_metadata(path) -> dict[bytes, bytes] | None:
    """Key-value metadata of a part file, or None if it cannot be read as Parquet."""
    import pyarrow.parquet as pq

    try:
        return dict(pq.read_schema(path).metadata or {})
    except (OSError, ValueError):  # pyarrow: ArrowInvalid is a ValueError, ArrowIOError an OSError
        return None


def part_spec_hash(path) -> str | None:
    meta = part_metadata(path)
    if meta is None or META_SPEC_HASH not in meta:
        return None
    return meta[META_SPEC_HASH].decode()


# Reading the manifest lives here, with the rest of the directory layout, so that
# sweep.manifest (which writes it) imports this module and not the other way round.
def read_manifest(out_dir) -> dict:
    """The manifest of ``out_dir`` (OutputError if absent or unreadable)."""
    path = Path(out_dir) / MANIFEST_NAME
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise OutputError(f"{out_dir}: no {MANIFEST_NAME}; not a sweep output directory") from None
    except (OSError, ValueError) as exc:
        raise OutputError(f"{path}: unreadable manifest: {exc}") from None
    if not isinstance(data, dict) or "spec_hash" not in data:
        raise OutputError(f"{path}: not a sweep manifest (no spec_hash)")
    return data


def _grid_of(out_dir, spec_hash: str):
    """``(n_chunks, chunk_size, n_vectors)`` from the manifest when it is ``spec_hash``'s, else None."""
    try:
        m = read_manifest(out_dir)
    except Exception:  # noqa: BLE001 - no manifest (tests writing parts directly): no row check
        return None
    if m.get("spec_hash") != spec_hash:
        return None
    return int(m["n_chunks"]), int(m["chunk_size"]), int(m["n_vectors"])


def completed_chunks(out_dir, spec_hash: str, chunk_ids: Iterable[int] | None = None, *,
                     deep: bool = False, problems: dict | None = None, grid=None) -> set[int]:
    """Chunks of ``out_dir`` whose part file passes its checks for ``spec_hash``.

    Always checked (footer only): spec hash, the chunk number of the file name, the
    row count (footer, metadata, and the chunk's size from ``grid`` = ``(n_chunks,
    chunk_size, n_vectors)`` or the manifest).  ``deep`` also reads every page with
    its CRC and recomputes the content checksum (what ``sweep run`` does on resume).
    ``chunk_ids`` restricts the check (e.g. to one shard's chunks).  ``problems``,
    when given, receives ``{chunk: [what is wrong]}`` for every part that fails.
    """
    grid = grid or _grid_of(out_dir, spec_hash)
    return completed_files(data_dir(out_dir), spec_hash, chunk_ids, deep=deep, problems=problems, grid=grid)


def completed_files(parts_dir, spec_hash: str, chunk_ids: Iterable[int] | None = None, *,
                    deep: bool = False, problems: dict | None = None, grid=None) -> set[int]:
    """:func:`completed_chunks` for the ``part-NNNNNN.parquet`` files directly in
    ``parts_dir`` (a reduction's partials use this; ``grid`` None: row counts are
    checked against the files' own footers only)."""
    from concurrent.futures import ThreadPoolExecutor

    from .integrity import part_problems

    parts = list_part_files(parts_dir)
    if chunk_ids is not None and not isinstance(chunk_ids, range):
        chunk_ids = set(chunk_ids)  # a range tests membership in O(1) already
    wanted = [k for k in parts if chunk_ids is None or k in chunk_ids]
    if grid is not None:
        n_chunks, chunk_size, n = grid
        wanted = [k for k in wanted if k < n_chunks and parts[k].name == part_name(k, n_chunks)]

    def check(k):
        rows = None if grid is None else min(grid[1], grid[2] - k * grid[1])
        return k, part_problems(parts[k], spec_hash=spec_hash, chunk=k, rows=rows, deep=deep)

    if deep and len(wanted) > 1:
        with ThreadPoolExecutor(min(4, os.cpu_count() or 1)) as pool:  # pyarrow/hashlib release the GIL
            results = list(pool.map(check, wanted))
    else:
        results = [check(k) for k in wanted]
    if problems is not None:
        problems.update({k: p for k, p in results if p})
    return {k for k, p in results if not p}


def foreign_parts(out_dir, spec_hash: str) -> list[Path]:
    """Part files in ``out_dir/data`` that do not carry ``spec_hash`` (another spec's data)."""
    return [p for p in list_parts(out_dir).values() if part_spec_hash(p) != spec_hash]


def part_is_done(out_dir, spec, k: int) -> bool:
    """Whether chunk ``k`` of ``spec`` has a part that passes the footer checks
    (spec hash, chunk number, row count) — for parts that appear while a run is
    going (written by a live concurrent run, atomically)."""
    from .integrity import part_problems

    path = part_path(out_dir, k, spec.n_chunks)
    if not path.exists():
        return False
    return not part_problems(path, spec_hash=spec.hash, chunk=k, rows=spec.chunk_bounds(k)[1], deep=False)


def resume_state(out_dir, spec, scope) -> tuple[set[int], dict[int, list[str]], list[tuple[str, str]]]:
    """What a run of ``spec`` finds in ``out_dir`` for the chunks ``scope``:
    ``(done, damaged, moved)``.

    Files under ``data/`` that are not parts of this grid are moved to
    ``_quarantine/`` first (``moved``: ``[(from, to)]``); then every part in
    ``scope`` is verified in full (page CRCs and content checksum, see
    :func:`completed_chunks`): ``done`` are the chunks that pass, ``damaged``
    ``{chunk: [what is wrong]}`` the ones that exist but fail: they are moved to
    ``_quarantine/`` too (as ``part-NNNNNN.parquet.damaged``), so that no reader,
    and no later check that reads only footers, ever takes them for done."""
    moved = quarantine_foreign(out_dir, spec.n_chunks)
    damaged: dict[int, list[str]] = {}
    done = completed_chunks(out_dir, spec.hash, scope, deep=True, problems=damaged,
                            grid=(spec.n_chunks, spec.chunk_size, spec.n_vectors))
    if damaged:
        q = Path(out_dir) / QUARANTINE_DIR
        q.mkdir(exist_ok=True)
        for k in damaged:
            src = part_path(out_dir, k, spec.n_chunks)
            try:
                os.replace(src, q / f"{src.name}.damaged")
            except FileNotFoundError:
                pass  # replaced or moved by a concurrent run meanwhile
    return done, damaged, moved


def describe_resume(out_dir, damaged: dict, moved: list, limit: int = 10) -> str:
    """The lines ``sweep run`` prints about parts it recomputes and files it moved."""
    lines = []
    if damaged:
        lines.append(f"sweep: {len(damaged)} part(s) in {data_dir(out_dir)} fail their checks; "
                     f"recomputing them:")
        for k in sorted(damaged)[:limit]:
            lines.append(f"  chunk {k}: " + "; ".join(damaged[k]))
        if len(damaged) > limit:
            lines.append(f"  ... and {len(damaged) - limit} more")
    if moved:
        lines.append(f"sweep: {len(moved)} file(s) in {data_dir(out_dir)} are not parts of this sweep; "
                     f"moved out of the readers' way (kept):")
        for a, b in moved[:limit]:
            lines.append(f"  {a} -> {b}")
    return "\n".join(lines)


def _tmp_name(final: Path) -> Path:
    host = host_name()
    return final.with_name(f".{final.name}.{host}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")


def write_part(out_dir, k: int, n_chunks: int, table, metadata: dict[bytes, bytes],
               dictionary_columns=None, statistics_columns=None, column_encoding=None) -> Path:
    """Write a pyarrow Table as chunk ``k``'s part file, atomically.

    ``dictionary_columns``: columns to dictionary-encode (default: all).
    ``statistics_columns``: columns whose min/max statistics are written (default:
    all).  ``column_encoding``: Parquet encodings by column (e.g. the consecutive
    ``index`` as ``DELTA_BINARY_PACKED``: 6 kB instead of 0.5 MB per 497,664 rows,
    written in a third of the time).  The engine passes the categorical axes and the grid columns: encoding
    is most of the CPU time of a fast sweep (measured on the 497,664-row paper
    grid in 8 parts, 2-core EPYC: 0.25 s with every column dictionary-encoded and
    with statistics, 0.15 s without either for float grid values and outputs,
    for 4.5 MB instead of 4.3 MB: zstd compresses repeated grid values almost as
    well as a dictionary does).

    The row count and content checksum (:func:`sweep.integrity.integrity_metadata`)
    are added to ``metadata``, and every data page gets a CRC.

    No fsync: it cost more than the encoding itself (~0.7 s per 1M-row part on a
    VM disk) and is not needed for correctness.  After a SIGKILL the page cache
    still holds the whole file; after a power loss a part whose data never reached
    the disk is empty or has no valid footer, so it carries no spec hash and
    :func:`completed_chunks` does not count it: the next run recomputes it.

    The content checksum costs CPU in the writer thread: 0.08 s per 497,664-row
    ``coverage_oa5`` part (86 MB decoded, SHA-256), beside 0.14 s of encoding
    (page CRCs cost nothing measurable), and 0.5% of that grid's 17 s of CPU.
    """
    final = part_path(out_dir, k, n_chunks)
    return write_parquet_atomic(final, table, metadata, dictionary_columns=dictionary_columns,
                                statistics_columns=statistics_columns, column_encoding=column_encoding)


def write_parquet_atomic(final, table, metadata: dict[bytes, bytes], *, dictionary_columns=None,
                         statistics_columns=None, column_encoding=None) -> Path:
    """Write ``table`` to ``final`` atomically (temporary name, then rename), with
    page CRCs and ``metadata`` plus the row count and content checksum of
    :func:`sweep.integrity.integrity_metadata`: a file that
    :func:`sweep.integrity.part_problems` can verify.  ``metadata`` should hold
    ``sweep.spec_hash`` and ``sweep.chunk`` (reduction partials use this too)."""
    import pyarrow.parquet as pq

    from .integrity import integrity_metadata

    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(final)
    metadata = {**metadata, **integrity_metadata(table)}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    use_dictionary = True if dictionary_columns is None else list(dictionary_columns)
    statistics = True if statistics_columns is None else list(statistics_columns)
    try:
        pq.write_table(table, tmp, compression="zstd", use_dictionary=use_dictionary,
                       write_statistics=statistics, column_encoding=column_encoding,
                       write_page_checksum=True)
        os.replace(tmp, final)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return final


def create_bytes_exclusive(path, data: bytes) -> bool:
    """Create ``path`` with ``data`` unless it already exists; True if this call created it.

    The content is complete before the name appears (hard link of a finished
    temporary file), so concurrent creators never see a partial file and exactly
    one of them wins.
    """
    path = Path(path)
    tmp = _tmp_name(path)
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:
        # Filesystems without hard links: fall back to check-then-replace (the
        # content is the same for every writer of one spec, so a lost race is harmless).
        if path.exists():
            return False
        os.replace(tmp, path)
        return True
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def clean_temp_files(out_dir, *, all_hosts: bool = False) -> int:
    """Remove temporary files left by killed writers; returns how many.

    Only files of this host whose writer process is gone are removed, because
    another live process (a concurrent shard) may be writing one right now;
    ``all_hosts=True`` (used with ``--overwrite``) removes every one.
    """
    me = host_name()
    n = 0
    entries = list(os.scandir(out_dir))
    if data_dir(out_dir).is_dir():
        entries += list(os.scandir(data_dir(out_dir)))
    for e in entries:
        m = _TMP_RE.match(e.name)
        if not m:
            continue
        stale = all_hosts or (m.group("host") == me and not pid_alive(int(m.group("pid"))))
        if stale:
            try:
                os.unlink(e.path)
                n += 1
            except FileNotFoundError:
                pass
    return n


def remove_sweep_files(out_dir) -> None:
    """Delete the manifest, part files (both layouts) and temporaries (and nothing
    else: a user's files in ``data/`` are moved to ``_quarantine/``) in ``out_dir``."""
    for p in list_parts(out_dir).values():
        p.unlink(missing_ok=True)
    for e in os.scandir(out_dir):  # parts of the first layout, beside the manifest
        if _PART_RE.match(e.name) and e.is_file():
            os.unlink(e.path)
    clean_temp_files(out_dir, all_hosts=True)
    quarantine_foreign(out_dir, 0)
    (Path(out_dir) / MANIFEST_NAME).unlink(missing_ok=True)


def require_current_format(out_dir, manifest: dict) -> None:
    """Refuse (OutputError, exit 2) a dataset of the first layout, with the fix."""
    fmt = manifest.get("format")
    if fmt != FORMAT:
        src = (manifest.get("spec") or {}).get("source") or "SPEC.toml"
        raise OutputError(
            f"{out_dir}: a dataset of format {fmt!r} (parts beside the manifest, no checksums); "
            f"this version reads {FORMAT!r} (parts under data/, each verified by its checksum). "
            f"Recompute it: `sweep run {src} --out {out_dir} --overwrite`, or into a new --out")


def _valid_part_paths(out_dir) -> list[str]:
    report = require_intact(out_dir)  # refuses damaged parts and foreign files, with the fix
    parts = list_parts(out_dir)
    return [str(parts[k]) for k in report["done"]]


def status(out_dir) -> dict:
    """What a sweep directory holds: its manifest's identity, the chunks done
    (valid part files) and the chunks still missing (computed from the part files,
    so it is right even while shards are writing)."""
    manifest = read_manifest(out_dir)
    require_current_format(out_dir, manifest)
    n_chunks = int(manifest["n_chunks"])
    done = completed_chunks(out_dir, manifest["spec_hash"])
    missing = [k for k in range(n_chunks) if k not in done]
    return {
        "out_dir": str(out_dir),
        "kernel": manifest["kernel"],
        "spec_hash": manifest["spec_hash"],
        "n_vectors": int(manifest["n_vectors"]),
        "n_chunks": n_chunks,
        "chunks_done": len(done),
        "missing_chunks": missing,
        "complete": not missing,
    }


def read_arrow(out_dir, columns=None):
    """The dataset as one pyarrow Table, rows in index order.

    Every part is verified first (checksums, chunk numbers, row counts): a
    damaged dataset is refused (:class:`sweep.integrity.DatasetDamaged`, with the
    fix) rather than read.  Missing chunks are not an error, so a directory being
    written by a live run reads as the chunks completed so far.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = _valid_part_paths(out_dir)
    if not paths:
        return pa.table({})
    tables = [pq.read_table(p, columns=columns) for p in paths]
    return pa.concat_tables(tables)


def read_dataset(out_dir, columns=None):
    """The dataset as a pandas DataFrame, rows in index order (categorical axes as
    pandas categoricals)."""
    return read_arrow(out_dir, columns=columns).to_pandas()


# ---------------------------------------------------------------------------
# checking a whole dataset (sweep verify, read_dataset, summarize)

_REDUCE_DIR = "reduce"


def verify_dataset(out_dir, *, deep: bool = True, threads: int | None = None) -> dict:
    """Check every file of the dataset in ``out_dir``.

    Returns ``{"ok", "complete", "n_chunks", "done", "missing", "bad": [(file, [problems])],
    "foreign": [files under data/ that are not the sweep's], "strays": [other unknown
    files beside the manifest], "partials_checked"}``.  ``ok`` is False when a part or
    a reduction partial fails, or ``data/`` holds a file that is not the sweep's
    (pandas/DuckDB would read it).  Missing chunks (an unfinished run) are reported,
    not failures; ``complete`` says whether there are any.
    """
    from concurrent.futures import ThreadPoolExecutor

    from .integrity import part_problems

    out = Path(out_dir)
    manifest = read_manifest(out)
    require_current_format(out, manifest)
    spec_hash = manifest["spec_hash"]
    n_chunks, chunk_size, n = int(manifest["n_chunks"]), int(manifest["chunk_size"]), int(manifest["n_vectors"])
    parts, foreign = scan_data_dir(out, n_chunks)

    def rows_of(k):
        return min(chunk_size, n - k * chunk_size)

    def check(item):
        k, p = item
        return k, p, part_problems(p, spec_hash=spec_hash, chunk=k, rows=rows_of(k), deep=deep)

    jobs = list(parts.items())
    partials = []
    red = out / _REDUCE_DIR
    if red.is_dir():  # reductions: DIR/reduce/<name>/ holds one partial per chunk, written like parts
        for sub in sorted(red.iterdir()):
            if sub.is_dir():
                partials += list(list_part_files(sub).items())
    threads = threads or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(threads) as pool:  # pyarrow and hashlib release the GIL
        results = list(pool.map(check, jobs))
        pres = list(pool.map(lambda it: (it[0], it[1], part_problems(
            it[1], spec_hash=spec_hash, chunk=it[0], rows=None, deep=deep)), partials))
    bad = [(str(p.relative_to(out)), probs) for _, p, probs in results + pres if probs]
    done = sorted(k for k, _, probs in results if not probs)
    done_set = set(done)
    missing = [k for k in range(n_chunks) if k not in done_set] if n_chunks <= 10_000_000 else None
    known = {MANIFEST_NAME, DATA_DIR, _REDUCE_DIR, QUARANTINE_DIR}
    strays = sorted(e.name for e in os.scandir(out) if e.name not in known and not e.name.startswith(".")
                    and not (e.name.startswith("summary-") and e.name.endswith(".parquet")))  # reductions
    return {
        "out_dir": str(out), "spec_hash": spec_hash, "n_chunks": n_chunks, "chunks_done": len(done),
        "spec_source": (manifest.get("spec") or {}).get("source"),
        "done": done,
        "missing": missing, "complete": len(done) == n_chunks, "bad": bad,
        "foreign": [str(p.relative_to(out)) for p in foreign], "strays": strays,
        "partials_checked": len(partials), "ok": not bad and not foreign,
    }


def describe_problems(report: dict, limit: int = 20) -> str:
    """Lines naming every bad file (up to ``limit``) and every foreign file."""
    lines = []
    for f, probs in report["bad"][:limit]:
        lines.append(f"  {f}: " + "; ".join(probs))
    if len(report["bad"]) > limit:
        lines.append(f"  ... and {len(report['bad']) - limit} more damaged files")
    for f in report["foreign"][:limit]:
        lines.append(f"  {f}: not a part of this sweep (pandas/DuckDB would read it)")
    return "\n".join(lines)


def require_intact(out_dir, *, deep: bool = True) -> dict:
    """:func:`verify_dataset`, raising :class:`~sweep.integrity.DatasetDamaged` (with the fix) if it fails."""
    from .integrity import DatasetDamaged

    report = verify_dataset(out_dir, deep=deep)
    if not report["ok"]:
        src = (read_manifest(out_dir).get("spec") or {}).get("source") or "SPEC.toml"
        raise DatasetDamaged(
            f"{out_dir}: the dataset fails its integrity checks:\n{describe_problems(report)}\n"
            f"Fix: re-run `sweep run {src} --out {out_dir}`; it recomputes damaged parts and moves "
            f"files that are not the sweep's out of data/ (`sweep verify {out_dir}` re-checks)")
    return report
