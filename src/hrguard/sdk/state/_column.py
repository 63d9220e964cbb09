"""``Column``: an append-only typed numpy column (capacity doubles)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...errors import StateError
from ._stateful import Store


class Column(Store):
    """An append-only numpy column with amortised O(1) appends (capacity doubles)."""

    def __init__(self, dtype: Any, fill: Any = 0):
        self._a = np.full(16, fill, dtype=dtype)
        self._fill = fill
        self.n = 0

    def extend(self, values: Any) -> None:
        a = self._a
        if type(values) is not np.ndarray or values.dtype != a.dtype or values.ndim != 1:
            values = np.asarray(values, dtype=a.dtype).reshape(-1)
        n = self.n
        need = n + values.size
        if need > a.size:
            cap = max(need, 2 * a.size)
            grown = np.full(cap, self._fill, dtype=a.dtype)
            grown[:n] = a[:n]
            a = self._a = grown
        a[n:need] = values
        self.n = need

    def append(self, value: Any) -> None:
        if self.n == self._a.size:
            self.extend([value])
            return
        self._a[self.n] = value
        self.n += 1

    def take(self, index: Any) -> None:
        """Keep only the values at ``index`` (in that order): the column shrinks to ``len(index)``."""
        kept = self._a[: self.n][np.asarray(index, dtype=np.int64)]
        self._a = np.full(max(16, kept.size), self._fill, dtype=self._a.dtype)
        self._a[: kept.size] = kept
        self.n = kept.size

    @property
    def values(self) -> np.ndarray:
        return self._a[: self.n]

    def __len__(self) -> int:
        return self.n

    def state_dict(self) -> dict[str, Any]:
        v = self.values
        return {"values": v.tolist() if v.dtype == object else v.copy()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if set(state) != {"values"}:
            raise StateError(f"Column: state entries {sorted(state)} are not ['values']")
        v = state["values"]
        n = len(v)
        self._a = np.full(max(16, n), self._fill, dtype=self._a.dtype)
        if n:
            self._a[:n] = v
        self.n = n


def keep_spans(columns: Sequence[Column], lo: Any, hi: Any) -> np.ndarray:
    """Shrink ``columns`` (aligned logs) to the spans ``[lo[i], hi[i])`` still pointed at, in the order
    given; each span's new start (its end is the start plus its length).

    For logs that a store's rows point into (a plan's items, a finding's evidence): once the store
    forgets rows, their spans are garbage; a caller compacts when most of a log is."""
    lo = np.asarray(lo, dtype=np.int64)
    lens = np.asarray(hi, dtype=np.int64) - lo
    starts = np.cumsum(lens) - lens
    total = int(lens.sum())
    index = np.repeat(lo - starts, lens) + np.arange(total, dtype=np.int64)
    for col in columns:
        col.take(index)
    return starts
