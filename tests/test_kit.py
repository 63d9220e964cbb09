"""The vectorised building blocks: as-of lookups and carried state agree with a plain reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hrguard.kit import Latest, asof_rows, distinct, first_per_key, haversine_m, last_per_key, pack2, unpack2


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
    """Carried-state lookups give the same answers from the dict of recent updates and from the arrays."""
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


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 60), st.integers(-3, 9), st.sampled_from(["a", "b", None])),
                         max_size=40), max_size=8),
       st.lists(st.integers(0, 65), max_size=60),
       st.integers(1, 12))
def test_latest_matches_a_plain_dict(chunks, queries, array_min):
    """Whatever mix of small commits (the dict of recent updates) and large ones (merged into the
    arrays), the carried state is a plain "last value per key" dict, values and types included."""
    latest = Latest(v=-1, x=np.nan, src=None)
    latest.ARRAY_LOOKUP_MIN = array_min
    ref: dict[int, tuple] = {}
    q = np.array(queries, dtype=np.int64)
    none = (np.zeros(0, np.int64), np.zeros(0, np.int64), {})
    for chunk in chunks:
        found, vals = latest.lookup(q, np.zeros(q.size, np.int64), *none)
        for i, k in enumerate(queries):
            assert bool(found[i]) == (k in ref) == (k in latest.state)
            v, x, src = ref.get(k, (-1, np.nan, None))
            assert (vals["v"][i], vals["src"][i]) == (v, src) and type(vals["src"][i]) is type(src)
            assert vals["x"][i] == x or (np.isnan(x) and np.isnan(vals["x"][i]))
        keys = np.array([c[0] for c in chunk], dtype=np.int64)
        v = np.array([c[1] for c in chunk], dtype=np.int32 if len(chunk) % 2 else np.int64)
        src = np.empty(len(chunk), dtype=object)
        src[:] = [c[2] for c in chunk]
        latest.commit(keys, {"v": v, "x": v / 4, "src": src})
        for k, vi, s in chunk:
            ref[k] = (vi, vi / 4, s)
    assert len(latest) == len(ref)
    for k, (v, x, src) in ref.items():
        got = latest.get(k)
        assert got == {"v": v, "x": x, "src": src} and type(got["v"]) is int


def test_latest_keeps_values_exact_when_their_dtype_changes():
    """Integers then floats in one field: kept as objects, never rounded through float64."""
    latest = Latest(v=-1)
    latest.ARRAY_LOOKUP_MIN = 1
    big = 2**53 + 1
    latest.commit(np.array([1, 2]), {"v": np.array([big, 7], dtype=np.int64)})
    latest.commit(np.array([3]), {"v": np.array([0.5])})
    assert latest.get(1) == {"v": big} and latest.get(3) == {"v": 0.5}
    found, vals = latest.lookup(np.array([1]), np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), {})
    assert found.tolist() == [True] and vals["v"].tolist() == [big]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(-5, 5)), max_size=60), st.integers(-6, 6), st.integers(1, 80))
def test_latest_forget_drops_exactly_the_chosen_keys(updates, day, array_min):
    """Keys packed as (employee, day): forgetting the days before ``day`` leaves the others' values."""
    latest = Latest(v=-1)
    latest.ARRAY_LOOKUP_MIN = array_min
    keys = pack2(np.array([u[0] for u in updates], dtype=np.int64), np.array([u[1] for u in updates], dtype=np.int64))
    latest.commit(keys, {"v": np.arange(len(updates))})
    ref = {int(k): i for i, k in enumerate(keys.tolist())}
    dropped = latest.forget(lambda held: unpack2(held)[1] < day)
    assert dropped == sum(1 for k in ref if unpack2(np.array([k]))[1][0] < day)
    for k, v in ref.items():
        assert latest.get(k) == (None if unpack2(np.array([k]))[1][0] < day else {"v": v})
    assert len(latest) == len(ref) - dropped


def test_unpack2_inverts_pack2():
    a, b = np.array([0, 7, 2**31 - 1]), np.array([-(2**31), 0, 2**31 - 1])
    ua, ub = unpack2(pack2(a, b))
    assert ua.tolist() == a.tolist() and ub.tolist() == b.tolist()


def test_latest_carries_a_key_in_a_few_bytes_a_field():
    """State keyed by what grows with the input (employee-days) must not cost a dict entry and a
    tuple of Python objects a key (~150 bytes): 100k keys of two numeric fields take ~2.4 MB."""
    import tracemalloc

    keys = np.arange(100_000, dtype=np.int64) * 7
    vals = {"lat": np.linspace(0, 1, keys.size), "src_ts": keys * 3}
    tracemalloc.start()
    try:
        latest = Latest(lat=np.nan, src_ts=0)
        for part in np.array_split(np.arange(keys.size), 50):  # chunks, as a scan commits them
            latest.commit(keys[part], {f: v[part] for f, v in vals.items()})
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(latest) == keys.size and latest.get(7 * 99_999) == {"lat": 1.0, "src_ts": 3 * 7 * 99_999}
    assert held < 4_000_000, held


@given(st.lists(st.integers(-3, 3), max_size=30))
def test_first_per_key_and_distinct_match_numpy_unique(keys):
    a = np.array(keys, dtype=np.int64)
    seen: dict[int, int] = {}
    for i, k in enumerate(keys):
        seen.setdefault(k, i)
    assert first_per_key(a).tolist() == sorted(seen.values())
    uniq, inverse = distinct(a)
    assert uniq.tolist() == sorted(seen) and uniq[inverse].tolist() == keys
