"""Progress reporting: a tqdm bar on stderr (vectors done, rate, ETA).

Shown by default only when stderr is a terminal, so logs of batch jobs and
``--json`` pipelines stay clean; stdout is never used.
"""
from __future__ import annotations

import sys
import threading

__all__ = ["Progress"]


class Progress:
    """Thread-safe counter of vectors done; draws a bar when ``enabled``.

    ``enabled=None`` means "when stderr is a terminal".  Updates come from the
    writer thread, so they are serialized with a lock.
    """

    def __init__(self, total: int, initial: int = 0, *, enabled: bool | None = None, desc: str = "sweep"):
        if enabled is None:
            enabled = bool(getattr(sys.stderr, "isatty", lambda: False)())
        self.done = initial
        self._lock = threading.Lock()
        self._bar = None
        if enabled:
            from tqdm import tqdm

            # unit_scale gives "1.2M/3.4G"; for small totals it would print "26.0/26.0"
            self._bar = tqdm(total=total, initial=initial, unit="vec", unit_scale=total >= 10_000,
                             desc=desc, file=sys.stderr, dynamic_ncols=True, smoothing=0.1)

    def update(self, n: int) -> None:
        with self._lock:
            self.done += n
            if self._bar is not None:
                self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
