"""``Latest``: the latest values of each key, looked up as of a position, for a batch chunk and a stream's event alike."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ...errors import StateError
from ._arrays import EMPTY, as_i64, chunk_hits, common_dtype, field_spec, filled, last_per_key, search
from ._stateful import Store


class Latest(Store):
    """The latest values of each ``int64`` key, carried from chunk to chunk and looked up as of a position.

    ``Latest(owner=-1, src=None, lat=np.nan)`` names each field with its missing value (the dtype
    follows it: ``None`` an object column, a float ``float64``, an int ``int64``), or with a
    ``(dtype, missing)`` pair. Per chunk:

    1. :meth:`stage` the chunk's updates, in event order: keys, their positions in the one order of
       events, and one array per field (a field left out is its missing value);
    2. :meth:`lookup` any number of queries ``(keys, positions)``: each sees the latest staged update
       of its key *strictly before* its position, else the carried state;
    3. :meth:`commit` folds the staged updates into the carried state.

    (:meth:`lookup` and :meth:`commit` also take the updates directly — ``lookup(q_key, q_pos, u_key,
    u_pos, u_vals)``, ``commit(u_key, u_vals)`` — as 0.1's ``hrguard.sdk.Latest`` did.)

    The carried state is sorted ``int64`` keys with one numpy column per field: 8 bytes a key plus
    the fields, however many updates. Commits and look-ups of fewer than :attr:`SMALL` keys (a
    stream's events) go through a dict of recent updates and plain Python, folded into the arrays
    once the dict holds an eighth as many keys as they do, so both kinds of chunk are fast in the
    same code path and every commit costs amortised time linear in its size.
    """

    #: below this many keys, look-ups and commits take the Python path (dict of recent updates)
    SMALL = 16
    #: the recent dict is folded into the arrays from this many keys on (or an eighth of the arrays)
    FOLD_MIN = 256

    def __init__(self, **fields: Any):
        specs = {name: field_spec(spec) for name, spec in fields.items()}
        self.fields: tuple[str, ...] = tuple(fields)
        self.missing: dict[str, Any] = {name: s[1] for name, s in specs.items()}
        self._dtypes: dict[str, np.dtype] = {name: s[0] for name, s in specs.items()}
        self._fixed = {name: s[2] for name, s in specs.items()}
        self._keys = EMPTY
        self._cols: dict[str, np.ndarray] = {name: np.zeros(0, dtype=d) for name, d in self._dtypes.items()}
        self._recent: dict[int, tuple[Any, ...]] = {}
        self._staged: tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | None = None

    # -- the chunk protocol ----------------------------------------------------------------------
    def stage(self, keys: Any, pos: Any, values: Mapping[str, Any] | None = None) -> None:
        """The chunk's updates, in event order (replacing any staged before)."""
        k = as_i64(keys)
        if k.size == 0:
            self._staged = None
            return
        vals = {}
        dtypes = self._dtypes
        for name in self.fields:
            v = None if values is None else values.get(name)
            if v is None:
                v = filled(k.size, dtypes[name], self.missing[name])
            else:
                if type(v) is not np.ndarray:
                    v = np.asarray(v)
                if v.dtype != dtypes[name]:
                    self._widen(name, v.dtype)
            vals[name] = v
        self._staged = (k, as_i64(pos), vals)

    def lookup(self, q_key: Any, q_pos: Any, u_key: Any = None, u_pos: Any = None,
               u_vals: Mapping[str, Any] | None = None, *,
               fields: Sequence[str] | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(found, values)`` of each query key as of its position (``values``: one array per field,
        or per name of ``fields`` when given: the others are not gathered)."""
        if u_key is not None:
            self.stage(u_key, u_pos, u_vals)
        names = self.fields if fields is None else tuple(fields)
        q = as_i64(q_key)
        n = q.size
        if n == 0:  # only staging (a stream's chunk often asks nothing of its own updates)
            return np.zeros(0, dtype=bool), {name: np.zeros(0, dtype=self._dtypes[name]) for name in names}
        staged = self._staged
        if n <= self.SMALL and (staged is None or staged[0].size <= self.SMALL):
            return self._lookup_small(q.tolist(), as_i64(q_pos).tolist() if staged is not None else None, names)
        qp = as_i64(q_pos)
        out = {name: filled(n, self._dtypes[name], self.missing[name]) for name in names}
        found = np.zeros(n, dtype=bool)
        if staged is not None:
            j = chunk_hits(staged[0], staged[1], q, qp)
            hit = j >= 0
            if hit.any():
                found |= hit
                jh = j[hit]
                for name in names:
                    out[name][hit] = staged[2][name][jh]
            miss = np.flatnonzero(~hit)
        else:
            miss = np.arange(n)
        if miss.size:
            self._carried_into(q[miss], miss, found, out)
        return found, out

    def commit(self, u_key: Any = None, u_vals: Mapping[str, Any] | None = None) -> None:
        """Fold the staged updates (or the given ones, in event order) into the carried state."""
        if u_key is not None:
            self.stage(u_key, np.zeros(len(u_key), dtype=np.int64), u_vals)
        staged, self._staged = self._staged, None
        if staged is None:
            return
        keys, _, vals = staged
        if keys.size < self.SMALL:
            recent = self._recent
            cols = [vals[name].tolist() for name in self.fields]
            for key, row in zip(keys.tolist(), zip(*cols) if cols else itertools.repeat(())):
                recent.pop(key, None)  # later updates win (and move to the end: the dict keeps commit order)
                recent[key] = row
            if len(recent) >= max(self.FOLD_MIN, self._keys.size >> 3):
                self._fold()
            return
        self._fold()
        last = last_per_key(keys)
        self._merge(keys[last], {name: vals[name][last] for name in self.fields})

    # -- direct access to the carried state ------------------------------------------------------
    def get(self, key: int) -> dict[str, Any] | None:
        """The carried values of one key as a dict of Python values, or ``None``."""
        row = self._get(int(key))
        return None if row is None else dict(zip(self.fields, row))

    def row(self, key: int) -> tuple[Any, ...] | None:
        """The carried values of one key as a tuple in field order, or ``None``."""
        return self._get(int(key))

    def put(self, key: int, **values: Any) -> None:
        """Set one key's carried values (fields left out: missing)."""
        row = tuple(values.get(name, self.missing[name]) for name in self.fields)
        for name, v in zip(self.fields, row):
            if not self._fixed[name] and v is not None:
                self._widen(name, np.asarray([v]).dtype)
        recent = self._recent
        recent.pop(int(key), None)
        recent[int(key)] = row
        if len(recent) >= max(self.FOLD_MIN, self._keys.size >> 3):
            self._fold()

    def contains(self, keys: Any) -> np.ndarray:
        """Whether each key has a carried value."""
        q = as_i64(keys)
        if q.size <= self.SMALL:
            return np.fromiter((self._get(k) is not None for k in q.tolist()), dtype=bool, count=q.size)
        self._fold()
        return self._find(q) >= 0

    def carried(self, keys: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(found, values)`` of each key in the carried state (staged updates are not seen)."""
        q = as_i64(keys)
        out = {name: filled(q.size, self._dtypes[name], self.missing[name]) for name in self.fields}
        found = np.zeros(q.size, dtype=bool)
        self._carried_into(q, np.arange(q.size), found, out)
        return found, out

    def __contains__(self, key: object) -> bool:
        return isinstance(key, (int, np.integer)) and self._get(int(key)) is not None

    def __len__(self) -> int:
        self._fold()
        return int(self._keys.size)

    @property
    def keys(self) -> np.ndarray:
        """Every carried key, sorted (read-only view)."""
        self._fold()
        return self._keys

    def column(self, name: str) -> np.ndarray:
        """One field for every carried key, aligned with :attr:`keys` (the stored array: do not resize)."""
        self._fold()
        return self._cols[name]

    def set_column(self, name: str, rows: np.ndarray, values: Any) -> None:
        """Set field ``name`` at positions ``rows`` of :attr:`keys` (from :meth:`column`/:meth:`find`)."""
        self._fold()
        v = np.asarray(values)
        self._widen(name, v.dtype)
        self._cols[name][rows] = v

    def find(self, keys: Any) -> np.ndarray:
        """The index of each key in :attr:`keys`, ``-1`` where it is not carried."""
        self._fold()
        return self._find(as_i64(keys))

    def forget(self, which: Callable[[np.ndarray], np.ndarray]) -> int:
        """Drop the carried keys for which ``which(keys)`` is true (given every key, sorted); how many.

        For state no look-up can reach any more (keyed by a day that has ended...): without it,
        such state grows with the input."""
        self._fold()
        drop = np.asarray(which(self._keys), dtype=bool)
        if not drop.any():
            return 0
        keep = ~drop
        self._keys = self._keys[keep]
        self._cols = {name: col[keep] for name, col in self._cols.items()}
        return int(drop.sum())

    @property
    def state(self) -> Latest:
        """The carried state, for membership tests (``key in latest.state``; 0.1's dict store)."""
        return self

    # -- saving ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        if self._staged is not None:
            raise StateError("Latest: a chunk's updates are staged but not committed; save between chunks")
        self._fold()
        out: dict[str, Any] = {"keys": self._keys.copy()}
        for name, col in self._cols.items():
            out[f"col.{name}"] = col.tolist() if col.dtype == object else col.copy()
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        want = {"keys", *(f"col.{n}" for n in self.fields)}
        if set(state) != want:
            raise StateError(f"Latest: state entries {sorted(state)} are not {sorted(want)}")
        keys = as_i64(state["keys"])
        if keys.size > 1 and not (np.diff(keys) > 0).all():
            raise StateError("Latest: keys are not sorted and distinct")
        cols = {}
        for name in self.fields:
            v = state[f"col.{name}"]
            if isinstance(v, list):
                col = np.empty(len(v), dtype=object)
                col[:] = v
            else:
                col = np.asarray(v)
            if col.shape != keys.shape:
                raise StateError(f"Latest: field {name!r} has {col.size} values for {keys.size} keys")
            self._dtypes[name] = col.dtype if col.size else self._dtypes[name]
            cols[name] = col if col.size else np.zeros(0, dtype=self._dtypes[name])
        self._keys, self._cols, self._recent, self._staged = keys, cols, {}, None

    # -- internals -------------------------------------------------------------------------------
    def _widen(self, name: str, dtype: np.dtype) -> None:
        if self._fixed[name]:
            return
        old = self._dtypes[name]
        new = common_dtype(old, dtype)
        if new != old:
            self._dtypes[name] = new
            self._cols[name] = self._cols[name].astype(new)

    def _get(self, key: int) -> tuple[Any, ...] | None:
        row = self._recent.get(key)
        if row is not None:
            return row
        keys = self._keys
        if keys.size:
            i = int(keys.searchsorted(key))
            if i < keys.size and keys[i] == key:
                return tuple([c.item(i) for c in self._cols.values()])  # field order; Python values, no numpy scalars
        return None

    def _lookup_small(self, q: list[int], q_pos: list[int] | None,
                      names: tuple[str, ...]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """:meth:`lookup` for a few queries and updates (a stream's chunk), in Python.

        Each query finds its staged update (an index) or its carried row; each field's values are
        then gathered in a list and made an array in one call (no numpy scalar per value)."""
        n = len(q)
        hits = [-1] * n
        staged = self._staged
        if staged is not None and q_pos is not None:
            u_key, u_pos = staged[0].tolist(), staged[1].tolist()
            for s, (key, pos) in enumerate(zip(q, q_pos)):
                best, best_pos = -1, 0
                for j, k in enumerate(u_key):
                    if k == key:
                        p = u_pos[j]
                        if p < pos and (best < 0 or p >= best_pos):
                            best, best_pos = j, p
                hits[s] = best
        # each query's row of values, in field order: its staged update's, its carried one, or the missing row
        if n and max(hits) >= 0:
            u_cols = [staged[2][name].tolist() for name in self.fields]  # type: ignore[index]
            rows = [tuple([c[j] for c in u_cols]) if j >= 0 else self._get(key) for key, j in zip(q, hits)]
        else:
            rows = [self._get(key) for key in q]
        found = np.array([r is not None for r in rows], dtype=bool)
        missing = self.missing
        by_field = list(zip(*[tuple(missing.values()) if r is None else r for r in rows])) if n else [()] * len(self.fields)
        out = {}
        index, dtypes = self.fields.index, self._dtypes
        for name in names:
            dtype = dtypes[name]
            vals = by_field[index(name)]
            out[name] = np.fromiter(vals, dtype=dtype, count=n) if dtype.kind == "O" else np.array(vals, dtype=dtype)
        return found, out

    def _carried_into(self, q: np.ndarray, slots: np.ndarray, found: np.ndarray, out: dict[str, np.ndarray]) -> None:
        if self._recent and q.size >= self.SMALL:
            self._fold()
        if self._keys.size:
            at = self._find(q)
            ok = at >= 0
            if ok.any():
                where = slots[ok]
                found[where] = True
                for name in out:
                    out[name][where] = self._cols[name][at[ok]]
        if self._recent:  # only a few queries get here
            get = self._recent.get
            wanted = [(out[name], self.fields.index(name)) for name in out]
            for slot, key in zip(slots.tolist(), q.tolist()):
                row = get(key)
                if row is not None:
                    found[slot] = True
                    for col, i in wanted:
                        col[slot] = row[i]

    def _find(self, q: np.ndarray) -> np.ndarray:
        keys = self._keys
        if keys.size == 0 or q.size == 0:
            return np.full(q.size, -1, dtype=np.int64)
        i = search(keys, q)
        ic = np.minimum(i, keys.size - 1)
        return np.where(keys[ic] == q, ic, -1)

    def _fold(self) -> None:
        """Move the recent updates into the arrays."""
        recent = self._recent
        if not recent:
            return
        self._recent = {}
        keys = np.fromiter(recent.keys(), dtype=np.int64, count=len(recent))
        order = np.argsort(keys)
        rows = list(recent.values())
        vals = {}
        for i, name in enumerate(self.fields):
            col = np.empty(len(rows), dtype=self._dtypes[name])
            col[:] = [r[i] for r in rows]
            vals[name] = col[order]
        self._merge(keys[order], vals)

    def _merge(self, keys: np.ndarray, vals: dict[str, np.ndarray]) -> None:
        """Set sorted, distinct ``keys`` to ``vals``: held keys in place, new ones inserted."""
        if self._keys.size == 0:
            self._keys = keys.copy()
            self._cols = {name: vals[name].astype(self._dtypes[name], copy=True) for name in self.fields}
            return
        at = self._find(keys)
        held = at >= 0
        new = ~held
        for name in self.fields:
            col = self._cols[name]
            if col.dtype != self._dtypes[name]:
                col = self._cols[name] = col.astype(self._dtypes[name])
            v = vals[name].astype(col.dtype, copy=False)
            col[at[held]] = v[held]
        if new.any():
            where = search(self._keys, keys[new])
            self._keys = np.insert(self._keys, where, keys[new])
            for name in self.fields:
                self._cols[name] = np.insert(self._cols[name], where, vals[name][new].astype(self._cols[name].dtype))
