"""The behaviour feature builder: every feature counted as documented, local periods, and the same
vectors whatever the chunking (the incremental builder) or however the events are given (standalone)."""

from __future__ import annotations

import random
import sys
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

from hrguard.columns import Chunk
from hrguard.errors import MissingExtraError
from hrguard.features import FEATURE_NAMES, FEATURES, FeatureBuilder, FeatureConfig, FeatureMatrix, build_features
from hrguard.kit import haversine_m
from hrguard.timeutil import LocalClock, to_us

C1 = (31.2304, 121.4737)
C2 = (31.2243, 121.4687)
AWAY = (31.2404, 121.4937)  # about 2.2 km from C2


def _e(id: str, kind: str, ts: str, **kw) -> dict:
    return {"id": id, "kind": kind, "ts": ts, **kw}


def day_events() -> list[dict]:
    """E1's 2026-04-01 (UTC), built so that every feature has a known value (see test_every_feature_counts)."""
    photo = [{"uri": "p.jpg", "lat": C1[0], "lon": C1[1]}]
    return [
        _e("a1", "customer.registered", "2026-03-30T08:00:00Z", customer_id="C1", owner_id="E1", lat=C1[0], lon=C1[1]),
        _e("a2", "customer.registered", "2026-03-30T08:00:00Z", customer_id="C2", owner_id="E2", lat=C2[0], lon=C2[1]),
        _e("a3", "customer.registered", "2026-03-30T08:00:00Z", customer_id="C3", owner_id="E1"),  # no location
        _e("p1", "plan.submitted", "2026-03-31T21:30:00Z", employee_id="E1", date="2026-04-01",  # replaced by p2
           items=[{"customer_id": "C2", "start": "09:00", "end": "10:00"}]),
        _e("p2", "plan.submitted", "2026-04-01T06:30:00Z", employee_id="E1", date="2026-04-01", items=[
            {"customer_id": "C1", "start": "09:00", "end": "10:00"},
            {"customer_id": "C2", "start": "11:00", "end": "12:00"},
            {"customer_id": "C3", "start": "14:00", "end": "15:00"},
            {"start": "16:00", "end": "17:00", "purpose": "names no place"}]),
        _e("k1", "attendance.punched", "2026-04-01T09:05:00Z", employee_id="E1", direction="in", lat=C1[0], lon=C1[1]),
        _e("k2", "attendance.punched", "2026-04-01T11:10:00Z", employee_id="E1", direction="in", lat=AWAY[0], lon=AWAY[1]),
        _e("k3", "attendance.punched", "2026-04-01T12:45:00Z", employee_id="E1", direction="out", lat=AWAY[0], lon=AWAY[1]),
        _e("k4", "attendance.punched", "2026-04-01T14:10:00Z", employee_id="E1", direction="in", source="manual"),
        _e("k5", "attendance.punched", "2026-04-01T14:10:00Z", employee_id="E2", direction="in", lat=C2[0], lon=C2[1]),
        _e("f1", "followup.logged", "2026-04-01T09:30:00Z", employee_id="E1", customer_id="C1", channel="visit", photos=photo),
        _e("f2", "followup.logged", "2026-04-01T11:30:00Z", employee_id="E1", customer_id="C2", channel="visit"),
        _e("f3", "followup.logged", "2026-04-01T15:00:00Z", employee_id="E1", customer_id="C3", channel="phone"),
        _e("r1", "approval.requested", "2026-04-01T16:00:00Z", employee_id="E1", request_id="R1", customer_id="C1"),
        _e("o1", "order.recorded", "2026-04-01T17:00:00Z", employee_id="E1", order_id="O1", customer_id="C1", amount="1000.10"),
        _e("o2", "order.recorded", "2026-04-01T17:05:00Z", employee_id="E1", order_id="O2", customer_id="C2", amount=0.2),
        _e("s1", "summary.submitted", "2026-04-01T18:00:00Z", employee_id="E1", date="2026-04-01", claims=[
            {"customer_id": "C1", "activity": "visit"},  # f1
            {"customer_id": "C3", "activity": "call"},  # f3 (any channel supports)
            {"customer_id": "C2", "activity": "visit"},  # f2
            {"customer_id": "C4", "activity": "visit"},  # only f4, after the summary: unsupported
            {"customer_id": "C1", "activity": "other"}]),  # not counted
        _e("f4", "followup.logged", "2026-04-01T18:30:00Z", employee_id="E1", customer_id="C4", channel="phone"),
        _e("r2", "approval.requested", "2026-04-01T21:00:00Z", employee_id="E1", request_id="R2"),  # 21:00 is in hours
        _e("r3", "approval.requested", "2026-04-01T21:00:01Z", employee_id="E1", request_id="R3"),  # after 21:00
    ]


