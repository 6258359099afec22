"""Test configuration: float64 enabled and strict dtype promotion everywhere.

Strict promotion turns any accidental float32/float64 mix inside a kernel into an
error, so the float32 path of a sweep really is float32 end to end.
"""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True)
settings.load_profile("ci")
