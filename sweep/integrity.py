"""What makes a Parquet file of a dataset trustworthy, and the check of a whole dataset.

Every file a sweep writes (a row part under ``DIR/data/``, and a reduction's
partial under ``DIR/reduce/<name>/``) carries in its Parquet key-value metadata:

- ``sweep.spec_hash``: the spec it belongs to;
- ``sweep.chunk``: the chunk it holds (must equal the number in its file name);
- ``sweep.rows``: its row count (must equal the footer's and, for a row part, the
  chunk's size from the manifest);
- ``sweep.content``: ``sha256:<hex>`` of its decoded columns (:func:`content_digest`).

and its data pages carry CRC32 checksums (Parquet's ``crc`` field), verified when
the file is read.  :func:`part_problems` checks all of these for one file;
:func:`sweep.dataset.verify_dataset` for a whole directory.  This module knows
nothing of directories: it imports no other module of the package but errors.  A page CRC catches a damaged page
before it is decompressed; the content hash catches whatever the CRCs do not cover
(page headers, a file whose pages are intact but swapped in from elsewhere).
"""
from __future__ import annotations

import hashlib

import numpy as np

from .errors import OutputError

__all__ = [
    "META_ROWS",
    "META_CONTENT",
    "content_digest",
    "integrity_metadata",
    "part_problems",
    "DatasetDamaged",
]

META_ROWS = b"sweep.rows"
META_CONTENT = b"sweep.content"
_DIGEST = "sha256"


class DatasetDamaged(OutputError):
    """A dataset whose files fail their checks (exit status 2: the input is bad)."""


def _feed_array(side, h, arr) -> None:
    """Feed one Arrow array's values (not its buffers' layout) into the hashes:
    ``h`` the values, ``side`` string lengths and null masks (kept apart, so how a
    reader splits a column into chunks does not change the digest)."""
    import pyarrow as pa

    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or pa.types.is_binary(arr.type):
        wide = pa.types.is_large_string(arr.type)
        bufs = arr.buffers()
        offsets = np.frombuffer(bufs[1], dtype=np.int64 if wide else np.int32)[arr.offset:arr.offset + len(arr) + 1]
        side.update(np.diff(offsets).astype(np.int64).tobytes())
        if len(arr) and bufs[2] is not None:
            h.update(memoryview(bufs[2])[int(offsets[0]):int(offsets[-1])])
        return
    if arr.null_count:
        side.update(np.asarray(arr.is_null()).tobytes())
        arr = arr.fill_null(0) if not pa.types.is_boolean(arr.type) else arr.fill_null(False)
    vals = arr.to_numpy(zero_copy_only=False)
    h.update(np.ascontiguousarray(vals).data)


def content_digest(table) -> str:
    """``sha256:<hex>`` of a table's column names, types and values, in order.

    Computed from decoded values, so it does not depend on the encoding, the
    compression or how a reader splits the columns into chunks (SHA-256 runs at
    about 1.4 GB/s on the 2-core development VM)."""
    h = hashlib.new(_DIGEST)
    for name, col in zip(table.column_names, table.columns):
        h.update(f"\x00{name}\x00{col.type}\x00{len(col)}\x00".encode())
        side, vals = hashlib.new(_DIGEST), hashlib.new(_DIGEST)
        for chunk in col.chunks:
            _feed_array(side, vals, chunk)
        h.update(side.digest() + vals.digest())
    return f"{_DIGEST}:{h.hexdigest()}"


def integrity_metadata(table) -> dict[bytes, bytes]:
    """The row count and content hash of ``table``, as Parquet key-value metadata."""
    return {META_ROWS: str(table.num_rows).encode(), META_CONTENT: content_digest(table).encode()}


def _read_verified(path, columns=None):
    """The table at ``path``, reading every page with its CRC verified."""
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=columns, page_checksum_verification=True,
                         use_pandas_metadata=False)


def part_problems(path, *, spec_hash: str, chunk: int, rows: int | None = None,
                  deep: bool = True) -> list[str]:
    """What is wrong with the file at ``path`` as chunk ``chunk`` of spec ``spec_hash``
    (``[]`` if nothing).

    Shallow checks (footer only, about 1 ms): the file reads as Parquet, carries
    ``spec_hash``, the chunk number ``chunk`` (the caller's, from the file name),
    and a row count that equals the footer's and ``rows`` (when given).  ``deep``
    also reads every page (CRC-verified) and recomputes the content hash.  Works
    for row parts and for reduction partials alike.
    """
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        meta = dict(pf.schema_arrow.metadata or {})
        n_footer = pf.metadata.num_rows
    except Exception as exc:  # noqa: BLE001 - a damaged footer raises any of Arrow's errors
        return [f"unreadable Parquet footer ({type(exc).__name__})"]
    out = []
    got_hash = meta.get(b"sweep.spec_hash", b"").decode(errors="replace")
    if got_hash != spec_hash:
        out.append(f"spec hash {got_hash[:12] or 'missing'} is not this dataset's {spec_hash[:12]}")
    got_chunk = meta.get(b"sweep.chunk", b"").decode(errors="replace")
    if got_chunk != str(chunk):
        out.append(f"holds chunk {got_chunk or 'missing'} but is named as chunk {chunk}")
    got_rows = meta.get(META_ROWS, b"").decode(errors="replace")
    if got_rows != str(n_footer):
        out.append(f"row count {got_rows or 'missing'} in its metadata, {n_footer} in its footer")
    elif rows is not None and n_footer != rows:
        out.append(f"{n_footer} rows, chunk {chunk} has {rows}")
    want = meta.get(META_CONTENT, b"").decode(errors="replace")
    if not want:
        out.append("no content checksum (written by an older version?)")
    if out or not deep:
        return out
    try:
        table = _read_verified(path)
    except Exception as exc:  # noqa: BLE001 - CRC mismatch, decompression, decoding: all "damaged"
        msg = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        return [f"damaged data pages ({msg})"]
    if table.num_rows != n_footer:
        return [f"{table.num_rows} rows decoded, {n_footer} in its footer"]
    try:
        digest = content_digest(table)
    except Exception as exc:  # noqa: BLE001 - a decoded type the digest cannot take: damaged
        return [f"undecodable content ({type(exc).__name__})"]
    if digest != want:
        return ["content checksum mismatch (the values are not the ones written)"]
    return []
