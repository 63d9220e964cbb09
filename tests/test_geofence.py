"""``geofence.mismatch``: every boundary of spec/detectors.md, each scenario checked all ways."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hrguard.kit import haversine_m
from hrguard.testing import run_all_ways

SH = "+08:00"
DAY = "2026-04-02"
RULE = "geofence.mismatch"

C1 = (31.2304, 121.4737)  # customer C1
C2 = (31.2500, 121.5000)  # customer C2, ~3.2 km from C1
S1 = (31.2000, 121.4000)  # site S1
NEAR_C1 = (31.2305, 121.4738)  # ~14 m from C1
FAR = (31.2304, 121.4837)  # ~951 m east of C1
FARTHER = (31.2304, 121.48371)  # ~1 m beyond FAR


def dist(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance from punch position ``a`` to place ``b``, exactly as the detector computes it."""
    return float(haversine_m(a[0], a[1], b[0], b[1]))


def t(hms: str, day: str = DAY, off: str = SH) -> str:
    return f"{day}T{hms}{off}"


def customer(id_, ts, c, at=C1, owner="E1"):
    lat, lon = at if at is not None else (None, None)
    return {"id": id_, "kind": "customer.registered", "ts": ts, "employee_id": owner, "customer_id": c,
            "name": c, "owner_id": owner, "lat": lat, "lon": lon, "address": None}


def site(id_, ts, s, at=S1, radius_m=None):
    ev = {"id": id_, "kind": "site.registered", "ts": ts, "site_id": s, "name": s, "lat": at[0], "lon": at[1]}
    if radius_m is not None:
        ev["radius_m"] = radius_m
    return ev


def item(start, end, c=None, s=None, purpose=None):
    it = {"start": start, "end": end}
    if c is not None:
        it["customer_id"] = c
    if s is not None:
        it["site_id"] = s
    if purpose is not None:
        it["purpose"] = purpose
    return it


def plan(id_, ts, items, date=DAY, emp="E1"):
    return {"id": id_, "kind": "plan.submitted", "ts": ts, "employee_id": emp, "date": date, "items": items}


def punch(id_, ts, at=FAR, acc=None, c=None, s=None, emp="E1", direction="in"):
    lat, lon = at if at is not None else (None, None)
    return {"id": id_, "kind": "attendance.punched", "ts": ts, "employee_id": emp, "direction": direction,
            "lat": lat, "lon": lon, "accuracy_m": acc, "source": "gps" if at is not None else "manual",
            "customer_id": c, "site_id": s}


def details(reason, expected, *, d=None, threshold=None, acc=None, plan_id=None):
    return {"reason": reason, "distance_m": None if d is None else round(d, 1), "expected": expected,
            "threshold_m": round(threshold, 1), "accuracy_m": acc, "plan_id": plan_id}


def got(result):
    return [(f.rule, f.employee_id, f.customer_id, f.ts, f.evidence, f.details) for f in result.findings]


def want(ts, evidence, det, emp="E1", cust="from-details"):
    if cust == "from-details":
        cust = det["expected"].get("customer_id")
    return (RULE, emp, cust, datetime.fromisoformat(ts), evidence, det)


def rules(ruleset, tz="Asia/Shanghai", **params):
    """The rule with ``params``; local dates and plan times read in Shanghai unless told."""
    return ruleset({"use": RULE, "params": params}, timezone=tz)


