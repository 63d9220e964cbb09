"""Streams: the clock, allowed lateness, the watermark, late events, advance_to firing timers, and
the shortcuts of the per-push path (dispatch by kind and due time, a reused builder, unsorted frames)."""

from __future__ import annotations

import types

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hrguard
from hrguard import LateEventError, Stream
from hrguard.columns import ColumnBuilder, Interner
from hrguard.demo import load_events
from hrguard.ingest import validate
from hrguard.timeutil import to_us

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


def test_a_timer_fires_on_the_push_of_an_event_its_detector_does_not_read(engine, ruleset):
    """The runner skips a rule for kinds it does not read, but not once its timer is due."""
    rs = ruleset([{"use": "followup.stall", "params": {"max_idle": {"quoting": "2d"}}},
                  {"use": "approval.bypass"}], timezone="Asia/Shanghai")
    s = Stream(rs, engine=engine)
    s.push(stage("s1", "01T10:00:00"))
    order = {"id": "o1", "kind": "order.recorded", "ts": "2026-04-03T09:00:00+08:00", "employee_id": "E1",
             "customer_id": "C1", "order_id": "O1", "amount": 10}
    assert s.push(order) == [] and not s.rejected  # 09:00 on the 3rd: not due yet
    fired = s.push({**order, "id": "o2", "ts": "2026-04-03T11:00:00+08:00"})  # time passes 10:00 on the 3rd
    assert [(f.rule, f.ts.isoformat()) for f in fired] == [("approval.bypass", "2026-04-03T09:00:00+08:00"),
                                                           ("followup.stall", "2026-04-03T10:00:00+08:00")]


# -- dispatch: who is given which chunk ------------------------------------------------------------------
class _Calls(hrguard.Detector):
    """Reads follow-ups only; records the kinds of every chunk it is given."""

    id = "test.calls"
    kinds = frozenset({"followup.logged"})
    seen: list[list[str]] = []

    def next_due(self):
        return None

    def process(self, chunk):
        type(self).seen.append(chunk.strings.texts(chunk.frame.kind[chunk.idx]))


class _Fails(hrguard.Detector):
    """Reads every kind; raises on its second chunk."""

    id = "test.fails"
    calls = 0

    def process(self, chunk):
        type(self).calls += 1
        if type(self).calls == 2:
            raise ZeroDivisionError("bad maths")


@pytest.fixture
def probes():
    mod = types.ModuleType("probes")
    mod.hrguard_register_detectors = hrguard.hookimpl(lambda register: (register(_Calls), register(_Fails)))
    _Calls.seen, _Fails.calls = [], 0
    return hrguard.Engine([mod], entrypoints=False)


def test_a_rule_is_given_only_chunks_with_its_kinds_when_nothing_is_due(probes):
    rs = probes.load_ruleset({"rules": [{"use": "test.calls"}]})
    s = Stream(rs, engine=probes)
    for i, e in enumerate([stage("s1", "01T10:00:00"), follow("f1", "01T11:00:00"), stage("s2", "01T12:00:00"),
                           follow("f2", "01T13:00:00"), follow("f3", "01T14:00:00")]):
        s.push(e)
    s.advance_to("2026-04-02T00:00:00+08:00")
    assert _Calls.seen == [["followup.logged"]] * 3


def test_a_failing_rule_is_disabled_and_the_stream_goes_on(probes):
    rs = probes.load_ruleset({"rules": [{"use": "test.fails"}, {"use": "test.calls"}]})
    s = Stream(rs, engine=probes)
    for e in [follow("f1", "01T10:00:00"), follow("f2", "01T11:00:00"), follow("f3", "01T12:00:00"),
              follow("f4", "01T13:00:00")]:
        s.push(e)
    s.advance_to("2026-04-02T00:00:00+08:00")
    assert [e.rule for e in s.errors] == ["test.fails"] and isinstance(s.errors[0].cause, ZeroDivisionError)
    assert _Fails.calls == 2  # never given a chunk again
    assert len(_Calls.seen) == 4  # the other rule saw every event


