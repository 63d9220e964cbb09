"""The fast way of hrguard.bulk gives exactly what pydantic + ColumnBuilder.add give, row for row.

Every record goes once through :class:`BulkIntake` (numpy checks, slow way for the rest) and once
through the one-record path; the frames (every column, in column form), the rejections (text, in
order), the counts and the interned strings must be identical. Hypothesis draws records near every
edge the fast way checks: types, null vs absent, ranges, enum members, timestamp and date spellings,
unknown fields, repeated ids.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hrguard.bulk import Block, BulkIntake, KindPlan, iter_blocks, parse_dates, parse_instants
from hrguard.columns import CODE, ColumnBuilder, Frame, Interner
from hrguard.engine import Engine
from hrguard.events import Event
from hrguard.ingest import Intake, RawRecord, RowDeduplicator
from hrguard.timeutil import to_us

ENGINE = Engine(entrypoints=False)


def _slow(values: list[Any]) -> tuple[Frame, Intake]:
    strings = Interner()
    builder = ColumnBuilder(ENGINE.layouts, strings)
    intake = Intake(ENGINE.kinds, dedupe=RowDeduplicator(builder))
    for i, v in enumerate(values, start=1):
        ev = intake.take(RawRecord("<input>", i, v))
        if ev is not None:
            builder.add(ev)
    return builder.freeze(), intake


def _fast(values: list[Any], block: int) -> tuple[Frame, Intake, int]:
    strings = Interner()
    builder = ColumnBuilder(ENGINE.layouts, strings)
    intake = Intake(ENGINE.kinds, dedupe=RowDeduplicator(builder))
    bulk = BulkIntake(intake, builder, ENGINE.kinds)
    for start in range(0, len(values), block):
        part = values[start:start + block]
        bulk.take(Block("<input>", part, range(start + 1, start + 1 + len(part))))
    return builder.freeze(), intake, bulk.fast_rows


def _rows(frame: Frame) -> list[str]:
    """Every event of a frame in column form, strings decoded, as comparable text."""
    out = []
    for row in range(len(frame)):
        table = frame.tables[int(frame.kind[row])]
        k = int(frame.kind_index[row])
        cols = {}
        ctypes = dict(table.layout.fields)
        for name, arr in sorted(table.cols.items()):
            v = arr[k]
            if ctypes.get(name) == CODE:  # codes depend on what was interned first: compare the strings
                v = frame.strings.text(int(v))
            elif isinstance(v, np.generic):
                v = v.item()
                if isinstance(v, float) and v != v:
                    v = "nan"
            cols[name] = v
        codes = {n: frame.strings.text(int(c)) for n, c in (("employee", frame.employee[row]),
                                                             ("tenant", frame.tenant[row]))}
        out.append(repr((frame.ids[row], int(frame.ts[row]), table.kind, codes, cols)))
    return out


def assert_same(values: list[Any], block: int = 64) -> int:
    slow_frame, slow = _slow(values)
    fast_frame, fast, n_fast = _fast(values, block)
    assert [str(r) for r in fast.rejected] == [str(r) for r in slow.rejected]
    assert fast.stats == slow.stats
    assert _rows(fast_frame) == _rows(slow_frame)
    return n_fast


TS = ["2026-03-30T09:12:00+08:00", "2026-03-30T01:12:00Z", "2024-02-29T23:59:59-05:30", "2023-02-29T10:00:00+08:00",
      "2026-03-30T24:00:00+08:00", "2026-13-01T10:00:00+08:00", "2026-03-30T09:12:00.250+08:00", "2026-03-30 09:12:00+08:00",
      "2026-03-30T09:12:00", "2026-03-30T09:12:60+08:00", "2026-03-30t09:12:00z", "1899-12-31T23:00:00+00:00",
      "2026-03-30T09:12:00+19:00", "２０２６-03-30T09:12:00+08:00", "", 1774833120, None]
DATES = ["2026-03-30", "2024-02-29", "2023-02-29", "2026-3-30", "2026-03-30T00:00:00", "30/03/2026", 20260330, None]
NUM = [0.0, 31.2, -31.2, 90.0, 90.5, -180.0, 181.0, 15, 15.5, True, "31.2", None, 1e308, 2.0 ** 60, 10 ** 30]
STR = ["E1", "E2", "", "C1", " x ", "名字", 7, None, ["E1"]]


def _field(options: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(options), st.just(_ABSENT))


_ABSENT = object()


def _record(kind: str, fields: dict[str, list[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    drawn = {k: _field(v) for k, v in fields.items()}

    @st.composite
    def build(draw: Any) -> dict[str, Any]:
        rec: dict[str, Any] = {"id": draw(st.sampled_from([f"e{i}" for i in range(40)] + ["", 5])), "kind": kind}
        for k, strat in drawn.items():
            v = draw(strat)
            if v is not _ABSENT:
                rec[k] = v
        return rec

    return build()


COMMON = {"ts": TS, "employee_id": STR, "tenant": ["t1", None, 3], "device": ["ios", None, 2, {"x": 1}],
          "attrs": [{"a": 1}, None]}
RECORDS = st.one_of(
    _record("attendance.punched", {**COMMON, "direction": ["in", "out", "up", None], "lat": NUM, "lon": NUM,
                                    "accuracy_m": NUM, "source": ["gps", "wifi", "x", None], "customer_id": STR,
                                    "site_id": STR}),
    _record("customer.registered", {**COMMON, "customer_id": STR, "name": STR, "owner_id": STR, "lat": NUM,
                                     "lon": NUM}),
    _record("site.registered", {**COMMON, "site_id": STR, "lat": NUM, "lon": NUM, "radius_m": NUM}),
    _record("order.recorded", {**COMMON, "order_id": STR, "customer_id": STR, "amount": NUM,
                                "type": ["order", "contract", "x", None], "approval_request_id": STR}),
    _record("payroll.settled", {**COMMON, "period_end": DATES, "amount": NUM, "final": [True, False, 1, None]}),
    _record("plan.submitted", {**COMMON, "date": DATES,
                                "items": [[], [{"customer_id": "C1", "start": "09:00", "end": "10:00"}],
                                          [{"site_id": "S", "start": "09:00", "end": "10:00"}, {"start": "25:00", "end": "x"}],
                                          [{"customer_id": "C1", "start": "09:00", "end": "10:00", "x": 1}],
                                          [{"customer_id": "C2", "start": "09:30:00", "end": "11:00", "purpose": "visit"}] * 2,
                                          None, "x", [None]]}),
    _record("summary.submitted", {**COMMON, "date": DATES,
                                   "claims": [[], [{"customer_id": "C1", "activity": "visit"}],
                                              [{"customer_id": "", "activity": "call"}], [{"customer_id": "C", "activity": "x"}],
                                              None]}),
    _record("followup.logged", {**COMMON, "customer_id": STR, "channel": ["visit", "phone", "fax", None],
                                 "photos": [[], [{"uri": "u", "lat": 1.0, "lon": 2.0}], [{"uri": "u", "lat": 1.0}],
                                            [{"uri": "u", "taken_at": "2026-03-30T09:00:00+08:00"}],
                                            [{"uri": "u", "taken_at": "2026-03-30T09:00:00"}], None]}),
    _record("approval.decided", {**COMMON, "request_id": STR, "step": STR, "decision": ["approved", "no", None]}),
    st.sampled_from([None, 3, "x", [1], {"kind": "nope", "id": "z"}, {"id": "q"}, {"id": ["e1"], "kind": ["x"]},
                     {"id": {"a": 1}, "kind": "order.recorded"}, {"id": None, "kind": {"k": 1}}]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RECORDS, max_size=60), st.sampled_from([1, 7, 64]))
def test_the_fast_way_equals_pydantic_record_by_record(values, block):
    assert_same(values, block)


def test_canonical_records_do_take_the_fast_way():
    values = [{"id": f"p{i}", "kind": "attendance.punched", "ts": "2026-03-30T09:12:00+08:00", "employee_id": "E1",
               "direction": "in", "lat": 31.2, "lon": 121.4, "accuracy_m": 12.0, "source": "gps", "device": "ios"}
              for i in range(100)]
    values += [{"id": f"o{i}", "kind": "order.recorded", "ts": "2026-03-30T01:12:00Z", "order_id": "O1",
                "customer_id": "C1", "amount": 1200} for i in range(10)]
    assert assert_same(values) == 110


def test_a_repeated_id_takes_the_slow_way_and_keeps_the_first():
    a = {"id": "x", "kind": "order.recorded", "ts": "2026-03-30T01:12:00Z", "order_id": "O1", "customer_id": "C1",
         "amount": 1200}
    b = dict(a, amount=1300)
    assert assert_same([a, dict(a), b], block=64) == 0
    assert assert_same([a, dict(a), b], block=1) == 1  # the first, alone in its block, is new


@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30)),
       st.integers(-18 * 60 + 1, 18 * 60 - 1), st.booleans())
def test_instants_parse_like_python(naive, minutes, zulu):
    dt = naive.replace(microsecond=0, tzinfo=timezone.utc if zulu else timezone(timedelta(minutes=minutes)))
    text = dt.isoformat().replace("+00:00", "Z") if zulu else dt.isoformat()
    us, ok = parse_instants([text])
    assert ok[0] and int(us[0]) == to_us(dt)


def test_dates_and_their_edges():
    days, ok = parse_dates(["1970-01-01", "2000-02-29", "1900-02-29", "2024-12-31", "2024-1-01"])
    assert ok.tolist() == [True, True, False, True, False]
    assert days[:2].tolist() == [0, (date(2000, 2, 29) - date(1970, 1, 1)).days]


def test_kinds_with_unknown_checks_stay_on_the_slow_way():
    from pydantic import field_validator

    class Odd(Event):
        kind: str = "x.odd"
        value: int = 0

        @field_validator("value")
        @classmethod
        def _even(cls, v: int) -> int:
            return v

    assert KindPlan.of(Odd) is None


def test_a_jsonl_file_with_blank_and_broken_lines_keeps_line_numbers(tmp_path):
    good = json.dumps({"id": "o1", "kind": "order.recorded", "ts": "2026-03-30T01:12:00Z", "order_id": "O1",
                       "customer_id": "C1", "amount": 5})
    p = tmp_path / "e.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + good.encode() + b"\n\n{oops\n" + good.replace("o1", "o2").encode() + b"\n")
    blocks = list(iter_blocks(str(p)))
    assert [b.record(i).line for b in blocks for i in range(len(b.values))] == [1, 3, 4]
    res = ENGINE.scan(str(p), {"ruleset": "none", "rules": []})
    assert (res.stats.valid, res.stats.rejected) == (2, 1)
    assert str(res.rejected[0]).startswith(f"{p}:3")