# -- distance and radius ------------------------------------------------------------------------------
def test_distance_exactly_at_radius_does_not_fire_and_just_over_fires(engine, ruleset):
    d = dist(FAR, C1)
    d2 = dist(FARTHER, C1)
    assert 900 < d < d2 < d + 2
    events = [customer("c1", t("08:00:00"), "C1"),
              punch("p1", t("09:00:00"), FAR, c="C1"),
              punch("p2", t("09:10:00"), FARTHER, c="C1")]
    res = run_all_ways(events, rules(ruleset, radius_m=d), engine=engine)
    assert got(res) == [want(t("09:10:00"), ["c1", "p2"], details("too_far", {"customer_id": "C1"}, d=d2, threshold=d))]

    below = float(np.nextafter(d, 0))  # the radius a hair under the distance: now p1 is over it
    res = run_all_ways(events, rules(ruleset, radius_m=below), engine=engine)
    assert got(res) == [
        want(t("09:00:00"), ["c1", "p1"], details("too_far", {"customer_id": "C1"}, d=d, threshold=below)),
        want(t("09:10:00"), ["c1", "p2"], details("too_far", {"customer_id": "C1"}, d=d2, threshold=below)),
    ]


def test_default_radius_is_500_m(engine, ruleset):
    near500 = (31.2304, 121.4789)  # ~494 m
    far500 = (31.2304, 121.4791)  # ~513 m
    assert dist(near500, C1) < 500 < dist(far500, C1)
    events = [customer("c1", t("08:00:00"), "C1"), punch("p1", t("09:00:00"), near500, c="C1"),
              punch("p2", t("09:01:00"), far500, c="C1")]
    res = run_all_ways(events, rules(ruleset), engine=engine)
    assert got(res) == [want(t("09:01:00"), ["c1", "p2"],
                             details("too_far", {"customer_id": "C1"}, d=dist(far500, C1), threshold=500))]


def test_accuracy_credit_is_capped_at_max_accuracy_credit_m(engine, ruleset):
    d = dist(FAR, C1)
    r = d - 150
    events = [customer("c1", t("08:00:00"), "C1"),
              punch("low", t("09:00:00"), acc=100, c="C1"),     # credit 100: threshold d-50 -> fires
              punch("mid", t("09:01:00"), acc=180, c="C1"),     # credit 180: threshold d+30 -> quiet
              punch("high", t("09:02:00"), acc=1000, c="C1"),   # credit capped at 200: d+50 -> quiet
              punch("none", t("09:03:00"), acc=None, c="C1"),   # no accuracy: no credit -> fires
              punch("zero", t("09:04:00"), acc=0, c="C1")]      # zero accuracy: no credit -> fires
    exp = {"customer_id": "C1"}
    res = run_all_ways(events, rules(ruleset, radius_m=r), engine=engine)
    assert got(res) == [
        want(t("09:00:00"), ["c1", "low"], details("too_far", exp, d=d, threshold=r + 100, acc=100.0)),
        want(t("09:03:00"), ["c1", "none"], details("too_far", exp, d=d, threshold=r)),
        want(t("09:04:00"), ["c1", "zero"], details("too_far", exp, d=d, threshold=r, acc=0.0)),
    ]
    # a lower cap (120): mid and high now get only 120 m of credit, threshold d-30 -> both fire
    res = run_all_ways(events, rules(ruleset, radius_m=r, max_accuracy_credit_m=120), engine=engine)
    assert got(res) == [
        want(t("09:00:00"), ["c1", "low"], details("too_far", exp, d=d, threshold=r + 100, acc=100.0)),
        want(t("09:01:00"), ["c1", "mid"], details("too_far", exp, d=d, threshold=r + 120, acc=180.0)),
        want(t("09:02:00"), ["c1", "high"], details("too_far", exp, d=d, threshold=r + 120, acc=1000.0)),
        want(t("09:03:00"), ["c1", "none"], details("too_far", exp, d=d, threshold=r)),
        want(t("09:04:00"), ["c1", "zero"], details("too_far", exp, d=d, threshold=r, acc=0.0)),
    ]


