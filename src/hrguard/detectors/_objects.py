"""Object columns (lists of plan items, claims, photos) turned into flat numpy side tables.

Events keep their lists of small models as Python objects. A detector reads them once per chunk:
:func:`flatten` lays the lists end to end (with each element's owner row and index in its list),
one comprehension per attribute reads them, and :func:`lookup_each` turns values into ``int64``
columns with one C-level dict look-up each (strings go through :meth:`Interner.codes`, the same way):
no Python function call per value.
Everything after that is numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np



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
