"""Streams: the clock, allowed lateness, the watermark, late events, advance_to firing timers."""

from __future__ import annotations

import pytest

import hrguard
from hrguard import LateEventError, Stream

SH = "+08:00"


def stage(id_, day_ts, c="C1", st="quoting"):
    return {"id": id_, "kind": "customer.stage_changed", "ts": f"2026-04-{day_ts}{SH}", "employee_id": "E1",
            "customer_id": c, "stage": st}


def follow(id_, day_ts, c="C1"):
    return {"id": id_, "kind": "followup.logged", "ts": f"2026-04-{day_ts}{SH}", "employee_id": "E1",
            "customer_id": c, "channel": "phone", "summary": "call"}


@pytest.fixture
def stall_rs(ruleset):
    return ruleset({"use": "followup.stall", "params": {"max_idle": {"quoting": "2d"}}}, timezone="Asia/Shanghai")


def test_advance_to_fires_a_stall_when_its_moment_comes(engine, stall_rs):
    s = Stream(stall_rs, engine=engine)
    assert s.push(stage("s1", "01T10:00:00")) == []
    assert s.advance_to("2026-04-03T09:59:59+08:00") == []
    fired = s.advance_to("2026-04-03T10:00:00+08:00")
    assert [(f.rule, f.ts.isoformat()) for f in fired] == [("followup.stall", "2026-04-03T10:00:00+08:00")]
    assert s.advance_to("2026-04-09T00:00:00+08:00") == []  # one finding per idle period


def test_a_push_returns_findings_that_became_true(engine, stall_rs):
    s = Stream(stall_rs, engine=engine)
    s.push(stage("s1", "01T10:00:00"))
    fired = s.push(follow("f1", "05T10:00:00"))  # time moved past the moment: the stall fires now
    assert [f.evidence for f in fired] == [["s1"]]


def test_late_events_are_rejected_and_counted(engine, stall_rs):
    s = Stream(stall_rs, engine=engine)
    s.push(follow("f1", "05T10:00:00"))
    s.push(follow("f2", "05T11:00:00"))
    assert s.push(follow("old", "05T09:00:00")) == []
    assert s.stats.late == 1 and s.stats.rejected == 1
    rej = s.rejected[0]
    assert rej.id == "old" and rej.field == "ts" and "late" in rej.message


def test_an_event_at_the_clock_instant_is_not_late(engine, stall_rs):
    s = Stream(stall_rs, engine=engine)
    s.push(follow("f2", "05T10:00:00"))
    s.push(follow("f1", "05T10:00:00"))  # same instant, smaller id: still in time with lateness 0
    assert not s.rejected


def test_allowed_lateness_accepts_disorder_within_it(engine, stall_rs):
    s = Stream(stall_rs, allowed_lateness="1h", engine=engine)
    s.push(follow("f2", "05T11:00:00"))
    s.push(follow("f1", "05T10:00:00"))  # exactly 1 h behind the clock: accepted
    assert not s.rejected
    s.push(follow("f0", "05T09:59:59"))  # more than 1 h behind: late
    assert s.stats.late == 1


def test_strict_stream_raises_on_a_late_event(engine, stall_rs):
    s = Stream(stall_rs, engine=engine, strict=True)
    s.push(follow("f1", "05T10:00:00"))
    s.push(follow("f2", "05T11:00:00"))
    with pytest.raises(LateEventError) as info:
        s.push(follow("old", "05T09:00:00"))
    assert info.value.rejection.id == "old"


def test_strict_stream_raises_on_an_invalid_event(engine, stall_rs):
    s = Stream(stall_rs, engine=engine, strict=True)
    with pytest.raises(hrguard.InvalidEventError) as info:
        s.push({"id": "x", "kind": "followup.logged", "ts": "2026-04-01T10:00:00"})
    assert info.value.rejection.field in ("ts", "customer_id")


def test_stream_result_matches_scan(engine, stall_rs):
    events = [stage("s1", "01T10:00:00"), follow("f1", "02T10:00:00"), stage("s2", "08T10:00:00", st="signed")]
    s = Stream(stall_rs, engine=engine)
    for e in events:
        s.push(e)
    s.advance_to("2026-04-08T10:00:00+08:00")
    batch = engine.scan(events, stall_rs)
    assert [f.model_dump() for f in s.result().findings] == [f.model_dump() for f in batch.findings]
    assert len(batch.findings) == 1


def test_duplicate_rule_is_the_same_in_a_stream_and_a_scan(engine, stall_rs):
    a = follow("f1", "05T10:00:00")
    b = {**a, "ts": "2026-04-05T02:00:00+00:00"}  # the same instant, written in UTC
    c = {**a, "summary": "something else"}          # a real conflict
    s = Stream(stall_rs, engine=engine)
    for e in (a, b, c):
        s.push(e)
    batch = engine.scan([a, b, c], stall_rs)
    assert (s.stats.duplicates, s.stats.rejected) == (batch.stats.duplicates, batch.stats.rejected) == (1, 1)
