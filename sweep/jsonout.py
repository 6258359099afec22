"""The CLI's JSON policy, shared by every command that prints or writes JSON.

Non-finite floats are not JSON: NaN becomes ``null`` and infinities the strings
``"inf"``/``"-inf"``; numpy scalars become Python numbers.
"""
from __future__ import annotations

import json
import math
import sys

__all__ = ["jsonable", "print_json"]


def jsonable(x):
    """JSON-safe copy: numpy scalars to Python, NaN to null, inf to "inf"."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def print_json(doc) -> None:
    """``doc`` as one indented JSON document on stdout."""
    sys.stdout.write(json.dumps(jsonable(doc), indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()
