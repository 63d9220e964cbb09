"""The array-backed per-key stores of the built-in detectors give what ``kit.Latest`` gives.

``DenseLatest`` (keys are interner codes) and ``SortedLatest`` (any int64 key, with a dict for a
stream's small commits) are checked against :class:`hrguard.kit.Latest`, the dict-based reference,
on random runs of chunks: updates and queries interleaved by position, chunks of one event and of
many, so every path (as-of within the chunk, carried state, the dict of recent keys, its flush) runs.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hrguard.detectors._state import DenseLatest, SortedLatest
from hrguard.kit import Latest, pack2

# a chunk: events in position order, each an update (key, value) or a query (key)
_event = st.tuples(st.booleans(), st.integers(0, 12), st.integers(-5, 5))
_chunks = st.lists(st.lists(_event, min_size=0, max_size=40), min_size=1, max_size=12)


def _split(chunk, start):
    pos = np.arange(start, start + len(chunk), dtype=np.int64)
    is_update = np.array([e[0] for e in chunk], dtype=bool)
    keys = np.array([e[1] for e in chunk], dtype=np.int64)
    vals = np.array([e[2] for e in chunk], dtype=np.int64)
    ids = np.array([f"e{p}" for p in pos.tolist()], dtype=object)
    u = (keys[is_update], pos[is_update], {"v": vals[is_update], "src": ids[is_update]})
    q = (keys[~is_update], pos[~is_update])
    return u, q


def _run(store, chunks, key_of=lambda k: k):
    out, start = [], 0
    for chunk in chunks:
        (uk, up, uv), (qk, qp) = _split(chunk, start)
        start += len(chunk)
        found, vals = store.lookup(key_of(qk), qp, key_of(uk), up, uv)
        out.append((found.tolist(), vals["v"].tolist(), vals["src"].tolist()))
        store.commit(key_of(uk), uv)
    return out


@settings(max_examples=150, deadline=None)
@given(_chunks)
def test_dense_latest_is_latest(chunks):
    want = _run(Latest(v=-1, src=None), chunks)
    assert _run(DenseLatest(v=-1, src=None), chunks) == want


@settings(max_examples=150, deadline=None)
@given(_chunks, st.integers(1, 6), st.integers(1, 8))
def test_sorted_latest_is_latest(chunks, small, flush):
    store = SortedLatest(v=-1, src=None)
    store.SMALL, store.FLUSH, store.FEW = small, flush, small  # every path at these sizes
    key_of = lambda k: pack2(k, -k)  # noqa: E731 (sparse keys, as detectors use them)
    assert _run(store, chunks, key_of) == _run(Latest(v=-1, src=None), chunks, key_of)


def test_sorted_latest_get_put_contains():
    store = SortedLatest(v=-1, src=None)
    store.commit(np.array([5, 1, 5] * 30), {"v": np.arange(90), "src": np.array(["x"] * 90, dtype=object)})
    store.put(3, (7, "y"))
    assert store.get(5) == (89, "x") and store.get(3) == (7, "y") and store.get(4) is None
    assert store.contains(np.array([1, 2, 3, 5])).tolist() == [True, False, True, True]
    assert len(store) == 3 and not store.recent  # len merges the recent keys


def test_dense_latest_has_only_committed_codes():
    store = DenseLatest()
    store.commit(np.array([3, 200]), {})
    assert store.has(np.array([-1, 0, 3, 200, 10_000])).tolist() == [False, False, True, True, False]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 60)), max_size=30, unique_by=lambda e: e[1]),
       st.lists(st.tuples(st.integers(0, 6), st.integers(0, 61)), max_size=30))
def test_chunk_hits_is_asof_rows_in_any_update_order(updates, queries):
    from hrguard.detectors._state import _chunk_hits
    from hrguard.kit import asof_rows

    u_key = np.array([k for k, _ in updates], dtype=np.int64)
    u_pos = np.array([p for _, p in updates], dtype=np.int64)
    q_key = np.array([k for k, _ in queries], dtype=np.int64)
    q_pos = np.array([p for _, p in queries], dtype=np.int64)
    assert _chunk_hits(u_key, u_pos, q_key, q_pos).tolist() == asof_rows(u_key, u_pos, q_key, q_pos).tolist()
