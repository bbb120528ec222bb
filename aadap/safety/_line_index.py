"""Offsets to line numbers, shared by the pattern-based analysers."""

from __future__ import annotations

import bisect


class LineIndex:
    """``index(offset)`` is the 1-based line holding character ``offset`` of ``text``."""

    __slots__ = ("_starts",)

    def __init__(self, text: str) -> None:
        starts = [0]
        position = text.find("\n")
        while position != -1:
            starts.append(position + 1)
            position = text.find("\n", position + 1)
        self._starts = starts

    def __call__(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)

    @property
    def count(self) -> int:
        return len(self._starts)
