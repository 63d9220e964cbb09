"""The one per-key store, :class:`hrguard.state.Latest`, against a plain-Python reference.

Random runs of chunks — updates and queries interleaved by position, chunks of one event and of
many — at several sizes of the store's few-key path and of its fold, so every path (as-of within
the chunk, carried state, the dict of recent keys, its fold into the arrays) runs.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hrguard.kit import asof_rows, pack2
from hrguard.state import Latest

# a chunk: events in position order, each an update (key, value) or a query (key)
_event = st.tuples(st.booleans(), st.integers(0, 12), st.integers(-5, 5))
_chunks = st.lists(st.lists(_event, min_size=0, max_size=40), min_size=1, max_size=12)


def _reference(chunks, key_of):
    state: dict[int, tuple[int, str]] = {}
    out, start = [], 0
    for chunk in chunks:
        found, vs, srcs = [], [], []
        for i, (is_update, k, v) in enumerate(chunk):
            key = int(key_of(np.array([k]))[0])
            if is_update:
                state[key] = (v, f"e{start + i}")
            else:
                hit = state.get(key)
                found.append(hit is not None)
                vs.append(hit[0] if hit else -1)
                srcs.append(hit[1] if hit else None)
        out.append((found, vs, srcs))
        start += len(chunk)
    return out


def _run(store, chunks, key_of):
    out, start = [], 0
    for chunk in chunks:
        pos = np.arange(start, start + len(chunk), dtype=np.int64)
        upd = np.array([e[0] for e in chunk], dtype=bool)
        keys = key_of(np.array([e[1] for e in chunk], dtype=np.int64))
        vals = np.array([e[2] for e in chunk], dtype=np.int64)
        ids = np.array([f"e{p}" for p in pos.tolist()], dtype=object)
        store.stage(keys[upd], pos[upd], {"v": vals[upd], "src": ids[upd]})
        found, got = store.lookup(keys[~upd], pos[~upd])
        out.append((found.tolist(), got["v"].tolist(), got["src"].tolist()))
        store.commit()
        start += len(chunk)
    return out


@settings(max_examples=150, deadline=None)
@given(_chunks, st.integers(1, 20), st.integers(1, 8), st.booleans())
def test_latest_is_the_reference_at_every_path_size(chunks, small, fold, sparse):
    key_of = (lambda k: pack2(k, -k)) if sparse else (lambda k: k)
    store = Latest(v=-1, src=None)
    store.SMALL, store.FOLD_MIN = small, fold  # every path at these sizes
    assert _run(store, chunks, key_of) == _reference(chunks, key_of)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 60)), max_size=30, unique_by=lambda e: e[1]),
       st.lists(st.tuples(st.integers(0, 6), st.integers(0, 61)), max_size=30))
def test_staged_lookups_are_asof_rows_in_any_update_order(updates, queries):
    """Updates given out of position order: the store still sees, per query, the latest earlier one."""
    u_key = np.array([k for k, _ in updates], dtype=np.int64)
    u_pos = np.array([p for _, p in updates], dtype=np.int64)
    q_key = np.array([k for k, _ in queries], dtype=np.int64)
    q_pos = np.array([p for _, p in queries], dtype=np.int64)
    rows = asof_rows(u_key, u_pos, q_key, q_pos)
    store = Latest(row=-1)
    store.SMALL = 0  # the vectorised path
    found, got = store.lookup(q_key, q_pos, u_key, u_pos, {"row": np.arange(u_key.size)})
    assert got["row"].tolist() == rows.tolist() and found.tolist() == (rows >= 0).tolist()
