"""The interner the built-in detectors share: string codes in order of first appearance."""

from __future__ import annotations

import numpy as np

from hrguard.columns import Interner


def test_codes_intern_in_order_of_first_appearance():
    one_by_one, memo = Interner(), Interner()
    values = ["x", None, "y", "x", "z", "y"]
    want = [one_by_one.code(v) for v in values]
    assert memo.codes(values).tolist() == want
    assert memo.strings == one_by_one.strings
