"""The fast path (msgspec Structs generated from the models, checks and columns a block at a time) gives
exactly what the model path (pydantic, one record at a time) gives.

Every generated input goes through ``Intake(fast=True)`` and ``Intake(fast=False)``, as JSON Lines and
as Python records, in blocks of several sizes: the accepted events (every column, list fields' entries
and attrs included, strings compared as text), the rejections (their text, in order) and the counts
must be identical. Hypothesis draws records near every edge the fast path decides: timestamp
spellings (``T``/``t``/space/``_``, ``Z``/``z``, offsets, fractions, naive, out of range), dates and
times of day, money as a number or a string, coordinates, null vs absent, wrong types, literal values,
nested lists (entries good and bad), unknown fields (to attrs, clashing with attrs), repeated ids,
unknown kinds, records that are not objects and lines that are not JSON.
"""

from __future__ import annotations

import json
import types
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hrguard_expense.plugin as expense_plugin
from hrguard.columns import CODE, NESTED, Frame
from hrguard.engine import Engine
from hrguard.ingest import Schema, parse_dates, parse_instants, parse_times
from hrguard.ingest import Block
from hrguard.ingest import SMALL_BLOCK, Intake
from hrguard.timeutil import to_us

ENGINE = Engine([expense_plugin], entrypoints=False)  # the built-ins and a plugin's kinds (a generic field)
_ABSENT = object()


# -- the two paths -------------------------------------------------------------------------------------------------
def _blocks(values: list[Any], size: int, as_json: bool) -> list[Block]:
    out = []
    for start in range(0, len(values), size):
        part = values[start:start + size]
        lines = range(start + 1, start + 1 + len(part))
        if as_json:
            out.append(Block("f.jsonl", part, lines, lines_are_json=True, fresh=True))
        else:
            out.append(Block("<input>", part, lines))
    return out


def run(values: list[Any], size: int, as_json: bool, fast: bool) -> tuple[Frame, Intake]:
    intake = Intake(ENGINE, fast=fast)
    for block in _blocks(values, size, as_json):
        intake.take(block)
    return intake.release_all(), intake


def rows(frame: Frame) -> list[str]:
    """Every event of a frame in column form as comparable text (codes as their strings)."""
    s = frame.strings
    out = []
    for row in range(len(frame)):
        table = frame.tables[int(frame.kind[row])]
        k = int(frame.kind_index[row])
        cols: dict[str, Any] = {}
        for name, ctype in table.layout.fields:
            v = table.cols[name][k]
            if ctype == NESTED:
                nt = table.nested[name]
                at = int(nt.starts[k])
                v = [{f: _plain(nt.cols[f][at + i], t, s) for f, t in table.layout.entry_fields(name)}
                     for i in range(int(v))]
            else:
                v = _plain(v, ctype, s)
            cols[name] = v
        out.append(repr((frame.ids[row], int(frame.ts[row]), table.kind, s.text(int(frame.employee[row])),
                         s.text(int(frame.tenant[row])), cols)))
    return out


def _plain(v: Any, ctype: str, strings: Any) -> Any:
    if ctype == CODE:
        return strings.text(int(v))
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v != v:
        return "nan"
    return v


def assert_same(values: list[Any], size: int = 64, as_json: bool = False) -> Intake:
    """The fast path's intake (for its counts), after checking it against the model path."""
    want_frame, want = run(values, size, as_json, fast=False)
    got_frame, got = run(values, size, as_json, fast=True)
    assert [str(r) for r in got.rejected] == [str(r) for r in want.rejected]
    assert got.stats == want.stats
    assert rows(got_frame) == rows(want_frame)
    return got


def as_lines(records: list[Any]) -> list[bytes]:
    """JSON lines of the records; a ``bytes`` record is a line as it is (blank or broken)."""
    return [r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records]


