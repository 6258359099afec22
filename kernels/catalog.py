"""The kernels of the model, by name: an explicit list plus kernels added at run time.

:data:`KERNELS` lists every kernel this package defines.  Adding a kernel is one
module that declares it (see :func:`kernels.declare.declare`) and one line here.
Code outside the package (notebook helpers, user modules named in the CLI's
``SWEEP_KERNEL_MODULES``, test fixtures) adds kernels of its own with
:func:`register`; they are looked up like the catalog's.

Imports point one way: kernel modules import :mod:`kernels.registry` (the
contract types) and never this module, so the catalog can import them all.
"""
from __future__ import annotations

from . import coverage, period1, period1_bonus, period1_reference, single_firm, terminal, terminal_bonus
from .registry import KernelSpec

__all__ = ["KERNELS", "get_kernel", "kernel_names", "register", "unregister", "is_registered"]

#: every kernel of the model, in the order ``sweep kernels`` lists them
KERNELS: tuple[KernelSpec, ...] = (
    coverage.COVERAGE_OA4_KERNEL,
    coverage.COVERAGE_OA5_KERNEL,
    period1.PERIOD1_KERNEL,
    period1_reference.PERIOD1_REFERENCE_KERNEL,
    single_firm.SINGLE_FIRM_KERNEL,
    terminal.TERMINAL_KERNEL,
    terminal_bonus.TERMINAL_BONUS_KERNEL,
    period1_bonus.PERIOD1_BONUS_KERNEL,
)

_BUILTIN: dict[str, KernelSpec] = {}
for _spec in KERNELS:
    if _spec.name in _BUILTIN:
        raise ValueError(f"kernel {_spec.name!r} listed twice in kernels.catalog.KERNELS")
    _BUILTIN[_spec.name] = _spec
del _spec

#: kernels registered at run time by code outside this package
_ADDED: dict[str, KernelSpec] = {}


def register(spec: KernelSpec) -> KernelSpec:
    """Add a kernel defined outside this package (a name may be registered once)."""
    if not isinstance(spec, KernelSpec):
        raise TypeError(f"register() takes a KernelSpec, not {type(spec).__name__}")
    if spec.name in _BUILTIN or spec.name in _ADDED:
        raise ValueError(f"kernel {spec.name!r} registered twice")
    _ADDED[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a kernel added with :func:`register` (the catalog's own stay)."""
    if name in _BUILTIN:
        raise ValueError(f"kernel {name!r} is part of the catalog and cannot be removed")
    _ADDED.pop(name, None)


def is_registered(name: str) -> bool:
    return name in _BUILTIN or name in _ADDED


def get_kernel(name: str) -> KernelSpec:
    """The kernel called ``name`` (KeyError if there is none)."""
    if name in _BUILTIN:
        return _BUILTIN[name]
    if name in _ADDED:
        return _ADDED[name]
    raise KeyError(name)


def kernel_names() -> tuple[str, ...]:
    """Every kernel name, sorted."""
    return tuple(sorted({**_BUILTIN, **_ADDED}))
