"""``summary.unsupported_claim``: each claim of a daily summary against that day's follow-ups and punches."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hrguard.state import Rows as KeyedRuns
from hrguard.findings import finding_id
from hrguard.kit import EARTH_RADIUS_M, haversine_m
from hrguard.testing import run_all_ways
from hrguard.timeutil import to_us

SH = "+08:00"
LAT, LON = 31.2304, 121.4737
RULE = "summary.unsupported_claim"
D = "2026-04-01"


def t(hms: str, day: str = D, off: str = SH) -> str:
    return f"{day}T{hms}{off}"


def north(metres: float) -> float:
    return LAT + math.degrees(metres / EARTH_RADIUS_M)


def cust(id_="c1", c="C1", ts="07:00:00", lat=LAT, lon=LON, name="Acme Trading", day=D):
    return {"id": id_, "kind": "customer.registered", "ts": t(ts, day), "employee_id": "E9", "customer_id": c,
            "name": name, "owner_id": "E1", "lat": lat, "lon": lon}


def fu(id_, ts="10:00:00", c="C1", channel="visit", emp="E1", day=D):
    return {"id": id_, "kind": "followup.logged", "ts": t(ts, day), "employee_id": emp, "customer_id": c,
            "channel": channel, "summary": "x"}


def punch(id_, ts="09:30:00", lat=LAT, lon=LON, emp="E1", day=D):
    return {"id": id_, "kind": "attendance.punched", "ts": t(ts, day), "employee_id": emp, "direction": "in",
            "lat": lat, "lon": lon, "accuracy_m": 10, "source": "gps" if lat is not None else "manual"}


def summary(id_, claims, ts="18:00:00", date=D, emp="E1", day=D):
    return {"id": id_, "kind": "summary.submitted", "ts": t(ts, day), "employee_id": emp, "date": date,
            "claims": [{"customer_id": c, "activity": a} for c, a in claims]}


def found(result):
    return [(f.rule, f.employee_id, f.customer_id, f.ts.isoformat(), f.evidence, f.details, f.severity.value)
            for f in result.findings]


def det(missing, activity="visit", index=0, nearest=None, date=D):
    return {"missing": missing, "activity": activity, "claim_index": index, "date": date, "nearest_punch_m": nearest}


S_TS = "2026-04-01T18:00:00+08:00"


@pytest.fixture
def rs(ruleset):
    def make(params=None, **kw):
        return ruleset({"use": RULE, "params": params or {}, **kw}, timezone="Asia/Shanghai")
    return make


# -- visit claims -------------------------------------------------------------------------------------
def test_visit_with_followup_and_punch_near_the_customer_is_supported(engine, rs):
    events = [cust(), punch("p1", lat=north(100)), fu("f1"), summary("s1", [("C1", "visit")])]
    assert run_all_ways(events, rs(), engine=engine).findings == []


def test_visit_without_followup(engine, rs):
    events = [cust(), punch("p1"), fu("f1", channel="phone"), summary("s1", [("C1", "visit")])]
    r = run_all_ways(events, rs(), engine=engine)
    assert found(r) == [(RULE, "E1", "C1", S_TS, ["s1"], det(["followup"], nearest=0.0), "medium")]
    assert r.findings[0].message == ("E1's work summary for 2026-04-01 says they visited customer Acme Trading (C1), "
                                     "but no visit follow-up for that customer was logged that day")


def test_visit_without_punch_near_the_customer(engine, rs):
    events = [cust(), punch("p-office", "09:00:00", lat=north(3000)), punch("p-cafe", "10:00:00", lat=north(2000)),
              fu("f1"), summary("s1", [("C1", "visit")])]
    r = run_all_ways(events, rs(), engine=engine)
    # evidence: the summary, where the customer is, and the nearest clock-in
    assert found(r) == [(RULE, "E1", "C1", S_TS, ["c1", "p-cafe", "s1"], det(["punch"], nearest=2000.0), "medium")]
    assert r.findings[0].message == ("E1's work summary for 2026-04-01 says they visited customer Acme Trading (C1), "
                                     "but no clock-in that day was within 500 m of the customer (the nearest was 2,000 m away)")


def test_visit_with_neither_raises_severity(engine, rs):
    events = [cust(), punch("p1", lat=north(2000)), summary("s1", [("C1", "visit")])]
    r = run_all_ways(events, rs(), engine=engine)
    assert found(r) == [(RULE, "E1", "C1", S_TS, ["c1", "p1", "s1"], det(["followup", "punch"], nearest=2000.0), "high")]


def test_raised_from_the_rules_own_severity_capped_at_critical(engine, rs):
    events = [cust(), summary("s1", [("C1", "visit")])]
    assert [f.severity.value for f in run_all_ways(events, rs(severity="low"), engine=engine).findings] == ["medium"]
    assert [f.severity.value for f in run_all_ways(events, rs(severity="critical"), engine=engine).findings] == ["critical"]


def test_punches_without_coordinates_support_nothing(engine, rs):
    events = [cust(), punch("p1", lat=None, lon=None), fu("f1"), summary("s1", [("C1", "visit")])]
    r = run_all_ways(events, rs(), engine=engine)
    assert found(r) == [(RULE, "E1", "C1", S_TS, ["c1", "s1"], det(["punch"]), "medium")]
    assert r.findings[0].message.endswith("(no clock-in with a location that day)")


@pytest.mark.parametrize("delta, fires", [(0.0, False), (-0.01, True)])
def test_punch_radius_boundary_within_includes_the_radius(engine, rs, delta, fires):
    lat = north(500)
    dist = float(haversine_m(lat, LON, LAT, LON))
    events = [cust(), punch("p1", lat=lat), fu("f1"), summary("s1", [("C1", "visit")])]
    r = run_all_ways(events, rs({"radius_m": dist + delta}), engine=engine)
    assert [f.details["missing"] for f in r.findings] == ([["punch"]] if fires else [])


def test_traces_must_be_by_the_employee_for_the_customer(engine, rs):
    events = [cust(), cust("c2", "C2", lat=north(5000)),
              fu("f-other-emp", emp="E2"), punch("p-other-emp", emp="E2"),   # someone else was there
              fu("f-other-cust", c="C2"),                                     # E1 visited another customer
              punch("p1", lat=north(5000)),                                   # E1 was at C2
              summary("s1", [("C1", "visit")])]
    r = run_all_ways(events, rs(), engine=engine)
    assert found(r) == [(RULE, "E1", "C1", S_TS, ["c1", "p1", "s1"], det(["followup", "punch"], nearest=5000.0), "high")]


def test_customer_without_location_needs_no_punch(engine, rs):
    events = [cust(lat=None, lon=None), fu("f1"), summary("s1", [("C1", "visit")]),
              summary("s2", [("C1", "visit")], ts="18:00:00", day="2026-04-02", date="2026-04-02")]
    r = run_all_ways(events, rs(), engine=engine)
    # the one requirement left (followup) is unmet on 04-02: every requirement is unmet, so raised
    assert found(r) == [(RULE, "E1", "C1", "2026-04-02T18:00:00+08:00", ["s2"], det(["followup"], date="2026-04-02"),
                         "high")]


def test_unregistered_customer_is_judged_on_followups_only(engine, rs):
    events = [fu("f1", c="C404"), summary("s1", [("C404", "visit"), ("C405", "visit")])]
    r = run_all_ways(events, rs(), engine=engine)
    assert found(r) == [(RULE, "E1", "C405", S_TS, ["s1"], det(["followup"], index=1), "high")]
    assert r.findings[0].message == ("E1's work summary for 2026-04-01 says they visited customer C405, "
                                     "but no visit follow-up for that customer was logged that day")


def test_location_is_the_customers_as_of_the_summary(engine, rs):
    events = [cust(), punch("p1", lat=north(3000)), fu("f1"),
              cust("c1-moved", ts="12:00:00", lat=north(3000)),            # moved before the summary: p1 is there
              summary("s1", [("C1", "visit")]),
              cust("c1-back", ts="19:00:00"),                               # a later move changes nothing
              summary("s2", [("C1", "visit")], ts="20:00:00")]
    r = run_all_ways(events, rs(), engine=engine)
    assert found(r) == [(RULE, "E1", "C1", "2026-04-01T20:00:00+08:00", ["p1", "c1-back", "s2"],
                         det(["punch"], nearest=3000.0), "medium")]


def test_location_registered_after_the_summary_is_unknown_to_it(engine, rs):
    events = [fu("f1"), summary("s1", [("C1", "visit")]), cust(ts="19:00:00")]
    assert run_all_ways(events, rs(), engine=engine).findings == []


# -- call and other claims ----------------------------------------------------------------------------
@pytest.mark.parametrize("channel", ["phone", "wechat", "email"])
def test_call_claim_supported_by_phone_wechat_or_email(engine, rs, channel):
    events = [cust(), fu("f1", channel=channel), summary("s1", [("C1", "call")])]
    assert run_all_ways(events, rs(), engine=engine).findings == []


@pytest.mark.parametrize("channel", ["visit", "meeting", "other"])
def test_call_claim_not_supported_by_other_channels(engine, rs, channel):
    events = [cust(), fu("f1", channel=channel), punch("p1"), summary("s1", [("C1", "call")])]
    r = run_all_ways(events, rs(), engine=engine)
    # a call needs no punch: its only requirement is unmet, so the severity is raised
    assert found(r) == [(RULE, "E1", "C1", S_TS, ["s1"], det(["followup"], "call"), "high")]
    assert r.findings[0].message == ("E1's work summary for 2026-04-01 says they called customer Acme Trading (C1), "
                                     "but no phone, WeChat or email follow-up for that customer was logged that day")


def test_other_claims_are_not_judged_and_claim_index_counts_them(engine, rs):
    events = [cust(), summary("s1", [("C1", "other"), ("C9", "other"), ("C1", "call")])]
    r = run_all_ways(events, rs(), engine=engine)
    assert found(r) == [(RULE, "E1", "C1", S_TS, ["s1"], det(["followup"], "call", index=2), "high")]


def test_one_summary_many_claims(engine, rs):
    events = [cust(), cust("c2", "C2", lat=north(4000)), punch("p1"), fu("f1"), fu("f2", c="C2", channel="wechat"),
              summary("s1", [("C1", "visit"), ("C2", "visit"), ("C2", "call"), ("C1", "call")])]
    r = run_all_ways(events, rs(), engine=engine)
    assert sorted(found(r), key=lambda x: x[5]["claim_index"]) == [
        (RULE, "E1", "C2", S_TS, ["c2", "p1", "s1"], det(["followup", "punch"], index=1, nearest=4000.0), "high"),
        (RULE, "E1", "C1", S_TS, ["s1"], det(["followup"], "call", index=3), "high"),
    ]


# -- the day and the moment -----------------------------------------------------------------------------
def test_traces_must_be_on_local_date_d(engine, rs):
    # Asia/Shanghai: 2026-04-01 runs from 03-31T16:00Z to 04-01T15:59:59Z
    events = [cust(),
              fu("f-eve", "23:59:59", day="2026-03-31"), punch("p-eve", "23:59:59", day="2026-03-31"),
              summary("s1", [("C1", "visit")]),
              fu("f-mid", "00:00:00", day="2026-04-02"), punch("p-mid", "00:00:00", day="2026-04-02"),
              summary("s2", [("C1", "visit")], ts="08:00:00", day="2026-04-02", date="2026-04-01")]
    r = run_all_ways(events, rs(), engine=engine)
    assert [(f.evidence, f.details["missing"], f.severity.value) for f in r.findings] == [
        (["c1", "s1"], ["followup", "punch"], "high"), (["c1", "s2"], ["followup", "punch"], "high")]


def test_local_date_is_not_the_utc_date(engine, rs):
    # 00:30 and 07:00 in Shanghai are still 03-31 in UTC, 23:30 is 04-01 in both
    events = [cust(), punch("p1", "00:30:00"), fu("f1", "07:00:00"), fu("f2", "23:30:00", channel="phone"),
              summary("s1", [("C1", "visit"), ("C1", "call")], ts="23:45:00")]
    assert run_all_ways(events, rs(), engine=engine).findings == []
    utc = [cust(), punch("p1") | {"ts": "2026-03-31T16:30:00+00:00"},
           summary("s1", [("C1", "visit")], ts="23:45:00")]
    r = run_all_ways(utc, rs({"require": ["punch"]}), engine=engine)
    assert r.findings == []  # 16:30Z on 03-31 is 00:30 on 04-01 in Shanghai


def test_a_summary_for_an_earlier_date_is_checked_against_that_date(engine, rs):
    events = [cust(), punch("p1", day="2026-03-31"), fu("f1", day="2026-03-31"), punch("p2"),
              summary("s1", [("C1", "visit")], ts="09:00:00", date="2026-03-31"),
              summary("s2", [("C1", "visit")], ts="09:00:00", date="2026-04-02")]
    r = run_all_ways(events, rs(), engine=engine)
    assert [(f.evidence, f.details["date"], f.details["missing"]) for f in r.findings] == [
        (["c1", "s2"], "2026-04-02", ["followup", "punch"])]


def test_traces_at_or_before_the_summary_only(engine, rs):
    events = [cust(), summary("s1", [("C1", "visit")]),
              fu("f1", "18:00:01"), punch("p1", "18:00:01")]   # one second after the summary
    r = run_all_ways(events, rs(), engine=engine)
    assert found(r) == [(RULE, "E1", "C1", S_TS, ["c1", "s1"], det(["followup", "punch"]), "high")]
    exact = [cust(), summary("s1", [("C1", "visit")]), fu("f1", "18:00:00"), punch("p1", "18:00:00")]
    assert run_all_ways(exact, rs(), engine=engine).findings == []  # "f1" and "p1" sort before "s1"


def test_at_the_same_instant_only_events_before_it_in_the_order_count(engine, rs):
    # ties at the summary's ts are ordered by id: "t-..." sorts after "s1", so it is not yet known
    events = [cust(), summary("s1", [("C1", "visit")]), fu("t-f1", "18:00:00"), punch("t-p1", "18:00:00")]
    r = run_all_ways(events, rs(), engine=engine)
    assert [f.details["missing"] for f in r.findings] == [["followup", "punch"]]


def test_resubmitted_summary_is_judged_again(engine, rs):
    events = [cust(), punch("p1"), summary("s1", [("C1", "visit")], ts="12:00:00"),
              fu("f1", "13:00:00"), summary("s2", [("C1", "visit")], ts="18:00:00"),
              summary("s3", [("C1", "visit"), ("C1", "call")], ts="19:00:00")]
    r = run_all_ways(events, rs(), engine=engine)
    assert found(r) == [
        (RULE, "E1", "C1", "2026-04-01T12:00:00+08:00", ["s1"], det(["followup"], nearest=0.0), "medium"),
        (RULE, "E1", "C1", "2026-04-01T19:00:00+08:00", ["s3"], det(["followup"], "call", index=1), "high"),
    ]
    assert len({f.id for f in r.findings}) == 2


# -- params, identity, language -------------------------------------------------------------------------
def test_require_followup_only(engine, rs):
    events = [cust(), punch("p1", lat=north(3000)), fu("f1"), summary("s1", [("C1", "visit")]),
              summary("s2", [("C1", "visit")], ts="19:00:00", day="2026-04-02", date="2026-04-02")]
    r = run_all_ways(events, rs({"require": ["followup"]}), engine=engine)
    # s1 lacks only the punch, which is not required; s2 lacks the follow-up, the only requirement: raised
    assert found(r) == [(RULE, "E1", "C1", "2026-04-02T19:00:00+08:00", ["s2"], det(["followup"], date="2026-04-02"),
                         "high")]


def test_require_punch_only(engine, rs):
    events = [cust(), punch("p1", lat=north(3000)), summary("s1", [("C1", "visit"), ("C1", "call"), ("C2", "visit")])]
    r = run_all_ways(events, rs({"require": ["punch"]}), engine=engine)
    # the call has no punch requirement; C2 has no location: only the visit to C1 is judged
    assert found(r) == [(RULE, "E1", "C1", S_TS, ["c1", "p1", "s1"], det(["punch"], nearest=3000.0), "high")]


def test_require_is_validated(engine):
    from hrguard.errors import RulesetError

    for bad in ([], ["photo"], "followup"):
        with pytest.raises(RulesetError):
            engine.load_ruleset({"rules": [{"use": RULE, "params": {"require": bad}}]})
    rs = engine.load_ruleset({"rules": [{"use": RULE, "params": {"require": ["punch", "followup", "punch"]}}]})
    assert rs.rules[0].params.require == ["followup", "punch"]


def test_subject_key_is_summary_and_claim_index(engine, ruleset):
    rs = ruleset({"use": RULE, "name": "false-work"}, timezone="Asia/Shanghai")
    events = [summary("s1", [("C1", "visit"), ("C1", "visit")])]
    r = run_all_ways(events, rs, engine=engine)
    ts = to_us(datetime.fromisoformat(S_TS))
    assert [f.id for f in r.findings] == sorted([finding_id("false-work", ("s1", 0), ts),
                                                 finding_id("false-work", ("s1", 1), ts)])
    assert {f.name for f in r.findings} == {"false-work"}


def test_chinese_messages(engine, ruleset):
    rs = ruleset({"use": RULE}, timezone="Asia/Shanghai", language="zh")
    events = [cust(), cust("c2", "C2", name="Beta"), punch("p1", lat=north(2000)), fu("f2", c="C2"),
              summary("s1", [("C1", "visit"), ("C2", "visit"), ("C1", "call")])]
    msgs = sorted(f.message for f in run_all_ways(events, rs, engine=engine).findings)
    assert msgs == sorted([
        "E1 在 2026-04-01 的工作总结中称拜访了客户 Acme Trading (C1)，但当天既没有该客户的拜访跟进记录，"
        "也没有在客户 500 米范围内的打卡（最近的打卡距客户 2,000 米）",
        "E1 在 2026-04-01 的工作总结中称拜访了客户 Beta (C2)，但当天没有一次打卡在客户 500 米范围内（最近的打卡距客户 2,000 米）",
        "E1 在 2026-04-01 的工作总结中称联系了客户 Acme Trading (C1)，但当天没有该客户的电话、微信或邮件跟进记录",
    ])


def test_tenants_never_meet(engine, rs):
    events = [{**cust(), "tenant": "a"}, {**punch("p1"), "tenant": "b"}, {**fu("f1"), "tenant": "b"},
              {**summary("s1", [("C1", "visit")]), "tenant": "a"}]
    r = run_all_ways(events, rs(), engine=engine)
    assert [(f.tenant, f.evidence, f.details["missing"]) for f in r.findings] == [("a", ["c1", "s1"], ["followup", "punch"])]


# -- the multimap under it ----------------------------------------------------------------------------
def test_keyed_runs_finds_every_row_of_a_key_in_insertion_order():
    rnd = random.Random(7)
    runs = KeyedRuns(v=np.int64)
    rows: list[tuple[int, int]] = []
    for batch in range(60):
        keys = [rnd.randrange(12) for _ in range(rnd.choice([0, 1, 1, 2, 5, 30]))]
        vals = list(range(len(rows), len(rows) + len(keys)))
        runs.add(np.array(keys, dtype=np.int64), {"v": np.array(vals, dtype=np.int64)})
        rows.extend(zip(keys, vals))
        assert len(runs.runs) <= 2 + int(math.log2(max(len(rows), 1))) + 1
        q = np.array([rnd.randrange(14) for _ in range(5)], dtype=np.int64)
        qi, cols = runs.find(q)
        got = sorted(zip(qi.tolist(), cols["v"].tolist()))
        want = sorted((i, v) for i, k in enumerate(q.tolist()) for kk, v in rows if kk == k)
        assert got == want
    assert len(runs) == len(rows)


# -- property: the same findings however the events arrive ------------------------------------------------
BASE = datetime(2026, 4, 1, 0, 0, tzinfo=timezone(timedelta(hours=8)))


@st.composite
def event_sets(draw: st.DrawFn) -> list[dict]:
    events: list[dict] = []
    for i in range(draw(st.integers(0, 40))):
        ts = BASE + timedelta(hours=4 * draw(st.integers(0, 14)))
        c = draw(st.sampled_from(["C1", "C1", "C2", "C3"]))
        e = {"id": f"e{draw(st.integers(0, 99))}-{i}", "ts": ts.isoformat(),
             "employee_id": draw(st.sampled_from(["E1", "E1", "E2"]))}
        kind = draw(st.sampled_from(["customer.registered", "followup.logged", "followup.logged", "attendance.punched",
                                     "attendance.punched", "summary.submitted"]))
        if kind == "customer.registered":
            located = draw(st.integers(0, 3)) > 0
            e.update(customer_id=c, name=c, owner_id="E1",
                     lat=north(draw(st.sampled_from([0, 1000]))) if located else None, lon=LON if located else None)
        elif kind == "followup.logged":
            e.update(customer_id=c, channel=draw(st.sampled_from(["visit", "phone", "wechat", "meeting"])), summary="x")
        elif kind == "attendance.punched":
            has_fix = draw(st.integers(0, 4)) > 0
            e.update(direction="in", lat=north(draw(st.sampled_from([0, 400, 1000, 3000]))) if has_fix else None,
                     lon=LON if has_fix else None, source="gps")
        else:
            day = (ts - timedelta(days=draw(st.integers(0, 1)))).date()
            claims = [{"customer_id": draw(st.sampled_from(["C1", "C1", "C2", "C3"])),
                       "activity": draw(st.sampled_from(["visit", "call", "other"]))} for _ in range(draw(st.integers(0, 3)))]
            e.update(date=day.isoformat(), claims=claims)
        e["kind"] = kind
        events.append(e)
    return events


@pytest.fixture(scope="module")
def prop_rs(engine):
    return engine.load_ruleset({"ruleset": "p", "timezone": "Asia/Shanghai", "rules": [
        {"use": RULE}, {"use": RULE, "name": "fu-only", "params": {"require": ["followup"], "radius_m": 600}}]})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_sets(), seed=st.integers(0, 10_000))
def test_property_batch_equals_shuffled_chunked_and_streamed(engine, prop_rs, events, seed):
    r = run_all_ways(events, prop_rs, engine=engine, seed=seed, chunk_sizes=(1, 2, 5, 9, 65_536))
    summaries = {e["id"] for e in events if e["kind"] == "summary.submitted"}
    assert {f.evidence[-1] for f in r.findings} <= summaries
    assert len(r.findings) == len({f.id for f in r.findings})
