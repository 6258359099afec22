"""Several sinks' device parts in one chunk function (each chunk computed once for all)."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Combined"]


@dataclass(frozen=True)
class Combined:
    """The device parts of several sinks in one chunk function: outputs keyed by
    the sink's position."""

    parts: tuple

    @property
    def lane_stride(self) -> int:
        """The lanes' stride over the grid, which every part must share (see
        :func:`sweep.compiled.chunk_function`)."""
        strides = {int(getattr(p, "lane_stride", 1)) for p in self.parts}
        if len(strides) != 1:
            raise ValueError(f"device parts ask for different lane strides {sorted(strides)}")
        return strides.pop()

    def __call__(self, lanes):
        from dataclasses import replace

        return {str(i): part(replace(lanes, extra=lanes.extra[str(i)]))
                for i, part in enumerate(self.parts)}