# -- plan windows -------------------------------------------------------------------------------------
def test_window_slack_edges_are_inclusive(engine, ruleset):
    events = [customer("c1", t("07:00:00"), "C1"),
              plan("pl", t("08:00:00"), [item("09:00", "10:00", c="C1")]),
              punch("a", t("08:29:59")),   # one second before start - 30m: no expectation
              punch("b", t("08:30:00")),   # exactly start - 30m: inside
              punch("c", t("10:30:00")),   # exactly end + 30m: inside
              punch("d", t("10:30:01"))]   # one second after: no expectation
    d = dist(FAR, C1)
    exp = {"customer_id": "C1"}
    res = run_all_ways(events, rules(ruleset), engine=engine)
    assert got(res) == [
        want(t("08:30:00"), ["c1", "pl", "b"], details("too_far", exp, d=d, threshold=500, plan_id="pl")),
        want(t("10:30:00"), ["c1", "pl", "c"], details("too_far", exp, d=d, threshold=500, plan_id="pl")),
    ]
    # a custom slack, and HH:MM:SS item times
    events = [customer("c1", t("07:00:00"), "C1"),
              plan("pl", t("08:00:00"), [item("09:00:30", "10:00:15", c="C1")]),
              punch("a", t("08:50:29")), punch("b", t("08:50:30")),
              punch("c", t("10:10:15")), punch("d", t("10:10:16"))]
    res = run_all_ways(events, rules(ruleset, window_slack="10m"), engine=engine)
    assert [f.evidence[-1] for f in res.findings] == ["b", "c"]
    # no slack (ISO 8601 duration): exactly the item's window
    res = run_all_ways(events, rules(ruleset, window_slack="PT0S"), engine=engine)
    assert res.findings == []


def test_first_matching_plan_item_wins_and_placeless_items_are_skipped(engine, ruleset):
    events = [customer("c1", t("07:00:00"), "C1"), customer("c2", t("07:00:01"), "C2", at=C2),
              plan("pl", t("08:00:00"), [
                  item("08:00", "18:00", purpose="office work"),   # names no place: skipped
                  item("10:00", "11:00", c="C2"),                  # first match for 10:30
                  item("09:00", "12:00", c="C1"),
              ]),
              punch("p1", t("09:05:00"), NEAR_C1),    # only the C1 item matches: at C1, quiet
              punch("p2", t("10:30:00"), NEAR_C1)]    # C2 item comes first: away from C2, fires
    res = run_all_ways(events, rules(ruleset), engine=engine)
    assert got(res) == [want(t("10:30:00"), ["c2", "pl", "p2"],
                             details("too_far", {"customer_id": "C2"}, d=dist(NEAR_C1, C2), threshold=500,
                                     plan_id="pl"))]


def test_plan_item_naming_a_customer_and_a_site_expects_the_customer(engine, ruleset):
    events = [customer("c1", t("07:00:00"), "C1"), site("s1", t("07:00:00"), "S1"),
              plan("pl", t("08:00:00"), [item("09:00", "12:00", c="C1", s="S1")]),
              punch("p1", t("09:30:00"), S1)]
    res = run_all_ways(events, rules(ruleset), engine=engine)
    assert got(res) == [want(t("09:30:00"), ["c1", "pl", "p1"],
                             details("too_far", {"customer_id": "C1"}, d=dist(S1, C1), threshold=500, plan_id="pl"))]


