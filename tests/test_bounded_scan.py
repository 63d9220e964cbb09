"""Bounded-memory scans (``scan(..., max_disorder=...)``): the plain scan's findings in flat memory.

A bounded scan reads its input once, in order of arrival, and releases the events to the detectors
as a stream with ``allowed_lateness = max_disorder`` would, in micro-batches. Whenever no event
arrives more than ``max_disorder`` behind the latest ``ts`` read before it, its result is the plain
scan's; later events are rejected as late, reported and counted.
"""

from __future__ import annotations

import gc
import json
import random
import tracemalloc
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_determinism import BASE, RULES, event_sets

import hrguard
from hrguard import LateEventError
from hrguard.demo import load_events
from hrguard.engine import BoundedScan

SH = timezone(timedelta(hours=8))


def _dump(result: hrguard.ScanResult) -> dict[str, Any]:
    """Everything a scan reports that must not depend on how it ran."""
    return {
        "findings": [f.model_dump() for f in result.findings],
        "suppressed": [f.model_dump() for f in result.suppressed],
        "summary": result.summary(),
        "after_as_of": result.stats.after_as_of,
        "rejected": [(r.line, r.id, r.field) for r in result.rejected],
    }


def _jittered(events: list[dict], hours: float, seed: int) -> list[dict]:
    """Time order with each event moved later by up to ``hours``: never more than that behind the clock."""
    rnd = random.Random(seed)
    return sorted(events, key=lambda e: datetime.fromisoformat(e["ts"]) + timedelta(hours=rnd.uniform(0, hours)))


@pytest.fixture(scope="module")
def props(engine):
    return engine.load_ruleset({"ruleset": "props", "timezone": "Asia/Shanghai", "rules": RULES})


# -- equality with the plain scan -------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("chunk_size", [1, 7, 65_536])
def test_demo_shuffled_within_hours_gives_the_plain_scans_result(engine, seed, chunk_size):
    events = load_events()
    rs = engine.load_ruleset("sales")
    ref = engine.scan(events, rs)
    arrived = _jittered(events, 3, seed)
    got = engine.scan(arrived, rs, max_disorder="3h", chunk_size=chunk_size)
    assert got.stats.late == 0
    want = _dump(ref)
    have = _dump(got)
    assert have == want
    assert len(ref.findings) > 10  # the demo's case fires


def test_module_level_scan_and_a_file_path(tmp_path):
    events = load_events()
    path = tmp_path / "demo.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in _jittered(events, 2, 7)))
    ref = hrguard.scan(events, "sales")
    got = hrguard.scan(str(path), "sales", max_disorder="2h")
    assert [f.model_dump() for f in got.findings] == [f.model_dump() for f in ref.findings]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_sets(), seed=st.integers(0, 10_000), as_of_hours=st.one_of(st.none(), st.integers(0, 160)),
       chunk_size=st.sampled_from([1, 2, 5, 65_536]), dups=st.integers(0, 4))
def test_bounded_equals_plain_on_generated_sets(engine, props, events, seed, as_of_hours, chunk_size, dups):
    """Any event set, arriving out of order within max_disorder, with duplicate deliveries: same result."""
    as_of = None if as_of_hours is None else (BASE + timedelta(hours=as_of_hours)).isoformat()
    rnd = random.Random(seed)
    again = events + [dict(e) for e in rnd.sample(events, k=min(len(events), dups))]
    arrived = _jittered(again, 8.9, seed)
    ref = engine.scan(again, props, as_of)
    got = engine.scan(arrived, props, as_of, max_disorder="9h", chunk_size=chunk_size)
    assert got.stats.late == 0
    want, have = _dump(ref), _dump(got)
    want.pop("rejected"), have.pop("rejected")  # positions differ: the input order differs
    assert have == want


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_sets(), seed=st.integers(0, 10_000), chunk_size=st.sampled_from([1, 3, 65_536]))
def test_in_any_order_the_result_is_the_plain_scan_of_what_was_not_late(engine, props, events, seed, chunk_size):
    """Arbitrary disorder: late events are rejected (never dropped); the rest is judged exactly."""
    rnd = random.Random(seed)
    arrived = list(events)
    rnd.shuffle(arrived)
    got = engine.scan(arrived, props, max_disorder="6h", chunk_size=chunk_size)
    late_lines = {r.line for r in got.rejected if "late event" in r.message}
    assert got.stats.late == len(late_lines) == got.stats.rejected
    assert got.stats.received == len(arrived) == got.stats.valid + got.stats.rejected
    kept = [e for pos, e in enumerate(arrived, start=1) if pos not in late_lines]
    ref = engine.scan(kept, props)
    assert [f.model_dump() for f in got.findings] == [f.model_dump() for f in ref.findings]
    assert got.as_of == ref.as_of


