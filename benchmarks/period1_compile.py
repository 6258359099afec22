"""Tracing (lowering) and XLA compile seconds of the ``period1`` kernel, float64, 32 lanes.

    JAX_COMPILATION_CACHE_DIR= python benchmarks/period1_compile.py [TREE]

TREE: a source tree holding ``kernels`` and ``sweep`` (e.g. ``git archive <rev>
kernels sweep`` unpacked); default: the installed package.  Run trees in
alternation, several times each, in one session: on a shared machine a single
run varies by ±20%.  Prints wall and CPU seconds (XLA compiles on several threads).
"""
import os
import sys
import time


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        sys.path.insert(0, os.path.abspath(argv[0]))
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    import kernels
    from kernels.catalog import get_kernel
    ks = get_kernel("period1")
    args = {p.name: jnp.full((32,), 0.5 if p.default is None else p.default, jnp.float64)
            for p in ks.params}
    c0, t0 = time.process_time(), time.time()
    low = jax.jit(ks.fn).lower(args)
    c1, t1 = time.process_time(), time.time()
    low.compile()
    c2, t2 = time.process_time(), time.time()
    print(f"{os.path.dirname(kernels.__file__)}: lower {t1 - t0:.1f} s, compile {t2 - t1:.1f} s "
          f"(CPU {c1 - c0:.1f} + {c2 - c1:.1f} s), load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