def test_a_later_plan_replaces_the_earlier_one_only_for_later_punches(engine, ruleset):
    exp1, exp2 = {"customer_id": "C1"}, {"customer_id": "C2"}
    events = [customer("c1", t("07:00:00"), "C1"), customer("c2", t("07:00:00"), "C2", at=C2),
              plan("pl1", t("08:00:00"), [item("09:00", "18:00", c="C1")]),
              punch("p1", t("09:30:00"), C2),            # plan 1: expects C1 -> fires
              plan("pl2", t("10:00:00"), [item("09:00", "18:00", c="C2")]),
              punch("p2", t("11:00:00"), C2),            # plan 2: at C2, quiet
              punch("p3", t("11:30:00"), C1),            # plan 2: expects C2 -> fires
              # another day's plan and another employee's plan change nothing for E1 today
              plan("pl3", t("12:00:00"), [item("09:00", "18:00", c="C1")], date="2026-04-03"),
              plan("pl4", t("12:00:00"), [item("09:00", "18:00", c="C1")], emp="E2"),
              punch("p4", t("12:30:00"), C1),            # still plan 2 -> fires
              # a plan at the same instant as a punch counts only if it comes first in (ts, id) order
              plan("a5", t("13:00:00"), [item("09:00", "18:00", c="C1")]),
              punch("p5", t("13:00:00"), C1),            # "a5" < "p5": a5 is known: at C1, quiet
              plan("q6", t("14:00:00"), [item("09:00", "18:00", c="C2")]),
              punch("p6", t("14:00:00"), C1)]            # "p6" < "q6": still a5 (C1): quiet
    d = dist(C1, C2)
    res = run_all_ways(events, rules(ruleset), engine=engine)
    assert got(res) == [
        want(t("09:30:00"), ["c1", "pl1", "p1"], details("too_far", exp1, d=dist(C2, C1), threshold=500, plan_id="pl1")),
        want(t("11:30:00"), ["c2", "pl2", "p3"], details("too_far", exp2, d=d, threshold=500, plan_id="pl2")),
        want(t("12:30:00"), ["c2", "pl2", "p4"], details("too_far", exp2, d=d, threshold=500, plan_id="pl2")),
    ]


def test_a_later_plan_without_placed_items_clears_the_expectation(engine, ruleset):
    events = [customer("c1", t("07:00:00"), "C1"),
              plan("pl1", t("08:00:00"), [item("09:00", "18:00", c="C1")]),
              punch("p1", t("09:00:00")),                                            # plan 1: fires
              plan("pl2", t("10:00:00"), [item("09:00", "18:00", purpose="training")]),
              punch("p2", t("11:00:00"))]                                            # plan 2 names no place
    res = run_all_ways(events, rules(ruleset), engine=engine)
    assert [f.evidence for f in res.findings] == [["c1", "pl1", "p1"]]


def test_the_punchs_own_customer_or_site_overrides_the_plan(engine, ruleset):
    events = [customer("c1", t("07:00:00"), "C1"), customer("c2", t("07:00:00"), "C2", at=C2),
              site("s1", t("07:00:00"), "S1", radius_m=300),
              plan("pl", t("08:00:00"), [item("09:00", "18:00", c="C1")]),
              punch("p1", t("09:00:00"), C1, c="C2"),           # at C1 as planned, but names C2: fires
              punch("p2", t("10:00:00"), S1, s="S1"),           # names S1 and is there: quiet
              punch("p3", t("11:00:00"), C1, s="S1"),           # names S1, is at C1: fires for S1
              punch("p4", t("12:00:00"), C1, c="C2", s="S1")]   # names both: expects the customer C2
    res = run_all_ways(events, rules(ruleset), engine=engine)
    assert got(res) == [
        want(t("09:00:00"), ["c2", "p1"], details("too_far", {"customer_id": "C2"}, d=dist(C1, C2), threshold=500)),
        want(t("11:00:00"), ["s1", "p3"], details("too_far", {"site_id": "S1"}, d=dist(C1, S1), threshold=300), cust=None),
        want(t("12:00:00"), ["c2", "p4"], details("too_far", {"customer_id": "C2"}, d=dist(C1, C2), threshold=500)),
    ]


