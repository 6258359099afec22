"""Sweep specs: parse and validate a TOML spec into a :class:`Spec`.

A spec names a registered kernel, the run dtype, the chunk size, the fixed
parameter values and the axes of a cartesian grid::

    kernel = "coverage_oa5"
    dtype = "float64"              # or "float32"; default float64
    chunk_size = 1048576           # default 1048576 (capped at the grid size)

    [fixed]
    beta = 0.95
    profile = "pi^2(1-pi)"         # a categorical parameter: a preset name

    [axes]                         # cartesian product, in this order, last fastest
    b = [1.03, 1.05, 1.08, 1.12]
    alpha1 = { linspace = [0.55, 0.75, 41] }
    eta = { logspace = [-1, 1, 21] }   # base 10: 10^-1 .. 10^1

Everything is checked against the kernel's :class:`~kernels.registry.KernelSpec`
before anything is computed or written, and every error is a :class:`SpecError`
whose message names the file, the key and what was expected.

Validation is done in float64 *and*, for float32 runs, on the values cast to
float32 (a value like 0.9999999999 rounds to 1.0 in float32 and would leave an
open domain such as (0, 1)).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .errors import SpecError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

__all__ = [
    "Axis",
    "Spec",
    "SpecError",
    "load_spec",
    "parse_spec",
    "lookup_kernel",
    "DTYPES",
    "DEFAULT_CHUNK_SIZE",
    "MAX_VECTORS",
]

DTYPES = ("float64", "float32")
DEFAULT_DTYPE = "float64"
DEFAULT_CHUNK_SIZE = 1 << 20
#: flat indices are int64 and the engine adds a chunk offset to them: keep headroom
MAX_VECTORS = 1 << 62
#: a chunk is materialized in device memory; 2**31 lanes is already far past useful
MAX_CHUNK_SIZE = 1 << 31
#: points of all axes together: each axis is a table in host and device memory, built
#: while the spec is checked (domain, distinctness); 2**22 float64 values are 32 MB
MAX_AXIS_POINTS = 1 << 22
#: the manifest lists the values of axes up to this size (besides linspace/logspace parameters)
MANIFEST_VALUES_MAX = 10_000
_TOP_KEYS = ("kernel", "dtype", "chunk_size", "fixed", "axes", "outputs", "reduce")


def lookup_kernel(name: str):
    """The :class:`~kernels.registry.KernelSpec` called ``name`` in
    :mod:`kernels.catalog` (KeyError if none)."""
    from kernels.catalog import get_kernel

    return get_kernel(name)


def _is_registered(name: str) -> bool:
    from kernels.catalog import is_registered

    return is_registered(name)


def _kernel_names() -> tuple[str, ...]:
    from kernels.catalog import kernel_names

    return kernel_names()


class Axis:
    """One grid axis: numeric values (float64, as written) or categorical choice names.

    A ``linspace``/``logspace`` axis is kept as its parameters (:attr:`gen`) and
    its values are computed when first asked for, so the spec hash and the manifest
    describe a 10^6-point axis in a few bytes; a list axis keeps its values.
    """

    __slots__ = ("name", "categorical", "gen", "_values")

    def __init__(self, name: str, values=(), categorical: bool = False, gen: tuple | None = None):
        self.name = name
        self.categorical = categorical
        self.gen = gen  # ("linspace" | "logspace", lo, hi, n) or None
        self._values = None if gen is not None else tuple(values)

    @property
    def values(self) -> tuple:
        if self._values is None:
            self._values = tuple(self.array().tolist())
        return self._values

    def array(self) -> np.ndarray:
        """The numeric values as a float64 array (built from :attr:`gen` without a tuple)."""
        if self.gen is not None:
            return _range_values(*self.gen)
        return np.asarray(self._values, dtype=np.float64)

    def describe(self) -> dict:
        """The axis as the manifest records it: ``{"linspace": [lo, hi, n]}`` (plus
        the values when there are at most :data:`MANIFEST_VALUES_MAX`), or ``{"values": [...]}``."""
        if self.gen is None:
            return {"values": list(self.values)}
        kind, lo, hi, n = self.gen
        out = {kind: [lo, hi, n]}
        if n <= MANIFEST_VALUES_MAX:
            out["values"] = list(self.values)
        return out

    def __len__(self) -> int:
        return self.gen[3] if self.gen is not None else len(self._values)

    def _key(self):
        return (self.name, self.categorical, self.gen, self._values if self.gen is None else None)

    def __eq__(self, other) -> bool:
        return isinstance(other, Axis) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        what = f"gen={self.gen!r}" if self.gen is not None else f"values={self._values!r}"
        return f"Axis({self.name!r}, {what}, categorical={self.categorical})"


def _range_values(kind: str, lo: float, hi: float, n: int) -> np.ndarray:
    if kind == "linspace":
        return np.linspace(lo, hi, n, dtype=np.float64)
    with np.errstate(over="ignore"):
        return np.logspace(lo, hi, n, base=10.0, dtype=np.float64)


@dataclass(frozen=True)
class Spec:
    """A validated sweep spec.

    ``fixed`` holds the values written under ``[fixed]`` (categoricals as choice
    names); :meth:`resolved_fixed` adds defaults and expands categoricals into
    every numeric kernel parameter that is not driven by an axis.
    """

    kernel: str
    dtype: str
    chunk_size: int
    fixed: Mapping[str, Any]
    axes: tuple[Axis, ...]
    source: str = "<spec>"
    text: str | None = None  # the TOML as written, when loaded from a file
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # -- sizes ---------------------------------------------------------------
    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a) for a in self.axes)

    @property
    def n_vectors(self) -> int:
        return math.prod(self.shape)

    @property
    def n_chunks(self) -> int:
        return -(-self.n_vectors // self.chunk_size)

    def chunk_bounds(self, k: int) -> tuple[int, int]:
        """(first flat index, number of vectors) of chunk ``k``."""
        if not 0 <= k < self.n_chunks:
            raise IndexError(f"chunk {k} out of range 0..{self.n_chunks - 1}")
        start = k * self.chunk_size
        return start, min(self.chunk_size, self.n_vectors - start)

    # -- the kernel view -----------------------------------------------------
    @property
    def kernel_spec(self):
        return lookup_kernel(self.kernel)

    def resolved_fixed(self) -> dict[str, float]:
        """float64 value of every numeric kernel parameter not driven by an axis.

        Order: explicit ``[fixed]`` numbers, expanded fixed categoricals, then
        ``Param`` defaults; categoricals nobody set use their default choice.
        """
        ks = self.kernel_spec
        on_axis = set()
        for a in self.axes:
            cat = ks.categorical(a.name)
            on_axis.update(cat.targets if cat is not None else (a.name,))
        out: dict[str, float] = {}
        for name, value in self.fixed.items():
            cat = ks.categorical(name)
            if cat is None:
                out[name] = float(value)
            else:
                out.update({t: float(cat.choices[value][t]) for t in cat.targets})
        for cat in ks.categoricals:
            touched = cat.name in self.fixed or cat.name in self.axis_names
            touched = touched or any(t in out or t in on_axis for t in cat.targets)
            if not touched:
                out.update({t: float(cat.choices[cat.default][t]) for t in cat.targets})
        for p in ks.params:
            if p.name not in out and p.name not in on_axis and p.default is not None:
                out[p.name] = float(p.default)
        return {p.name: out[p.name] for p in ks.params if p.name in out}

    # -- outputs kept and reductions (sweep.reduce_spec) -----------------------
    @property
    def output_names(self) -> tuple[str, ...]:
        """The outputs written as rows (``outputs = [...]``; default every output)."""
        return self._selection()[0] or self.kernel_spec.output_names

    @property
    def writes_rows(self) -> bool:
        """Rows are written unless the spec has ``[reduce]`` and no ``outputs``."""
        outputs, reductions = self._selection()
        return outputs is not None or not reductions

    @property
    def reductions(self) -> tuple:
        """The named reductions of ``[reduce]`` (:class:`sweep.reduce_spec.Reduction`)."""
        return self._selection()[1]

    def _selection(self):
        from .reduce_spec import parse_selection

        sel = self.__dict__.get("_selection_cache")
        if sel is None:
            sel = parse_selection(self.raw or {}, self.kernel_spec, self.axis_names, self.source)
            object.__setattr__(self, "_selection_cache", sel)
        return sel

    # -- identity ------------------------------------------------------------
    def canonical(self) -> dict:
        """The parsed spec as plain JSON data (what the spec hash is computed from)."""
        from .reduce_spec import canonical_selection

        return {**canonical_selection(self.raw or {}),
            "kernel": self.kernel,
            "dtype": self.dtype,
            "chunk_size": self.chunk_size,
            "fixed": dict(self.fixed),
            "axes": [
                {"name": a.name, "categorical": a.categorical,
                 **({"values": list(a.values)} if a.gen is None else {a.gen[0]: list(a.gen[1:])})}
                for a in self.axes
            ],
        }

    def to_dict(self) -> dict:
        """The spec as a TOML-shaped dict (axes as value lists or linspace/logspace tables) that
        :func:`parse_spec` turns back into an equal spec."""
        from .reduce_spec import canonical_selection

        return {
            **canonical_selection(self.raw or {}),
            "kernel": self.kernel,
            "dtype": self.dtype,
            "chunk_size": self.chunk_size,
            "fixed": dict(self.fixed),
            "axes": {a.name: list(a.values) if a.gen is None else {a.gen[0]: list(a.gen[1:])}
                     for a in self.axes},
        }

    @property
    def hash(self) -> str:
        """sha256 of :meth:`canonical` (comments and formatting of the TOML do not count).

        It covers the chunk size and dtype too: both change what a part file holds.
        """
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def with_overrides(self, *, chunk_size: int | None = None, dtype: str | None = None,
                       outputs=None) -> "Spec":
        """The same spec with the chunk size, dtype and/or outputs kept replaced, re-validated."""
        if chunk_size is None and dtype is None and outputs is None:
            return self
        data = dict(self.raw) if self.raw else self.to_dict()
        if outputs is not None:
            data["outputs"] = list(outputs)
        if chunk_size is not None:
            data["chunk_size"] = chunk_size
        if dtype is not None:
            data["dtype"] = dtype
        spec = parse_spec(data, source=self.source)
        return Spec(spec.kernel, spec.dtype, spec.chunk_size, spec.fixed, spec.axes,
                    self.source, self.text, data)


# ---------------------------------------------------------------------------
# parsing


def load_spec(path) -> Spec:
    """Read and validate the TOML spec at ``path``; errors are :class:`SpecError`."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as fh:
            blob = fh.read()
    except OSError as exc:
        raise SpecError(f"{source}: cannot read spec file: {exc.strerror or exc}") from None
    try:
        text = blob.decode("utf-8")
        data = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{source}: not valid TOML: {exc}") from None
    spec = parse_spec(data, source=source)
    return Spec(spec.kernel, spec.dtype, spec.chunk_size, spec.fixed, spec.axes,
                source, text, spec.raw)


