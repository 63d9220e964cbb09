"""Object columns (lists of plan items, claims, photos) turned into flat numpy side tables.

Events keep their lists of small models as Python objects. A detector reads them once per chunk:
:func:`flatten` lays the lists end to end (with each element's owner row and index in its list),
one comprehension per attribute reads them, and :func:`lookup_each` (with a :class:`Codes` memo for
strings) turns the values into ``int64`` columns with one C-level dict look-up each: no Python
function call per value.
Everything after that is numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..columns import Interner


def flatten(lists: np.ndarray) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """``(elements, owner, index)``: every element of every list, its list's row, its index in the list."""
    counts = np.fromiter(map(len, lists), dtype=np.int64, count=lists.size)
    flat = [x for xs in lists for x in xs]
    owner = np.repeat(np.arange(lists.size), counts)
    index = np.arange(len(flat)) - np.repeat(np.cumsum(counts) - counts, counts)
    return flat, owner, index


def lookup_each(values: list[Any], table: dict[Any, int]) -> np.ndarray:
    """``table[v]`` for each value, as ``int64`` (a dict subclass with ``__missing__`` may fill in)."""
    return np.array(list(map(table.__getitem__, values)), dtype=np.int64)


class Codes(dict):
    """A memo of :meth:`Interner.code` kept by a detector: ``lookup_each(values, codes)`` codes a column.

    A string met for the first time is interned right then, so strings are interned in the order
    coding them one by one would; after that each value costs one dict look-up, no Python call.
    """

    def __init__(self, strings: Interner) -> None:
        super().__init__()
        self.strings = strings

    def __missing__(self, s: str | None) -> int:
        code = self[s] = self.strings.code(s)
        return code