# -- the frames a stream builds ----------------------------------------------------------------------------
_DEMO = load_events()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.lists(st.integers(0, len(_DEMO) - 1), min_size=1, max_size=12, unique=True),
                      min_size=1, max_size=4))
def test_freeze_in_order_on_a_reused_builder_is_what_freeze_gives(engine, picks):
    """A stream releases events in (ts, id) order through one reused builder; its frames must be freeze's."""
    strings = Interner()
    reused = ColumnBuilder(engine.layouts, strings)
    for pick in picks:  # several releases through the one builder
        evs = sorted((validate(_DEMO[i], engine.kinds) for i in pick), key=lambda e: (to_us(e.ts), e.id))
        fresh = ColumnBuilder(engine.layouts, strings)
        for ev in evs:
            fresh.add(ev)
            reused.add(ev)
        want, got = fresh.freeze(base=41), reused.freeze_in_order(base=41)
        reused.clear()
        assert len(reused) == 0
        assert got.base == want.base == 41
        for name in ("ts", "ids", "kind", "employee", "tenant", "kind_index"):
            a, c = getattr(want, name), getattr(got, name)
            assert a.dtype == c.dtype and a.tolist() == c.tolist(), name
        assert want.tables.keys() == got.tables.keys()
        for code, t in want.tables.items():
            u = got.tables[code]
            assert (t.kind, t.layout, t.rows.tolist()) == (u.kind, u.layout, u.rows.tolist())
            assert t.rows.dtype == u.rows.dtype and t.cols.keys() == u.cols.keys()
            for name in t.cols:
                assert t.cols[name].dtype == u.cols[name].dtype, name
                assert repr(t.cols[name].tolist()) == repr(u.cols[name].tolist()), name
            assert t.nested.keys() == u.nested.keys()
            for name, nt in t.nested.items():  # list fields: the same entries, in the same places
                assert nt.starts.tolist() == u.nested[name].starts.tolist(), name
                for f, col in nt.cols.items():
                    assert repr(col.tolist()) == repr(u.nested[name].cols[f].tolist()), (name, f)


@pytest.mark.parametrize(("batch", "lateness"), [(7, "0s"), (64, "0s"), (7, "30m")])
def test_a_batched_stream_returns_the_same_findings_later(engine, batch, lateness):
    """``batch``: final events wait for every batch-th event accepted; the findings (ids and content), the
    rejections and the result are the unbatched stream's, the findings only come back later."""
    events = load_events()
    rs = engine.load_ruleset("sales")
    plain, batched = Stream(rs, lateness, engine=engine), Stream(rs, lateness, engine=engine, batch=batch)
    got_plain, got_batched = [], []
    for e in events:
        got_plain += plain.push(e)
        out = batched.push(e)
        got_batched += out
        if out:  # only the push completing a batch (of events accepted: not rejected, not duplicates) returns findings
            assert batched.stats.valid % batch == 0
    last = max(e["ts"] for e in events)
    got_plain += plain.advance_to(last)
    got_batched += batched.advance_to(last)
    assert [f.model_dump() for f in got_batched] == [f.model_dump() for f in got_plain]
    assert [f.model_dump() for f in batched.result().findings] == [f.model_dump() for f in plain.result().findings]
    assert batched.result().as_of == plain.result().as_of
    assert len(batched.rejected) == len(plain.rejected)
    assert got_plain  # the demo has findings


def test_a_batched_stream_result_judges_what_waits(engine, stall_rs):
    events = [stage("s1", "01T10:00:00"), follow("f1", "02T10:00:00"), stage("s2", "08T10:00:00", st="signed")]
    s = Stream(stall_rs, engine=engine, batch=100)
    for e in events:
        assert s.push(e) == []
    plain = Stream(stall_rs, engine=engine)
    for e in events:
        plain.push(e)
    assert s.watermark is None
    assert [f.id for f in s.result().findings] == [f.id for f in plain.result().findings]
    assert s.watermark == plain.watermark


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "8"])
def test_a_batch_must_be_a_whole_number_of_pushes(engine, stall_rs, bad):
    with pytest.raises(hrguard.InvalidArgumentError, match="batch"):
        Stream(stall_rs, engine=engine, batch=bad)
