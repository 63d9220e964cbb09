"""``visit.evidence_missing``: no_photo / photo_far / photo_stale, their precedence and boundaries."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hrguard.findings import finding_id
from hrguard.kit import EARTH_RADIUS_M, haversine_m
from hrguard.testing import run_all_ways
from hrguard.timeutil import to_us

SH = "+08:00"
LAT, LON = 31.2304, 121.4737
RULE = "visit.evidence_missing"


def t(hms: str, day: str = "2026-04-01") -> str:
    return f"{day}T{hms}{SH}"


def north(metres: float) -> float:
    """The latitude ``metres`` north of the customer (along the meridian)."""
    return LAT + math.degrees(metres / EARTH_RADIUS_M)


def cust(id_="c1", c="C1", ts="08:00:00", lat=LAT, lon=LON, name="Acme Trading"):
    return {"id": id_, "kind": "customer.registered", "ts": t(ts), "employee_id": "E9", "customer_id": c,
            "name": name, "owner_id": "E1", "lat": lat, "lon": lon}


def visit(id_, ts="10:00:00", photos=(), c="C1", emp="E1", channel="visit"):
    return {"id": id_, "kind": "followup.logged", "ts": t(ts), "employee_id": emp, "customer_id": c,
            "channel": channel, "summary": "visited", "photos": list(photos)}


def photo(lat=None, lon=None, taken=None):
    out = {"uri": "oss://p.jpg"}
    if lat is not None:
        out["lat"] = lat
    if lon is not None:
        out["lon"] = lon
    if taken is not None:
        out["taken_at"] = taken
    return out


def near():
    return photo(LAT, LON)


def far(m=2000.0):
    return photo(north(m), LON)


def found(result):
    return [(f.rule, f.employee_id, f.customer_id, f.ts.isoformat(), f.evidence, f.details, f.severity.value)
            for f in result.findings]


def d(reason, distance=None, age=None, photos=1):
    return {"reason": reason, "distance_m": distance, "photo_age_s": age, "photos": photos}


@pytest.fixture
def rs(ruleset):
    def make(params=None, **kw):
        return ruleset({"use": RULE, "params": params or {}, **kw}, timezone="Asia/Shanghai")
    return make


def test_no_photo_fires(engine, rs):
    r = run_all_ways([cust(), visit("v1")], rs(), engine=engine)
    assert found(r) == [(RULE, "E1", "C1", "2026-04-01T10:00:00+08:00", ["v1"], d("no_photo", photos=0), "medium")]
    assert r.findings[0].message == "E1 logged a visit to customer Acme Trading (C1) on 2026-04-01 10:00 without any photo"


def test_no_photo_fires_even_for_an_unknown_customer(engine, rs):
    r = run_all_ways([visit("v1", c="C404")], rs(), engine=engine)
    assert found(r) == [(RULE, "E1", "C404", "2026-04-01T10:00:00+08:00", ["v1"], d("no_photo", photos=0), "medium")]


def test_only_visits_are_judged(engine, rs):
    events = [cust()] + [visit(f"v{ch}", channel=ch) for ch in ("phone", "wechat", "email", "meeting", "other")]
    assert run_all_ways(events, rs(), engine=engine).findings == []


def test_a_photo_at_the_customer_taken_at_the_visit_is_proof(engine, rs):
    events = [cust(), visit("v1", photos=[photo(LAT, LON, t("09:50:00"))])]
    assert run_all_ways(events, rs(), engine=engine).findings == []


def test_photo_far_fires_with_the_nearest_distance_and_the_location_event(engine, rs):
    events = [cust(), visit("v1", photos=[far(3000), far(2000)])]
    r = run_all_ways(events, rs(), engine=engine)
    assert found(r) == [(RULE, "E1", "C1", "2026-04-01T10:00:00+08:00", ["c1", "v1"], d("photo_far", 2000.0, photos=2),
                         "medium")]
    assert r.findings[0].message == ("E1 logged a visit to customer Acme Trading (C1) on 2026-04-01 10:00, but the nearest "
                                     "photo was taken 2,000 m from the customer (more than the 500 m allowed)")


def test_one_photo_within_the_radius_is_enough(engine, rs):
    events = [cust(), visit("v1", photos=[far(3000), near(), far(2000)])]
    assert run_all_ways(events, rs(), engine=engine).findings == []


def test_photos_without_coordinates_are_not_judged_for_distance(engine, rs):
    # a far photo and one without coordinates: every photo that has coordinates is far
    r = run_all_ways([cust(), visit("v1", photos=[photo(), far()])], rs(), engine=engine)
    assert found(r)[0][5] == d("photo_far", 2000.0, photos=2)
    # only photos without coordinates (one has lat but no lon): nothing to judge, nothing fires
    events = [cust(), visit("v2", photos=[photo(), photo(lat=LAT)])]
    assert run_all_ways(events, rs(), engine=engine).findings == []


@pytest.mark.parametrize("delta, fires", [(0.0, False), (-0.01, True)])
def test_radius_boundary_farther_than_fires(engine, rs, delta, fires):
    lat = north(500)
    dist = float(haversine_m(lat, LON, LAT, LON))
    r = run_all_ways([cust(), visit("v1", photos=[photo(lat, LON)])], rs({"radius_m": dist + delta}), engine=engine)
    assert [f.details["reason"] for f in r.findings] == (["photo_far"] if fires else [])


def test_photo_far_comes_before_photo_stale(engine, rs):
    events = [cust(), visit("v1", photos=[photo(north(2000), LON, t("09:00:00", "2026-03-20"))])]
    r = run_all_ways(events, rs(), engine=engine)
    assert [f.details["reason"] for f in r.findings] == ["photo_far"]
    assert r.findings[0].details["photo_age_s"] == 12 * 86400 + 3600.0


def test_unknown_location_skips_photo_far_but_still_judges_staleness(engine, rs):
    stale_far = photo(north(9000), LON, t("09:59:59", "2026-03-31"))  # 24h + 1s before
    fresh_far = photo(north(9000), LON, t("10:00:00"))
    events = [
        visit("v1", photos=[fresh_far], c="C404"),                        # never registered
        cust("c2", "C2", lat=None, lon=None), visit("v2", photos=[fresh_far], c="C2"),  # registered without a place
        visit("v3", photos=[stale_far], c="C2"),
    ]
    r = run_all_ways(events, rs(), engine=engine)
    assert found(r) == [(RULE, "E1", "C2", "2026-04-01T10:00:00+08:00", ["v3"], d("photo_stale", None, 86401.0), "medium")]


def test_a_later_registration_without_a_place_clears_the_location(engine, rs):
    events = [cust(), visit("v1", "09:00:00", photos=[far()]),
              cust("c1b", ts="09:30:00", lat=None, lon=None), visit("v2", "10:00:00", photos=[far()])]
    r = run_all_ways(events, rs(), engine=engine)
    assert [(f.evidence, f.details["reason"]) for f in r.findings] == [(["c1", "v1"], "photo_far")]


def test_the_location_is_the_latest_before_the_follow_up(engine, rs):
    # a registration at the same instant counts only when it comes first in the order (ts, id)
    moved = dict(lat=north(2000), lon=LON)
    events = [cust(), cust("a-move", ts="10:00:00", **moved), visit("b-v1", "10:00:00", photos=[near()]),
              cust("z-back", ts="10:00:00"), visit("b-v2", "11:00:00", photos=[near()])]
    r = run_all_ways(events, rs(), engine=engine)
    assert found(r) == [(RULE, "E1", "C1", "2026-04-01T10:00:00+08:00", ["a-move", "b-v1"], d("photo_far", 2000.0),
                         "medium")]


@pytest.mark.parametrize("taken, fires", [
    (t("22:00:00", "2026-03-31"), False),   # exactly 12 h before
    (t("21:59:59", "2026-03-31"), True),    # 12 h 1 s before
    (t("22:00:00"), False),                 # exactly 12 h after
    (t("22:00:01"), True),                  # 12 h 1 s after
])
def test_max_photo_age_before_and_after(engine, rs, taken, fires):
    r = run_all_ways([cust(), visit("v1", photos=[photo(LAT, LON, taken)])], rs(), engine=engine)
    if fires:
        assert found(r) == [(RULE, "E1", "C1", "2026-04-01T10:00:00+08:00", ["c1", "v1"], d("photo_stale", 0.0, 43201.0),
                             "medium")]
    else:
        assert r.findings == []


def test_photo_stale_needs_every_timed_photo_stale_and_ignores_untimed_ones(engine, rs):
    old = photo(LAT, LON, "2026-03-01T10:00:00+08:00")
    events = [cust(),
              visit("v1", photos=[old, photo(LAT, LON)]),                  # the untimed photo does not help
              visit("v2", photos=[old, photo(LAT, LON, t("10:30:00"))]),    # one fresh photo is enough
              visit("v3", photos=[photo(LAT, LON), photo()])]               # no photo has taken_at: not judged
    r = run_all_ways(events, rs(), engine=engine)
    assert [(f.evidence, f.details) for f in r.findings] == [(["c1", "v1"], d("photo_stale", 0.0, 31 * 86400.0, 2))]


def test_taken_at_in_another_offset_is_the_same_instant(engine, rs):
    events = [cust(), visit("v1", photos=[photo(LAT, LON, "2026-04-01T02:00:00+00:00")])]  # 10:00 +08:00
    assert run_all_ways(events, rs({"max_photo_age": "0s"}), engine=engine).findings == []


def test_params_severity_name_and_subject_key(engine, ruleset):
    rs = ruleset({"use": RULE, "name": "visit-proof", "severity": "high",
                  "params": {"radius_m": 100, "max_photo_age": "30m"}}, timezone="Asia/Shanghai")
    events = [cust(), visit("v1", photos=[far(150)]), visit("v2", "11:00:00", photos=[photo(LAT, LON, t("10:29:00"))])]
    r = run_all_ways(events, rs, engine=engine)
    assert [(f.name, f.evidence, f.details["reason"], f.severity.value) for f in r.findings] == [
        ("visit-proof", ["c1", "v1"], "photo_far", "high"), ("visit-proof", ["c1", "v2"], "photo_stale", "high")]
    assert r.findings[0].id == finding_id("visit-proof", ("v1",), to_us(datetime.fromisoformat(t("10:00:00"))))


def test_chinese_messages(engine, ruleset):
    rs = ruleset({"use": RULE}, timezone="Asia/Shanghai", language="zh")
    events = [cust(), visit("v1"), visit("v2", "11:00:00", photos=[far()]),
              visit("v3", "12:00:00", photos=[photo(LAT, LON, t("12:00:00", "2026-03-31"))])]
    assert [f.message for f in run_all_ways(events, rs, engine=engine).findings] == [
        "E1 于 2026-04-01 10:00 登记了对客户 Acme Trading (C1) 的拜访，但没有附任何照片",
        "E1 于 2026-04-01 11:00 登记了对客户 Acme Trading (C1) 的拜访，但最近的一张照片拍摄于距客户 2,000 米处（超出允许的 500 米）",
        "E1 于 2026-04-01 12:00 登记了对客户 Acme Trading (C1) 的拜访，但照片拍摄时间与拜访记录最少相差 24.0 小时（超出允许的 12 小时）",
    ]


def test_params_are_validated(engine):
    from hrguard.errors import RulesetError

    with pytest.raises(RulesetError):
        engine.load_ruleset({"rules": [{"use": RULE, "params": {"max_photo_age": "soon"}}]})
    with pytest.raises(RulesetError):
        engine.load_ruleset({"rules": [{"use": RULE, "params": {"radius": 10}}]})


# -- property: the same findings however the events arrive ----------------------------------------------
BASE = datetime(2026, 4, 1, 0, 0, tzinfo=timezone(timedelta(hours=8)))


@st.composite
def event_sets(draw: st.DrawFn) -> list[dict]:
    events: list[dict] = []
    for i in range(draw(st.integers(0, 30))):
        ts = BASE + timedelta(hours=6 * draw(st.integers(0, 12)))
        c = draw(st.sampled_from(["C1", "C2", "C3"]))
        e = {"id": f"e{draw(st.integers(0, 99))}-{i}", "ts": ts.isoformat(), "employee_id": draw(st.sampled_from(["E1", "E2"]))}
        if draw(st.integers(0, 3)) == 0:
            located = draw(st.booleans())
            e.update(kind="customer.registered", customer_id=c, name=c, owner_id="E1",
                     lat=north(draw(st.sampled_from([0, 400, 600]))) if located else None, lon=LON if located else None)
        else:
            photos = []
            for _ in range(draw(st.integers(0, 3))):
                has_xy, has_t = draw(st.booleans()), draw(st.booleans())
                taken = ts + timedelta(hours=draw(st.sampled_from([-13, -12, 0, 12, 13])))
                photos.append(photo(north(draw(st.sampled_from([0, 499, 501, 5000]))) if has_xy else None,
                                    LON if has_xy else None, taken.isoformat() if has_t else None))
            e.update(kind="followup.logged", customer_id=c, channel=draw(st.sampled_from(["visit", "visit", "phone"])),
                     summary="x", photos=photos)
        events.append(e)
    return events


@pytest.fixture(scope="module")
def prop_rs(engine):
    return engine.load_ruleset({"ruleset": "p", "timezone": "Asia/Shanghai", "rules": [{"use": RULE}]})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_sets(), seed=st.integers(0, 10_000))
def test_property_batch_equals_shuffled_chunked_and_streamed(engine, prop_rs, events, seed):
    r = run_all_ways(events, prop_rs, engine=engine, seed=seed, chunk_sizes=(1, 2, 5, 9, 65_536))
    visits = {e["id"] for e in events if e["kind"] == "followup.logged" and e["channel"] == "visit"}
    assert {f.evidence[-1] for f in r.findings} <= visits
    assert len(r.findings) == len({f.id for f in r.findings})
