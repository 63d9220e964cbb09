"""Per-key state carried from chunk to chunk as numpy arrays, looked up "as of" an event's position.

:class:`hrguard.kit.Latest` keeps its state in a dict of tuples: folding a chunk in and looking a
chunk's keys up cost Python work per key, which dominates a detector on a million events. The two
stores here keep the same contract (``lookup`` sees the chunk's own updates strictly before each
query's position, then the carried state; ``commit`` folds the chunk's updates in) with the state
in arrays:

- :class:`DenseLatest` for keys that are interner codes (customers, employees): one slot per code,
  so a lookup is an index;
- :class:`SortedLatest` for any ``int64`` key (``pack2`` pairs...): sorted keys and a binary search.
  A stream's one-event chunks would make every new key an ``O(state)`` insert, so small commits go
  to a dict first and are merged into the arrays in bulk.

Both are private to the built-in detectors for now; their place is :mod:`hrguard.kit`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..kit import last_per_key

_EMPTY = np.zeros(0, dtype=np.int64)


def _dtype(missing: Any) -> Any:
    """The column dtype for a field whose missing value is ``missing`` (None: Python objects)."""
    if missing is None:
        return object
    if isinstance(missing, float):
        return np.float64
    return np.int64


def _chunk_hits(u_key: np.ndarray, u_pos: np.ndarray, q: np.ndarray, q_pos: np.ndarray) -> np.ndarray:
    """For each query, the chunk update it sees (same key, latest position before it), or ``-1``.

    :func:`hrguard.kit.asof_rows` with one sort instead of three: updates come in event order, so a
    stable sort by key leaves each key's run in position order; runs are then laid end to end as
    ``run * span + position`` and each query is one binary search in its key's run.
    """
    out = np.full(q.size, -1, dtype=np.int64)
    if len(u_key) == 0 or q.size == 0:
        return out
    u = np.asarray(u_key, dtype=np.int64)
    up = np.asarray(u_pos, dtype=np.int64)
    order = np.argsort(u, kind="stable") if up.size < 2 or (np.diff(up) > 0).all() else np.lexsort((up, u))
    sk = u[order]
    lo = np.searchsorted(sk, q, side="left")
    some = np.flatnonzero(np.searchsorted(sk, q, side="right") > lo)  # keys the chunk updates at all
    if some.size == 0:
        return out
    sp = up[order]
    qp = np.asarray(q_pos, dtype=np.int64)[some]
    run = np.cumsum(np.r_[False, sk[1:] != sk[:-1]])
    low = min(int(sp.min()), int(qp.min()))
    span = max(int(sp.max()), int(qp.max())) - low + 2
    laid = run * span + (sp - low)
    i = np.searchsorted(laid, run[lo[some]] * span + (qp - low), side="left") - 1
    mine = i >= lo[some]  # the last earlier update is of the query's own key
    out[some[mine]] = order[i[mine]]
    return out


class DenseLatest:
    """The latest values per interner code (a key ``>= 0``), in arrays indexed by the code.

    ``fields`` maps each value name to its missing value; ``None`` makes an object column (event
    ids kept as evidence), a float a ``float64`` one, an int an ``int64`` one. Memory is one slot
    per code up to the largest key seen, whatever the number of updates.
    """

    def __init__(self, **fields: Any):
        self.missing = fields
        self.cols = {name: np.full(64, m, dtype=_dtype(m)) for name, m in fields.items()}
        self.seen = np.zeros(64, dtype=bool)

    @property
    def size(self) -> int:
        return self.seen.size

    def lookup(self, q_key: np.ndarray, q_pos: np.ndarray, u_key: np.ndarray, u_pos: np.ndarray,
               u_vals: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(found, values)`` of each query key as of its position."""
        q = np.asarray(q_key, dtype=np.int64)
        j = _chunk_hits(u_key, u_pos, q, q_pos)
        hit = j >= 0
        carried = np.flatnonzero((q >= 0) & (q < self.size) & ~hit)
        qc = q[carried]
        found = hit.copy()
        found[carried] = self.seen[qc]
        out = {}
        for name, col in self.cols.items():
            v = np.full(q.size, self.missing[name], dtype=col.dtype)
            v[carried] = col[qc]
            if hit.any():
                v[hit] = u_vals[name][j[hit]]
            out[name] = v
        return found, out

    def has(self, q_key: np.ndarray) -> np.ndarray:
        """Whether each key has a carried value (set by an earlier chunk)."""
        q = np.asarray(q_key, dtype=np.int64)
        inside = (q >= 0) & (q < self.size)
        out = np.zeros(q.size, dtype=bool)
        out[inside] = self.seen[q[inside]]
        return out

    def commit(self, u_key: np.ndarray, u_vals: dict[str, np.ndarray]) -> None:
        """Fold a chunk's updates (in event order; keys are codes >= 0) into the state."""
        if len(u_key) == 0:
            return
        last = last_per_key(u_key) if len(u_key) > 1 else np.zeros(1, dtype=np.int64)
        keys = np.asarray(u_key, dtype=np.int64)[last]
        need = int(keys.max()) + 1
        if need > self.size:
            cap = max(need, 2 * self.size)
            for name, col in self.cols.items():
                grown = np.full(cap, self.missing[name], dtype=col.dtype)
                grown[: col.size] = col
                self.cols[name] = grown
            seen = np.zeros(cap, dtype=bool)
            seen[: self.seen.size] = self.seen
            self.seen = seen
        self.seen[keys] = True
        for name, col in self.cols.items():
            col[keys] = u_vals[name][last]


