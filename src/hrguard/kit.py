"""Vectorised building blocks for detectors: distance, as-of lookups, per-key state across chunks.

These are public so plugin authors can write detectors that run over millions of events the same
way the built-in ones do.
"""

from __future__ import annotations

from collections.abc import Callable
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


def unpack2(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two int arrays :func:`pack2` packed into ``keys``."""
    keys = np.asarray(keys, dtype=np.int64)
    return keys >> 32, (keys & 0xFFFFFFFF) - (1 << 31)


class Latest:
    """The latest values per integer key, carried from chunk to chunk, looked up as of a position.

    ``fields`` maps each value name to its missing value (``np.nan``, ``-1``, ``None``...). Within a
    chunk, :meth:`lookup` sees the chunk's own updates that come strictly before each query's
    position, and the carried state otherwise; :meth:`commit` then folds the chunk's updates in.

    The carried state is columnar: the keys in one sorted ``int64`` array and each field in one numpy
    array (of the dtype its updates came in, ``object`` if they came in several), so a key costs
    8 bytes plus 8 a field, where a dict of tuples of Python objects cost 150-280 bytes. That matters
    for state keyed by something that grows with the input (an employee-day, an employee-customer
    pair): a bounded scan of ten million events carries millions of such keys. Small commits (a
    stream's single events) go to a dict of recent updates first, merged into the arrays once it holds
    an eighth as many keys as they do, so every commit costs amortised time linear in its size.
    """

    #: from this many keys on (the carried-state queries of a lookup, the updates of a commit), the
    #: arrays are used directly; fewer go through the dict of recent updates (a stream's single events)
    ARRAY_LOOKUP_MIN = 64

    def __init__(self, **fields: Any):
        self.fields = tuple(fields)
        self.missing = fields
        self._keys = np.zeros(0, dtype=np.int64)
        self._cols: list[np.ndarray] = []  # aligned with _keys, one per field (empty until the first merge)
        self._dtypes: list[np.dtype | None] = [None] * len(self.fields)  # of every value committed so far
        self._recent: dict[int, tuple[Any, ...]] = {}  # newer than the arrays

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
        if miss.size and (self._recent or self._keys.size):
            keys = np.asarray(q_key, dtype=np.int64)[miss]
            if miss.size >= self.ARRAY_LOOKUP_MIN:
                self._merge_recent()
                self._lookup_sorted(keys, miss, found, out)
            else:  # few queries (a stream's): one by one, the recent updates first
                self._lookup_few(keys.tolist(), miss.tolist(), found, out)
        return found, out

    def _lookup_few(self, keys: list[int], slots: list[int], found: np.ndarray, out: dict[str, np.ndarray]) -> None:
        get = self._recent.get
        skeys, n = self._keys, self._keys.size
        targets = [out[f] for f in self.fields]
        for slot, key in zip(slots, keys):
            vals = get(key)
            if vals is None:
                k = int(skeys.searchsorted(key)) if n else 0
                if k == n or skeys[k] != key:
                    continue
                vals = [col[k : k + 1].tolist()[0] for col in self._cols]  # Python values, as the dict holds
            found[slot] = True
            for target, v in zip(targets, vals):
                target[slot] = v

    def _lookup_sorted(self, keys: np.ndarray, slots: np.ndarray, found: np.ndarray, out: dict[str, np.ndarray]) -> None:
        skeys = self._keys
        ic = np.minimum(np.searchsorted(skeys, keys), skeys.size - 1)
        ok = skeys[ic] == keys
        where = slots[ok]
        found[where] = True
        for f, col in zip(self.fields, self._cols):
            vals = col[ic[ok]]
            target = out[f]
            target[where] = vals.astype(target.dtype, copy=False)  # to object: Python values, as the dict gives

    def commit(self, u_key: np.ndarray, u_vals: dict[str, np.ndarray]) -> None:
        """Fold a chunk's updates (in event order) into the carried state."""
        if len(u_key) == 0:
            return
        last = last_per_key(u_key)  # ordered by key
        keys = np.asarray(u_key, dtype=np.int64)[last]
        vals = [np.asarray(u_vals[f])[last] for f in self.fields]
        self._dtypes = [_common_dtype(d, v.dtype) for d, v in zip(self._dtypes, vals)]
        if keys.size >= self.ARRAY_LOOKUP_MIN:
            self._merge_recent()
            self._merge(keys, vals)
            return
        recent = self._recent
        for key, *row in zip(keys.tolist(), *(v.tolist() for v in vals)):
            recent[key] = tuple(row)
        if len(recent) >= max(self.ARRAY_LOOKUP_MIN, self._keys.size // 8):
            self._merge_recent()

    def _merge_recent(self) -> None:
        """Move the recent updates into the arrays."""
        if not self._recent:
            return
        recent, self._recent = self._recent, {}
        keys = np.fromiter(recent.keys(), dtype=np.int64, count=len(recent))
        order = np.argsort(keys)
        rows = list(recent.values())
        cols = []
        for i, dtype in enumerate(self._dtypes):
            col = np.empty(len(rows), dtype=dtype)
            col[:] = [r[i] for r in rows]
            cols.append(col[order])
        self._merge(keys[order], cols)

    def _merge(self, keys: np.ndarray, vals: list[np.ndarray]) -> None:
        """Set the values of ``keys`` (sorted, distinct), adding the keys not held yet."""
        if not self._cols:
            self._keys = keys.copy()
            self._cols = [v.astype(d) for v, d in zip(vals, self._dtypes)]
            return
        old = self._keys
        i = np.searchsorted(old, keys)
        held = old[np.minimum(i, old.size - 1)] == keys
        held &= i < old.size
        new = ~held
        cols = []
        for col, v, dtype in zip(self._cols, vals, self._dtypes):
            col = col if col.dtype == dtype else col.astype(dtype)
            v = v.astype(dtype, copy=False)
            col[i[held]] = v[held]
            cols.append(np.insert(col, i[new], v[new]) if new.any() else col)
        self._cols = cols
        if new.any():
            self._keys = np.insert(old, i[new], keys[new])

    def forget(self, which: Callable[[np.ndarray], np.ndarray]) -> int:
        """Drop the keys for which ``which(keys)`` is true (given every held key, sorted); how many.

        For state no lookup can reach any more, e.g. keyed by a day that has ended (``which`` can
        :func:`unpack2` the keys): without it, such state grows with the input.
        """
        self._merge_recent()
        drop = np.asarray(which(self._keys), dtype=bool)
        if not drop.any():
            return 0
        keep = ~drop
        self._keys = self._keys[keep]
        self._cols = [col[keep] for col in self._cols]
        return int(drop.sum())

    def get(self, key: int) -> dict[str, Any] | None:
        vals = self._recent.get(key)
        if vals is not None:
            return dict(zip(self.fields, vals))
        k = int(np.searchsorted(self._keys, key))
        if k == self._keys.size or self._keys[k] != key:
            return None
        return {f: col[k : k + 1].tolist()[0] for f, col in zip(self.fields, self._cols)}

    def __contains__(self, key: int) -> bool:
        """Whether ``key`` has a value in the carried state."""
        if key in self._recent:
            return True
        k = int(np.searchsorted(self._keys, key))
        return k < self._keys.size and int(self._keys[k]) == key

    def __len__(self) -> int:
        """How many keys have a value in the carried state."""
        self._merge_recent()
        return int(self._keys.size)

    @property
    def state(self) -> Latest:
        """The carried state, for membership tests (``key in latest.state``, as when it was a dict)."""
        return self


def _common_dtype(a: np.dtype | None, b: np.dtype) -> np.dtype:
    """A dtype holding exactly every value of dtypes ``a`` and ``b``: the wider of two integer or two
    float dtypes, else ``object`` (an integer column never becomes a rounded float)."""
    if a is None or a == b:
        return b
    for kinds in ("iu", "f", "b"):
        if a.kind in kinds and b.kind in kinds:
            c = np.promote_types(a, b)
            if c.kind in kinds:
                return c
    return np.dtype(object)


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