def row(fm: FeatureMatrix, employee: str, start: str) -> dict[str, float]:
    i = fm.index.index((employee, date.fromisoformat(start)))
    return dict(zip(fm.feature_names, fm.X[i].tolist()))


def test_every_feature_counts_as_documented():
    fm = build_features(day_events())
    assert fm.feature_names == FEATURE_NAMES and fm.period == "day"
    assert fm.index == [("E1", date(2026, 3, 31)), ("E1", date(2026, 4, 1)), ("E2", date(2026, 4, 1))]
    d = float(haversine_m(AWAY[0], AWAY[1], C2[0], C2[1]))
    got = row(fm, "E1", "2026-04-01")
    assert got == {
        "events": 15, "punches": 4,
        "plan_items": 3,  # p2 is the latest plan for the date; the item naming no place is skipped
        "plan_matched_share": 0.5,  # C1 matched by k1, C2 not (k2 is 2.2 km away), C3 has no location
        "plan_distance_mean_m": pytest.approx(d / 2), "plan_distance_max_m": pytest.approx(d),  # k1 0 m, k2 d; k3 outside
        "visits": 2, "visits_with_photo": 1, "followups": 4,
        "customers": 4, "customers_of_others": 1,  # C2 belongs to E2
        "claims": 4, "unsupported_claims": 1,
        "approvals": 3, "orders": 2, "order_amount": 1000.3, "off_hours": 2,  # p2 at 06:30, r3 after 21:00
        "workday_h": pytest.approx(5 + 5 / 60),  # k1 09:05 to k4 14:10
        "dwell_min": pytest.approx(95),  # only k2 (in) -> k3 (out) is an in followed by an out
        "travel_km": pytest.approx(float(haversine_m(C1[0], C1[1], AWAY[0], AWAY[1])) / 1000),  # k1 -> k2 (k3 0 m, k4 no fix)
        "first_in_h": pytest.approx(9 + 5 / 60),
        "unregistered_customers": 1,  # C4 was never registered
    }
    eve = row(fm, "E1", "2026-03-31")  # p1 was received the evening before: an event of that day
    assert eve["events"] == 1 and eve["off_hours"] == 1 and eve["plan_items"] == 0 and eve["plan_matched_share"] == 1
    assert row(fm, "E2", "2026-04-01")["punches"] == 1


def test_weeks_start_on_monday_and_sum_their_days():
    fm = build_features(day_events(), period="week")
    assert fm.index == [("E1", date(2026, 3, 30)), ("E2", date(2026, 3, 30))]
    week = row(fm, "E1", "2026-03-30")
    assert week["events"] == 16 and week["off_hours"] == 3 and week["plan_items"] == 3
    sunday = [_e("x1", "followup.logged", "2026-04-05T12:00:00Z", employee_id="E1", customer_id="C1"),
              _e("x2", "followup.logged", "2026-04-06T12:00:00Z", employee_id="E1", customer_id="C1")]
    assert [d for _, d in build_features(sunday, period="week").index] == [date(2026, 3, 30), date(2026, 4, 6)]


def test_periods_are_local_dates_in_the_given_zone():
    ev = [_e("x1", "followup.logged", "2026-04-01T17:30:00Z", employee_id="E1", customer_id="C1")]
    assert build_features(ev).index == [("E1", date(2026, 4, 1))]
    fm = build_features(ev, timezone="Asia/Shanghai")  # 01:30 on 2 April in Shanghai: also off hours
    assert fm.index == [("E1", date(2026, 4, 2))] and row(fm, "E1", "2026-04-02")["off_hours"] == 1


def test_plans_received_after_their_date_are_ignored_and_future_plans_make_a_vector():
    ev = [
        _e("p1", "plan.submitted", "2026-04-02T08:00:00Z", employee_id="E1", date="2026-04-01",
           items=[{"customer_id": "C1", "start": "09:00", "end": "10:00"}]),
        _e("p2", "plan.submitted", "2026-04-02T08:00:00Z", employee_id="E1", date="2026-04-03",
           items=[{"customer_id": "C1", "start": "09:00", "end": "10:00"}]),
    ]
    fm = build_features(ev)
    assert fm.index == [("E1", date(2026, 4, 2)), ("E1", date(2026, 4, 3))]
    assert row(fm, "E1", "2026-04-03")["plan_items"] == 1 and row(fm, "E1", "2026-04-03")["events"] == 0
    assert row(fm, "E1", "2026-04-02")["plan_items"] == 0


