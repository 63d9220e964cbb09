"""The vectorised building blocks: as-of lookups and carried state agree with a plain reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hrguard.kit import Latest, asof_rows, haversine_m, last_per_key


def test_haversine_known_distance():
    # one degree of latitude on the spec's sphere: 6,371,008.8 m * pi / 180
    assert abs(float(haversine_m(0, 0, 1, 0)) - 6_371_008.8 * np.pi / 180) < 1e-6


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 40)), max_size=30),
       st.lists(st.tuples(st.integers(0, 5), st.integers(0, 40)), max_size=30))
def test_asof_rows_matches_a_plain_scan(updates, queries):
    uk = np.array([u[0] for u in updates], dtype=np.int64)
    up = np.array([u[1] for u in updates], dtype=np.int64)
    qk = np.array([q[0] for q in queries], dtype=np.int64)
    qp = np.array([q[1] for q in queries], dtype=np.int64)
    got = asof_rows(uk, up, qk, qp)
    for i, (k, p) in enumerate(queries):
        best = -1
        for j, (k2, p2) in enumerate(updates):
            if k2 == k and p2 < p and (best < 0 or p2 > updates[best][1] or (p2 == updates[best][1] and j > best)):
                best = j
        if best < 0:
            assert got[i] == -1
        else:
            assert updates[got[i]][1] == updates[best][1] and updates[got[i]][0] == k


def test_last_per_key():
    assert sorted(last_per_key(np.array([3, 1, 3, 2, 1])).tolist()) == [2, 3, 4]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 9)), max_size=80), max_size=5),
       st.lists(st.integers(0, 310), min_size=0, max_size=200))
def test_latest_sorted_snapshot_equals_dict_lookups(chunks, queries):
    """Carried-state lookups give the same answers by dict and by the sorted numpy snapshot."""
    a, b = Latest(v=-1), Latest(v=-1)
    b.ARRAY_LOOKUP_MIN = 0  # always the snapshot path
    a.ARRAY_LOOKUP_MIN = 10**9  # always the dict path
    for chunk in chunks:
        keys = np.array([c[0] for c in chunk], dtype=np.int64)
        vals = {"v": np.array([c[1] for c in chunk], dtype=np.int64)}
        q = np.array(queries, dtype=np.int64)
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), {"v": np.zeros(0, np.int64)})
        fa, va = a.lookup(q, np.zeros(q.size, np.int64), *empty)
        fb, vb = b.lookup(q, np.zeros(q.size, np.int64), *empty)
        assert fa.tolist() == fb.tolist() and va["v"].tolist() == vb["v"].tolist()
        a.commit(keys, vals)
        b.commit(keys, vals)
