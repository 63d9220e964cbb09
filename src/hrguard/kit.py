"""Vectorised building blocks for detectors: distance, as-of lookups, per-key state across chunks.

These are public so plugin authors can write detectors that run over millions of events the same
way the built-in ones do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Great-circle distance in metres (haversine, earth radius 6,371,008.8 m), elementwise."""
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def dense_ranks(*arrays: np.ndarray) -> list[np.ndarray]:
    """Replace the values of several int arrays by their ranks in the union (order preserved)."""
    sizes = [a.size for a in arrays]
    _, inverse = np.unique(np.concatenate([np.asarray(a, dtype=np.int64) for a in arrays]), return_inverse=True)
    out, start = [], 0
    for n in sizes:
        out.append(inverse[start : start + n])
        start += n
    return out


def asof_rows(u_key: np.ndarray, u_pos: np.ndarray, q_key: np.ndarray, q_pos: np.ndarray) -> np.ndarray:
    """For each query, the index of the update with the same key and the largest ``u_pos < q_pos``.

    ``-1`` where there is none. One sort and one binary search: O((n + m) log n), never quadratic.
    """
    q_key = np.asarray(q_key, dtype=np.int64)
    if u_key.size == 0 or q_key.size == 0:
        return np.full(q_key.size, -1, dtype=np.int64)
    uk, qk = dense_ranks(u_key, q_key)
    lo = min(int(np.min(u_pos)), int(np.min(q_pos)))
    span = max(int(np.max(u_pos)), int(np.max(q_pos))) - lo + 2
    upacked = uk * span + (np.asarray(u_pos, dtype=np.int64) - lo)
    qpacked = qk * span + (np.asarray(q_pos, dtype=np.int64) - lo)
    order = np.argsort(upacked, kind="stable")
    sorted_u = upacked[order]
    i = np.searchsorted(sorted_u, qpacked, side="left") - 1
    ok = i >= 0
    ic = np.where(ok, i, 0)
    ok &= (sorted_u[ic] // span) == qk
    return np.where(ok, order[ic], -1)


def last_per_key(keys: np.ndarray) -> np.ndarray:
    """Indices of the last occurrence of each distinct key, ordered by key."""
    keys = np.asarray(keys)
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    rev = keys[::-1]
    _, first_in_rev = np.unique(rev, return_index=True)
    return keys.size - 1 - first_in_rev


def pack2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pack two int arrays (``a`` < 2**31, ``|b|`` < 2**31) into one int64 key."""
    return (np.asarray(a, dtype=np.int64) << 32) + (np.asarray(b, dtype=np.int64) + (1 << 31))


class Latest:
    """The latest values per integer key, carried from chunk to chunk, looked up as of a position.

    ``fields`` maps each value name to its missing value (``np.nan``, ``-1``, ``None``...). Within a
    chunk, :meth:`lookup` sees the chunk's own updates that come strictly before each query's
    position, and the carried state otherwise; :meth:`commit` then folds the chunk's updates in.
    """

    def __init__(self, **fields: Any):
        self.fields = tuple(fields)
        self.missing = fields
        self.state: dict[int, tuple[Any, ...]] = {}
        self._snap: tuple[np.ndarray, list[np.ndarray]] | None = None

    def lookup(
        self,
        q_key: np.ndarray,
        q_pos: np.ndarray,
        u_key: np.ndarray,
        u_pos: np.ndarray,
        u_vals: dict[str, np.ndarray],
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(found, values)`` for each query key as of its position."""
        n = len(q_key)
        j = asof_rows(u_key, u_pos, q_key, q_pos)
        hit = j >= 0
        found = hit.copy()
        out: dict[str, np.ndarray] = {}
        for f in self.fields:
            src = u_vals.get(f)
            dtype = src.dtype if src is not None and src.size else np.asarray([self.missing[f]]).dtype
            arr = np.empty(n, dtype=object if dtype == object else dtype)
            arr[:] = self.missing[f]
            if src is not None and hit.any():
                arr[hit] = src[j[hit]]
            out[f] = arr
        miss = np.flatnonzero(~hit)
        if miss.size and self.state:
            if miss.size >= self.ARRAY_LOOKUP_MIN:
                self._lookup_sorted(np.asarray(q_key, dtype=np.int64)[miss], miss, found, out)
            else:
                get = self.state.get
                for slot, key in zip(miss.tolist(), np.asarray(q_key)[miss].tolist()):
                    vals = get(key)
                    if vals is not None:
                        found[slot] = True
                        for f, v in zip(self.fields, vals):
                            out[f][slot] = v
        return found, out

    #: from this many carried-state lookups on, use a sorted snapshot of the state (binary search in
    #: numpy) instead of one dict lookup per query; a stream's single-event chunks stay on the dict.
    ARRAY_LOOKUP_MIN = 64

    def _snapshot(self) -> tuple[np.ndarray, list[np.ndarray]]:
        snap = self._snap
        if snap is None:
            keys = np.fromiter(self.state.keys(), dtype=np.int64, count=len(self.state))
            order = np.argsort(keys)
            rows = list(self.state.values())
            cols = []
            for i, f in enumerate(self.fields):
                col = np.empty(len(rows), dtype=object)
                col[:] = [r[i] for r in rows]
                cols.append(col[order])
            snap = self._snap = (keys[order], cols)
        return snap

    def _lookup_sorted(self, keys: np.ndarray, slots: np.ndarray, found: np.ndarray, out: dict[str, np.ndarray]) -> None:
        skeys, cols = self._snapshot()
        i = np.searchsorted(skeys, keys)
        ic = np.minimum(i, skeys.size - 1)
        ok = skeys[ic] == keys
        where = slots[ok]
        found[where] = True
        for f, col in zip(self.fields, cols):
            vals = col[ic[ok]]
            target = out[f]
            target[where] = vals.astype(target.dtype) if target.dtype != object else vals

    def commit(self, u_key: np.ndarray, u_vals: dict[str, np.ndarray]) -> None:
        """Fold a chunk's updates (in event order) into the carried state."""
        if len(u_key) == 0:
            return
        self._snap = None
        last = last_per_key(u_key)
        cols = [u_vals[f][last].tolist() for f in self.fields]
        for key, *vals in zip(np.asarray(u_key)[last].tolist(), *cols):
            self.state[key] = tuple(vals)

    def get(self, key: int) -> dict[str, Any] | None:
        vals = self.state.get(key)
        return None if vals is None else dict(zip(self.fields, vals))


class GrowBuf:
    """An append-only numpy column with amortised O(1) appends (capacity doubles)."""

    def __init__(self, dtype: Any, fill: Any = 0):
        self._a = np.full(16, fill, dtype=dtype)
        self._fill = fill
        self.n = 0

    def extend(self, values: Any) -> None:
        values = np.asarray(values, dtype=self._a.dtype)
        need = self.n + values.size
        if need > self._a.size:
            cap = max(need, 2 * self._a.size)
            grown = np.full(cap, self._fill, dtype=self._a.dtype)
            grown[: self.n] = self._a[: self.n]
            self._a = grown
        self._a[self.n : need] = values
        self.n = need

    @property
    def values(self) -> np.ndarray:
        return self._a[: self.n]


def rows_pos(chunk: Any, rows: np.ndarray) -> np.ndarray:
    """Positions in the total order of the given frame rows of a chunk."""
    return chunk.frame.base + np.asarray(rows, dtype=np.int64)


def pos_after(chunk: Any, ts: np.ndarray) -> np.ndarray:
    """For each instant, a position bound: every event of the chunk with ``ts <=`` it comes before."""
    f = chunk.frame
    cts = f.ts[chunk.idx]
    k = np.searchsorted(cts, np.asarray(ts, dtype=np.int64), side="right")
    end = (int(chunk.idx[-1]) + 1) if chunk.idx.size else 0
    idx_ext = np.append(chunk.idx, end)
    return f.base + idx_ext[k]