@given(events=event_sets(), seed=st.integers(0, 10_000), bad_every=st.sampled_from([0, 3, 7]),
       chunk_size=st.sampled_from([1, 5, 65_536]))
def test_exactly_the_events_behind_the_clock_read_so_far_are_late(engine, props, events, seed, bad_every,
                                                                   chunk_size):
    """The lateness rule, record by record, whatever mix of fast (bulk) and slow (invalid) rows."""
    from hrguard.timeutil import to_us
    from datetime import datetime

    rnd = random.Random(seed)
    arrived: list = list(events)
    rnd.shuffle(arrived)
    if bad_every:  # invalid records in between take the one-record path and never move the clock
        for k in range(len(arrived) // bad_every, 0, -1):
            arrived.insert(k * bad_every, {"id": f"bad{k}", "kind": "followup.logged", "ts": "nope"})
    got = engine.scan(arrived, props, max_disorder="6h", chunk_size=chunk_size)
    clock, expect = None, set()
    for pos, e in enumerate(arrived, start=1):
        if e["ts"] == "nope":
            continue
        ts = to_us(datetime.fromisoformat(e["ts"]))
        if clock is not None and ts < clock - 6 * 3600 * 10**6:
            expect.add(pos)
        elif clock is None or ts > clock:
            clock = ts
    assert {r.line for r in got.rejected if "late event" in r.message} == expect


# -- late events -------------------------------------------------------------------------------------
def _follow(id_: str, hhmm: str, day: int = 5, c: str = "C1") -> dict:
    return {"id": id_, "kind": "followup.logged", "ts": f"2026-04-{day:02d}T{hhmm}:00+08:00", "employee_id": "E1",
            "customer_id": c, "channel": "phone", "summary": "call"}


def _stage(id_: str, hhmm: str, day: int = 1, c: str = "C1", stage: str = "quoting") -> dict:
    return {"id": id_, "kind": "customer.stage_changed", "ts": f"2026-04-{day:02d}T{hhmm}:00+08:00",
            "employee_id": "E1", "customer_id": c, "stage": stage}


@pytest.fixture
def stall_rs(ruleset):
    return ruleset({"use": "followup.stall", "params": {"max_idle": {"quoting": "2d"}}}, timezone="Asia/Shanghai")


def test_an_event_more_than_max_disorder_behind_is_rejected_as_late(engine, stall_rs):
    events = [_follow("f1", "10:00"), _follow("f2", "12:00"),
              _follow("ok", "11:00"),  # exactly max_disorder behind the clock: in time
              _follow("old", "10:59")]  # more than that: late
    got = engine.scan(events, stall_rs, max_disorder="1h")
    assert got.stats.late == 1 and got.stats.rejected == 1 and got.stats.valid == 3
    rej = got.rejected[0]
    assert (rej.id, rej.field, rej.line) == ("old", "ts", 4)
    assert "late event" in rej.message and "max_disorder 1h" in rej.message and "12:00:00+08:00" in rej.message


def test_late_events_are_judged_by_the_clock_not_by_when_batches_are_released(engine, stall_rs):
    """Whether a micro-batch was released yet never changes which events are late."""
    events = [_follow(f"f{i:02d}", f"{10 + i // 6:02d}:{(i % 6) * 10:02d}") for i in range(30)]
    events.insert(20, _follow("late", "10:05"))
    outcomes = {cs: engine.scan(events, stall_rs, max_disorder="90m", chunk_size=cs) for cs in (1, 4, 65_536)}
    assert {cs: [r.id for r in res.rejected] for cs, res in outcomes.items()} == {1: ["late"], 4: ["late"], 65_536: ["late"]}


def test_strict_bounded_scan_raises_on_a_late_event(engine, stall_rs):
    with pytest.raises(LateEventError) as info:
        engine.scan([_follow("f1", "10:00"), _follow("f2", "12:00"), _follow("old", "09:00")], stall_rs,
                    max_disorder="1h", strict=True)
    assert info.value.rejection.id == "old"


def test_a_stall_fires_at_the_end_when_time_advances_to_as_of(engine, stall_rs):
    events = [_stage("s1", "10:00"), _follow("f1", "10:00", day=2)]
    for as_of in (None, "2026-04-04T10:00:00+08:00", "2026-04-04T09:59:59+08:00", "2026-04-01T12:00:00+08:00"):
        ref = engine.scan(events, stall_rs, as_of)
        got = engine.scan(events, stall_rs, as_of, max_disorder="1h", chunk_size=1)
        assert _dump(got) == _dump(ref), as_of
    assert len(engine.scan(events, stall_rs, "2026-04-04T10:00:00+08:00", max_disorder="0s").findings) == 1


def test_events_after_an_explicit_as_of_are_counted_not_judged(engine, stall_rs):
    events = [_stage("s1", "10:00"), _follow("f1", "10:00", day=2), _follow("f2", "10:00", day=9)]
    got = engine.scan(events, stall_rs, "2026-04-05T00:00:00+08:00", max_disorder="0s", chunk_size=1)
    ref = engine.scan(events, stall_rs, "2026-04-05T00:00:00+08:00")
    assert got.stats.after_as_of == ref.stats.after_as_of == 1
    assert _dump(got) == _dump(ref)


# -- the duplicate rule ------------------------------------------------------------------------------
def test_duplicates_and_repeated_ids_follow_the_plain_scans_rule(engine, stall_rs):
    same = _follow("f1", "10:00")
    other = dict(same, summary="another text")
    later_other = dict(_follow("f1", "15:00"))  # the id again, long after f1 was judged
    events = [same, dict(same), other, _follow("f2", "11:00"), _follow("f3", "14:00"), later_other,
              dict(_follow("f2", "11:00"))]  # f2 again: judged already, so now late (1h)
    ref = engine.scan(events[:6], stall_rs)
    got = engine.scan(events[:6], stall_rs, max_disorder="1h", chunk_size=1)
    assert _dump(got) == _dump(ref)
    assert got.stats.duplicates == 1 and got.stats.rejected == 2
    assert [r.id for r in got.rejected] == ["f1", "f1"] and all("repeated id" in r.message for r in got.rejected)
    # a duplicate delivery arriving more than max_disorder late is rejected as late, not counted
    late = engine.scan(events, stall_rs, max_disorder="1h", chunk_size=1)
    assert late.stats.late == 1 and late.rejected[-1].id == "f2"


def test_money_written_two_ways_is_the_same_content(engine, ruleset):
    rs = ruleset({"use": "approval.bypass"})
    order = {"id": "o1", "kind": "order.recorded", "ts": "2026-04-01T10:00:00+08:00", "employee_id": "E1",
             "order_id": "O1", "customer_id": "C1", "amount": 600000}
    got = engine.scan([order, dict(order, amount="600000.00")], rs, max_disorder="1h")
    assert got.stats.duplicates == 1 and got.stats.rejected == 0


# -- memory ----------------------------------------------------------------------------------------
MEM_RULES = [{"use": "geofence.mismatch"}, {"use": "visit.evidence_missing"}, {"use": "followup.stall"},
             {"use": "customer.unregistered"}, {"use": "customer.ownership_conflict"},
             {"use": "approval.unverified_source"}]


def _daily(days: int, employees: int = 40, customers: int = 3) -> list[dict]:
    """Constant daily volume (4 events per employee a day): a visit with punches and a photo, a call.

    Honest data (no findings) over detectors whose state is per customer or per (employee,
    customer), so nothing but the number of events changes with ``days``.
    """
    rnd = random.Random(days)
    start = datetime(2026, 1, 5, tzinfo=SH)
    out: list[dict] = []

    def add(day: int, sec: int, **ev: Any) -> None:
        out.append((day, sec, len(out), {"id": f"ev{len(out):08d}",
                                         "ts": (start + timedelta(days=day, seconds=sec)).isoformat(), **ev}))

    place: dict[str, tuple[float, float]] = {}
    for e in range(employees):
        for k in range(customers):
            c = f"C{e:03d}-{k}"
            place[c] = (31.2 + rnd.random() * 0.1, 121.4 + rnd.random() * 0.1)
            add(0, 3600, kind="customer.registered", employee_id=f"E{e:03d}", customer_id=c, name=c,
                owner_id=f"E{e:03d}", lat=place[c][0], lon=place[c][1])
            add(0, 3700, kind="customer.stage_changed", employee_id=f"E{e:03d}", customer_id=c, stage="quoting")
    for day in range(1, days + 1):
        for e in range(employees):
            emp, c, c2 = f"E{e:03d}", f"C{e:03d}-{day % customers}", f"C{e:03d}-{(day + 1) % customers}"
            lat, lon = place[c]
            t = 9 * 3600 + rnd.randrange(3600)
            punch = {"kind": "attendance.punched", "employee_id": emp, "accuracy_m": 10.0, "source": "gps",
                     "customer_id": c}
            add(day, t, direction="in", lat=lat + 1e-4, lon=lon, **punch)
            add(day, t + 1800, kind="followup.logged", employee_id=emp, customer_id=c, channel="visit", summary="visit",
                photos=[{"uri": f"oss://{emp}/{day}.jpg", "lat": lat, "lon": lon,
                         "taken_at": (start + timedelta(days=day, seconds=t + 900)).isoformat()}])
            add(day, t + 3600, direction="out", lat=lat, lon=lon - 1e-4, **punch)
            add(day, t + 7200, kind="followup.logged", employee_id=emp, customer_id=c2, channel="phone", summary="call")
    return [e for *_, e in sorted(out, key=lambda x: x[:3])]  # in time order


def _peak(engine, path: str, rs, **kw: Any) -> tuple[int, hrguard.ScanResult]:
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        res = engine.scan(path, rs, **kw)
        return tracemalloc.get_traced_memory()[1], res
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_number_of_days(engine, tmp_path):
    rs = engine.load_ruleset({"ruleset": "mem", "timezone": "Asia/Shanghai", "rules": MEM_RULES})
    paths = {}
    for days in (10, 30, 120):
        paths[days] = str(tmp_path / f"d{days}.jsonl")
        with open(paths[days], "w") as fh:
            fh.writelines(json.dumps(e) + "\n" for e in _daily(days))
    bounded = {"max_disorder": "1h", "chunk_size": 1000}
    _peak(engine, paths[10], rs, **bounded)  # warm-up: lazy imports and caches are not the scan's memory
    short, r1 = _peak(engine, paths[30], rs, **bounded)
    long, r4 = _peak(engine, paths[120], rs, **bounded)
    assert r4.stats.valid > 3.5 * r1.stats.valid and r4.stats.late == 0 and not r1.findings and not r4.findings
    # four times the days: the same peak, give or take the judged ids (8 bytes an event, twice that while
    # two runs of them merge) and noise
    assert long < 1.25 * short + 16 * (r4.stats.valid - r1.stats.valid), (short, long)
    # while the plain scan's peak grows with the events it holds (its fixed part, a block of lines read
    # at a time, is most of it at 30 days)
    plain_short, _ = _peak(engine, paths[30], rs)
    plain_long, p4 = _peak(engine, paths[120], rs)
    assert plain_long > 2 * plain_short, (plain_short, plain_long)
    assert [f.model_dump() for f in p4.findings] == [f.model_dump() for f in r4.findings]


def test_the_window_holds_about_max_disorder_of_events(engine, tmp_path):
    rs = engine.load_ruleset({"ruleset": "mem", "timezone": "Asia/Shanghai", "rules": MEM_RULES})
    path = tmp_path / "d20.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in _daily(20)))
    b = BoundedScan(engine, rs, "1h", chunk_size=200)
    res = b.run(str(path))
    assert res.stats.valid == 240 + 20 * 160 and b.releases > 10
    assert b.peak_window < 200 + 160 + 200  # a release's worth, a day's events, one block (at most chunk_size)
    assert len(b.seen) == res.stats.valid


def test_cli_scan_with_max_disorder_gives_the_plain_scans_findings(tmp_path):
    import json
    import subprocess
    import sys

    from hrguard.demo import load_events

    path = tmp_path / "demo.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in load_events()) + "\n")  # the story is logged out of order, by up to 26 days
    runs = [subprocess.run([sys.executable, "-m", "hrguard", "scan", str(path), "-f", "jsonl", *extra],
                           capture_output=True, text=True) for extra in ([], ["--max-disorder", "30d"])]
    assert [r.returncode for r in runs] == [0, 0], runs[1].stderr
    assert runs[0].stdout == runs[1].stdout and runs[0].stdout.count("\n") > 10
