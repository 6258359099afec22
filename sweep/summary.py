"""Reading the summaries of ``[reduce]`` reductions (``OUT/summary-<name>.parquet``).

A reduction by d axes is a labelled d-dimensional grid: :func:`open_summary`
returns it as an :class:`xarray.Dataset` whose coordinates are the axis values
(in the spec's order) and whose variables are the statistics (``count``,
``mean_rho1``, ``q0.5_rho1``, ...), or as a pandas DataFrame (one row per group).
"""
from __future__ import annotations

from pathlib import Path

from .errors import OutputError

__all__ = ["open_summary", "list_summaries", "read_summary_table"]


def list_summaries(out_dir) -> list[str]:
    """Names of the reductions whose summary is in ``out_dir``."""
    return sorted(p.name[len("summary-"):-len(".parquet")] for p in Path(out_dir).glob("summary-*.parquet"))


def read_summary_table(out_dir, name: str):
    """The summary as a pyarrow Table (metadata: spec hash, ``sweep.by``, ``sweep.where``)."""
    import pyarrow.parquet as pq

    path = Path(out_dir) / f"summary-{name}.parquet"
    if not path.is_file():
        have = ", ".join(list_summaries(out_dir)) or "none"
        raise OutputError(f"{out_dir}: no summary {name!r} (summaries here: {have}); a reduction's "
                          f"summary is written when every chunk of its run is done")
    return pq.read_table(path)


def open_summary(out_dir, name: str, *, pandas: bool = False):
    """The summary of reduction ``name`` in ``out_dir``: an ``xarray.Dataset`` with
    one dimension per ``by`` axis (coordinates = its values), or with
    ``pandas=True`` a DataFrame with one row per group."""
    table = read_summary_table(out_dir, name)
    df = table.to_pandas()
    if pandas:
        return df
    import xarray as xr

    meta = table.schema.metadata or {}
    by = [b for b in meta.get(b"sweep.by", b"").decode().split(",") if b]
    attrs = {"reduction": name, "where": meta.get(b"sweep.where", b"").decode(),
             "spec_hash": meta.get(b"sweep.spec_hash", b"").decode()}
    if not by:
        ds = xr.Dataset({c: ((), df[c].iloc[0]) for c in df.columns})
    else:
        # groups are written in C order over the by axes: a reshape, no pivot
        coords = {b: list(dict.fromkeys(df[b].astype(object).tolist())) for b in by}
        shape = tuple(len(coords[b]) for b in by)
        ds = xr.Dataset({c: (tuple(by), df[c].to_numpy().reshape(shape)) for c in df.columns if c not in by},
                        coords=coords)
    ds.attrs.update(attrs)
    return ds
