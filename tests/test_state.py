"""The one state store (hrguard.state): as-of look-ups, the few-key path, saving and restoring."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hrguard.state import Column, Latest, Rows, StateError, Stateful, dumps_state, loads_state


def _reference(history: list[tuple[int, int, float]], q_key: int, q_pos: int) -> float | None:
    """The latest value of ``q_key`` strictly before ``q_pos`` (history in position order)."""
    best = None
    for k, p, v in history:
        if k == q_key and p < q_pos:
            best = v
    return best


# chunks of updates (key, value), each followed by queries (key, offset into the chunk)
_chunks = st.lists(
    st.tuples(st.lists(st.tuples(st.integers(0, 6), st.floats(-5, 5, allow_nan=False)), max_size=40),
              st.lists(st.tuples(st.integers(0, 7), st.integers(0, 41)), max_size=40)),
    min_size=1, max_size=8,
)


@settings(max_examples=120, deadline=None)
@given(_chunks, st.booleans())
def test_lookup_sees_the_latest_update_before_each_position_whatever_the_chunk_sizes(chunks, save_between):
    store = Latest(v=np.nan)
    history: list[tuple[int, int, float]] = []
    pos = 0
    for updates, queries in chunks:
        keys = np.array([k for k, _ in updates], dtype=np.int64)
        positions = np.arange(pos, pos + len(updates), dtype=np.int64)
        store.stage(keys, positions, {"v": np.array([v for _, v in updates], dtype=np.float64)})
        q_key = np.array([k for k, _ in queries], dtype=np.int64)
        q_pos = np.array([pos + o for _, o in queries], dtype=np.int64)
        found, vals = store.lookup(q_key, q_pos)
        chunk_history = history + [(k, int(p), v) for (k, v), p in zip(updates, positions)]
        for i, (k, p) in enumerate(zip(q_key.tolist(), q_pos.tolist())):
            want = _reference(chunk_history, k, p)
            assert found[i] == (want is not None)
            if want is not None:
                assert vals["v"][i] == want
        store.commit()
        history = chunk_history
        pos += len(updates) + 1
        if save_between:
            fresh = Latest(v=np.nan)
            fresh.load_state_dict(loads_state(dumps_state(store.state_dict())))
            store = fresh
    for k in range(8):
        want = _reference(history, k, pos + 10)
        assert store.get(k) == (None if want is None else {"v": want})


def test_small_and_large_commits_give_the_same_carried_state():
    small, large = Latest(owner=-1, src=None), Latest(owner=-1, src=None)
    keys = np.arange(600, dtype=np.int64) % 250
    owners = np.arange(600, dtype=np.int64)
    srcs = np.array([f"e{i}" for i in range(600)], dtype=object)
    for i in range(600):  # one update a commit: the dict of recent updates, folded now and then
        small.commit(keys[i:i + 1], {"owner": owners[i:i + 1], "src": srcs[i:i + 1]})
    large.commit(keys, {"owner": owners, "src": srcs})
    assert len(small) == len(large) == 250
    assert small.state_dict()["keys"].tolist() == large.state_dict()["keys"].tolist()
    assert small.state_dict()["col.src"] == large.state_dict()["col.src"]
    found, vals = small.carried(np.array([0, 249, 999]))
    assert found.tolist() == [True, True, False]
    assert vals["owner"].tolist() == [500, 499, -1]
    assert small.row(3) == (503, "e503") and small.get(3) == {"owner": 503, "src": "e503"}


# chunks of updates (key, int, float or nan, id or None), each with queries (key, offset) and the fields asked
_rows = st.lists(st.tuples(st.integers(0, 5), st.integers(-3, 3), st.sampled_from([1.5, -2.0, np.nan]),
                           st.sampled_from(["a", "b", None])), max_size=20)
_field_sets = st.sampled_from([None, ("n",), ("src", "x"), ("x", "n", "src")])


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(_rows, st.lists(st.tuples(st.integers(0, 6), st.integers(0, 21)), max_size=20), _field_sets),
                min_size=1, max_size=6))
def test_the_few_key_path_gives_what_the_array_path_gives_for_every_field_and_field_subset(chunks):
    few, many = Latest(n=-1, x=np.nan, src=None), Latest(n=-1, x=np.nan, src=None)
    many.SMALL = 0  # every look-up and commit through the arrays
    pos = 0
    for updates, queries, fields in chunks:
        keys = np.array([u[0] for u in updates], dtype=np.int64)
        positions = np.arange(pos, pos + len(updates), dtype=np.int64)
        vals = {"n": np.array([u[1] for u in updates], dtype=np.int64),
                "x": np.array([u[2] for u in updates], dtype=np.float64),
                "src": np.array([u[3] for u in updates], dtype=object)}
        q_key = np.array([k for k, _ in queries], dtype=np.int64)
        q_pos = np.array([pos + o for _, o in queries], dtype=np.int64)
        got = [s.lookup(q_key, q_pos, keys, positions, vals, fields=fields) for s in (few, many)]
        assert got[0][0].tolist() == got[1][0].tolist()
        assert list(got[0][1]) == list(got[1][1]) == list(fields or ("n", "x", "src"))
        for name in got[0][1]:
            a, b = got[0][1][name], got[1][1][name]
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
        few.commit()
        many.commit()
        pos += len(updates) + 1
    for k in range(7):
        a, b = few.row(k), many.row(k)
        assert (a is None) == (b is None)
        assert a is None or [str(v) for v in a] == [str(v) for v in b]  # nan as 'nan'



@given(st.lists(st.lists(st.integers(0, 40), max_size=30), max_size=8))
def test_a_store_without_fields_is_a_set_on_both_paths(chunks):
    few, many, want = Latest(), Latest(), set()
    many.SMALL = 0
    for keys in chunks:
        for store in (few, many):
            store.commit(np.array(keys, dtype=np.int64))
        want |= set(keys)
        probe = np.arange(42)
        assert few.contains(probe).tolist() == many.contains(probe).tolist() == [k in want for k in range(42)]
    assert few.keys.tolist() == many.keys.tolist() == sorted(want)


def test_put_contains_forget_and_columns():
    s = Latest(n=0)
    s.put(5, n=1)
    s.put(9, n=2)
    assert 5 in s and 7 not in s
    assert s.contains(np.array([5, 7, 9])).tolist() == [True, False, True]
    assert s.keys.tolist() == [5, 9] and s.column("n").tolist() == [1, 2]
    s.set_column("n", s.find(np.array([9])), [7])
    assert s.get(9) == {"n": 7}
    assert s.forget(lambda k: k > 6) == 1 and len(s) == 1


def test_an_integer_field_given_floats_becomes_objects_not_rounded_floats():
    s = Latest(x=-1)
    s.commit(np.array([1]), {"x": np.array([2.5])})
    assert s.get(1) == {"x": 2.5}


def test_saving_with_staged_updates_is_refused():
    s = Latest(x=0)
    s.stage(np.array([1]), np.array([0]), {"x": np.array([1])})
    with pytest.raises(StateError, match="staged"):
        s.state_dict()


def test_rows_find_every_row_of_each_key_in_insertion_order_and_survive_saving():
    r = Rows(v=np.int64)
    for start in range(0, 100, 7):
        ks = np.arange(start, min(start + 7, 100)) % 5
        r.add(ks, {"v": np.arange(start, min(start + 7, 100))})
    fresh = Rows(v=np.int64)
    fresh.load_state_dict(loads_state(dumps_state(r.state_dict())))
    for store in (r, fresh):
        qi, cols = store.find(np.array([3, 9, 0]))
        assert sorted(cols["v"][qi == 0].tolist()) == list(range(3, 100, 5))
        assert (qi == 1).sum() == 0
        assert store.find_one(0)["v"].tolist() == list(range(0, 100, 5))


# adds of rows (key, value), each followed by look-ups of some keys
_adds = st.lists(st.tuples(st.lists(st.tuples(st.integers(0, 9), st.integers(-50, 50)), max_size=40),
                           st.lists(st.integers(0, 10), max_size=20)), min_size=1, max_size=12)


@settings(max_examples=120, deadline=None)
@given(_adds, st.integers(1, 8), st.integers(1, 12), st.booleans())
def test_rows_few_and_many_adds_and_lookups_agree_with_a_dict_of_lists(adds, small, fold_min, save_between):
    """Every path: adds below SMALL into the recent dict, its fold at FOLD_MIN, runs merged, finds of
    few keys reading the dict, finds of many folding it, saving in between."""
    def fresh() -> Rows:
        r = Rows(v=np.int64, tag=object)
        r.SMALL, r.FOLD_MIN = small, fold_min
        return r

    store, truth = fresh(), {}
    seq = 0
    for rows, queries in adds:
        keys = np.array([k for k, _ in rows], dtype=np.int64)
        tags = np.empty(len(rows), dtype=object)
        tags[:] = [f"t{seq + i}" for i in range(len(rows))]
        store.add(keys, {"v": np.array([v for _, v in rows], dtype=np.int64), "tag": tags})
        for i, (k, v) in enumerate(rows):
            truth.setdefault(k, []).append((v, f"t{seq + i}"))
        seq += len(rows)
        qi, cols = store.find(np.array(queries, dtype=np.int64))
        assert cols["v"].dtype == np.int64 and cols["tag"].dtype == object
        for j, key in enumerate(queries):
            got = list(zip(cols["v"][qi == j].tolist(), cols["tag"][qi == j].tolist()))
            assert got == truth.get(key, [])  # a key's rows in the order they were added
        for key in set(queries):
            one = store.find_one(key)
            assert list(zip(one["v"].tolist(), one["tag"].tolist())) == truth.get(key, [])
        assert len(store) == seq
        if save_between:
            restored = fresh()
            restored.load_state_dict(loads_state(dumps_state(store.state_dict())))
            store = restored


def test_rows_take_one_value_for_every_row_of_an_add():
    r = Rows(kind=np.int8, v=np.float64)
    r.add(np.array([1, 2]), {"kind": 3, "v": np.array([0.5, 1.5])})  # few rows: the recent dict
    r.add(np.arange(40) % 2 + 1, {"kind": 4, "v": np.nan})  # many: a run
    one = r.find_one(1)
    assert one["kind"].dtype == np.int8 and one["kind"].tolist() == [3] + [4] * 20
    assert one["v"][0] == 0.5 and np.isnan(one["v"][1:]).all()


def test_column_appends_and_saves():
    c = Column(np.int32, -1)
    c.extend(range(40))
    c.append(99)
    d = Column(np.int32, -1)
    d.load_state_dict(loads_state(dumps_state(c.state_dict())))
    assert d.values.tolist() == [*range(40), 99]


class _Helper:
    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.latest = Latest(v=0.0)


class _Holder(Stateful):
    not_state = frozenset({"cache"})

    def __init__(self) -> None:
        self.helper = _Helper()
        self.alias = self.helper.latest  # the same store reached twice
        self.counts = {"a": 1}
        self.timers: list[tuple[int, str]] = []
        self.arr = np.zeros(3)
        self.cache = object()
        self.logs = {"x": Column(np.float64)}


def test_stateful_finds_stores_and_plain_data_and_keeps_shared_objects_shared():
    h = _Holder()
    h.helper.seen.update({3, 1})
    h.alias.put(4, v=2.5)
    h.counts["b"] = 2
    h.timers.append((10, "e1"))
    h.arr[1] = np.nan
    h.logs["x"].extend([1.0, 2.0])
    h.late = 7  # set after __init__
    state = loads_state(dumps_state(h.state_dict()))
    g = _Holder()
    g.load_state_dict(state)
    assert g.helper.seen == {1, 3} and g.alias is g.helper.latest and g.alias.get(4) == {"v": 2.5}
    assert g.counts == {"a": 1, "b": 2} and g.timers == [(10, "e1")] and g.late == 7
    assert np.isnan(g.arr[1]) and g.logs["x"].values.tolist() == [1.0, 2.0]


def test_unsaveable_attributes_and_unknown_entries_are_named():
    h = _Holder()
    h.lock = __import__("threading").Lock()
    with pytest.raises(StateError, match="lock"):
        h.state_dict()
    g = _Holder()
    with pytest.raises(StateError, match="unknown state entries"):
        g.load_state_dict({**_Holder().state_dict(), "gone.x": 1})
    with pytest.raises(StateError, match="not a saved hrguard state"):
        loads_state(b"garbage")