# -- what records are made of --------------------------------------------------------------------------------------
TS = ["2026-03-30T09:12:00+08:00", "2026-03-30T01:12:00Z", "2026-03-30t01:12:00z", "2026-03-30 09:12:00+08:00",
      "2026-03-30_09:12:00+08:00", "2026-03-30T09:12:00.5+08:00", "2026-03-30T09:12:00.123456Z",
      "2026-03-30T09:12:00.1234567Z", "2026-03-30T09:12:00.999999999+08:00", "2026-03-30T09:12:00,5Z",
      "2026-03-30T09:12:00+0800", "2026-03-30T09:12:00-0530", "2026-03-30T09:12:00+08", "2026-03-30T09:12+08:00",
      "2024-02-29T23:59:59-05:30", "2023-02-29T10:00:00+08:00", "2026-03-30T24:00:00+08:00",
      "2026-03-30T23:59:60Z", "2026-13-01T10:00:00+08:00", "2026-03-30T09:12:00", "2026-03-30",
      "2026-03-30T09:12:00+23:59", "2026-03-30T09:12:00+24:00", "2026-03-30T09:12:00-00:00", "1899-12-31T23:00:00Z",
      "2200-01-01T00:00:00Z", "0001-01-01T00:00:00+00:00", "２０２６-03-30T09:12:00+08:00", " 2026-03-30T09:12:00Z",
      "2026-03-30T09:12:00Z ", "", "now", 1774833120, 1774833120.5, True, None]
DATES = ["2026-03-30", "2024-02-29", "2023-02-29", "2026-3-30", "2026-03-30T00:00:00", "2026-03-30T00:00:00Z",
         "2026-03-30T10:00:00", "2026-03-30 00:00", "20260330", "1899-12-31", "30/03/2026", 20260330, None]
TIMES = ["09:30", "09:30:00", "23:59:59", "00:00", "9:30", "24:00", "09:60", "09:30:60", "09:30:00.5", "09:30Z",
         "09:30+08:00", "0930", "", 930, None]
MONEY = [0, 1200, 1250.5, 0.1, -5, -0.0, 2 ** 53 - 1, 2 ** 53 + 1, 10 ** 30, 1e300, "1250.50", "600000", "0012.50",
         " 12 ", "+5", "1e3", "12.", ".5", "-1", "1_000", "12,5", "abc", "", True, None, float("inf"), float("nan")]
NUM = [0.0, 31.2, -31.2, 90.0, 90.5, -90.0, -180.0, 180.0, 181.0, 15, -15, 15.5, True, False, "31.2", None, 1e308,
       2.0 ** 60, 10 ** 30, -0.0, float("inf"), float("-inf"), float("nan")]
STR = ["E1", "E2", "", "C1", " x ", "名字", "C-\u00e9", 7, 1.5, False, None, ["E1"], {"a": 1}]
EXTRA = ["ios", None, 2, 2.5, True, {"x": [1, {"y": 2}]}, ["a", 1]]


@st.composite
def timestamps(draw: Any, valid: bool = False) -> Any:
    """A timestamp spelt any which way (``valid``: one of the RFC 3339 spellings, any instant)."""
    if not valid and draw(st.integers(0, 2)) == 0:
        return draw(st.sampled_from(TS))
    lo, hi = (datetime(1901, 1, 1), datetime(2198, 12, 31)) if valid else (datetime(1890, 1, 1), datetime(2210, 12, 31))
    dt = draw(st.datetimes(min_value=lo, max_value=hi))
    sep = draw(st.sampled_from("TTTt _" if valid else "TTTt _x"))
    frac = draw(st.sampled_from(["", "", ".5", ".25", ".123", ".000001", ".123456"]
                                + ([] if valid else [".1234567", ".999999999", "."])))
    tz = draw(st.sampled_from(["Z", "z", "+08:00", "-05:30", "+00:00", "-00:00", "+0800", "-0330", "+23:59"]
                              + ([] if valid else ["+08", "", "+24:00", "+08:60", "+2400", "-1260"])))
    return dt.strftime("%Y-%m-%d") + sep + dt.strftime("%H:%M:%S") + frac + tz