class SortedLatest:
    """The latest values per ``int64`` key: sorted key and value arrays, plus a dict of recent keys.

    Commits of fewer than :attr:`SMALL` updates (a stream's one-event chunks) go to the dict;
    it is merged into the arrays, in one pass, when it holds :attr:`FLUSH` keys or before a large
    lookup or commit. So a batch chunk costs a few numpy passes and a stream event a dict access.
    """

    SMALL = 64
    FLUSH = 2048

    def __init__(self, **fields: Any):
        self.fields = tuple(fields)
        self.missing = fields
        self.keys = _EMPTY
        self.cols = {name: np.zeros(0, dtype=_dtype(m)) for name, m in fields.items()}
        self.recent: dict[int, tuple[Any, ...]] = {}

    def __len__(self) -> int:
        self._flush()
        return int(self.keys.size)

    # -- reading ---------------------------------------------------------------------------------
    def _find(self, q: np.ndarray) -> np.ndarray:
        """Index of each key in the sorted arrays, ``-1`` where absent."""
        keys = self.keys
        if keys.size == 0 or q.size == 0:
            return np.full(q.size, -1, dtype=np.int64)
        i = np.searchsorted(keys, q)
        ic = np.minimum(i, keys.size - 1)
        return np.where(keys[ic] == q, ic, -1)

    def contains(self, q_key: np.ndarray) -> np.ndarray:
        """Whether each key has a carried value."""
        q = np.asarray(q_key, dtype=np.int64)
        if self.recent and q.size >= self.SMALL:
            self._flush()
        has = self._find(q) >= 0
        if self.recent:
            recent = self.recent
            has |= np.fromiter((k in recent for k in q.tolist()), dtype=bool, count=q.size)
        return has

    def get(self, key: int) -> tuple[Any, ...] | None:
        """The carried values of one key (``None`` when it has none)."""
        vals = self.recent.get(key)
        if vals is None and self.keys.size:
            i = int(np.searchsorted(self.keys, key))
            if i < self.keys.size and self.keys[i] == key:
                vals = tuple(col[i] for col in self.cols.values())
        return vals

    def lookup(self, q_key: np.ndarray, q_pos: np.ndarray, u_key: np.ndarray, u_pos: np.ndarray,
               u_vals: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(found, values)`` of each query key as of its position."""
        q = np.asarray(q_key, dtype=np.int64)
        if len(u_key) == 0 and q.size <= self.FEW:
            return self._lookup_few(q)
        j = _chunk_hits(u_key, u_pos, q, q_pos)
        hit = j >= 0
        miss = np.flatnonzero(~hit)
        if self.recent and miss.size >= self.SMALL:
            self._flush()
        at = self._find(q[miss])
        carried = miss[at >= 0]
        at = at[at >= 0]
        found = hit.copy()
        found[carried] = True
        out = {}
        for name, col in self.cols.items():
            v = np.full(q.size, self.missing[name], dtype=col.dtype)
            v[carried] = col[at]
            if hit.any():
                v[hit] = u_vals[name][j[hit]]
            out[name] = v
        if self.recent:  # only ever a few queries here: a dict access each
            get = self.recent.get
            for slot, key in zip(miss.tolist(), q[miss].tolist()):
                vals = get(key)
                if vals is not None:
                    found[slot] = True
                    for name, value in zip(self.fields, vals):
                        out[name][slot] = value
        return found, out

    #: up to this many queries (and no update in the chunk), :meth:`lookup` asks :meth:`get` for each
    FEW = 8

    def _lookup_few(self, q: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        rows = [self.get(k) for k in q.tolist()]
        found = np.array([r is not None for r in rows], dtype=bool)
        out = {}
        for i, (name, col) in enumerate(self.cols.items()):
            v = np.full(q.size, self.missing[name], dtype=col.dtype)
            for slot, r in enumerate(rows):
                if r is not None:
                    v[slot] = r[i]
            out[name] = v
        return found, out

    # -- writing ---------------------------------------------------------------------------------
    def put(self, key: int, vals: tuple[Any, ...]) -> None:
        """Set one key's values (what :meth:`commit` does for a one-update chunk)."""
        recent = self.recent
        recent.pop(key, None)
        recent[key] = vals
        if len(recent) >= self.FLUSH:
            self._flush()

    def commit(self, u_key: np.ndarray, u_vals: dict[str, np.ndarray]) -> None:
        """Fold a chunk's updates (in event order) into the state."""
        n = len(u_key)
        if n == 0:
            return
        if n < self.SMALL:
            recent = self.recent
            cols = [u_vals[f].tolist() for f in self.fields]
            for key, *vals in zip(np.asarray(u_key).tolist(), *cols):  # later updates win
                recent.pop(key, None)
                recent[key] = tuple(vals)
            if len(recent) >= self.FLUSH:
                self._flush()
            return
        self._flush()
        last = last_per_key(u_key)
        self._merge(np.asarray(u_key, dtype=np.int64)[last], {f: u_vals[f][last] for f in self.fields})

    def _flush(self) -> None:
        recent = self.recent
        if not recent:
            return
        keys = np.fromiter(recent.keys(), dtype=np.int64, count=len(recent))
        order = np.argsort(keys)
        rows = list(recent.values())
        vals = {}
        for i, (name, col) in enumerate(self.cols.items()):
            v = np.empty(len(rows), dtype=col.dtype)
            v[:] = [r[i] for r in rows]
            vals[name] = v[order]
        self.recent = {}
        self._merge(keys[order], vals)

    def _merge(self, keys: np.ndarray, vals: dict[str, np.ndarray]) -> None:
        """Set sorted, distinct ``keys`` to ``vals``: existing keys in place, new ones inserted."""
        at = self._find(keys)
        old = at >= 0
        for name, col in self.cols.items():
            col[at[old]] = vals[name][old]
        new = ~old
        if new.any():
            where = np.searchsorted(self.keys, keys[new])
            self.keys = np.insert(self.keys, where, keys[new])
            for name, col in self.cols.items():
                self.cols[name] = np.insert(col, where, vals[name][new])
