"""Pure JAX model code for the human-fallback skill-investment model.

No I/O lives here.  Modules, in dependency order:

- :mod:`kernels.status`     root-solve status codes
- :mod:`kernels.params`     parameter pytree with docs/model.md §1 code names
- :mod:`kernels.profiles`   learning profiles ℓ(π) (docs/model.md §2.1)
- :mod:`kernels.primitives` S, M, W, B, Γ, g (docs/model.md §2)
- :mod:`kernels.roots`      vectorized bracketed root solving with implicit derivatives
- :mod:`kernels.admissibility` assumptions A1–A4, eq. OA1, monotone policy (docs/model.md §3, §5)
- :mod:`kernels.coverage`   terminal and period-1 domain quantities (docs/model.md §5, §7)
- :mod:`kernels.single_firm`, :mod:`kernels.terminal`, :mod:`kernels.period1` the other kernels
- :mod:`kernels.registry`   the kernel contract types the sweep engine consumes
- :mod:`kernels.declare`    one declaration per kernel, with the standard admissibility outputs
- :mod:`kernels.catalog`    the list of kernels and the lookup by name

Only the catalog imports the kernel modules; they import the contract types
(:mod:`kernels.registry`, :mod:`kernels.declare`) and never the catalog, so there
is no import cycle.  ``kernels`` imports nothing of ``sweep`` or ``notebooks``
(tests/test_layering.py checks both).
"""

__all__ = ["get_kernel", "kernel_names"]


def __getattr__(name):
    # ``kernels.get_kernel`` without importing every kernel (and JAX) when only the
    # contract types or the status codes are needed.
    if name in __all__:
        from . import catalog

        return getattr(catalog, name)
    raise AttributeError(f"module 'kernels' has no attribute {name!r}")
