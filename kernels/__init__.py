"""Pure JAX model code for the human-fallback skill-investment model.

No I/O lives here.  Modules, in dependency order:

- :mod:`kernels.status`     root-solve status codes
- :mod:`kernels.params`     parameter pytree with docs/model.md §1 code names
- :mod:`kernels.profiles`   learning profiles ℓ(π) (docs/model.md §2.1)
- :mod:`kernels.primitives` S, M, W, B, Γ, g (docs/model.md §2)
- :mod:`kernels.roots`      vectorized bracketed root solving with implicit derivatives
- :mod:`kernels.admissibility` assumptions A1–A4, eq. OA1, monotone policy (docs/model.md §3, §5)
- :mod:`kernels.coverage`   terminal and period-1 domain quantities (docs/model.md §5, §7)
- :mod:`kernels.catalog`    the registered kernels (``coverage_oa4``, ``coverage_oa5``, ...)
- :mod:`kernels.registry`   the kernel contract the sweep engine consumes
"""
from .registry import get_kernel, kernel_names  # noqa: F401