def test_a_sites_own_radius_is_used(engine, ruleset):
    at950 = (S1[0], S1[1] + 0.01)        # ~951 m from S1
    at150 = (S1[0], S1[1] + 0.0016)      # ~152 m from S1
    assert 900 < dist(at950, S1) < 1000 and 100 < dist(at150, S1) < 200
    events = [site("big", t("07:00:00"), "BIG", radius_m=1000), site("small", t("07:00:00"), "SMALL", radius_m=100),
              site("dflt", t("07:00:00"), "DFLT"),   # radius_m defaults to 200
              punch("p1", t("09:00:00"), at950, s="BIG"),      # 951 m < 1000: quiet (rule radius 500 ignored)
              punch("p2", t("09:01:00"), at150, s="SMALL"),    # 152 m > 100: fires
              punch("p3", t("09:02:00"), at150, s="DFLT"),     # 152 m < 200: quiet
              punch("p4", t("09:03:00"), at950, s="DFLT", acc=30)]  # 951 > 200 + 30: fires
    res = run_all_ways(events, rules(ruleset), engine=engine)
    assert got(res) == [
        want(t("09:01:00"), ["small", "p2"], details("too_far", {"site_id": "SMALL"}, d=dist(at150, S1), threshold=100),
             cust=None),
        want(t("09:03:00"), ["dflt", "p4"], details("too_far", {"site_id": "DFLT"}, d=dist(at950, S1), threshold=230,
                                                    acc=30.0), cust=None),
    ]


def test_site_in_plan_item(engine, ruleset):
    events = [site("s1", t("07:00:00"), "S1", radius_m=250),
              plan("pl", t("08:00:00"), [item("09:00", "12:00", s="S1")]),
              punch("p1", t("09:30:00"), C1)]
    res = run_all_ways(events, rules(ruleset), engine=engine)
    assert got(res) == [want(t("09:30:00"), ["s1", "pl", "p1"],
                             details("too_far", {"site_id": "S1"}, d=dist(C1, S1), threshold=250, plan_id="pl"),
                             cust=None)]


# -- places without a location, punches without coordinates -----------------------------------------
def test_a_place_with_no_known_location_judges_nothing_and_never_falls_through(engine, ruleset):
    events = [customer("c1", t("07:00:00"), "C1"),
              customer("c3", t("07:00:00"), "C3", at=None),   # registered without a location
              plan("pl", t("08:00:00"), [item("09:00", "12:00", c="C3"), item("09:00", "12:00", c="C1")]),
              punch("p1", t("10:00:00"), FAR),                 # first item C3 has no location: nothing
              punch("p2", t("10:05:00"), FAR, c="C3"),         # names C3 itself: nothing
              punch("p3", t("10:10:00"), FAR, c="C9"),         # names an unknown customer: nothing
              punch("p4", t("10:15:00"), FAR, s="S9"),         # names an unknown site: nothing
              punch("p5", t("10:20:00"), None, c="C3"),        # no coordinates, place unknown: nothing
              punch("p6", t("13:00:00"), FAR)]                 # no item covers 13:00: no expectation
    res = run_all_ways(events, rules(ruleset), engine=engine)
    assert res.findings == []


def test_a_punch_without_coordinates_is_flagged_no_location(engine, ruleset):
    events = [customer("c1", t("07:00:00"), "C1"), site("s1", t("07:00:00"), "S1"),
              plan("pl", t("08:00:00"), [item("09:00", "12:00", c="C1")]),
              punch("p1", t("09:00:00"), None, c="C1", direction="in"),
              punch("p2", t("10:00:00"), None, direction="out"),      # expectation from the plan
              punch("p3", t("11:00:00"), None, s="S1", acc=20),
              punch("p4", t("14:00:00"), None)]                      # no expectation: nothing
    res = run_all_ways(events, rules(ruleset), engine=engine)
    assert got(res) == [
        want(t("09:00:00"), ["c1", "p1"], details("no_location", {"customer_id": "C1"}, threshold=500)),
        want(t("10:00:00"), ["c1", "pl", "p2"], details("no_location", {"customer_id": "C1"}, threshold=500,
                                                         plan_id="pl")),
        want(t("11:00:00"), ["s1", "p3"], details("no_location", {"site_id": "S1"}, threshold=220, acc=20.0), cust=None),
    ]
    assert [f.message for f in res.findings][:2] == [
        "E1 clocked in without a location while expected at customer C1 (chosen at the punch)",
        "E1 clocked out without a location while expected at customer C1 (per plan pl)",
    ]
    res = run_all_ways(events, rules(ruleset, flag_missing_location=False), engine=engine)
    assert res.findings == []