def test_as_of_and_complete_only():
    ev = day_events()
    assert len(build_features(ev, as_of="2026-04-01T12:00:00Z")) == 2  # the day so far (E2 comes later)
    assert row(build_features(ev, as_of="2026-04-01T12:00:00Z"), "E1", "2026-04-01")["punches"] == 2
    assert build_features(ev, complete_only=True).index == [("E1", date(2026, 3, 31))]  # 1 April has not ended
    assert len(build_features(ev, as_of="2026-04-02T00:00:00Z", complete_only=True)) == 3


def test_tenants_must_be_picked_one_at_a_time():
    ev = [_e("x1", "followup.logged", "2026-04-01T12:00:00Z", employee_id="E1", customer_id="C1", tenant="t1"),
          _e("x2", "followup.logged", "2026-04-01T12:00:00Z", employee_id="E2", customer_id="C1", tenant="t2")]
    with pytest.raises(ValueError, match="several tenants"):
        build_features(ev)
    assert build_features(ev, tenant="t2").index == [("E2", date(2026, 4, 1))]
    assert len(build_features(ev, tenant="nobody")) == 0


def test_a_path_works_like_a_list(tmp_path):
    import json

    path = tmp_path / "ev.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in day_events()) + "\n", encoding="utf-8")
    a, b = build_features(str(path)), build_features(day_events())
    assert a.index == b.index and np.array_equal(a.X, b.X)


def test_select_and_pandas():
    fm = build_features(day_events())
    sub = fm.select(["visits", "events"])
    assert sub.feature_names == ("visits", "events") and sub.X[1].tolist() == [2, 15]
    with pytest.raises(ValueError, match="unknown feature"):
        fm.select(["nope"])
    pd = pytest.importorskip("pandas")
    df = fm.to_pandas()
    assert list(df.columns) == list(FEATURE_NAMES) and df.index.names == ["employee_id", "period_start"]
    assert df.loc[("E1", pd.Timestamp("2026-04-01")), "unsupported_claims"] == 1


def test_pandas_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(MissingExtraError, match=r"hrguard\[pandas\]"):
        build_features(day_events()).to_pandas()


def test_the_feature_set_is_documented():
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "outlier.md").read_text(encoding="utf-8")
    for f in FEATURES:
        assert f"`{f.name}`" in page, f"docs/outlier.md does not describe feature {f.name}"
        assert f.en and f.zh and f.doc


# -- incremental: the same vectors whatever the chunking ----------------------------------------------
def random_events(seed: int, n: int = 200) -> list[dict]:
    """A mixed event log over 10 days (two weeks) with many shared instants (ties broken by id)."""
    rnd = random.Random(seed)
    base = datetime(2026, 4, 1, tzinfo=timezone.utc)
    emps, custs = ["E1", "E2", "E3"], ["C1", "C2", "C3", "C4"]
    out = []
    for c in custs[:3]:
        lat, lon = C1[0] + rnd.random() * 0.02, C1[1] + rnd.random() * 0.02
        out.append(_e(f"reg-{c}", "customer.registered", "2026-03-31T00:00:00Z", customer_id=c,
                      owner_id=rnd.choice(emps), lat=lat, lon=lon))
    for i in range(n):
        t = base + timedelta(minutes=30 * rnd.randrange(0, 10 * 48))
        e = {"id": f"e{rnd.randrange(1000)}-{i}", "ts": t.isoformat(), "employee_id": rnd.choice(emps)}
        kind = rnd.choice(["punch", "punch", "plan", "followup", "followup", "summary", "order", "approval", "assign",
                           "register"])
        c = rnd.choice(custs)
        if kind == "punch":
            e.update(kind="attendance.punched", direction="in", lat=C1[0] + rnd.random() * 0.03, lon=C1[1])
        elif kind == "plan":
            e.update(kind="plan.submitted", date=(t.date() + timedelta(days=rnd.randrange(2))).isoformat(),
                     items=[{"customer_id": rnd.choice(custs), "start": f"{h:02d}:00", "end": f"{h + 1:02d}:00"}
                            for h in rnd.sample(range(6, 22), rnd.randrange(4))])
        elif kind == "followup":
            e.update(kind="followup.logged", customer_id=c, channel=rnd.choice(["visit", "phone"]),
                     photos=[{"uri": "p"}] if rnd.random() < 0.5 else [])
        elif kind == "summary":
            e.update(kind="summary.submitted", date=t.date().isoformat(),
                     claims=[{"customer_id": rnd.choice(custs), "activity": rnd.choice(["visit", "call", "other"])}
                             for _ in range(rnd.randrange(3))])
        elif kind == "order":
            e.update(kind="order.recorded", order_id=f"O{i}", customer_id=c, amount=round(rnd.random() * 1000, 2))
        elif kind == "approval":
            e.update(kind="approval.requested", request_id=f"R{i}", customer_id=c)
        elif kind == "assign":
            e.update(kind="customer.assigned", customer_id=c, owner_id=rnd.choice(emps))
        else:
            e.update(kind="customer.registered", customer_id=c, owner_id=rnd.choice(emps), lat=C2[0], lon=C2[1])
        out.append(e)
    return out


