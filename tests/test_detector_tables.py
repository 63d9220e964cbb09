"""The object-column helpers the built-in detectors share (their per-key state is :mod:`hrguard.state`)."""

from __future__ import annotations

from datetime import time

import numpy as np

from hrguard.columns import Interner
from hrguard.detectors._objects import flatten, lookup_each


def test_flatten_gives_owner_and_index():
    lists = np.empty(3, dtype=object)
    lists[:] = [["a", "b"], [], ["c"]]
    flat, owner, index = flatten(lists)
    assert flat == ["a", "b", "c"] and owner.tolist() == [0, 0, 2] and index.tolist() == [0, 1, 0]


def test_codes_intern_in_order_of_first_appearance():
    one_by_one, memo = Interner(), Interner()
    values = ["x", None, "y", "x", "z", "y"]
    want = [one_by_one.code(v) for v in values]
    assert memo.codes(values).tolist() == want
    assert memo.strings == one_by_one.strings


def test_plan_times_ignore_their_offset():
    from datetime import timedelta, timezone

    from hrguard.detectors.geofence import _SECONDS

    eight, utc = timezone(timedelta(hours=8)), timezone.utc
    assert time(9, 0, tzinfo=eight) == time(1, 0, tzinfo=utc)  # equal as times ...
    assert lookup_each([time(9, 0, tzinfo=eight), time(1, 0, tzinfo=utc), time(9, 30)], _SECONDS).tolist() == [
        9 * 3600, 3600, 9 * 3600 + 1800]  # ... but a plan means the wall-clock time written
