"""Which outputs a run keeps (``outputs = [...]``) and the ``[reduce]`` section.

::

    outputs = ["rho1_D", "rho1_F", "admissible"]   # rows keep only these

    [reduce.by_eta]                  # one named reduction → summary-by_eta.parquet
    by = ["eta"]                     # group by zero or more axes (categorical too)
    where = ["admissible", "D1_nonempty", "!A1"]  # boolean outputs, ANDed; ! negates
    rho1_D = ["mean", "std", "min", "max"]        # statistics of an output
    rho1 = { stats = ["mean"], quantiles = [0.1, 0.5, 0.9] }
    D1_nonempty = ["share"]                       # share of True (booleans)

    [reduce.by_eta.define]           # derived float outputs: sums/differences of outputs
    rho1_sum = "rho1_D + rho1_F"     # computed in the run dtype, like a SQL a + b

Statistics: ``count`` (values that are not NaN), ``sum``, ``mean``, ``min``,
``max``, ``std`` (population, ddof = 0, as numpy), ``share`` (booleans: the share
of True among the filtered vectors); ``quantiles`` as numpy's
``method="linear"``.  Every group also gets ``count``: how many vectors passed
``where``.

When a spec has a ``[reduce]`` section, rows are written only if it also names
``outputs``; without one, rows keep ``outputs`` (default: every output).
Both keys enter the spec hash only when present, so specs without them keep
their hash.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["STATS", "OutputStats", "Reduction", "parse_outputs", "parse_reductions", "canonical_selection",
           "stat_column", "quantile_column"]

STATS = ("count", "sum", "mean", "min", "max", "std", "share")
_REDUCE_KEYS = ("by", "where", "define")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TERM_RE = re.compile(r"\s*([+-])?\s*([A-Za-z_][A-Za-z0-9_]*)\s*")


@dataclass(frozen=True)
class OutputStats:
    """The statistics asked of one output (or derived output) of a reduction."""

    output: str
    stats: tuple[str, ...]
    quantiles: tuple[float, ...] = ()


@dataclass(frozen=True)
class Reduction:
    """One named reduction: group by ``by`` (axis names), keep vectors where every
    ``(output, negated)`` of ``where`` holds, and compute ``items``; ``define``
    maps a derived output to its terms ``((sign, output), ...)``."""

    name: str
    by: tuple[str, ...]
    where: tuple[tuple[str, bool], ...]
    items: tuple[OutputStats, ...]
    define: tuple[tuple[str, tuple[tuple[int, str], ...]], ...] = ()

    @property
    def quantile_items(self) -> tuple[OutputStats, ...]:
        return tuple(i for i in self.items if i.quantiles)


def stat_column(stat: str, output: str) -> str:
    """Summary column of ``stat`` of ``output``: ``mean_rho1``."""
    return f"{stat}_{output}"


def quantile_column(q: float, output: str) -> str:
    """Summary column of quantile ``q`` of ``output``: ``q0.5_rho1``."""
    return f"q{q:g}_{output}"


def _fail(parser, key, problem, expected):
    parser.fail(key, problem, expected)


def parse_outputs(parser, ks, value) -> tuple[str, ...] | None:
    """``outputs = [...]``: known output names, no repeats; None when absent."""
    if value is None:
        return None
    names = ks.output_names
    if not isinstance(value, (list, tuple)) or not value:
        _fail(parser, "outputs", f"got {value!r}", "a non-empty list of output names")
    seen = set()
    for i, v in enumerate(value):
        if not isinstance(v, str) or v not in names:
            _fail(parser, f"outputs[{i}]", f"unknown output {v!r} of kernel {ks.name!r}",
                  "one of " + ", ".join(names))
        if v in seen:
            _fail(parser, f"outputs[{i}]", f"{v!r} is listed twice", "each output once")
        seen.add(v)
    return tuple(n for n in names if n in seen)  # the kernel's order: the Parquet columns'


def parse_reductions(parser, ks, value, axis_names) -> tuple[Reduction, ...]:
    """The ``[reduce]`` section: named reductions, validated (errors name the key)."""
    if value is None:
        return ()
    if not isinstance(value, Mapping) or not value:
        _fail(parser, "reduce", f"got {value!r}", "a table of named reductions, e.g. [reduce.by_eta]")
    kinds = {o.name: o.kind for o in ks.outputs}
    out = []
    for name, body in value.items():
        key = f"reduce.{name}"
        if not _NAME_RE.match(name):
            _fail(parser, key, "invalid reduction name", "letters, digits and _ (it names a file)")
        if not isinstance(body, Mapping):
            _fail(parser, key, f"got {body!r}", "a table with by, where and output = [statistics]")
        by = body.get("by", [])
        if not isinstance(by, (list, tuple)):
            _fail(parser, f"{key}.by", f"got {by!r}", "a list of axis names")
        for i, b in enumerate(by):
            if b not in axis_names:
                _fail(parser, f"{key}.by[{i}]", f"{b!r} is not an axis of this spec",
                      "one of " + (", ".join(axis_names) or "(no axes)"))
        if len(set(by)) != len(by):
            _fail(parser, f"{key}.by", "an axis is listed twice", "each axis once")
        where = body.get("where", [])
        if not isinstance(where, (list, tuple)):
            _fail(parser, f"{key}.where", f"got {where!r}", "a list of boolean output names (! negates)")
        conds = []
        for i, w in enumerate(where):
            neg = isinstance(w, str) and w.startswith("!")
            wn = w[1:].strip() if neg else w
            if not isinstance(wn, str) or wn not in kinds:
                _fail(parser, f"{key}.where[{i}]", f"unknown output {w!r}",
                      "a boolean output of kernel " + repr(ks.name))
            if kinds[wn] != "bool":
                _fail(parser, f"{key}.where[{i}]", f"output {wn!r} is not boolean (it is {kinds[wn]})",
                      "a boolean output: " + ", ".join(n for n, k in kinds.items() if k == "bool"))
            conds.append((wn, neg))
        define_raw = body.get("define", {})
        if not isinstance(define_raw, Mapping):
            _fail(parser, f"{key}.define", f"got {define_raw!r}", 'a table of name = "a + b"')
        defines, dkinds = [], dict(kinds)
        for dn, expr in define_raw.items():
            dkey = f"{key}.define.{dn}"
            if dn in kinds or not _NAME_RE.match(dn):
                _fail(parser, dkey, "name clashes with an output or is not an identifier",
                      "a new name (letters, digits, _)")
            terms = _parse_sum(parser, dkey, expr, kinds)
            defines.append((dn, terms))
            dkinds[dn] = "float"
        items = []
        for oname, stats in body.items():
            if oname in _REDUCE_KEYS:
                continue
            okey = f"{key}.{oname}"
            if oname not in dkinds:
                _fail(parser, okey, f"unknown output {oname!r} of kernel {ks.name!r}",
                      "an output (" + ", ".join(kinds) + "), a name under define, or by/where/define")
            quant: Any = ()
            if isinstance(stats, Mapping):
                extra = set(stats) - {"stats", "quantiles"}
                if extra:
                    _fail(parser, f"{okey}.{sorted(extra)[0]}", "unknown key", "stats and/or quantiles")
                quant = stats.get("quantiles", [])
                stats = stats.get("stats", [])
            if not isinstance(stats, (list, tuple)):
                _fail(parser, okey, f"got {stats!r}", "a list of statistics: " + ", ".join(STATS))
            for j, s in enumerate(stats):
                if s not in STATS:
                    _fail(parser, f"{okey}[{j}]", f"unknown statistic {s!r}", "one of " + ", ".join(STATS))
                if s == "share" and dkinds[oname] != "bool":
                    _fail(parser, f"{okey}[{j}]", f"share of {oname!r}, which is not boolean",
                          "share only for boolean outputs")
                if s in ("min", "max", "std", "mean") and dkinds[oname] == "bool":
                    _fail(parser, f"{okey}[{j}]", f"{s} of the boolean {oname!r}",
                          "count, sum or share for boolean outputs")
            if not isinstance(quant, (list, tuple)):
                _fail(parser, f"{okey}.quantiles", f"got {quant!r}", "a list of numbers in [0, 1]")
            for j, q in enumerate(quant):
                ok = isinstance(q, (int, float)) and not isinstance(q, bool) and math.isfinite(q) and 0 <= q <= 1
                if not ok:
                    _fail(parser, f"{okey}.quantiles[{j}]", f"{q!r} is not in [0, 1]", "numbers in [0, 1]")
            if quant and dkinds[oname] == "bool":
                _fail(parser, f"{okey}.quantiles", f"quantiles of the boolean {oname!r}", "a numeric output")
            stats_t = tuple(dict.fromkeys(stats))
            quant_t = tuple(sorted(set(float(q) for q in quant)))
            if not stats_t and not quant_t:
                _fail(parser, okey, "no statistic asked", "at least one statistic or quantile")
            items.append(OutputStats(oname, stats_t, quant_t))
        if not items:
            _fail(parser, key, "empty reduction: no output statistics",
                  "at least one output = [statistics], e.g. rho1 = [\"mean\"]")
        out.append(Reduction(name, tuple(by), tuple(conds), tuple(items), tuple(defines)))
    return tuple(out)


def _parse_sum(parser, key, expr, kinds) -> tuple[tuple[int, str], ...]:
    """``"a + b - c"`` → ``((1, "a"), (1, "b"), (-1, "c"))`` over float outputs."""
    if not isinstance(expr, str):
        _fail(parser, key, f"got {expr!r}", 'a sum of float outputs, e.g. "rho1_D + rho1_F"')
    terms, pos = [], 0
    while pos < len(expr):
        m = _TERM_RE.match(expr, pos)
        if not m or m.end() == pos or (terms and not m.group(1)):
            _fail(parser, key, f"cannot read {expr!r}", 'a sum of float outputs, e.g. "rho1_D + rho1_F"')
        name = m.group(2)
        if kinds.get(name) != "float":
            _fail(parser, key, f"{name!r} is not a float output", "float outputs of the kernel")
        terms.append((-1 if m.group(1) == "-" else 1, name))
        pos = m.end()
    if not terms:
        _fail(parser, key, "empty expression", 'a sum of float outputs, e.g. "rho1_D + rho1_F"')
    return tuple(terms)


def canonical_selection(raw: Mapping) -> dict:
    """What ``outputs``/``reduce`` add to the spec hash (nothing when absent)."""
    out = {}
    if raw.get("outputs") is not None:
        out["outputs"] = list(raw["outputs"])
    if raw.get("reduce") is not None:
        out["reduce"] = raw["reduce"]
    return out


class _Fail:
    def __init__(self, source: str):
        self.src = source

    def fail(self, key: str, problem: str, expected: str) -> None:
        from .errors import SpecError

        raise SpecError(f"{self.src}: {key}: {problem}; expected {expected}")


def parse_selection(raw: Mapping, ks, axis_names, source: str = "<spec>"):
    """``(outputs or None, reductions)`` of a spec's TOML-shaped dict, validated:
    a :class:`~sweep.errors.SpecError` names the file and the key."""
    p = _Fail(source)
    return (parse_outputs(p, ks, raw.get("outputs")),
            parse_reductions(p, ks, raw.get("reduce"), tuple(axis_names)))