def _one_of(*options: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(options)


# per field: (a valid value, the values to try instead: good and bad ones)
_EMP = (_one_of("E1", "E2", "名字"), STR)
_CUST = (_one_of("C1", "C-2", None), STR)
_REQ = (_one_of("C1", "C-2"), STR)
_LAT = (st.floats(-90, 90), NUM)
_LON = (st.floats(-180, 180), NUM)
_MONEY = (st.one_of(st.integers(0, 10 ** 12), st.floats(0, 1e12), st.decimals(0, 10 ** 9, places=2).map(str)), MONEY)
_DATE = (st.dates(datetime(1901, 1, 1).date(), datetime(2198, 1, 1).date()).map(str), DATES)
_TIME = (st.times().map(lambda t: t.strftime(draw_fmt(t))), TIMES)


def draw_fmt(t: Any) -> str:
    return "%H:%M" if t.second % 2 else "%H:%M:%S"


ITEM = {"customer_id": _CUST, "site_id": _CUST, "start": _TIME, "end": _TIME, "purpose": (_one_of("visit", None), STR)}
CLAIM = {"customer_id": _REQ, "activity": (_one_of("visit", "call", "other"), ["walk", None, 3]),
         "note": (_one_of("ok", None), STR)}
PHOTO = {"uri": (_one_of("a.jpg", "oss://x"), ["", None, 3]), "lat": (_one_of(31.2, None), NUM),
         "lon": (_one_of(121.4, None), NUM), "taken_at": (st.one_of(st.none(), timestamps(valid=True)), [])}
KINDS: dict[str, dict[str, tuple[Any, list[Any]]]] = {
    "attendance.punched": {"direction": (_one_of("in", "out"), ["up", None, 1]), "lat": _LAT, "lon": _LON,
                           "accuracy_m": (st.one_of(st.none(), st.floats(0, 1e6), st.integers(0, 10 ** 6)), NUM),
                           "source": (_one_of("gps", "wifi", "manual", None), ["x", 3]), "customer_id": _CUST,
                           "site_id": _CUST},
    "customer.registered": {"customer_id": _REQ, "name": (_one_of("Acme", None), STR), "owner_id": _CUST,
                            "lat": _LAT, "lon": _LON, "address": (_one_of("Shanghai", None), STR)},
    "site.registered": {"site_id": _REQ, "lat": _LAT, "lon": _LON, "radius_m": (st.floats(0, 1e5), NUM)},
    "order.recorded": {"order_id": _REQ, "customer_id": _REQ, "amount": _MONEY,
                       "type": (_one_of("order", "contract"), ["x", None]), "approval_request_id": _CUST},
    "approval.requested": {"request_id": _REQ, "amount": (st.one_of(st.none(), _MONEY[0]), MONEY),
                           "subject": (_one_of("order", None), STR)},
    "payroll.settled": {"employee_id": _EMP, "period_end": (st.one_of(st.none(), _DATE[0]), DATES),
                        "amount": (st.one_of(st.none(), _MONEY[0]), MONEY),
                        "final": (st.booleans(), [1, 0, "true", None])},
    "employee.terminated": {"employee_id": _EMP, "last_day": (st.one_of(st.none(), _DATE[0]), DATES),
                            "reason": (_one_of("quit", None), STR)},
    "plan.submitted": {"date": _DATE, "items": ("items", [None, "x", [None], [1], []])},
    "summary.submitted": {"date": _DATE, "claims": ("claims", [None, "x", [None], []])},
    "followup.logged": {"customer_id": _REQ, "channel": (_one_of("visit", "phone", None), ["fax", 1]),
                        "summary": (_one_of("met", None), STR), "photos": ("photos", [None, "x", [None], []])},
    "approval.decided": {"request_id": _REQ, "step": _REQ, "decision": (_one_of("approved", "rejected"), ["no", None])},
    "expense.claimed": {"employee_id": _EMP, "claim_id": _REQ, "amount": _MONEY,
                        "currency": (_one_of("CNY", "USD"), ["cny", "EURO", 3, None]),
                        "category": _REQ, "merchant": _REQ, "incurred_on": _DATE},
}
ENVELOPE = {"ts": (timestamps(valid=True), TS), "employee_id": (_one_of("E1", "E2", None), STR),
            "tenant": (_one_of(None, "t1", ""), [3, ["t"]])}
NESTED_SPECS = {"items": ITEM, "claims": CLAIM, "photos": PHOTO}


@st.composite
def _entry(draw: Any, spec: dict[str, tuple[Any, list[Any]]]) -> dict[str, Any]:
    e = {k: draw(valid) for k, (valid, _) in spec.items()}
    if "lat" in e and (e["lat"] is None) != (e["lon"] is None):
        e["lat"] = e["lon"] = None
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):  # a fault or two
        k = draw(st.sampled_from(sorted(spec) + ["strat"]))
        choice = draw(st.integers(0, 2))
        if choice == 0:
            e.pop(k, None)
        elif choice == 1 and spec.get(k, (None, []))[1]:
            e[k] = draw(st.sampled_from(spec[k][1]))
        elif k in ("taken_at",):
            e[k] = draw(timestamps())
        else:
            e[k] = draw(st.sampled_from(STR))
    return e


