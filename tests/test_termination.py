"""``termination.unsettled``: every boundary of spec/detectors.md, all ways."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hrguard
from hrguard.detectors.termination import TerminationUnsettled
from hrguard.engine import Stream
from hrguard.findings import Severity
from hrguard.testing import run_all_ways

SH = "+08:00"
RULE = "termination.unsettled"
LAST = "2026-04-10"
DUE = "2026-04-13T23:59:59+08:00"  # end of the last day, local, plus the default grace of 3d


def t(hms: str, day: str, off: str = SH) -> str:
    return f"{day}T{hms}{off}"


def terminated(id_, ts, emp="E1", last_day=LAST, reason="misconduct"):
    ev = {"id": id_, "kind": "employee.terminated", "ts": ts, "employee_id": emp, "reason": reason}
    if last_day is not None:
        ev["last_day"] = last_day
    return ev


def settled(id_, ts, emp="E1", final=True, period_end=LAST, amount=8000):
    return {"id": id_, "kind": "payroll.settled", "ts": ts, "employee_id": emp, "period_end": period_end,
            "amount": amount, "final": final}


def rules(ruleset, tz="Asia/Shanghai", language="en", **params):
    return ruleset({"use": RULE, "params": params}, timezone=tz, language=language)


def want(ts, ev, emp="E1", last_day=LAST, grace=3 * 86400, settle_by=None, reason="misconduct", sev=Severity.high):
    details = {"last_day": last_day, "grace_seconds": grace, "settle_by": settle_by or ts, "termination_reason": reason}
    return (RULE, emp, None, datetime.fromisoformat(ts), [ev], details, sev)


def got(result):
    rows = [(f.rule, f.employee_id, f.customer_id, f.ts, f.evidence, f.details, f.severity) for f in result.findings]
    return sorted(rows, key=lambda r: (r[3], r[1]))


AFTER = t("12:00:00", "2026-04-20")


def test_final_settlement_one_second_before_or_at_the_deadline_counts_one_second_after_does_not(engine, ruleset):
    events = [terminated("t1", t("17:00:00", LAST), emp="E1"), settled("s1", t("23:59:58", "2026-04-13"), emp="E1"),
              terminated("t2", t("17:00:00", LAST), emp="E2"), settled("s2", t("23:59:59", "2026-04-13"), emp="E2"),
              terminated("t3", t("17:00:00", LAST), emp="E3"), settled("s3", t("00:00:00", "2026-04-14"), emp="E3")]
    res = run_all_ways(events, rules(ruleset), as_of=AFTER, engine=engine)
    assert got(res) == [want(DUE, "t3", emp="E3")]
    assert res.findings[0].message == ("E3 left the company (last day 2026-04-10) and the final wages were still "
                                       "not settled by 2026-04-13 23:59:59 — a wage-dispute risk")


def test_a_final_settlement_before_the_termination_counts(engine, ruleset):
    events = [settled("s1", t("10:00:00", "2026-04-09")), terminated("t1", t("17:00:00", LAST))]
    assert run_all_ways(events, rules(ruleset), as_of=AFTER, engine=engine).findings == []


def test_non_final_payroll_and_other_employees_settlements_do_not_count(engine, ruleset):
    events = [terminated("t1", t("17:00:00", LAST)),
              settled("s1", t("10:00:00", "2026-04-11"), final=False),
              settled("s2", t("10:00:00", "2026-04-11"), emp="E2")]
    res = run_all_ways(events, rules(ruleset), as_of=AFTER, engine=engine)
    assert got(res) == [want(DUE, "t1")]


def test_finding_ts_is_the_later_of_the_grace_deadline_and_the_termination(engine, ruleset):
    # recorded long after the last day: fires at the termination's own ts
    late = t("09:30:00", "2026-04-18")
    events = [terminated("t1", late),
              settled("a", late, emp="E2"), terminated("b", late, emp="E2"),   # same instant, earlier id: counts
              terminated("c", late, emp="E3"), settled("d", late, emp="E3")]   # same instant, later id: counts too
    res = run_all_ways(events, rules(ruleset), as_of=AFTER, engine=engine)
    assert got(res) == [want(late, "t1", settle_by=late)]


def test_fires_only_when_due_at_or_before_as_of(engine, ruleset):
    events = [terminated("t1", t("17:00:00", LAST))]
    assert run_all_ways(events, rules(ruleset), as_of=t("23:59:58", "2026-04-13"), engine=engine).findings == []
    res = run_all_ways(events, rules(ruleset), as_of=DUE, engine=engine)
    assert got(res) == [want(DUE, "t1")]
    assert run_all_ways(events, rules(ruleset), engine=engine).findings == []  # as-of = the last event


def test_streaming_fires_via_advance_to(engine, ruleset):
    s = Stream(rules(ruleset), engine=engine)
    assert s.push(terminated("t1", t("17:00:00", LAST))) == []
    assert s.push(settled("s0", t("10:00:00", "2026-04-11"), final=False)) == []
    assert s.advance_to(t("23:59:58", "2026-04-13")) == []
    out = s.advance_to(t("08:00:00", "2026-04-15"))
    assert [(f.rule, f.employee_id, f.ts, f.evidence) for f in out] == [
        (RULE, "E1", datetime.fromisoformat(DUE), ["t1"])]


def test_grace_and_end_of_day_follow_params_and_timezone(engine, ruleset):
    events = [terminated("t1", t("17:00:00", LAST))]
    res = run_all_ways(events, rules(ruleset, grace="0s"), as_of=AFTER, engine=engine)
    assert got(res) == [want(t("23:59:59", LAST), "t1", grace=0)]
    res = run_all_ways(events, rules(ruleset, grace="P1DT2H"), as_of=AFTER, engine=engine)
    assert got(res) == [want(t("01:59:59", "2026-04-12"), "t1", grace=26 * 3600)]
    # in UTC, the last day ends at 23:59:59Z, i.e. 07:59:59+08:00 the next day
    utc = run_all_ways(events, rules(ruleset, tz="UTC", grace="0s"), as_of=AFTER, engine=engine)
    assert [f.ts for f in utc.findings] == [datetime(2026, 4, 10, 23, 59, 59, tzinfo=timezone.utc)]
    assert utc.findings[0].details["settle_by"] == "2026-04-10T23:59:59+00:00"


def test_without_a_last_day_the_terminations_local_date_is_used(engine, ruleset):
    events = [terminated("t1", t("01:00:00", "2026-04-11"), last_day=None, reason=None)]  # 04-10T17:00Z
    res = run_all_ways(events, rules(ruleset), as_of=AFTER, engine=engine)
    assert got(res) == [want(t("23:59:59", "2026-04-14"), "t1", last_day="2026-04-11", reason=None)]
    utc = run_all_ways(events, rules(ruleset, tz="UTC"), as_of=AFTER, engine=engine)
    assert [f.details["last_day"] for f in utc.findings] == ["2026-04-10"]


def test_each_termination_is_judged(engine, ruleset):
    events = [terminated("t1", t("17:00:00", LAST)), terminated("t2", t("17:00:00", LAST), emp="E2"),
              terminated("t3", t("09:00:00", "2026-04-12"), emp="E2", last_day="2026-04-12")]  # a correction
    res = run_all_ways(events, rules(ruleset), as_of=AFTER, engine=engine)
    assert got(res) == [want(DUE, "t1"), want(DUE, "t2", emp="E2"),
                        want(t("23:59:59", "2026-04-15"), "t3", emp="E2", last_day="2026-04-12")]
    assert len({f.id for f in res.findings}) == 3


def test_chinese_message_and_severity(engine, ruleset):
    events = [terminated("t1", t("17:00:00", LAST))]
    res = run_all_ways(events, rules(ruleset, language="zh"), as_of=AFTER, engine=engine)
    assert res.findings[0].severity == Severity.high == TerminationUnsettled.default_severity
    assert res.findings[0].message == ("E1 已离职（最后工作日 2026-04-10），截至 2026-04-13 23:59:59 仍未结清最终工资，"
                                       "存在劳动争议风险")


@pytest.mark.parametrize("bad", ["-1d", "soon", True])
def test_bad_grace_is_a_ruleset_error(ruleset, bad):
    with pytest.raises(hrguard.RulesetError):
        ruleset({"use": RULE, "params": {"grace": bad}})


# ========================================= property test ==========================================
BASE = datetime(2026, 4, 1, 0, 0, tzinfo=timezone(timedelta(hours=8)))
EMPLOYEES = ["E1", "E2", "E3"]


@pytest.fixture(scope="module")
def term_rules(engine):
    return engine.load_ruleset({"ruleset": "prop", "timezone": "Asia/Shanghai",
                                "rules": [{"use": RULE, "params": {"grace": "1d"}}]})


@st.composite
def event_sets(draw: st.DrawFn) -> list[dict]:
    out = []
    for i in range(draw(st.integers(0, 30))):
        dt = BASE + timedelta(hours=6 * draw(st.integers(0, 24)))
        id_ = f"e{draw(st.integers(0, 99))}-{i}"
        emp = draw(st.sampled_from(EMPLOYEES))
        if draw(st.booleans()):
            last = (dt.date() + timedelta(days=draw(st.integers(-3, 2)))).isoformat()
            out.append(terminated(id_, dt.isoformat(), emp=emp, last_day=draw(st.sampled_from([last, None]))))
        else:
            out.append(settled(id_, dt.isoformat(), emp=emp, final=draw(st.booleans())))
    return out


@settings(max_examples=40, deadline=None)
@given(events=event_sets(), hours=st.integers(0, 200))
def test_property_same_findings_however_the_events_arrive(engine, term_rules, events, hours):
    as_of = (BASE + timedelta(hours=hours)).isoformat()
    res = run_all_ways(events, term_rules, as_of=as_of, engine=engine)
    for f in res.findings:
        assert f.ts <= datetime.fromisoformat(as_of)
