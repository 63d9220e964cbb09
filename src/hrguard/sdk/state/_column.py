"""``Column``: an append-only typed numpy column (capacity doubles)."""

from __future__ import annotations

from collections.abc import Mapping
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
