"""The private numpy tables the built-in detectors share: ``AsOfLatest``; string codes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hrguard.columns import Interner
from hrguard.detectors._asof import AsOfLatest

# one chunk: updates (key, value) and queries (key), each at a position; positions are distinct
chunks = st.lists(st.lists(st.tuples(st.booleans(), st.integers(0, 5), st.integers(0, 99)), max_size=40), max_size=12)


@settings(max_examples=200, deadline=None)
@given(chunks=chunks)
def test_as_of_latest_is_the_last_update_strictly_before_each_query(chunks):
    """Against a dict replayed event by event, whatever the chunk sizes (dict path below SMALL, merges above)."""
    table = AsOfLatest(v=(np.int64, -7), tag=(object, None))
    truth: dict[int, int] = {}
    pos = 0
    for chunk in chunks:
        events = []
        for is_update, key, value in chunk:
            events.append((is_update, key, value, pos))
            pos += 1
        ups = [(k, v, p) for u, k, v, p in events if u]
        table.stage(np.array([k for k, _, _ in ups], dtype=np.int64), np.array([p for _, _, p in ups], dtype=np.int64),
                    {"v": np.array([v for _, v, _ in ups], dtype=np.int64),
                     "tag": np.array([f"t{v}" for _, v, _ in ups], dtype=object)})
        queries = [(k, p) for u, k, _, p in events if not u]
        want = []
        for is_update, key, value, _ in events:  # replay in event order
            if is_update:
                truth[key] = value
            else:
                want.append(truth.get(key, -7))
        rows = table.lookup_rows(np.array([k for k, _ in queries], dtype=np.int64),
                                 np.array([p for _, p in queries], dtype=np.int64))
        vals = table.values(rows)
        assert vals["v"].tolist() == want
        assert vals["tag"].tolist() == [None if w == -7 else f"t{w}" for w in want]
        one = [table.lookup_one(k, p) for k, p in queries]
        assert [table.value("v", r) if r >= 0 else -7 for r in one] == want
        table.commit()
    assert len(table) == len(truth)


def test_as_of_latest_folds_many_small_commits():
    table, last = AsOfLatest(v=(np.int64, -1)), {}
    for i in range(3 * AsOfLatest.FOLD_AT):  # one-event chunks, as a stream gives
        table.stage(np.array([i % 300]), np.array([i]), {"v": np.array([i])})
        table.commit()
        last[i % 300] = i
    rows = table.lookup_rows(np.arange(301), np.full(301, 10**6))
    assert table.values(rows)["v"].tolist() == [last[k] for k in range(300)] + [-1]


def test_codes_intern_in_order_of_first_appearance():
    one_by_one, memo = Interner(), Interner()
    values = ["x", None, "y", "x", "z", "y"]
    want = [one_by_one.code(v) for v in values]
    assert memo.codes(values).tolist() == want
    assert memo.strings == one_by_one.strings
