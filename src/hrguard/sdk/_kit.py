"""Vectorised building blocks for detectors: distance, as-of lookups, per-key state across chunks.

These are public so plugin authors can write detectors that run over millions of events the same
way the built-in ones do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .state import Column

#: 0.1's name of :class:`hrguard.state.Column`
GrowBuf = Column

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Great-circle distance in metres (haversine, earth radius 6,371,008.8 m), elementwise."""
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    # np.clip(a, 0, 1) as two ufuncs: the same values, without clip's Python-level overhead (a stream's one punch)
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(np.maximum(a, 0.0), 1.0)))


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


def pack2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pack two int arrays (``a`` < 2**31, ``|b|`` < 2**31) into one int64 key."""
    return (_i64(a) << 32) + (_i64(b) + (1 << 31))


def unpack2(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two int arrays :func:`pack2` packed into ``keys``."""
    keys = _i64(keys)
    return keys >> 32, (keys & 0xFFFFFFFF) - (1 << 31)


def rows_pos(chunk: Any, rows: np.ndarray) -> np.ndarray:
    """Positions in the total order of the given frame rows of a chunk."""
    return chunk.frame.base + _i64(rows)


_I64 = np.dtype(np.int64)


def _i64(a: Any) -> np.ndarray:
    """``np.asarray(a, dtype=np.int64)`` without its cost when ``a`` already is such an array (numpy's
    fixed cost per call is most of a stream's one-event chunk)."""
    if type(a) is np.ndarray and a.dtype == _I64:
        return a
    return np.asarray(a, dtype=np.int64)


def pos_after(chunk: Any, ts: np.ndarray) -> np.ndarray:
    """For each instant, a position bound: every event of the chunk with ``ts <=`` it comes before."""
    f = chunk.frame
    cts = f.ts[chunk.idx]
    k = np.searchsorted(cts, np.asarray(ts, dtype=np.int64), side="right")
    end = (int(chunk.idx[-1]) + 1) if chunk.idx.size else 0
    idx_ext = np.append(chunk.idx, end)
    return f.base + idx_ext[k]


def first_per_key(keys: Any) -> np.ndarray:
    """Indices of the first occurrence of each distinct key, in order of appearance.

    One key or none (a stream's event) needs no sort: the fast path for small inputs lives here,
    not in the detectors that call it."""
    keys = np.asarray(keys)
    if keys.size < 2:
        return np.arange(keys.size)
    if keys.dtype.kind not in "iub":  # floats (NaN), objects: np.unique's rules
        _, first = np.unique(keys, return_index=True)
        first.sort()
        return first
    # np.unique(return_index=True) sorts stably, several times slower than numpy's default sort: sort
    # unstably, then take the least index of each run of equal keys
    order = np.argsort(keys)
    s = keys[order]
    new = np.empty(s.size, dtype=bool)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    first = np.minimum.reduceat(order, np.flatnonzero(new))
    first.sort()
    return first


def distinct(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(distinct values, sorted; the index of each value among them)``, as ``np.unique(...,
    return_inverse=True)``; one value or none needs no sort."""
    values = np.asarray(values).reshape(-1)
    if values.size < 2:
        return values.copy(), np.zeros(values.size, dtype=np.int64)
    uniq, inverse = np.unique(values, return_inverse=True)
    return uniq, inverse.reshape(-1)
