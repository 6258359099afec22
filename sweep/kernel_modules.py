"""Kernels defined outside the ``kernels`` package: modules named by the user.

``SWEEP_KERNEL_MODULES`` is a comma-separated list of importable modules.  Each
one may define ``KERNELS``, a sequence of :class:`kernels.registry.KernelSpec`;
:func:`load_kernel_modules` imports the modules and adds those kernels to
:mod:`kernels.catalog`, so ``sweep run``/``eval``/``kernels`` and Dask workers see
them.  (A module that calls :func:`kernels.catalog.register` itself when imported
works too.)
"""
from __future__ import annotations

import importlib
import os
from typing import Iterable

__all__ = ["ENV_VAR", "modules_from_env", "load_kernel_modules"]

ENV_VAR = "SWEEP_KERNEL_MODULES"


def modules_from_env(environ=None) -> tuple[str, ...]:
    """The module names in ``SWEEP_KERNEL_MODULES`` (blank entries dropped)."""
    text = (os.environ if environ is None else environ).get(ENV_VAR, "")
    return tuple(filter(None, (m.strip() for m in text.split(","))))


def load_kernel_modules(names: Iterable[str] | None = None) -> None:
    """Import ``names`` (default: :func:`modules_from_env`) and register the kernels
    each lists in ``KERNELS``.  Registering the same spec object again is a no-op;
    a different kernel under a name already taken is an error."""
    names = modules_from_env() if names is None else tuple(names)
    if not names:
        # The catalog imports every kernel, and so JAX (about a second of CPU):
        # without modules to add, a command that refuses its input never pays it.
        return
    from kernels import catalog

    for name in names:
        module = importlib.import_module(name)
        for spec in getattr(module, "KERNELS", ()):
            if not catalog.is_registered(spec.name):
                catalog.register(spec)
            elif catalog.get_kernel(spec.name) is not spec:
                raise ValueError(f"{ENV_VAR}: {name}.KERNELS defines kernel {spec.name!r}, "
                                 f"but another kernel of that name is already registered")