@st.composite
def records(draw: Any) -> Any:
    """A valid record of a kind, then (often) a fault or two: a field changed, dropped or added."""
    kind = draw(st.sampled_from(sorted(KINDS)))
    spec = {**ENVELOPE, **KINDS[kind]}
    rec: dict[str, Any] = {"id": draw(st.sampled_from([f"e{i}" for i in range(30)])), "kind": kind}
    for k, (valid, _) in spec.items():
        if isinstance(valid, str):  # a list of nested objects
            rec[k] = draw(st.lists(_entry(NESTED_SPECS[valid]), max_size=3))
        elif draw(st.integers(0, 5)) or k in ("ts", "employee_id") or k not in ENVELOPE:
            rec[k] = draw(valid)
    if "lat" in rec and kind != "site.registered" and (rec["lat"] is None) != (rec["lon"] is None):
        rec["lat"] = rec["lon"] = None
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        k = draw(st.sampled_from(sorted(spec) + ["id", "kind", "attrs", "device", "crm"]))
        choice = draw(st.integers(0, 3))
        if choice == 0:
            rec.pop(k, None)
        elif k == "id":
            rec[k] = draw(st.sampled_from(["", 5, None, ["e1"]]))
        elif k == "kind":
            rec[k] = draw(st.sampled_from(["nope", None, 3]))
        elif k == "attrs":
            rec[k] = draw(st.sampled_from([{"crm": "T-1"}, {"device": "ios"}, {}, None, "crm", [1], {"x": {"y": 1}}]))
        elif k in ("device", "crm"):
            rec[k] = draw(st.sampled_from(EXTRA))
        elif k == "ts" and choice == 1:
            rec[k] = draw(timestamps())
        else:
            rec[k] = draw(st.sampled_from(spec[k][1] or STR))
    return rec


RECORDS = st.one_of(
    records(), records(), records(), records(),
    st.sampled_from([None, 3, "x", [1], {"kind": "nope", "id": "z"}, {"id": "q"}, {"id": "q", "kind": None},
                     {"id": ["e1"], "kind": ["x"]}, {"id": {"a": 1}, "kind": "order.recorded"}]),
)
LINES = st.one_of(RECORDS, RECORDS, RECORDS,
                  st.sampled_from([b"\n", b"   \r\n", b'{"id": "e3", "kind": "order.recorded", "ts": \n',
                                   b"{not json}\n", b'{"id":"e4","lat":1e400}\n', b"[1, 2]\n", b'"text"\n']))


def _repeat(values: list[Any], draw: Any) -> list[Any]:
    """Some records again: the same (a duplicate) or with one field changed (a repeated id)."""
    for k in draw(st.lists(st.integers(0, max(0, len(values) - 1)), max_size=4)):
        if values and isinstance(values[k], dict):
            again = dict(values[k])
            if draw(st.booleans()) and len(again) > 2:
                again[draw(st.sampled_from(sorted(again)))] = draw(st.sampled_from(STR))
            values.append(again)
    return values


# -- the differential tests ---------------------------------------------------------------------------------------
SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.data(), st.lists(RECORDS, max_size=60), st.sampled_from([1, 16, 64]))
def test_python_records_fast_path_equals_model_path(data, values, size):
    assert_same(_repeat(values, data.draw), size)


@SETTINGS
@given(st.data(), st.lists(LINES, max_size=60), st.sampled_from([1, 16, 64]))
def test_json_lines_fast_path_equals_model_path(data, values, size):
    assert_same(as_lines(_repeat(values, data.draw)), size, as_json=True)


@SETTINGS
@given(st.lists(RECORDS, min_size=16, max_size=40),
       st.lists(st.sampled_from([datetime(2026, 3, 30, 9, tzinfo=timezone.utc), datetime(2026, 3, 30, 9),
                                 Decimal("12.50"), Decimal("-1"), float("nan"), float("inf"), ("a",), b"E1"]),
                max_size=3), st.randoms(use_true_random=False))
def test_python_only_values_take_the_model_path(values, odd, rnd):
    """Values JSON cannot hold (datetimes, Decimals, nan, tuples, bytes) are the model's to judge."""
    for v in odd:
        recs = [r for r in values if isinstance(r, dict)]
        if recs:
            rnd.choice(recs)[rnd.choice(["ts", "amount", "lat", "employee_id", "items", "date"])] = v
    assert_same(values, 16)


