"""``Rows``: every row added under each key (an append-only multimap), found for many keys at once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ...errors import StateError
from ._arrays import EMPTY, as_i64, search
from ._stateful import Store


class Rows(Store):
    """An append-only multimap from ``int64`` keys to rows of typed columns, found for many keys at once.

    ``Rows(cust=np.int64, pos=np.int64)`` names each column with its dtype. Rows live in a few runs
    sorted by key; a new run is merged into the one before it while that one is at most twice its
    size (a binary counter), so there are O(log n) runs, appending n rows costs O(n log n) in all
    and a query is two binary searches per run, however the rows were chunked. Within a key, rows
    keep the order they were added in.

    Adds of fewer than :attr:`SMALL` rows (a stream's events) go to a dict of recent rows in plain
    Python, made into one run once it holds :attr:`FOLD_MIN` rows (or before a look-up of many
    keys); look-ups of a few keys read the dict directly. So a one-event chunk costs no numpy merge,
    in the same code path as a batch chunk.
    """

    #: adds of fewer rows than this, and look-ups of fewer keys, take the Python path (dict of recent rows)
    SMALL = 16
    #: the recent rows become a run once there are this many
    FOLD_MIN = 256

    def __init__(self, **dtypes: Any) -> None:
        self.dtypes = {name: np.dtype(t) for name, t in dtypes.items()}
        self.runs: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
        self._recent: dict[int, list[tuple[Any, ...]]] = {}  # key -> rows (one value a column) in add order
        self._n_recent = 0

    def __len__(self) -> int:
        return sum(k.size for k, _ in self.runs) + self._n_recent

    def add(self, keys: Any, cols: Mapping[str, Any]) -> None:
        """Append rows in the order given: ``cols`` has one array per column, aligned with ``keys``, or
        one value (a scalar) that every row gets."""
        keys = as_i64(keys)
        n = keys.size
        if n == 0:
            return
        if n < self.SMALL:
            values = []
            for name, t in self.dtypes.items():
                v = cols[name]
                if type(v) is not np.ndarray or v.dtype != t:
                    v = np.asarray(v, dtype=t)
                values.append([v.item()] * n if v.ndim == 0 else v.tolist())
            recent = self._recent
            for key, row in zip(keys.tolist(), zip(*values)):
                held = recent.get(key)
                if held is None:
                    recent[key] = [row]
                else:
                    held.append(row)
            self._n_recent += n
            if self._n_recent >= self.FOLD_MIN:
                self._fold()
            return
        self._fold()  # the recent rows were added first: they go into a run before these
        arrays = {}
        for name, t in self.dtypes.items():
            v = np.asarray(cols[name], dtype=t)
            arrays[name] = np.full(n, v, dtype=t) if v.ndim == 0 else v.reshape(-1)
        self._add_run(keys, arrays)

    def find_one(self, key: int) -> dict[str, np.ndarray]:
        """The rows of one key (two binary searches per run, no other numpy call; read-only, as :meth:`find`'s)."""
        parts = [cols for _, cols in self._parts(int(key))]
        if not parts:
            return {n: np.zeros(0, t) for n, t in self.dtypes.items()}
        return parts[0] if len(parts) == 1 else {n: np.concatenate([q[n] for q in parts]) for n in self.dtypes}

    def find(self, q_keys: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Every row whose key equals a query key: ``(query index, columns)`` of the matches.

        A key's rows come in the order they were added; the rows of different keys in no given order.
        Fewer than :attr:`SMALL` keys are found one by one (:meth:`find_one`'s binary searches);
        more in one vectorised pass per run. The columns may share memory with the store: read them,
        do not write to them."""
        q_keys = as_i64(q_keys)
        nq = q_keys.size
        qs: list[np.ndarray] = []
        parts: dict[str, list[np.ndarray]] = {n: [] for n in self.dtypes}
        if nq < self.SMALL:
            for qi, key in enumerate(q_keys.tolist()):
                for size, cols in self._parts(key):
                    qs.append(np.full(size, qi, dtype=np.int64))
                    for n in self.dtypes:
                        parts[n].append(cols[n])
        else:
            self._fold()
            for keys, cols in self.runs:
                lo = search(keys, q_keys, "left")
                cnt = search(keys, q_keys, "right") - lo
                total = int(cnt.sum())
                if total == 0:
                    continue
                qi = np.repeat(np.arange(nq), cnt)
                idx = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(total)
                qs.append(qi)
                for n in self.dtypes:
                    parts[n].append(cols[n][idx])
        if not qs:
            return np.zeros(0, np.int64), {n: np.zeros(0, t) for n, t in self.dtypes.items()}
        if len(qs) == 1:
            return qs[0], {n: v[0] for n, v in parts.items()}
        return np.concatenate(qs), {n: np.concatenate(v) for n, v in parts.items()}

    def forget(self, which: Callable[[np.ndarray], np.ndarray]) -> int:
        """Drop every row whose key ``which(keys)`` marks (given an array of keys, it returns a boolean
        array); how many. For rows no look-up can reach any more (keyed by a day beyond the rule's
        horizon): without it, such a store grows with the input."""
        self._fold()
        dropped = 0
        runs = []
        for keys, cols in self.runs:
            drop = np.asarray(which(keys), dtype=bool)
            n = int(drop.sum())
            if n == 0:
                runs.append((keys, cols))
                continue
            dropped += n
            if n < keys.size:
                keep = ~drop
                runs.append((keys[keep], {c: v[keep] for c, v in cols.items()}))
        if dropped:
            # the runs shrank unevenly: merge from the end again so that they stay O(log n)
            self.runs = []
            for keys, cols in runs:
                self.runs.append((keys, cols))
                while len(self.runs) > 1 and self.runs[-2][0].size <= 2 * self.runs[-1][0].size:
                    self._merge_last()
        return dropped

    def state_dict(self) -> dict[str, Any]:
        self._fold()
        out: dict[str, Any] = {"runs": [int(k.size) for k, _ in self.runs]}
        out["keys"] = np.concatenate([k for k, _ in self.runs]) if self.runs else EMPTY.copy()
        for n, t in self.dtypes.items():
            col = np.concatenate([c[n] for _, c in self.runs]) if self.runs else np.zeros(0, t)
            out[f"col.{n}"] = col.tolist() if t == object else col
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        want = {"runs", "keys", *(f"col.{n}" for n in self.dtypes)}
        if set(state) != want:
            raise StateError(f"Rows: state entries {sorted(state)} are not {sorted(want)}")
        sizes = [int(s) for s in state["runs"]]
        keys = as_i64(state["keys"])
        if sum(sizes) != keys.size or any(s <= 0 for s in sizes):
            raise StateError("Rows: run sizes do not add up to the number of keys")
        cols = {}
        for n, t in self.dtypes.items():
            v = state[f"col.{n}"]
            col = np.empty(len(v), dtype=object) if isinstance(v, list) else None
            if col is not None:
                col[:] = v
            else:
                col = np.asarray(v, dtype=t)
            if col.size != keys.size:
                raise StateError(f"Rows: column {n!r} has {col.size} values for {keys.size} keys")
            cols[n] = col
        runs, start = [], 0
        for s in sizes:
            k = keys[start:start + s]
            if s > 1 and (np.diff(k) < 0).any():
                raise StateError("Rows: a run's keys are not sorted")
            runs.append((k, {n: c[start:start + s] for n, c in cols.items()}))
            start += s
        self.runs, self._recent, self._n_recent = runs, {}, 0

    # -- internals -------------------------------------------------------------------------------
    def _parts(self, key: int) -> list[tuple[int, dict[str, np.ndarray]]]:
        """The rows of one key: ``(how many, columns)`` per run holding any, then the recent ones."""
        parts = []
        for keys, cols in self.runs:
            lo = int(keys.searchsorted(key, side="left"))
            if lo < keys.size and keys.item(lo) == key:
                hi = int(keys.searchsorted(key, side="right"))
                parts.append((hi - lo, cols if hi - lo == keys.size else {n: c[lo:hi] for n, c in cols.items()}))
        held = self._recent.get(key)
        if held:
            parts.append((len(held), self._columns(held)))
        return parts

    def _columns(self, rows: list[tuple[Any, ...]]) -> dict[str, np.ndarray]:
        """Rows of Python values as one array per column."""
        out = {}
        for i, (name, t) in enumerate(self.dtypes.items()):
            col = np.empty(len(rows), dtype=t)
            if t == object:
                for j, r in enumerate(rows):
                    col[j] = r[i]
            else:
                col[:] = [r[i] for r in rows]
            out[name] = col
        return out

    def _fold(self) -> None:
        """Make the recent rows one run (grouped by key, each key's rows in add order)."""
        recent = self._recent
        if not recent:
            return
        self._recent, self._n_recent = {}, 0
        keys = np.fromiter(recent.keys(), dtype=np.int64, count=len(recent))
        counts = np.fromiter(map(len, recent.values()), dtype=np.int64, count=len(recent))
        self._add_run(np.repeat(keys, counts), self._columns([r for held in recent.values() for r in held]))

    def _add_run(self, keys: np.ndarray, cols: dict[str, np.ndarray]) -> None:
        o = np.argsort(keys, kind="stable") if keys.size > 1 else np.zeros(1, dtype=np.int64)
        self.runs.append((keys[o], {n: cols[n][o] for n in self.dtypes}))
        while len(self.runs) > 1 and self.runs[-2][0].size <= 2 * self.runs[-1][0].size:
            self._merge_last()

    def _merge_last(self) -> None:
        """Merge the last run into the one before it (a key's rows stay in add order: older run first)."""
        (k2, c2), (k1, c1) = self.runs.pop(), self.runs.pop()
        at = np.searchsorted(k1, k2, side="right") + np.arange(k2.size)
        old = np.ones(k1.size + k2.size, dtype=bool)
        old[at] = False
        self.runs.append((_merged(k1, k2, at, old), {n: _merged(c1[n], c2[n], at, old) for n in self.dtypes}))


def _merged(older: np.ndarray, newer: np.ndarray, at: np.ndarray, old: np.ndarray) -> np.ndarray:
    """``newer`` placed at ``at`` and ``older`` in the rest (the ``old`` slots), in one new array."""
    out = np.empty(old.size, dtype=older.dtype)
    out[at] = newer
    out[old] = older
    return out