def parse_spec(data: Mapping[str, Any], source: str = "<spec>") -> Spec:
    """Validate a spec given as a dict (the TOML document's structure)."""
    return _Parser(data, source).parse()


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


class _Parser:
    def __init__(self, data: Mapping[str, Any], source: str):
        self.data = data
        self.src = source

    def fail(self, key: str, problem: str, expected: str) -> None:
        raise SpecError(f"{self.src}: {key}: {problem}; expected {expected}")

    # -- top level -------------------------------------------------------------
    def parse(self) -> Spec:
        d = self.data
        if not isinstance(d, Mapping):
            raise SpecError(f"{self.src}: the spec must be a table (dict), got {type(d).__name__}")
        for key in d:
            if key not in _TOP_KEYS:
                self.fail(key, "unknown top-level key", "one of " + ", ".join(_TOP_KEYS))

        if "kernel" not in d:
            self.fail("kernel", "missing", "the name of a registered kernel")
        if isinstance(d.get("axes"), Mapping):
            # Sizes first, from the spec's numbers alone: a grid too large to index or
            # axes too long to hold are refused before any axis is built, and before
            # the kernel catalog (and JAX) is imported, so in well under a second.
            self.check_sizes(d["axes"])
        name = d["kernel"]
        if not isinstance(name, str) or not _is_registered(name):
            self.fail("kernel", f"unknown kernel {name!r}", "one of " + ", ".join(_kernel_names()))
        ks = lookup_kernel(name)

        dtype = d.get("dtype", DEFAULT_DTYPE)
        if dtype not in DTYPES:
            self.fail("dtype", f"invalid value {dtype!r}", '"float64" or "float32"')

        chunk = d.get("chunk_size", DEFAULT_CHUNK_SIZE)
        if not isinstance(chunk, (int, np.integer)) or isinstance(chunk, bool) or not 1 <= chunk <= MAX_CHUNK_SIZE:
            self.fail("chunk_size", f"invalid value {chunk!r}",
                      f"an integer between 1 and {MAX_CHUNK_SIZE}")
        chunk = int(chunk)

        fixed_raw = d.get("fixed", {})
        if not isinstance(fixed_raw, Mapping):
            self.fail("fixed", f"got {type(fixed_raw).__name__}", "a table of parameter = value")
        axes_raw = d.get("axes", {})
        if not isinstance(axes_raw, Mapping):
            self.fail("axes", f"got {type(axes_raw).__name__}", "a table of parameter = values")

        known = ks.param_names + tuple(c.name for c in ks.categoricals)
        for section, table in (("fixed", fixed_raw), ("axes", axes_raw)):
            for key in table:
                if key not in known:
                    self.fail(f"{section}.{key}", f"unknown parameter for kernel {name!r}",
                              "one of " + ", ".join(known))
        for key in fixed_raw:
            if key in axes_raw:
                self.fail(f"fixed.{key}", "parameter is both fixed and an axis (axes." + key + ")",
                          "each parameter in at most one of [fixed] and [axes]")

        fixed = {key: self.fixed_value(ks, key, v, dtype) for key, v in fixed_raw.items()}
        n = self.check_sizes(axes_raw)
        axes = tuple(self.axis(ks, key, v, dtype) for key, v in axes_raw.items())

        self.check_categorical_targets(ks, fixed_raw, axes_raw)
        self.check_required(ks, fixed_raw, axes_raw)
        from .reduce_spec import parse_selection  # outputs = [...] and [reduce]
        parse_selection(d, ks, tuple(axes_raw), self.src)
        # A chunk larger than the grid would only compute padding.
        chunk = min(chunk, n)
        raw = dict(d)
        return Spec(name, dtype, chunk, fixed, axes, self.src, None, raw)

    def check_sizes(self, axes_raw: Mapping) -> int:
        """The number of grid vectors, refusing grids and axes too large to hold."""
        sizes = {key: self.axis_size(f"axes.{key}", v) for key, v in axes_raw.items()}
        n = math.prod(sizes.values())
        shape = " x ".join(f"{k}={s}" for k, s in sizes.items())
        if n > MAX_VECTORS:
            self.fail("axes", f"grid has {n} vectors ({shape})",
                      f"at most 2**62 = {MAX_VECTORS} vectors (flat indices are int64)")
        if sum(sizes.values()) > MAX_AXIS_POINTS:
            self.fail("axes", f"the axes have {sum(sizes.values())} points together ({shape})",
                      f"at most 2**22 = {MAX_AXIS_POINTS} points over all axes (each axis is a "
                      f"table of values in memory); use fewer points, or split the range over "
                      f"several specs")
        return n

    # -- values ------------------------------------------------------------------
    def check_values(self, ks, key: str, pname: str, values: np.ndarray, dtype: str) -> None:
        if not np.all(np.isfinite(values)):
            bad = values[~np.isfinite(values)][0]
            self.fail(key, f"value {bad} is not finite", "finite numbers (no NaN or inf)")
        domain = ks.param(pname).domain
        for label, vals in (("", values), (" in float32", values.astype(np.float32))):
            if label and dtype != "float32":
                continue
            ok = domain.contains(vals)
            if not np.all(ok):
                bad = vals[~ok][0]
                self.fail(key, f"value {float(bad)!r}{label} is outside the domain of {pname}",
                          f"values in {domain}")

    def fixed_value(self, ks, key: str, v, dtype: str):
        cat = ks.categorical(key)
        where = f"fixed.{key}"
        if cat is not None:
            if not isinstance(v, str) or v not in cat.choices:
                self.fail(where, f"unknown choice {v!r} for categorical {key!r}",
                          "one of " + ", ".join(repr(c) for c in cat.choices))
            return v
        if not _is_number(v):
            self.fail(where, f"got {type(v).__name__} {v!r}", "a number")
        self.check_values(ks, where, key, np.array([float(v)]), dtype)
        return float(v)

    def axis(self, ks, key: str, v, dtype: str) -> Axis:
        where = f"axes.{key}"
        cat = ks.categorical(key)
        if cat is not None:
            if not isinstance(v, list) or not v:
                self.fail(where, f"got {v!r}", "a non-empty list of choice names")
            for c in v:
                if not isinstance(c, str) or c not in cat.choices:
                    self.fail(where, f"unknown choice {c!r} for categorical {key!r}",
                              "choices from " + ", ".join(repr(c) for c in cat.choices))
            if len(set(v)) != len(v):
                self.fail(where, "repeated choice", "distinct choice names")
            return Axis(key, tuple(v), True)

        if isinstance(v, list):
            if not v:
                self.fail(where, "empty axis", "a non-empty list of numbers")
            for x in v:
                if not _is_number(x):
                    self.fail(where, f"non-numeric value {x!r}", "a list of numbers")
            values = np.array([float(x) for x in v], dtype=np.float64)
        elif isinstance(v, Mapping):
            kind, _, (lo, hi), n = self.range_args(where, v)
            gen = (kind, lo, hi, n)
            values = _range_values(*gen)
        else:
            self.fail(where, f"got {type(v).__name__} {v!r}",
                      "a list of numbers, { linspace = [lo, hi, n] } or { logspace = [lo_exp, hi_exp, n] }")
        self.check_values(ks, where, key, values, dtype)
        if len(np.unique(values)) != len(values):
            self.fail(where, "repeated value", "distinct values (a repeated value would duplicate rows)")
        if dtype == "float32" and len(np.unique(values.astype(np.float32))) != len(values):
            self.fail(where, "values that are distinct in float64 coincide in float32",
                      "values that stay distinct in the run dtype")
        if isinstance(v, Mapping):
            return Axis(key, (), False, gen=gen)
        return Axis(key, tuple(float(x) for x in values), False)

    def axis_size(self, where: str, v) -> int:
        """Number of points of an axis, from its definition alone (nothing built)."""
        if isinstance(v, list):
            return len(v)
        if isinstance(v, Mapping):
            return self.range_args(where, v)[3]
        return 1  # malformed: reported by :meth:`axis`

    def range_args(self, where: str, v: Mapping):
        expected = "{ linspace = [lo, hi, n] } or { logspace = [lo_exp, hi_exp, n] } with n >= 1"
        if len(v) != 1 or next(iter(v)) not in ("linspace", "logspace"):
            self.fail(where, f"got table with keys {sorted(v)}", expected)
        kind, args = next(iter(v.items()))
        where = f"{where}.{kind}"
        if not isinstance(args, list) or len(args) != 3:
            self.fail(where, f"got {args!r}", expected)
        lo, hi, n = args
        if not (_is_number(lo) and _is_number(hi)):
            self.fail(where, f"non-numeric bound in {args!r}", expected)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            self.fail(where, f"bound is not finite in {args!r}", "finite bounds (no NaN or inf)")
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            self.fail(where, f"invalid count {n!r}", "an integer count n >= 1")
        return kind, where, (float(lo), float(hi)), int(n)

    def range_axis(self, where: str, v: Mapping) -> np.ndarray:
        kind, where, (lo, hi), n = self.range_args(where, v)
        return _range_values(kind, lo, hi, n)

    # -- cross-key rules ---------------------------------------------------------
    def check_categorical_targets(self, ks, fixed_raw, axes_raw) -> None:
        for cat in ks.categoricals:
            if cat.name not in fixed_raw and cat.name not in axes_raw:
                continue
            sec = "fixed" if cat.name in fixed_raw else "axes"
            for t in cat.targets:
                for other, table in (("fixed", fixed_raw), ("axes", axes_raw)):
                    if t in table:
                        self.fail(f"{other}.{t}",
                                  f"set together with categorical {sec}.{cat.name}, which determines it",
                                  f"either {cat.name!r} or its parameters {', '.join(cat.targets)}, not both")

    def check_required(self, ks, fixed_raw, axes_raw) -> None:
        covered = set(fixed_raw) | set(axes_raw)
        for cat in ks.categoricals:
            touched = cat.name in covered or any(t in covered for t in cat.targets)
            if cat.name in covered or not touched:
                covered.update(cat.targets)  # set by the choice, or by the default choice
        missing = [p for p in ks.params if p.default is None and p.name not in covered]
        if len(missing) == 1:
            p = missing[0]
            self.fail(f"fixed.{p.name}", "missing required parameter (it has no default)",
                      f"a value in {p.domain} under [fixed] or [axes]")
        if missing:  # all at once: fixing them one run at a time is tedious
            names = ", ".join(p.name for p in missing)
            where = "; ".join(f"{p.name} in {p.domain}" for p in missing)
            self.fail("fixed", f"missing {len(missing)} required parameters (no defaults): {names}",
                      f"a value for each under [fixed] or [axes] ({where})")