# -- every single fault, exhaustively ------------------------------------------------------------------------------
BASES = {  # one valid record of every kind the generator knows
    "attendance.punched": {"employee_id": "E1", "direction": "in", "lat": 31.2, "lon": 121.4, "accuracy_m": 12.0,
                           "source": "gps", "customer_id": "C1", "site_id": None},
    "customer.registered": {"employee_id": "E1", "customer_id": "C1", "name": "Acme", "owner_id": "E1", "lat": 31.2,
                            "lon": 121.4, "address": "Shanghai"},
    "site.registered": {"site_id": "S1", "lat": 31.2, "lon": 121.4, "radius_m": 150.0},
    "order.recorded": {"employee_id": "E1", "order_id": "O1", "customer_id": "C1", "amount": 1200, "type": "order",
                       "approval_request_id": None},
    "approval.requested": {"employee_id": "E1", "request_id": "R1", "amount": "99.50", "subject": "order"},
    "payroll.settled": {"employee_id": "E1", "period_end": "2026-03-31", "amount": 8000.5, "final": True},
    "employee.terminated": {"employee_id": "E1", "last_day": "2026-03-31", "reason": "quit"},
    "plan.submitted": {"employee_id": "E1", "date": "2026-03-30",
                       "items": [{"customer_id": "C1", "start": "09:00", "end": "10:00", "purpose": "visit"},
                                 {"site_id": "S1", "start": "14:00:00", "end": "15:30"}]},
    "summary.submitted": {"employee_id": "E1", "date": "2026-03-30",
                          "claims": [{"customer_id": "C1", "activity": "visit"}, {"customer_id": "C2", "activity": "call",
                                                                                  "note": "ok"}]},
    "followup.logged": {"employee_id": "E1", "customer_id": "C1", "channel": "visit", "summary": "met",
                        "photos": [{"uri": "a.jpg", "lat": 31.2, "lon": 121.4, "taken_at": "2026-03-30T09:55:00+08:00"},
                                   {"uri": "b.jpg"}]},
    "approval.decided": {"employee_id": "M1", "request_id": "R1", "step": "manager", "decision": "approved"},
    "expense.claimed": {"employee_id": "E1", "claim_id": "X1", "amount": 88.5, "currency": "CNY", "category": "meals",
                        "merchant": "Cafe", "incurred_on": "2026-03-29"},
}
_GONE = object()


def single_faults() -> list[dict[str, Any]]:
    """A valid record of every kind, then each field of it (list entries' included) replaced by every
    value its pool holds, or dropped; timestamps in every spelling; unknown fields with and without attrs."""
    out: list[dict[str, Any]] = []
    n = 0

    def add(kind: str, rec: dict[str, Any]) -> None:
        nonlocal n
        n += 1
        out.append({"id": f"r{n}", "kind": kind, "ts": "2026-03-30T09:12:00+08:00", **rec})

    stamps = TS + [f"2026-03-30{sep}09:12:00{frac}{tz}" for sep in "Tt _x" for frac in ("", ".5", ".123456", ".1234567")
                   for tz in ("Z", "z", "+08:00", "-0530", "+08", "", "+24:00", "+23:59")]
    for kind, base in BASES.items():
        add(kind, base)
        for v in stamps:
            add(kind, {**base, "ts": v})
        spec = {**ENVELOPE, **KINDS[kind]}
        for k in list(spec) + ["employee_id", "tenant"]:
            pool = spec[k][1] if k in spec else STR
            for v in ([_GONE] + list(pool) + list(STR) + list(MONEY) + list(NUM) + list(DATES) + list(TIMES)):
                rec = {**base, k: v}
                if v is _GONE:
                    del rec[k]
                add(kind, rec)
        for lst in ("items", "claims", "photos"):
            if lst not in base:
                continue
            entry_spec = NESTED_SPECS[lst]
            for k in list(entry_spec) + ["strat"]:
                pool = [_GONE] + list(entry_spec.get(k, (None, []))[1]) + list(STR) + list(NUM) + list(TIMES)
                if k == "taken_at":
                    pool += stamps
                for v in pool:
                    entry = {**base[lst][0], k: v}
                    if v is _GONE:
                        entry.pop(k, None)
                    add(kind, {**base, lst: [entry] + base[lst][1:]})
        for attrs in (_GONE, None, {}, {"device": "ios"}, {"device": "android"}, {"crm": {"a": [1]}}, "crm", [1]):
            for extra in (_GONE, "ios", None, {"x": 1}, [1, {"y": 2}]):
                rec = dict(base)
                if attrs is not _GONE:
                    rec["attrs"] = attrs
                if extra is not _GONE:
                    rec["device"] = extra
                add(kind, rec)
    return out


