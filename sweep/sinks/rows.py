"""The rows sink: one Parquet part per chunk (``index``, axis columns, the outputs
kept), written through :mod:`sweep.dataset`'s part API."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dataset import META_CHUNK, META_KERNEL, META_SPEC_HASH, completed_chunks, write_part
from ..plan import output_schema

__all__ = ["RowsDevice", "RowsSink"]

#: device-part output key of the categorical axes' digits
DIGITS = "__sweep_axis_digits__"
#: device-part output key prefix (+ axis position) of a numeric axis' values
AXIS = "__sweep_axis_values__"


@dataclass(frozen=True)
class RowsDevice:
    """Device part of the rows sink: the kept outputs, and the axis columns (numeric
    axes as values, categorical axes as digits) so that the host neither unravels
    the indices again nor gathers.  Outputs not kept are not returned, so XLA does
    not compute what only they need."""

    outputs: tuple

    def __call__(self, lanes):
        import jax.numpy as jnp

        res = {name: lanes.outputs[name] for name in self.outputs}
        res.update({AXIS + str(j): v for j, v in lanes.axis_values.items()})
        cat = [d for d, (_, categorical) in zip(lanes.digits, lanes.structure) if categorical]
        if cat:
            res[DIGITS] = jnp.stack(cat, axis=1)
        return res


class RowsSink:
    """Rows of the kept outputs, one part file per chunk (see :mod:`sweep.dataset`)."""

    kind = "rows"

    def __init__(self, spec, outputs: tuple):
        import pyarrow as pa

        self.spec = spec
        self.outputs = tuple(outputs)
        self.device_part = RowsDevice(self.outputs)
        self.schema = output_schema(spec)
        self._dictionaries = {j: pa.array(list(a.values), pa.string())
                              for j, a in enumerate(spec.axes) if a.categorical}

    def extra(self):
        return {}

    def prepare(self, out_dir) -> None:
        pass  # the manifest step creates the directory

    def done(self, out_dir, chunk_ids=None) -> set[int]:
        return completed_chunks(out_dir, self.spec.hash, chunk_ids)

    def table(self, start: int, n: int, out: dict):
        """Wait for a chunk's device outputs and lay them out as an Arrow table (trimmed)."""
        import pyarrow as pa

        index = np.arange(start, start + n, dtype=np.int64)
        digits = np.asarray(out[DIGITS])[:n] if DIGITS in out else None
        cols, c = [pa.array(index)], 0
        for j, a in enumerate(self.spec.axes):
            if a.categorical:
                # contiguous int32 indices (a column of the digits array is strided)
                cols.append(pa.DictionaryArray.from_arrays(
                    pa.array(np.ascontiguousarray(digits[:, c])), self._dictionaries[j]))
                c += 1
            else:
                cols.append(pa.array(np.asarray(out[AXIS + str(j)])[:n]))
        for name in self.outputs:
            cols.append(pa.array(np.asarray(out[name])[:n]))
        return pa.Table.from_arrays(cols, schema=self.schema)

    def write(self, out_dir, chunk: int, start: int, length: int, outputs: dict) -> None:
        table = self.table(start, length, outputs)
        spec = self.spec
        meta = {META_SPEC_HASH: spec.hash.encode(), META_CHUNK: str(chunk).encode(),
                META_KERNEL: spec.kernel.encode()}
        write_part(out_dir, chunk, spec.n_chunks, table, meta,
                   # Choice names (strings) are where a dictionary pays; numeric grid
                   # values and status codes compress as well under zstd without the
                   # hashing (see write_part).
                   dictionary_columns=[a.name for a in spec.axes if a.categorical],
                   # min/max of the grid columns let DuckDB/polars/pyarrow skip parts
                   # when a query filters on parameters; outputs are rarely filtered per part
                   statistics_columns=["index"] + list(spec.axis_names),
                   column_encoding={"index": "DELTA_BINARY_PACKED"})

    def close(self, out_dir, complete: bool, **_) -> bool:
        return False
