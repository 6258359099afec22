"""One declaration per kernel: :func:`declare` builds a kernel's :class:`KernelSpec`
with the model's standard admissibility outputs appended.

Every kernel of the model reports the same family of boolean admissibility flags
(docs/model.md §3, §5): ``domain`` (all parameters in their §1 domain), the
assumptions ``A1``–``A4``, eq. ``OA1`` (D2 nonempty), Cor. 3's ``monotone`` and
their conjunction ``admissible``.  Their column names and descriptions are written
once here, so a new kernel declares which flags it reports and which of them make
a row admissible, and nothing else::

    MY_KERNEL = declare(
        "my_kernel", my_kernel, MY_PARAMS, MY_OUTPUTS,
        "what it computes (paper reference)",
        flags=("domain", "A2", "A4", "OA1"),
        periods=(2,),
    )

and then adds ``my_module.MY_KERNEL`` to :data:`kernels.catalog.KERNELS`.
The kernel function itself must return every flag it declares (plus
``admissible``), computed with :mod:`kernels.admissibility`.
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping

from .profiles import PROFILE
from .registry import Categorical, Factor, KernelSpec, Output, Param

__all__ = ["declare", "admissibility_outputs", "FLAGS"]

#: the standard flags, in the column order every kernel uses
FLAGS = ("domain", "A1", "A2", "A3", "A4", "OA1", "monotone")


def _flag_doc(name: str, periods: tuple[int, ...]) -> str:
    both = tuple(periods) != (2,)
    return {
        "domain": "all parameters in their docs/model.md §1 domain",
        "A1": "A1: α2 ≥ α1 and π2 ≤ π1",
        "A2": "A2: φℓ(π_t) < 1, t = 1, 2" if both else "A2 for period 2: φℓ(π2) < 1",
        "A3": "A3: s1 ∈ (s̲, α1)",
        "A4": ("A4: b > 1 and λR > max_t α_t^(b−1)" if both
               else "A4 for period 2: b > 1 and λR > α2^(b−1)"),
        "OA1": "eq. OA1: D2 nonempty",
        "monotone": "Cor. 3: λRπ2 ≥ bα2^(b−1) (h2* nondecreasing in s2 on D2)",
    }[name]


def admissibility_outputs(flags: Iterable[str], requires: Iterable[str] | None = None,
                          periods: tuple[int, ...] = (1, 2),
                          docs: Mapping[str, str] | None = None) -> tuple[Output, ...]:
    """The bool outputs ``flags`` (a subset of :data:`FLAGS`, in that order) and
    ``admissible`` = the AND of ``requires`` (default: all of ``flags``).

    ``periods=(2,)`` words A2 and A4 for period 2 only (terminal kernels);
    ``docs`` overrides a flag's description where a kernel checks a variant
    (e.g. coverage_oa5's A3 is "satisfiable": s̲ < α1, with no s1 in the vector).
    """
    flags = tuple(flags)
    unknown = [f for f in flags if f not in FLAGS]
    if unknown:
        raise ValueError(f"unknown admissibility flags {unknown}; the standard ones are {FLAGS}")
    if list(flags) != sorted(flags, key=FLAGS.index):
        raise ValueError(f"admissibility flags {flags} are not in the standard order {FLAGS}")
    requires = flags if requires is None else tuple(requires)
    missing = [f for f in requires if f not in flags]
    if missing:
        raise ValueError(f"admissible requires {missing}, which are not among the flags {flags}")
    docs = dict(docs or {})
    out = tuple(Output(f, "bool", docs.get(f, _flag_doc(f, periods))) for f in flags)
    return out + (Output("admissible", "bool", " & ".join(requires)),)


def declare(name: str, fn: Callable, params: tuple[Param, ...], outputs: tuple[Output, ...],
            description: str, *, flags: Iterable[str], requires: Iterable[str] | None = None,
            periods: tuple[int, ...] = (1, 2), flag_docs: Mapping[str, str] | None = None,
            categoricals: tuple[Categorical, ...] = (PROFILE,), factor: Factor | None = None,
            max_batch: int | None = None) -> KernelSpec:
    """The :class:`KernelSpec` of a model kernel: its own ``outputs`` followed by
    the standard admissibility outputs (see :func:`admissibility_outputs`).

    ``categoricals`` defaults to the learning-profile preset every model kernel
    accepts (docs/model.md §2.1)."""
    return KernelSpec(
        name=name, fn=fn, params=tuple(params),
        outputs=tuple(outputs) + admissibility_outputs(flags, requires, periods, flag_docs),
        description=description, categoricals=tuple(categoricals), factor=factor,
        max_batch=max_batch,
    )