SINGLE_FAULTS = single_faults()


@pytest.mark.parametrize("as_json", [False, True])
def test_every_single_fault_fast_path_equals_model_path(as_json):
    values = as_lines(SINGLE_FAULTS) if as_json else SINGLE_FAULTS
    intake = assert_same(values, 512, as_json)
    assert intake.fast_rows > len(values) // 3  # most of them are valid, and fast


@pytest.mark.parametrize("fast", [True, False])
def test_attrs_never_share_the_callers_objects(fast):
    rec = {"id": "a", "kind": "order.recorded", "ts": "2026-03-30T01:12:00Z", "order_id": "O1", "customer_id": "C1",
           "amount": 5, "crm": {"tags": ["x"]}}
    given_attrs = {"id": "b", "kind": "order.recorded", "ts": "2026-03-30T01:12:00Z", "order_id": "O2",
                   "customer_id": "C1", "amount": 5, "attrs": {"crm": {"tags": ["y"]}}}
    filler = [dict(rec, id=f"f{i}", crm=None) for i in range(SMALL_BLOCK)]  # a block the fast path takes
    intake = Intake(ENGINE, fast=fast)
    intake.take(Block("<input>", [rec, given_attrs] + filler, range(1, 3 + len(filler))))
    frame = intake.release_all()
    rec["crm"]["tags"].append("changed")
    given_attrs["attrs"]["crm"]["tags"].append("changed")
    attrs = frame.tables[frame.strings.find("order.recorded")].cols["attrs"].tolist()[:2]
    assert attrs == [{"crm": {"tags": ["x"]}}, {"crm": {"tags": ["y"]}}]
    assert intake.fast_rows == (2 + len(filler) if fast else 0)


# -- the fast path does take what it should ------------------------------------------------------------------------
CANONICAL = [
    {"id": "p1", "kind": "attendance.punched", "ts": "2026-03-30T09:12:00+08:00", "employee_id": "E1",
     "direction": "in", "lat": 31.2, "lon": 121.4, "accuracy_m": 12, "source": "gps", "device": "ios"},
    {"id": "p2", "kind": "attendance.punched", "ts": "2026-03-30 01:12:00.250Z", "employee_id": "E1",
     "direction": "out", "lat": None, "lon": None, "source": "manual"},
    {"id": "o1", "kind": "order.recorded", "ts": "2026-03-30t01:12:00z", "order_id": "O1", "customer_id": "C1",
     "amount": "1250.50", "attrs": {"channel": "web"}},
    {"id": "o2", "kind": "order.recorded", "ts": "2026-03-30T09:12:00+0800", "order_id": "O2", "customer_id": "C1",
     "amount": 600000},
    {"id": "l1", "kind": "plan.submitted", "ts": "2026-03-30T08:00:00+08:00", "employee_id": "E1",
     "date": "2026-03-30", "items": [{"customer_id": "C1", "start": "09:00", "end": "10:30:00"},
                                     {"site_id": "S1", "start": "14:00", "end": "15:00", "purpose": "stock"}]},
    {"id": "s1", "kind": "summary.submitted", "ts": "2026-03-30T18:00:00+08:00", "employee_id": "E1",
     "date": "2026-03-30", "claims": [{"customer_id": "C1", "activity": "visit", "note": "ok"}]},
    {"id": "f1", "kind": "followup.logged", "ts": "2026-03-30T10:00:00+08:00", "employee_id": "E1",
     "customer_id": "C1", "channel": "visit", "photos": [{"uri": "a.jpg", "lat": 31.2, "lon": 121.4,
                                                          "taken_at": "2026-03-30T09:55:00+08:00"}, {"uri": "b.jpg"}]},
    {"id": "x1", "kind": "expense.claimed", "ts": "2026-03-30T10:00:00+08:00", "employee_id": "E1", "claim_id": "X1",
     "amount": 88.5, "currency": "CNY", "category": "meals", "merchant": "Cafe", "incurred_on": "2026-03-29"},
]


