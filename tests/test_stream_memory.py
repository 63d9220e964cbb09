"""Memory that stays flat (issue 11): what a stream hands out is drained or never kept, and rules forget
what their horizons put out of reach — never changing a finding."""

from __future__ import annotations

import numpy as np
import pytest

import hrguard
from hrguard.demo import load_events
from hrguard.sdk.state import Column, Rows, keep_spans
from hrguard.testing import EventFactory

EVENTS = load_events()


def ids(findings) -> list[str]:
    return [f.id for f in findings]


@pytest.fixture(scope="module")
def kept():
    s = hrguard.Stream("sales")
    released = list(s.push_many(EVENTS)) + list(s.advance_to(EVENTS[-1]["ts"]))
    return s, released, s.result()


# -- what a stream hands out -----------------------------------------------------------------------------
def test_keep_false_keeps_nothing_but_returns_and_counts_everything(kept):
    ref, ref_released, want = kept
    s = hrguard.Stream("sales", keep=False)
    seen = []
    s.sinks.append(hrguard.sinks.CallbackSink(seen.extend))
    released, rejections = [], []
    for e in EVENTS + [{"id": "bad-1", "kind": "attendance.punched"}]:
        r = s.push(e)
        released += r
        if r.outcome.rejection is not None:
            rejections.append(r.outcome.rejection)
    released += s.advance_to(EVENTS[-1]["ts"])
    assert ids(released) == ids(ref_released) == ids(seen)  # returned and sent, as with keep=True
    assert s.findings == [] and s.rejected == [] and s.suppressed == []
    assert s.stats.rejected == want.stats.rejected + 1 and s.stats.valid == want.stats.valid
    assert rejections[-1].id == "bad-1"  # the outcome still carries it
    assert s.result().findings == []


def test_drain_hands_over_what_was_kept_once(kept):
    ref, ref_released, want = kept
    s = hrguard.Stream("sales")
    half = len(EVENTS) // 2
    s.push_many(EVENTS[:half])
    first = s.drain()
    s.push_many(EVENTS[half:])
    s.advance_to(EVENTS[-1]["ts"])
    second = s.drain()
    assert ids(first.findings + second.findings) == ids(ref.findings)
    assert ids(sorted(first.suppressed + second.suppressed, key=hrguard.Finding.sort_key)) == ids(want.suppressed)
    assert len(first.rejected) + len(second.rejected) == len(want.rejected)
    assert s.drain() == hrguard.engine.Drained([], [], [])  # nothing twice
    assert s.findings == [] and s.stats == want.stats  # counts stay


def test_keep_must_be_a_bool():
    with pytest.raises(hrguard.errors.ArgumentTypeError, match="keep"):
        hrguard.Stream("sales", keep="no")


# -- the stores forget ----------------------------------------------------------------------------------
def test_rows_forget_keeps_every_other_row_in_add_order():
    r = Rows(v=np.int64)
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 50, 3000)
    for lo in range(0, 3000, 7):  # many runs, and recent rows
        r.add(keys[lo:lo + 7], {"v": np.arange(lo, min(lo + 7, 3000))})
    assert r.forget(lambda k: k % 3 == 0) == int((keys % 3 == 0).sum())
    for k in range(50):
        want = np.flatnonzero(keys == k) if k % 3 else np.zeros(0, np.int64)
        assert r.find_one(k)["v"].tolist() == want.tolist()
    assert len(r.runs) <= 2 * int(np.log2(3000)) + 2


def test_keep_spans_compacts_a_log():
    a, b = Column(np.int64), Column(object, None)
    a.extend(np.arange(10))
    b.extend([f"x{i}" for i in range(10)])
    starts = keep_spans((a, b), [6, 1], [9, 3])
    assert starts.tolist() == [0, 3]
    assert a.values.tolist() == [6, 7, 8, 1, 2] and b.values.tolist() == ["x6", "x7", "x8", "x1", "x2"]


