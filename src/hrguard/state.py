"""The one state store: what a detector carries from chunk to chunk, and how it saves itself.

A detector sees events chunk by chunk — thousands at a time in a batch scan, one at a time in a
stream — and carries what it learnt in *stores*. There are two shapes of per-key state and one
append-only column, all saveable the same way:

- :class:`Latest`: the latest values of each ``int64`` key, looked up *as of* a position in the one
  order of events (a chunk's own earlier updates first, then the carried state). The store for
  "the customer's registered location", "the request's customer", "the employee's role".
- :class:`Rows`: every row ever added under each key (a multimap), found for many keys at once.
  The store for "the follow-ups of this employee on this day".
- :class:`Column`: an append-only typed column (``GrowBuf`` in 0.1), e.g. a log that a
  :class:`Latest` field points into.

Every store is fast for both kinds of chunk in one code path: the carried state lives in sorted
numpy arrays (a batch chunk costs a few vectorised passes, never Python work per key), and small
commits and look-ups (a stream's one event) go through a dict of recent updates and a pure-Python
path *inside the store*, so a detector never needs a second, scalar copy of its rule.

Saving: :meth:`Store.state_dict` returns plain numpy arrays and JSON values (never pickle), and
:meth:`Store.load_state_dict` restores them. :class:`Stateful` finds the stores of an object the
way ``torch.nn.Module`` finds its parameters — by walking its attributes — plus the plain values it
declares in ``carried``; :class:`hrguard.Detector` is :class:`Stateful`, so every detector, built-in
or plugin, can be checkpointed with no code of its own. :func:`dumps_state` / :func:`loads_state`
turn a state dict into bytes (an ``.npz`` archive with ``allow_pickle=False`` and one JSON member).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import io
import itertools
import json
import types
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from .errors import StateError

__all__ = [
    "Column",
    "Latest",
    "Rows",
    "StateError",
    "Stateful",
    "Store",
    "dumps_state",
    "loads_state",
]

_EMPTY = np.zeros(0, dtype=np.int64)


# ==================================================================================================
# the base classes
# ==================================================================================================
class Store:
    """Base of the stores: :meth:`state_dict` gives named arrays / JSON values, :meth:`load_state_dict` takes them."""

    def state_dict(self) -> dict[str, Any]:  # pragma: no cover - every store overrides it
        raise NotImplementedError

    def load_state_dict(self, state: Mapping[str, Any]) -> None:  # pragma: no cover - every store overrides it
        raise NotImplementedError


class Stateful:
    """An object whose state is found by walking its attributes, as ``torch.nn.Module`` finds its parameters.

    :meth:`state_dict` walks ``vars(self)`` in name order, skipping the names in ``not_state`` (and
    modules, functions, classes, pydantic models — configuration, not state — and the objects given
    as ``shared``, such as the rule context's interner and clock):

    - a :class:`Store` contributes its own compact entries under ``"<attribute>."``;
    - ``None``, bools, ints, floats, strings, numpy arrays and lists, tuples, sets and dicts of them
      are saved as they are (arrays as arrays, the rest as tagged JSON);
    - any other object is walked the same way, under ``"<attribute>."``;
    - an object met twice is saved once; the second place records a reference to the first.

    :meth:`load_state_dict` restores that into a fresh instance (built with the same parameters and
    context), so every detector — built-in or plugin — can be saved without code of its own. An
    attribute that holds something else (a file, a lock, a lambda) is a :class:`StateError` naming
    it: keep such things out of the detector, or override both methods.
    """

    not_state: ClassVar[frozenset[str]] = frozenset()

    def _state_shared(self) -> tuple[object, ...]:
        """Objects the instance holds but does not own (not saved; a fresh instance gets them anew)."""
        return ()

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[int, str] = {id(x): "" for x in self._state_shared()}
        _save_object(self, "", out, seen, self._skip())
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        rest = dict(state)
        _load_object(self, "", rest, {"": self}, self._skip(), {id(x) for x in self._state_shared()})
        if rest:
            raise StateError(f"{type(self).__name__}: unknown state entries {sorted(rest)[:5]}")

    def _skip(self) -> frozenset[str]:
        names: set[str] = set()
        for cls in type(self).__mro__:
            names |= set(cls.__dict__.get("not_state", ()))
        return frozenset(names)


def _is_config(value: Any) -> bool:
    """Values that are configuration or code, never state."""
    if isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType, type,
                          functools.partial, BaseModel, enum.Enum)):
        return True
    return dataclasses.is_dataclass(value) and getattr(type(value), "__dataclass_params__").frozen


def _attrs(obj: Any, skip: frozenset[str]) -> list[tuple[str, Any]]:
    if isinstance(obj, dict):  # a dict holding stores or objects: its string keys are its attributes
        if not all(isinstance(k, str) for k in obj):
            raise StateError("a dict of stores or objects needs string keys")
        items = obj.items()
    elif hasattr(obj, "__dict__"):
        items = vars(obj).items()
    else:
        slots = [n for cls in type(obj).__mro__ for n in getattr(cls, "__slots__", ())]
        items = ((n, getattr(obj, n)) for n in slots if hasattr(obj, n))
    return sorted((n, v) for n, v in items if n not in skip and not _is_config(v))


def _save_object(obj: Any, prefix: str, out: dict[str, Any], seen: dict[int, str], skip: frozenset[str]) -> None:
    for name, value in _attrs(obj, skip):
        path = prefix + name
        if _is_plain(value):
            out[path] = _plain(value, path)
            continue
        ref = seen.get(id(value))
        if ref is not None:
            if ref == "":
                continue  # shared with the context: a fresh instance has it already
            out[path] = {"__ref__": ref}
            continue
        seen[id(value)] = path
        if isinstance(value, Store):
            for k, v in value.state_dict().items():
                out[f"{path}.{k}"] = v
        elif isinstance(value, dict) or (hasattr(value, "__dict__") or hasattr(type(value), "__slots__")) and not isinstance(
                value, (list, tuple, set, frozenset)):
            _save_object(value, path + ".", out, seen, frozenset())
        else:
            raise StateError(f"{path}: cannot save a {type(value).__name__} (keep it out of the detector's "
                             "attributes, or override state_dict/load_state_dict)")


def _load_object(obj: Any, prefix: str, rest: dict[str, Any], objects: dict[str, Any], skip: frozenset[str],
                 shared: set[int]) -> None:
    fresh = dict(_attrs(obj, skip))
    names = set(fresh)
    # plain attributes the saved instance had but a fresh one lacks (set after __init__)
    for key in list(rest):
        if key.startswith(prefix):
            head = key[len(prefix):].split(".", 1)[0]
            if "." not in key[len(prefix):] or isinstance(rest[key], dict) and "__ref__" in rest[key]:
                names.add(head)
    for name in sorted(names):
        path = prefix + name
        value = fresh.get(name)
        if path in rest:
            saved = rest.pop(path)
            if isinstance(saved, dict) and "__ref__" in saved:
                target = objects.get(saved["__ref__"])
                if target is None:
                    raise StateError(f"{path}: refers to {saved['__ref__']!r}, which the state does not hold")
                _set(obj, name, target)
            else:
                new = _unplain(saved)
                if not _same_plain(new, value):
                    _set(obj, name, new)
            continue
        if value is None or id(value) in shared:
            if any(k.startswith(path + ".") for k in rest):
                raise StateError(f"{path}: the state holds an object here, but a fresh instance has "
                                 f"{type(value).__name__}: override state_dict/load_state_dict to rebuild it")
            continue
        objects[path] = value
        if isinstance(value, Store):
            mine = {k[len(path) + 1:]: rest.pop(k) for k in [k for k in rest if k.startswith(path + ".")]}
            value.load_state_dict(mine)
        elif not _is_plain(value):
            _load_object(value, path + ".", rest, objects, frozenset(), shared)


def _set(obj: Any, name: str, value: Any) -> None:
    if isinstance(obj, dict):
        obj[name] = value
    else:
        setattr(obj, name, value)


def _same_plain(a: Any, b: Any) -> bool:
    try:
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                    and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")))
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001 - values that do not compare are not the same
        return False


# ==================================================================================================
# helpers shared by the stores
# ==================================================================================================
def _field_spec(spec: Any) -> tuple[np.dtype, Any, bool]:
    """``(dtype, missing value, dtype fixed?)`` from a field's spec: ``(dtype, missing)`` or a missing value.

    A bare missing value gives the dtype it implies (``None``/str: ``object``, float: ``float64``,
    bool: ``bool``, int: ``int64``); the store may then widen it to hold every value committed
    (an integer field given floats becomes ``object``, never a rounded float)."""
    if isinstance(spec, tuple) and len(spec) == 2 and not isinstance(spec[0], (int, float)):
        return np.dtype(spec[0]), spec[1], True
    if spec is None or isinstance(spec, str):
        return np.dtype(object), spec, False
    if isinstance(spec, bool):
        return np.dtype(bool), spec, False
    if isinstance(spec, float):
        return np.dtype(np.float64), spec, False
    if isinstance(spec, (int, np.integer)):
        return np.dtype(np.int64), int(spec), False
    return np.dtype(object), spec, False


def _common_dtype(a: np.dtype, b: np.dtype) -> np.dtype:
    """A dtype holding exactly every value of ``a`` and ``b``: the wider of two integer or two float
    dtypes, else ``object`` (an integer column never becomes a rounded float)."""
    if a == b:
        return a
    for kinds in ("iu", "f", "b"):
        if a.kind in kinds and b.kind in kinds:
            c = np.promote_types(a, b)
            if c.kind in kinds:
                return c
    return np.dtype(object)


def _filled(n: int, dtype: np.dtype, value: Any) -> np.ndarray:
    out = np.empty(n, dtype=dtype)  # np.full without its Python layer: stores call this per field and chunk
    out.fill(value)
    return out


def last_per_key(keys: np.ndarray) -> np.ndarray:
    """Indices of the last occurrence of each distinct key, ordered by key."""
    keys = np.asarray(keys)
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    if keys.size == 1:
        return np.zeros(1, dtype=np.int64)
    rev = keys[::-1]
    _, first_in_rev = np.unique(rev, return_index=True)
    return keys.size - 1 - first_in_rev


def _chunk_hits(u_key: np.ndarray, u_pos: np.ndarray, q: np.ndarray, q_pos: np.ndarray) -> np.ndarray:
    """For each query, the update it sees (same key, the latest position before the query's), or ``-1``.

    Updates and queries are sorted together by (key, position), a query before an update at its own
    position (it sees only earlier ones); a running maximum then carries each update forward to the
    queries after it, and a query keeps it if the key is its own. One sort, no binary search per
    query (those were most of a large chunk's look-up time, missing the cache on random keys)."""
    nu, nq = u_key.size, q.size
    out = np.full(nq, -1, dtype=np.int64)
    if nu == 0 or nq == 0:
        return out
    key = np.concatenate([u_key, q])
    pos2 = np.concatenate([u_pos, q_pos]) * 2
    pos2[nu:] -= 1
    order = np.lexsort((pos2, key))  # stable: equal updates keep their order, the later one wins
    is_u = order < nu
    last = np.maximum.accumulate(np.where(is_u, np.arange(order.size), -1))
    qi = np.flatnonzero(~is_u)
    lu = last[qi]
    seen = lu >= 0
    qi, lu = qi[seen], lu[seen]
    own = key[order[lu]] == key[order[qi]]
    out[order[qi[own]] - nu] = order[lu[own]]
    return out


def _as_i64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.int64).reshape(-1)


# ==================================================================================================
# Latest: the latest values per key, as of a position
# ==================================================================================================
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
    u_pos, u_vals)``, ``commit(u_key, u_vals)`` — as 0.1's ``hrguard.kit.Latest`` did.)

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
        specs = {name: _field_spec(spec) for name, spec in fields.items()}
        self.fields: tuple[str, ...] = tuple(fields)
        self.missing: dict[str, Any] = {name: s[1] for name, s in specs.items()}
        self._dtypes: dict[str, np.dtype] = {name: s[0] for name, s in specs.items()}
        self._fixed = {name: s[2] for name, s in specs.items()}
        self._keys = _EMPTY
        self._cols: dict[str, np.ndarray] = {name: np.zeros(0, dtype=d) for name, d in self._dtypes.items()}
        self._recent: dict[int, tuple[Any, ...]] = {}
        self._staged: tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | None = None

    # -- the chunk protocol ----------------------------------------------------------------------
    def stage(self, keys: Any, pos: Any, values: Mapping[str, Any] | None = None) -> None:
        """The chunk's updates, in event order (replacing any staged before)."""
        k = _as_i64(keys)
        if k.size == 0:
            self._staged = None
            return
        vals = {}
        dtypes = self._dtypes
        for name in self.fields:
            v = None if values is None else values.get(name)
            if v is None:
                v = _filled(k.size, dtypes[name], self.missing[name])
            else:
                v = np.asarray(v)
                if v.dtype != dtypes[name]:
                    self._widen(name, v.dtype)
            vals[name] = v
        self._staged = (k, _as_i64(pos), vals)

    def lookup(self, q_key: Any, q_pos: Any, u_key: Any = None, u_pos: Any = None,
               u_vals: Mapping[str, Any] | None = None, *,
               fields: Sequence[str] | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(found, values)`` of each query key as of its position (``values``: one array per field,
        or per name of ``fields`` when given: the others are not gathered)."""
        if u_key is not None:
            self.stage(u_key, u_pos, u_vals)
        names = self.fields if fields is None else tuple(fields)
        q = _as_i64(q_key)
        n = q.size
        if n == 0:  # only staging (a stream's chunk often asks nothing of its own updates)
            return np.zeros(0, dtype=bool), {name: np.zeros(0, dtype=self._dtypes[name]) for name in names}
        staged = self._staged
        if n <= self.SMALL and (staged is None or staged[0].size <= self.SMALL):
            return self._lookup_small(q.tolist(), _as_i64(q_pos).tolist() if staged is not None else None, names)
        qp = _as_i64(q_pos)
        out = {name: _filled(n, self._dtypes[name], self.missing[name]) for name in names}
        found = np.zeros(n, dtype=bool)
        if staged is not None:
            j = _chunk_hits(staged[0], staged[1], q, qp)
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
        q = _as_i64(keys)
        if q.size <= self.SMALL:
            return np.fromiter((self._get(k) is not None for k in q.tolist()), dtype=bool, count=q.size)
        self._fold()
        return self._find(q) >= 0

    def carried(self, keys: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(found, values)`` of each key in the carried state (staged updates are not seen)."""
        q = _as_i64(keys)
        out = {name: _filled(q.size, self._dtypes[name], self.missing[name]) for name in self.fields}
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
        return self._find(_as_i64(keys))

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
        keys = _as_i64(state["keys"])
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
        new = _common_dtype(old, dtype)
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
        i = np.searchsorted(keys, q)
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
            where = np.searchsorted(self._keys, keys[new])
            self._keys = np.insert(self._keys, where, keys[new])
            for name in self.fields:
                self._cols[name] = np.insert(self._cols[name], where, vals[name][new].astype(self._cols[name].dtype))


# ==================================================================================================
# Rows: every row added under each key
# ==================================================================================================
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
        keys = _as_i64(keys)
        n = keys.size
        if n == 0:
            return
        if n < self.SMALL:
            values = []
            for name, t in self.dtypes.items():
                v = np.asarray(cols[name], dtype=t)
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
        q_keys = _as_i64(q_keys)
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
                lo = np.searchsorted(keys, q_keys, side="left")
                cnt = np.searchsorted(keys, q_keys, side="right") - lo
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

    def state_dict(self) -> dict[str, Any]:
        self._fold()
        out: dict[str, Any] = {"runs": [int(k.size) for k, _ in self.runs]}
        out["keys"] = np.concatenate([k for k, _ in self.runs]) if self.runs else _EMPTY.copy()
        for n, t in self.dtypes.items():
            col = np.concatenate([c[n] for _, c in self.runs]) if self.runs else np.zeros(0, t)
            out[f"col.{n}"] = col.tolist() if t == object else col
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        want = {"runs", "keys", *(f"col.{n}" for n in self.dtypes)}
        if set(state) != want:
            raise StateError(f"Rows: state entries {sorted(state)} are not {sorted(want)}")
        sizes = [int(s) for s in state["runs"]]
        keys = _as_i64(state["keys"])
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


# ==================================================================================================
# Column: an append-only typed column
# ==================================================================================================
class Column(Store):
    """An append-only numpy column with amortised O(1) appends (capacity doubles)."""

    def __init__(self, dtype: Any, fill: Any = 0):
        self._a = np.full(16, fill, dtype=dtype)
        self._fill = fill
        self.n = 0

    def extend(self, values: Any) -> None:
        values = np.asarray(values, dtype=self._a.dtype).reshape(-1)
        need = self.n + values.size
        if need > self._a.size:
            cap = max(need, 2 * self._a.size)
            grown = np.full(cap, self._fill, dtype=self._a.dtype)
            grown[: self.n] = self._a[: self.n]
            self._a = grown
        self._a[self.n : need] = values
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


# ==================================================================================================
# plain values and bytes
# ==================================================================================================
_SCALARS = (type(None), bool, int, float, str, np.generic)


def _is_plain(value: Any) -> bool:
    if isinstance(value, (_SCALARS, np.ndarray)):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_is_plain(k) and _is_plain(v) for k, v in value.items())
    return False


def _plain(value: Any, where: str) -> Any:
    """A declared value as arrays and JSON-able values (sets, tuples and non-str-keyed dicts tagged)."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            out = np.empty(value.shape, dtype=object)
            out[...] = value
            return out
        return value.copy()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return {"__float__": repr(value)}
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (set, frozenset)):
        return {"__set__": sorted((_plain(v, where) for v in value), key=repr)}
    if isinstance(value, tuple):
        return {"__tuple__": [_plain(v, where) for v in value]}
    if isinstance(value, list):
        return [_plain(v, where) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[_plain(k, where), _plain(v, where)] for k, v in value.items()]}
    raise StateError(f"{where}: a carried value must be plain data or a numpy array, not {type(value).__name__}")


def _unplain(value: Any) -> Any:
    if isinstance(value, dict):
        if "__set__" in value:
            return {_unplain(v) for v in value["__set__"]}
        if "__tuple__" in value:
            return tuple(_unplain(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {_unplain(k): _unplain(v) for k, v in value["__dict__"]}
        if "__float__" in value:
            return float(value["__float__"])
        if "__objects__" in value:
            out = np.empty(len(value["__objects__"]), dtype=object)
            out[:] = [_unplain(v) for v in value["__objects__"]]
            return out
    if isinstance(value, list):
        return [_unplain(v) for v in value]
    return value


def dumps_state(state: Mapping[str, Any]) -> bytes:
    """A state dict as bytes: an ``.npz`` archive of its arrays (wherever they are nested) plus one JSON
    member for the rest. Nothing is pickled."""
    arrays: dict[str, np.ndarray] = {}

    def out(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            if v.dtype == object:
                return {"__objects__": [out(x) for x in v.tolist()]}
            name = f"a{len(arrays)}"
            arrays[name] = v
            return {"__array__": name}
        if isinstance(v, dict):
            return {k: out(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [out(x) for x in v]
        if isinstance(v, float) and not np.isfinite(v):
            return {"__float__": repr(v)}
        return v

    rest = {k: out(v) for k, v in state.items()}
    buf = io.BytesIO()
    np.savez(buf, **arrays, __json__=np.frombuffer(json.dumps(rest, allow_nan=False).encode(), dtype=np.uint8))
    return buf.getvalue()


def loads_state(data: bytes) -> dict[str, Any]:
    """The state dict :func:`dumps_state` wrote (arrays are never unpickled)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            rest = json.loads(bytes(z["__json__"]).decode())

            def back(v: Any) -> Any:
                if isinstance(v, dict):
                    if set(v) == {"__array__"}:
                        return z[v["__array__"]]
                    if set(v) == {"__float__"}:
                        return float(v["__float__"])
                    return {k: back(x) for k, x in v.items()}
                if isinstance(v, list):
                    return [back(x) for x in v]
                return v

            return {k: back(v) for k, v in rest.items()}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise StateError(f"not a saved hrguard state: {exc}") from exc