@pytest.mark.parametrize("as_json", [False, True])
def test_canonical_records_of_every_shape_take_the_fast_path(as_json):
    records = [dict(r, id=f"{r['id']}-{k}") for k in range(2) for r in CANONICAL]  # a block of 16
    values = as_lines(records) if as_json else records
    intake = assert_same(values, 64, as_json)
    assert intake.fast_rows == len(records) and intake.stats.valid == len(records)


def test_a_few_records_take_the_model():
    """Fewer than SMALL_BLOCK records (a stream's push) are validated by the models: the fast path's
    fixed cost per block would be more than it saves."""
    intake = assert_same(CANONICAL[:SMALL_BLOCK - 1], 64)
    assert intake.fast_rows == 0 and intake.stats.valid == len(CANONICAL[:SMALL_BLOCK - 1])


def test_every_builtin_kind_and_the_plugins_have_a_fast_path():
    plans = Schema(ENGINE.kinds).plans
    assert all(plans[k] is not None for k in ENGINE.kinds), [k for k, p in plans.items() if p is None]
    how = {c.name: c.how for c in plans["expense.claimed"].codecs}  # type: ignore[union-attr]
    assert how["currency"] == "generic" and how["amount"] == "money"  # its own validator: pydantic judges it


def test_a_kind_with_checks_of_its_own_always_takes_the_model():
    from typing import Literal

    from pydantic import field_validator

    from hrguard import Event, hookimpl

    class Odd(Event):
        kind: Literal["x.odd"]
        value: str = ""

        @field_validator("value")
        @classmethod
        def _upper(cls, v: str) -> str:
            return v.upper()

    assert Schema({"x.odd": Odd}).plans["x.odd"] is None
    plugin = types.ModuleType("odd")
    plugin.hrguard_register_event_kinds = hookimpl(lambda register: register(Odd))  # type: ignore[attr-defined]
    intake = Intake(Engine([plugin], entrypoints=False))
    records = [{"id": f"a{i}", "kind": "x.odd", "ts": "2026-03-30T09:12:00Z", "value": "q"} for i in range(20)]
    intake.take(Block("<input>", records, range(1, 21)))
    frame = intake.release_all()
    value = frame.tables[frame.strings.find("x.odd")].cols["value"][0]
    assert intake.fast_rows == 0 and frame.strings.text(int(value)) == "Q"  # the model's own validator ran




def test_a_repeated_id_takes_the_model_path_and_keeps_the_first():
    a = {"id": "x", "kind": "order.recorded", "ts": "2026-03-30T01:12:00Z", "order_id": "O1", "customer_id": "C1",
         "amount": 1200}
    b = dict(a, amount="1300")
    others = [dict(a, id=f"o{i}") for i in range(SMALL_BLOCK)]  # with these, a block the fast path takes
    intake = assert_same([a, dict(a, amount="1200.00"), b] + others, 64)
    assert (intake.fast_rows, intake.stats.valid, intake.stats.duplicates, intake.stats.rejected) == (16, 17, 1, 1)
    intake = assert_same([a] + others + [dict(a, amount="1200.00"), b], SMALL_BLOCK + 1)
    assert intake.fast_rows == 17  # the first, in an earlier block, is new: the fast path takes it


# -- the parsers, against Python's own -----------------------------------------------------------------------------
@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30)),
       st.integers(-23 * 60 - 59, 23 * 60 + 59), st.sampled_from(["T", "t", " ", "_"]),
       st.sampled_from(["colon", "compact", "Z", "z"]), st.integers(0, 6))
def test_instants_parse_like_python(naive, minutes, sep, form, digits):
    us = naive.microsecond // 10 ** (6 - digits) * 10 ** (6 - digits) if digits else 0
    dt = naive.replace(microsecond=us)
    zone = timezone.utc if form in ("Z", "z") else timezone(timedelta(minutes=minutes))
    dt = dt.replace(tzinfo=zone)
    sign, off = ("-" if minutes < 0 else "+"), abs(minutes)
    tz = {"Z": "Z", "z": "z", "colon": f"{sign}{off // 60:02d}:{off % 60:02d}",
          "compact": f"{sign}{off // 60:02d}{off % 60:02d}"}[form]
    frac = f".{us:06d}"[:digits + 1] if digits else ""
    text = dt.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + frac + tz
    got, ok = parse_instants([text])
    assert ok[0] and int(got[0]) == to_us(dt), text