def test_in_and_out_punches_are_both_judged(engine, ruleset):
    events = [customer("c1", t("07:00:00"), "C1"),
              punch("p1", t("09:00:00"), c="C1", direction="in"), punch("p2", t("18:00:00"), c="C1", direction="out")]
    res = run_all_ways(events, rules(ruleset), engine=engine)
    assert [f.evidence for f in res.findings] == [["c1", "p1"], ["c1", "p2"]]
    assert res.findings[1].message == "E1 clocked out 951 m from customer C1 (chosen at the punch), more than the 500 m allowed"


# -- local dates --------------------------------------------------------------------------------------
def test_local_date_follows_the_ruleset_timezone(engine, ruleset):
    # 2026-04-03T00:30+08:00 is 2026-04-02T16:30Z: local date 04-03 in Shanghai, 04-02 in UTC
    events = [customer("c1", t("07:00:00", "2026-04-01"), "C1"), customer("c2", t("07:00:00", "2026-04-01"), "C2", at=C2),
              plan("d2", t("08:00:00", "2026-04-01"), [item("16:00", "17:00", c="C1")], date="2026-04-02"),
              plan("d3", t("08:00:01", "2026-04-01"), [item("00:00", "01:00", c="C2")], date="2026-04-03"),
              punch("p", t("00:30:00", "2026-04-03"), FAR)]
    exp_ts = t("00:30:00", "2026-04-03")
    utc = run_all_ways(events, ruleset({"use": RULE}, timezone="UTC"), engine=engine)
    assert got(utc) == [want(exp_ts, ["c1", "d2", "p"],
                             details("too_far", {"customer_id": "C1"}, d=dist(FAR, C1), threshold=500, plan_id="d2"))]
    sh = run_all_ways(events, ruleset({"use": RULE}, timezone="Asia/Shanghai"), engine=engine)
    assert got(sh) == [want(exp_ts, ["c2", "d3", "p"],
                            details("too_far", {"customer_id": "C2"}, d=dist(FAR, C2), threshold=500, plan_id="d3"))]
    assert sh.findings[0].ts.utcoffset().total_seconds() == 8 * 3600  # reported in the ruleset's zone


def test_local_time_of_day_follows_the_ruleset_timezone(engine, ruleset):
    # 2026-04-02T23:30+08:00 is 15:30Z: the same date in both zones, but 23:30 only in Shanghai
    events = [customer("c1", t("07:00:00"), "C1"),
              plan("pl", t("08:00:00"), [item("23:00", "23:59", c="C1")]),
              punch("p", t("23:30:00"), FAR)]
    assert run_all_ways(events, ruleset({"use": RULE}, timezone="UTC"), engine=engine).findings == []
    sh = run_all_ways(events, ruleset({"use": RULE}, timezone="Asia/Shanghai"), engine=engine)
    assert got(sh) == [want(t("23:30:00"), ["c1", "pl", "p"],
                            details("too_far", {"customer_id": "C1"}, d=dist(FAR, C1), threshold=500, plan_id="pl"))]


def test_slack_never_reaches_into_another_dates_plan(engine, ruleset):
    # the 04-03 plan's item 00:00-01:00 widened by 30m starts at 04-02 23:30, but a punch on local
    # date 04-02 only ever looks at the 04-02 plan; exactly local midnight belongs to 04-03
    events = [customer("c1", t("07:00:00", "2026-04-01"), "C1"),
              plan("d3", t("08:00:00"), [item("00:00", "01:00", c="C1")], date="2026-04-03"),
              punch("a", t("23:45:00"), FAR),
              punch("b", t("23:59:59"), FAR),
              punch("c", t("00:00:00", "2026-04-03"), FAR)]
    sh = run_all_ways(events, ruleset({"use": RULE}, timezone="Asia/Shanghai"), engine=engine)
    assert got(sh) == [want(t("00:00:00", "2026-04-03"), ["c1", "d3", "c"],
                            details("too_far", {"customer_id": "C1"}, d=dist(FAR, C1), threshold=500, plan_id="d3"))]


