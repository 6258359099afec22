"""Several sinks' device parts in one chunk function (each chunk computed once for all)."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Combined"]


@dataclass(frozen=True)
class Combined:
    """The device parts of several sinks in one chunk function: outputs keyed by
    the sink's position."""

    parts: tuple

    def __call__(self, lanes):
        from dataclasses import replace

        return {str(i): part(replace(lanes, extra=lanes.extra[str(i)]))
                for i, part in enumerate(self.parts)}