# -- rules forget what is out of reach --------------------------------------------------------------------
def _plans_days(n: int) -> list[dict]:
    ev = EventFactory("2026-03-02T08:00:00+08:00")
    out = [ev("customer.registered", customer_id="C1", name="C1", lat=31.2, lon=121.4)]
    for d in range(n):
        day = ev.at(f"2026-03-{2 + d:02d}T08:30:00+08:00")
        out.append(day("plan.submitted", date=f"2026-03-{2 + d:02d}",
                       items=[{"customer_id": "C1", "start": "09:00", "end": "11:00"}]))
        out.append(day.advance(hours=1)("attendance.punched", direction="in", lat=31.3, lon=121.4))  # 11 km away
    return out


def test_geofence_forgets_the_plans_of_ended_days_and_still_finds_the_same():
    events = _plans_days(20)
    want = hrguard.scan(events, "sales")
    s = hrguard.Stream("sales")
    s.push_many(events)
    s.advance_to("2026-03-25T00:00:00+08:00")
    assert ids(s.findings) == ids(f for f in want.findings)
    assert sum(f.rule == "geofence.mismatch" for f in want.findings) == 20
    geo = next(d for r, d in s.runner.instances[-1] if r.use == "geofence.mismatch")
    assert len(geo.plans) == 0  # every day has ended: no plan is reachable
    assert len(geo._item_start) < 20  # and their items went with them


def _summary(day: str, sent: str) -> list[dict]:
    ev = EventFactory(f"{day}T08:00:00+08:00", prefix=f"s{day}-{sent[:10]}-")
    return [ev("customer.registered", customer_id="C1", name="C1", lat=31.2, lon=121.4),
            ev.at(sent)("summary.submitted", date=day, claims=[{"customer_id": "C1", "activity": "visit"}])]


@pytest.mark.parametrize("sent, judged", [("2026-03-02T20:00:00+08:00", True), ("2026-04-03T00:00:00+08:00", True),
                                          ("2026-04-03T00:00:01+08:00", False)])
def test_a_summary_is_judged_within_its_horizon_in_a_scan_and_a_stream(sent, judged):
    events = _summary("2026-03-02", sent)
    got = [f for f in hrguard.scan(events, "sales").findings if f.rule == "summary.unsupported_claim"]
    assert bool(got) is judged  # 31 days after the date ended (midnight of 03-03), inclusive
    s = hrguard.Stream("sales")
    s.push_many(events)
    s.advance_to("2026-05-01T00:00:00+08:00")
    assert [f.id for f in s.findings if f.rule == "summary.unsupported_claim"] == ids(got)


# -- remembered ids expire ---------------------------------------------------------------------------------
def _repeat_after(days: int, horizon) -> str:
    rs = hrguard.load_ruleset({"ruleset": "t", "horizons": {"ids": horizon}, "rules": [{"use": "plan.missing"}]})
    s = hrguard.Stream(rs)
    first = {"id": "x1", "kind": "employee.hired", "ts": "2026-01-01T09:00:00+00:00", "employee_id": "E1",
             "role": "sales"}
    s.push(first)
    for d in range(1, days + 1, 10):  # time passes; releases happen, old generations go
        s.push({"id": f"t{d}", "kind": "employee.hired", "ts": f"{hrguard.events.to_datetime(1767258000 + d * 86400).isoformat()}",
                "employee_id": f"E{d + 1}", "role": "sales"})
    later = dict(first, ts=hrguard.events.to_datetime(1767258000 + (days + 1) * 86400).isoformat(), role="manager")
    return s.push(later).outcome.status


def test_a_repeated_id_is_rejected_within_the_ids_horizon_and_new_after_it():
    assert _repeat_after(30, "400d") == "rejected"
    assert _repeat_after(600, None) == "rejected"  # null: remembered forever
    assert _repeat_after(600, "400d") == "accepted"  # forgotten: taken as a new event


def test_remembered_ids_stay_within_about_a_horizon():
    from hrguard.ingest import RememberedIds

    r = RememberedIds(horizon=80)
    for t in range(1000):
        r.add([f"k{t}"], t)
        r.expire(t)
    assert 80 <= len(r) <= 80 * 9 // 8 + 10
    assert r.hits(["k999", "k950", "k900"]) == {"k999", "k950"}  # k900 is 99 behind: forgotten
    state = r.state_dict()
    back = RememberedIds(horizon=80)
    back.load_state_dict(state)
    assert len(back) == len(r) and back.hits(["k999", "k100"]) == {"k999"}