# -- evidence and the place's location over time -------------------------------------------------------
def test_evidence_is_punch_plan_and_location_event_in_time_order(engine, ruleset):
    moved = (31.2404, 121.4737)  # C1 moves ~1.1 km north
    events = [customer("c1a", t("07:00:00"), "C1"),
              plan("pl", t("08:00:00"), [item("09:00", "18:00", c="C1")]),
              punch("p1", t("09:00:00"), FAR),                    # judged against C1's first location
              customer("c1b", t("10:00:00"), "C1", at=moved),     # the plan now predates the location
              punch("p2", t("11:00:00"), FAR),
              punch("p3", t("11:05:00"), moved)]                  # at the new place: quiet
    res = run_all_ways(events, rules(ruleset), engine=engine)
    exp = {"customer_id": "C1"}
    assert got(res) == [
        want(t("09:00:00"), ["c1a", "pl", "p1"], details("too_far", exp, d=dist(FAR, C1), threshold=500, plan_id="pl")),
        want(t("11:00:00"), ["pl", "c1b", "p2"], details("too_far", exp, d=dist(FAR, moved), threshold=500, plan_id="pl")),
    ]


def test_re_registration_without_coordinates_clears_the_location(engine, ruleset):
    events = [customer("r1", t("07:00:00"), "C1"),
              punch("p1", t("08:00:00"), c="C1"),
              customer("r2", t("09:00:00"), "C1", at=None),   # location cleared
              punch("p2", t("10:00:00"), c="C1"),              # nothing to judge against
              punch("p3", t("10:30:00"), None, c="C1"),        # nor for no_location
              customer("r3", t("11:00:00"), "C1", at=C1),      # known again
              punch("p4", t("12:00:00"), c="C1")]
    res = run_all_ways(events, rules(ruleset), engine=engine)
    det = details("too_far", {"customer_id": "C1"}, d=dist(FAR, C1), threshold=500)
    assert got(res) == [want(t("08:00:00"), ["r1", "p1"], det), want(t("12:00:00"), ["r3", "p4"], det)]


def test_only_the_past_counts(engine, ruleset):
    events = [punch("p1", t("08:00:00"), c="C1"),                # C1 unknown yet
              customer("c1", t("09:00:00"), "C1"),
              punch("b", t("09:00:00"), c="C1"),                 # "b" < "c1": C1 still unknown
              punch("d", t("09:00:00"), c="C1"),                 # "c1" < "d": known
              punch("p2", t("10:00:00"), c="C1")]
    res = run_all_ways(events, rules(ruleset), engine=engine)
    assert [f.evidence for f in res.findings] == [["c1", "d"], ["c1", "p2"]]


def test_each_employee_uses_only_their_own_plan(engine, ruleset):
    events = [customer("c1", t("07:00:00"), "C1"),
              plan("pl", t("08:00:00"), [item("09:00", "18:00", c="C1")], emp="E1"),
              punch("p1", t("10:00:00"), emp="E2"),
              punch("p2", t("10:00:00"), emp="E1")]
    res = run_all_ways(events, rules(ruleset), engine=engine)
    assert [(f.employee_id, f.evidence) for f in res.findings] == [("E1", ["c1", "pl", "p2"])]


@pytest.mark.parametrize("radius", [-1, "far"])
def test_bad_params_are_ruleset_errors(ruleset, radius):
    import hrguard

    with pytest.raises(hrguard.RulesetError):
        ruleset({"use": RULE, "params": {"radius_m": radius}})


