"""Numpy helpers the stores share: field specs and dtypes, the last update per key, the as-of search."""

from __future__ import annotations

from typing import Any

import numpy as np

EMPTY = np.zeros(0, dtype=np.int64)


def field_spec(spec: Any) -> tuple[np.dtype, Any, bool]:
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


def common_dtype(a: np.dtype, b: np.dtype) -> np.dtype:
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


def filled(n: int, dtype: np.dtype, value: Any) -> np.ndarray:
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
    if keys.dtype.kind not in "iub":  # floats (NaN), objects: np.unique's rules
        _, first_in_rev = np.unique(keys[::-1], return_index=True)
        return keys.size - 1 - first_in_rev
    order, starts = key_groups(keys)
    return np.maximum.reduceat(order, starts)


def key_groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(order, starts)``: an order that sorts the integer ``keys`` (not stable) and where each run of
    equal keys begins in it. With ``np.minimum``/``np.maximum.reduceat(order, starts)`` it gives the
    first/last index of each key, ordered by key: what ``np.unique(..., return_index=True)`` gives,
    without the stable sort it needs (several times slower than numpy's default sort)."""
    order = np.argsort(keys)
    s = keys[order]
    new = np.empty(s.size, dtype=bool)
    new[:1] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    return order, np.flatnonzero(new)


def search(keys: np.ndarray, q: np.ndarray, side: str = "left") -> np.ndarray:
    """``np.searchsorted(keys, q, side)``, the queries searched in sorted order when there are many.

    numpy starts each binary search where the previous one ended when the queries ascend: on a
    large ``keys`` that saves most of the cache misses of random queries (3x faster for 65,536
    queries into a million keys, sort included)."""
    if q.size < 256 or keys.size < 4096 or not (q[1:] < q[:-1]).any():  # few, or ascending already
        return np.searchsorted(keys, q, side=side)  # type: ignore[call-overload]
    order = np.argsort(q)
    out = np.empty(q.size, dtype=np.intp)
    out[order] = np.searchsorted(keys, q[order], side=side)  # type: ignore[call-overload]
    return out


def chunk_hits(u_key: np.ndarray, u_pos: np.ndarray, q: np.ndarray, q_pos: np.ndarray) -> np.ndarray:
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


_I64 = np.dtype(np.int64)


def as_i64(a: Any) -> np.ndarray:
    """``a`` as a 1-d ``int64`` array: ``a`` itself when it is one (the common case costs no numpy call)."""
    if type(a) is np.ndarray and a.dtype == _I64 and a.ndim == 1:
        return a
    return np.asarray(a, dtype=np.int64).reshape(-1)