def test_dates_and_times_of_day_and_their_edges():
    days, ok = parse_dates(["1970-01-01", "2000-02-29", "1900-02-29", "2024-12-31", "2024-1-01", "2024-01-01T00"])
    assert ok.tolist() == [True, True, False, True, False, False]
    assert days[:2].tolist() == [0, (datetime(2000, 2, 29) - datetime(1970, 1, 1)).days]
    secs, ok = parse_times(["09:30", "23:59:59", "24:00", "9:30", "09:30:00.5", "09:3a"])
    assert ok.tolist() == [True, True, False, False, False, False] and secs[:2].tolist() == [34200, 86399]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(timestamps(), st.sampled_from(DATES + TIMES), st.text(max_size=32),
                          st.dates().map(str), st.times().map(lambda t: t.isoformat()[:5])), min_size=1, max_size=20))
def test_a_few_values_parse_as_a_block_does(values):
    """A few values are parsed one by one (numpy's cost per call would be most of it): the same results."""
    from hrguard.ingest._fastpath import _SMALL

    values = [v for v in values if isinstance(v, str)]
    block = (values * _SMALL)[:max(_SMALL, len(values))]  # enough to take the numpy way
    for parse in (parse_instants, parse_dates, parse_times):
        few_got, few_ok = parse(values[:_SMALL - 1])
        got, ok = parse(block)
        k = len(few_got)
        assert few_ok.tolist() == ok[:k].tolist(), (parse.__name__, values)
        assert few_got[few_ok].tolist() == got[:k][ok[:k]].tolist(), (parse.__name__, values)


# -- (0, 0) is no location ------------------------------------------------------------------------------------------
ZERO_FIXES = [
    {"id": "p1", "kind": "attendance.punched", "ts": "2026-03-30T09:00:00+08:00", "employee_id": "E1",
     "direction": "in", "lat": 0, "lon": 0},
    {"id": "p2", "kind": "attendance.punched", "ts": "2026-03-30T09:01:00+08:00", "employee_id": "E1",
     "direction": "in", "lat": 0.0, "lon": -0.0},
    {"id": "p3", "kind": "attendance.punched", "ts": "2026-03-30T09:02:00+08:00", "employee_id": "E1",
     "direction": "in", "lat": 0, "lon": 5.5},  # on the equator: a place, kept
    {"id": "c1", "kind": "customer.registered", "ts": "2026-03-30T08:00:00+08:00", "customer_id": "C1",
     "lat": 0, "lon": 0},
    {"id": "f1", "kind": "followup.logged", "ts": "2026-03-30T10:00:00+08:00", "employee_id": "E1",
     "customer_id": "C1", "photos": [{"uri": "a.jpg", "lat": 0, "lon": 0}, {"uri": "b.jpg", "lat": 31.2, "lon": 0}]},
]


@pytest.mark.parametrize("as_json", [False, True])
def test_zero_zero_is_no_location_on_both_paths(as_json):
    values = as_lines(ZERO_FIXES) if as_json else ZERO_FIXES
    intake = assert_same(values * 1, size=64, as_json=as_json)
    assert intake.stats.valid == len(ZERO_FIXES) and not intake.rejected
    frame, _ = run(values, 64, as_json, fast=True)
    text = "\n".join(rows(frame))
    assert "'p1', " in text and "'lat': 'nan', 'lon': 'nan'" in [r for r in rows(frame) if "'p1'" in r][0]
    assert "'lat': 'nan', 'lon': 'nan'" in [r for r in rows(frame) if "'p2'" in r][0]
    assert "'lat': 0.0, 'lon': 5.5" in [r for r in rows(frame) if "'p3'" in r][0]
    assert "'lat': 'nan', 'lon': 'nan'" in [r for r in rows(frame) if "'c1'" in r][0]
    photos = [r for r in rows(frame) if "'f1'" in r][0]
    assert "{'uri': 'a.jpg', 'lat': 'nan', 'lon': 'nan'" in photos and "'lat': 31.2, 'lon': 0.0" in photos


def test_the_model_reads_zero_zero_as_no_location():
    from hrguard.events import AttendancePunched

    ev = AttendancePunched.model_validate(ZERO_FIXES[0])
    assert (ev.lat, ev.lon) == (None, None)
    assert AttendancePunched.model_validate(ZERO_FIXES[2]).lat == 0