# -- property: the same findings however the events arrive ----------------------------------------------
SPOTS = {"C1": C1, "near": NEAR_C1, "far": FAR, "farther": FARTHER, "S1": S1, "C2": C2}


@st.composite
def event_sets(draw: st.DrawFn) -> list[dict]:
    """Registrations, plans and punches around one day: enough to cross every path of the detector."""
    events: list[dict] = []
    for i in range(draw(st.integers(0, 30))):
        ts = t(f"{draw(st.integers(6, 20)):02d}:{draw(st.sampled_from([0, 14, 15, 16, 45])):02d}:00")
        id_ = f"e{draw(st.integers(0, 99))}-{i}"
        emp = draw(st.sampled_from(["E1", "E1", "E2"]))
        kind = draw(st.sampled_from(["customer", "site", "plan", "punch", "punch", "punch"]))
        if kind == "customer":
            c = draw(st.sampled_from(["C1", "C2"]))
            events.append(customer(id_, ts, c, at=draw(st.sampled_from([SPOTS[c], FAR, None]))))
        elif kind == "site":
            events.append(site(id_, ts, "S1", radius_m=draw(st.sampled_from([None, 100, 2000]))))
        elif kind == "plan":
            items = [item(f"{h:02d}:00", f"{h + draw(st.integers(0, 3)):02d}:30",
                          c=draw(st.sampled_from([None, "C1", "C2", "C9"])), s=draw(st.sampled_from([None, "S1"])))
                     for h in sorted(draw(st.lists(st.integers(7, 18), max_size=3)))]
            events.append(plan(id_, ts, items, emp=emp))
        else:
            where = draw(st.sampled_from(["C1", "near", "far", "farther", "S1", None]))
            own = draw(st.sampled_from([{}, {}, {"c": "C1"}, {"c": "C2"}, {"s": "S1"}]))
            events.append(punch(id_, ts, at=SPOTS.get(where), acc=draw(st.sampled_from([None, 0, 150, 5000])),
                                emp=emp, direction=draw(st.sampled_from(["in", "out"])), **own))
    return events


@pytest.fixture(scope="module")
def prop_rs(engine):
    return engine.load_ruleset({"ruleset": "p", "timezone": "Asia/Shanghai", "rules": [
        {"use": RULE}, {"use": RULE, "name": "strict", "params": {"radius_m": 100, "window_slack": "0s",
                                                                 "flag_missing_location": False}}]})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_sets(), seed=st.integers(0, 10_000))
def test_property_batch_equals_shuffled_chunked_and_streamed(engine, prop_rs, events, seed):
    """Chunks below and above the detector's SMALL (Python path / numpy path) must agree with a stream."""
    r = run_all_ways(events, prop_rs, engine=engine, seed=seed, chunk_sizes=(1, 3, 8, 9, 65_536))
    punches = {e["id"] for e in events if e["kind"] == "attendance.punched"}
    assert all(set(f.evidence) & punches for f in r.findings)  # every finding is about a punch
    assert len(r.findings) == len({f.id for f in r.findings})


def test_a_zero_zero_fix_is_a_punch_without_location_not_a_place_13000_km_away():
    # Odoo and other HR systems store "no location" as (0, 0): judged as no location (issue 11)
    events = [
        {"id": "c1", "kind": "customer.registered", "ts": "2026-03-30T08:00:00+08:00", "customer_id": "C1",
         "lat": 31.23, "lon": 121.47, "owner_id": "E1"},
        {"id": "p1", "kind": "attendance.punched", "ts": "2026-03-30T09:00:00+08:00", "employee_id": "E1",
         "direction": "in", "lat": 0, "lon": 0, "customer_id": "C1"},
    ]
    import hrguard

    found = [f for f in hrguard.scan(events, "sales").findings if f.rule == "geofence.mismatch"]
    assert len(found) == 1 and "without a location" in found[0].message, [f.message for f in found]
    assert found[0].details.get("distance_m") is None