def incremental(events: list[dict], chunk: int, engine, period: str = "day", zone: str = "UTC") -> tuple:
    """Feed a builder chunk by chunk, closing after each; also check no period is handed out early."""
    intake = engine.intake()
    strings = intake.strings
    frame = intake.frame(events)
    as_of = int(frame.ts[-1])
    fb = FeatureBuilder(LocalClock(zone), strings, FeatureConfig(period))
    blocks = []
    for ch in frame.chunks(chunk, upto_last=as_of):
        fb.add(ch)
        for b in fb.close(ch.upto):
            assert b.end_us <= ch.upto, "a period was handed out before it ended"
            assert all(fb.period_end(s) > ch.upto for s in fb.open_periods())
            blocks.append(b)
    blocks += fb.flush()
    return FeatureMatrix.from_blocks(blocks, period), blocks


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("period", ["day", "week"])
def test_the_chunking_never_changes_a_vector(seed, period, engine):
    events = random_events(seed)
    want, want_blocks = incremental(events, 100_000, engine, period, "Asia/Shanghai")
    assert len(want) > 5
    for size in (1, 2, 7, 31):
        shuffled = list(events)
        random.Random(size).shuffle(shuffled)
        got, blocks = incremental(shuffled, size, engine, period, "Asia/Shanghai")
        assert got.index == want.index, f"chunk size {size}"
        assert np.array_equal(got.X, want.X), f"chunk size {size}"
        for a, b in zip(blocks, want_blocks):  # the same events behind each vector
            assert (a.ref_row.tolist(), a.ref_mask.tolist(), a.ref_id.tolist()) == \
                   (b.ref_row.tolist(), b.ref_mask.tolist(), b.ref_id.tolist())
    standalone = build_features(events, period=period, timezone="Asia/Shanghai", engine=engine)
    assert standalone.index == want.index and np.array_equal(standalone.X, want.X)


@pytest.mark.parametrize("period", ["day", "week"])
def test_each_vectors_evidence_is_in_the_order_of_events(period, engine):
    """A vector's refs follow the one order (ts, id); a plan counted both as an event of the vector
    and as the plan behind its plan features (a plan for a date of the period it was sent in) has
    two entries, the event's first."""
    _, blocks = incremental(random_events(5, n=400), 7, engine, period, "Asia/Shanghai")
    plan_only = sum(1 << FEATURE_NAMES.index(f) for f in
                    ("plan_items", "plan_matched_share", "plan_distance_mean_m", "plan_distance_max_m"))
    twice = 0
    for b in blocks:
        assert (np.diff(b.ref_row) >= 0).all()
        for row in range(len(b.employees)):
            sel = b.ref_row == row
            refs = list(zip(b.ref_ts[sel].tolist(), b.ref_id[sel].tolist(), b.ref_mask[sel].tolist()))
            assert [r[:2] for r in refs] == sorted(r[:2] for r in refs)
            for (t1, i1, m1), (t2, i2, m2) in zip(refs, refs[1:]):
                if (t1, i1) == (t2, i2):  # the same plan twice: as an event, then as the plan
                    twice += 1
                    assert m1 & (1 << FEATURE_NAMES.index("events")) and m2 == plan_only
    assert twice  # the events do have such plans


def test_a_period_is_final_only_once_it_has_ended(engine):
    events = day_events()
    intake = engine.intake()
    strings = intake.strings
    frame = intake.frame(events)
    fb = FeatureBuilder(LocalClock("UTC"), strings)
    fb.add(Chunk(frame, np.arange(len(frame)), int(frame.ts[-1])))
    assert [b.period_start for b in fb.close(int(frame.ts[-1]))] == [20543]  # 31 March only
    end = to_us(datetime(2026, 4, 2, tzinfo=timezone.utc))
    assert fb.close(end - 1) == []
    (block,) = fb.close(end)
    assert block.employees == ["E1", "E2"] and block.end_us == end
    assert [i for _, i in block.evidence(0, 1 << FEATURE_NAMES.index("unsupported_claims"))] == ["s1"]
    assert [i for _, i in block.evidence(0, 1 << FEATURE_NAMES.index("customers_of_others"))] == ["f2", "o2"]
    assert "p2" in [i for _, i in block.evidence(0, 1 << FEATURE_NAMES.index("plan_items"))]
    assert fb.close(end + 10**12) == [] and fb.flush() == []
