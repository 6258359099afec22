"""Kernel contract: the types that describe a kernel to the sweep engine.

A *kernel* is a pure, elementwise JAX function ``fn(p) -> out`` where ``p`` maps
parameter code names (docs/model.md §1) to arrays of one common (broadcastable) shape
and ``out`` maps output names to arrays of that shape.  Kernels never raise on a
bad vector: they return values plus boolean flags and int8 root statuses.

The engine (``sweep``) knows nothing about the economics; everything it needs to
validate a spec, build parameter values on a device, and lay out a Parquet
schema comes from the kernel's :class:`KernelSpec`.  This module holds only
these types (no kernel, no lookup): kernel modules import it, and
:mod:`kernels.catalog` lists the kernels and looks them up by name.

Categorical parameters (the learning ``profile``) are expanded into numeric
parameters before the kernel sees them: a :class:`Categorical` maps each choice
name to values of other (numeric) parameters.  The engine stores the choice name
in the dataset and feeds the numbers to the kernel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

__all__ = [
    "Domain",
    "Param",
    "Categorical",
    "Output",
    "KernelSpec",
    "Factor",
    "OUTPUT_KINDS",
]

#: what an :class:`Output` may hold: the run's float dtype, a flag, or a status code
OUTPUT_KINDS = ("float", "bool", "int8")


@dataclass(frozen=True)
class Domain:
    """An interval domain ``lo <(=) x <(=) hi`` for a numeric parameter."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_closed: bool = False
    hi_closed: bool = False

    def contains(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        ok = np.isfinite(x)
        ok &= (x >= self.lo) if self.lo_closed else (x > self.lo)
        ok &= (x <= self.hi) if self.hi_closed else (x < self.hi)
        return ok

    def __str__(self) -> str:
        left = "[" if self.lo_closed else "("
        right = "]" if self.hi_closed else ")"
        lo = "-inf" if self.lo == -math.inf else f"{self.lo:g}"
        hi = "inf" if self.hi == math.inf else f"{self.hi:g}"
        return f"{left}{lo}, {hi}{right}"


@dataclass(frozen=True)
class Param:
    """A numeric kernel parameter.  ``default=None`` means required."""

    name: str
    domain: Domain
    default: float | None = None
    doc: str = ""


@dataclass(frozen=True)
class Categorical:
    """A named-choice parameter expanded into numeric parameters.

    ``choices[name]`` gives the values of ``targets`` for that choice, e.g. the
    learning-profile preset ``"pi^2(1-pi)"`` -> ``{"ell_a": 2.0, "ell_c": 1.0, ...}``.
    When a spec sets the categorical, it must not also set any of its targets.
    """

    name: str
    targets: tuple[str, ...]
    choices: Mapping[str, Mapping[str, float]]
    default: str
    doc: str = ""

    def values_matrix(self) -> np.ndarray:
        """float64 array of shape (n_choices, n_targets), rows in choice order."""
        return np.array(
            [[float(self.choices[c][t]) for t in self.targets] for c in self.choices],
            dtype=np.float64,
        )

    def index(self, choice: str) -> int:
        return list(self.choices).index(choice)


@dataclass(frozen=True)
class Output:
    """A kernel output column: ``kind`` is ``"float"`` (the run dtype),
    ``"bool"`` or ``"int8"`` (root status codes, see :mod:`kernels.status`)."""

    name: str
    kind: str
    doc: str = ""


@dataclass(frozen=True)
class Factor:
    """A sub-computation of a kernel that depends on ``params`` only.

    The kernel must satisfy ``fn(p) == combine(p, stage({k: p[k] for k in params}))``
    elementwise.  On a cartesian grid the engine may evaluate ``stage`` once per
    point of the sub-grid spanned by the axes among ``params`` and gather the
    results per vector, instead of once per vector: for ``coverage_oa5`` the root
    solves depend on 8 of the 10 axes of the paper's grid (12× fewer solves).
    ``stage`` returns a dict of arrays (floats in the run dtype, bools, int8).
    """

    params: tuple[str, ...]
    stage: Callable[[Mapping[str, "object"]], dict]
    combine: Callable[[Mapping[str, "object"], Mapping[str, "object"]], dict]


@dataclass(frozen=True)
class KernelSpec:
    name: str
    fn: Callable[[Mapping[str, "object"]], dict]
    params: tuple[Param, ...]
    outputs: tuple[Output, ...]
    description: str
    categoricals: tuple[Categorical, ...] = field(default_factory=tuple)
    factor: Factor | None = None
    #: most lanes the kernel should evaluate at once (memory per lane × this must
    #: fit a device); the engine evaluates larger chunks as a sequential map over
    #: sub-batches of this size.  None: no limit.
    max_batch: int | None = None

    def __post_init__(self):
        names = [o.name for o in self.outputs]
        if len(set(names)) != len(names):
            raise ValueError(f"kernel {self.name!r}: duplicate output names")
        for o in self.outputs:
            if o.kind not in OUTPUT_KINDS:
                raise ValueError(f"kernel {self.name!r}: output {o.name!r} has kind {o.kind!r}")

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.outputs)

    def categorical(self, name: str) -> Categorical | None:
        for c in self.categoricals:
            if c.name == name:
                return c
        return None

    def defaults(self) -> dict[str, float]:
        return {p.name: p.default for p in self.params if p.default is not None}

    def required(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.default is None)

