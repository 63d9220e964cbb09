"""``plan.missing`` and ``summary.missing``: every boundary of spec/detectors.md, all ways."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hrguard
from hrguard.detectors.workday import PlanMissing, SummaryMissing
from hrguard.engine import Stream
from hrguard.findings import Severity
from hrguard.testing import run_all_ways

SH = "+08:00"
DAY = "2026-04-02"
NEXT = "2026-04-03"
PLAN, SUMMARY = "plan.missing", "summary.missing"
SALES = {"roles": ["sales"]}


def t(hms: str, day: str = DAY, off: str = SH) -> str:
    return f"{day}T{hms}{off}"


def hired(id_, emp="E1", role="sales", ts=t("00:00:00", "2026-03-01")):
    return {"id": id_, "kind": "employee.hired", "ts": ts, "employee_id": emp, "role": role}


def punch(id_, ts, emp="E1", direction="in"):
    return {"id": id_, "kind": "attendance.punched", "ts": ts, "employee_id": emp, "direction": direction,
            "lat": 31.23, "lon": 121.47, "accuracy_m": 10, "source": "gps"}


def plan(id_, ts, date=DAY, emp="E1"):
    return {"id": id_, "kind": "plan.submitted", "ts": ts, "employee_id": emp, "date": date,
            "items": [{"customer_id": "C1", "start": "09:00", "end": "11:00"}]}


def summary(id_, ts, date=DAY, emp="E1"):
    return {"id": id_, "kind": "summary.submitted", "ts": ts, "employee_id": emp, "date": date,
            "claims": [{"customer_id": "C1", "activity": "call"}]}


def rules(ruleset, use, tz="Asia/Shanghai", language="en", scope=SALES, **params):
    return ruleset({"use": use, "params": params, "scope": scope}, timezone=tz, language=language)


def want(rule, ts, date, deadline, punch_id, punch_ts, emp="E1", sev=Severity.low):
    details = {"date": date, "deadline": deadline, "first_punch_id": punch_id, "first_punch_at": punch_ts}
    return (rule, emp, None, datetime.fromisoformat(ts), [punch_id], details, sev)


def got(result):
    rows = [(f.rule, f.employee_id, f.customer_id, f.ts, f.evidence, f.details, f.severity) for f in result.findings]
    return sorted(rows, key=lambda r: (r[3], r[0], r[1]))


# ========================================== plan.missing ==========================================
def test_plan_received_exactly_at_the_deadline_counts_one_second_later_does_not(engine, ruleset):
    base = [hired("h1"), hired("h2", "E2"), punch("p1", t("08:30:00")), punch("p2", t("08:40:00"), emp="E2")]
    events = base + [plan("a", t("10:00:00")), plan("b", t("10:00:01"), emp="E2")]
    res = run_all_ways(events, rules(ruleset, PLAN), engine=engine)
    assert got(res) == [want(PLAN, t("10:00:00"), DAY, t("10:00:00"), "p2", t("08:40:00"), emp="E2")]
    assert res.findings[0].message == ("E2 clocked in on 2026-04-02 (first punch 08:40) but had submitted no "
                                       "work plan for the day by 10:00")


def test_finding_ts_is_the_later_of_the_deadline_and_the_first_punch(engine, ruleset):
    events = [hired("h1"), hired("h2", "E2"),
              punch("p1", t("07:00:00")), punch("p1b", t("12:00:00")),      # first punch before: at 10:00
              punch("p2", t("14:15:00"), emp="E2"), punch("p2b", t("18:00:00"), emp="E2")]  # after: at 14:15
    res = run_all_ways(events, rules(ruleset, PLAN), engine=engine)
    assert got(res) == [want(PLAN, t("10:00:00"), DAY, t("10:00:00"), "p1", t("07:00:00")),
                        want(PLAN, t("14:15:00"), DAY, t("10:00:00"), "p2", t("14:15:00"), emp="E2")]


def test_a_plan_after_the_deadline_never_counts_even_before_a_late_first_punch(engine, ruleset):
    events = [hired("h1"), plan("pl", t("11:00:00")), punch("p1", t("13:00:00"))]
    res = run_all_ways(events, rules(ruleset, PLAN), engine=engine)
    assert got(res) == [want(PLAN, t("13:00:00"), DAY, t("10:00:00"), "p1", t("13:00:00"))]


def test_a_day_without_punches_is_not_a_working_day(engine, ruleset):
    events = [hired("h1"), punch("p1", t("09:00:00")), plan("pl", t("08:00:00")),
              plan("late", t("11:00:00"), date=NEXT)]   # NEXT: no punch, no finding, plan or not
    res = run_all_ways(events, rules(ruleset, PLAN), as_of=t("23:00:00", "2026-04-05"), engine=engine)
    assert res.findings == []


def test_plans_for_d_count_from_any_earlier_time_and_only_for_d(engine, ruleset):
    events = [hired("h1"), hired("h2", "E2"), hired("h3", "E3"),
              plan("early", t("18:00:00", "2026-04-01")),            # the evening before: counts for D
              punch("p1", t("09:00:00")),
              plan("other", t("08:00:00"), date=NEXT, emp="E2"),     # a plan for another date: not for D
              plan("later", t("09:59:59"), emp="E2"),                # a later plan for D by the deadline
              punch("p2", t("09:00:00"), emp="E2"),
              plan("e4", t("08:00:00"), emp="E4"),                   # another employee's plan: not E3's
              punch("p3", t("09:00:00"), emp="E3")]
    res = run_all_ways(events, rules(ruleset, PLAN), as_of=t("12:00:00"), engine=engine)
    assert got(res) == [want(PLAN, t("10:00:00"), DAY, t("10:00:00"), "p3", t("09:00:00"), emp="E3")]


def test_each_working_day_is_judged_once_and_separately(engine, ruleset):
    events = [hired("h1"),
              punch("a1", t("09:00:00")), punch("a2", t("12:00:00"), direction="out"),
              punch("b1", t("08:00:00", NEXT)), plan("pl", t("08:30:00", NEXT), date=NEXT),
              punch("c1", t("11:00:00", "2026-04-04"))]
    res = run_all_ways(events, rules(ruleset, PLAN), engine=engine)
    assert got(res) == [want(PLAN, t("10:00:00"), DAY, t("10:00:00"), "a1", t("09:00:00")),
                        want(PLAN, t("11:00:00", "2026-04-04"), "2026-04-04", t("10:00:00", "2026-04-04"),
                             "c1", t("11:00:00", "2026-04-04"))]


def test_fires_only_when_due_at_or_before_as_of(engine, ruleset):
    events = [hired("h1"), punch("p1", t("09:00:00"))]
    rs = rules(ruleset, PLAN)
    assert run_all_ways(events, rs, as_of=t("09:59:59"), engine=engine).findings == []
    res = run_all_ways(events, rs, as_of=t("10:00:00"), engine=engine)
    assert got(res) == [want(PLAN, t("10:00:00"), DAY, t("10:00:00"), "p1", t("09:00:00"))]
    # without an as-of time the scan ends at the last event: the deadline has not come yet
    assert run_all_ways(events, rs, engine=engine).findings == []


def test_streaming_fires_when_the_clock_passes_the_deadline(engine, ruleset):
    s = Stream(rules(ruleset, PLAN), engine=engine)
    assert s.push(hired("h1")) == []
    assert s.push(punch("p1", t("09:00:00"))) == []
    assert s.advance_to(t("09:59:59")) == []
    out = s.advance_to(t("10:00:00"))
    assert [(f.rule, f.employee_id, f.ts) for f in out] == [(PLAN, "E1", datetime.fromisoformat(t("10:00:00")))]
    # a plan pushed late cannot change it (and is rejected as late)
    s.push(plan("pl", t("09:30:00")))
    assert len(s.rejected) == 1 and len(s.findings) == 1


def test_custom_deadline_with_seconds(engine, ruleset):
    events = [hired("h1"), hired("h2", "E2"), punch("p1", t("08:00:00")), punch("p2", t("08:00:00"), emp="E2"),
              plan("a", t("09:30:15")), plan("b", t("09:30:16"), emp="E2")]
    res = run_all_ways(events, rules(ruleset, PLAN, deadline="09:30:15"), engine=engine)
    assert got(res) == [want(PLAN, t("09:30:15"), DAY, t("09:30:15"), "p2", t("08:00:00"), emp="E2")]
    assert res.findings[0].message.endswith("by 09:30:15")


def test_local_date_and_deadline_follow_the_ruleset_timezone(engine, ruleset):
    # 2026-04-03T01:00+08:00 is 2026-04-02T17:00Z: Shanghai date 04-03, UTC date 04-02
    events = [hired("h1"), punch("p1", t("01:00:00", NEXT)), plan("pl", t("08:00:00"), date=DAY)]
    sh = run_all_ways(events, rules(ruleset, PLAN), as_of=t("12:00:00", NEXT), engine=engine)
    assert got(sh) == [want(PLAN, t("10:00:00", NEXT), NEXT, t("10:00:00", NEXT), "p1", t("01:00:00", NEXT))]
    utc = run_all_ways(events, rules(ruleset, PLAN, tz="UTC"), as_of=t("12:00:00", NEXT), engine=engine)
    assert utc.findings == []  # UTC date 04-02, whose plan came at 00:00Z, before 10:00Z


def test_scope_roles_sales_as_known_at_the_finding(engine, ruleset):
    assert PlanMissing.default_scope == {"roles": ["sales"]} == SummaryMissing.default_scope
    events = [hired("h1"), hired("h2", "E2", role="hr"),
              hired("h3", "E3", role="sales"), hired("h3b", "E3", role="manager", ts=t("09:59:59")),
              punch("p1", t("09:00:00")), punch("p2", t("09:00:00"), emp="E2"), punch("p3", t("09:00:00"), emp="E3"),
              punch("p4", t("09:00:00"), emp="NOBODY")]
    res = run_all_ways(events, rules(ruleset, PLAN), engine=engine, as_of=t("11:00:00"))
    assert [f.employee_id for f in res.findings] == ["E1"]
    everyone = run_all_ways(events, rules(ruleset, PLAN, scope={}), engine=engine, as_of=t("11:00:00"))
    assert sorted(f.employee_id for f in everyone.findings) == ["E1", "E2", "E3", "NOBODY"]


def test_punches_without_an_employee_make_no_working_day(engine, ruleset):
    ev = punch("p1", t("09:00:00"))
    del ev["employee_id"]
    assert run_all_ways([ev], rules(ruleset, PLAN, scope={}), as_of=t("11:00:00"), engine=engine).findings == []


def test_plan_missing_in_chinese(engine, ruleset):
    events = [hired("h1"), punch("p1", t("08:05:00"))]
    res = run_all_ways(events, rules(ruleset, PLAN, language="zh"), as_of=t("10:00:00"), engine=engine)
    assert [f.message for f in res.findings] == [
        "E1 在 2026-04-02 有打卡记录（首次打卡 08:05），但截至 10:00 仍未提交当天的工作计划"]


@pytest.mark.parametrize("bad", ["25:00", "10", "9:00", "10:00:60", "10:00 ", "10:00\n", "ten", 10])
def test_bad_deadlines_are_ruleset_errors(ruleset, bad):
    with pytest.raises(hrguard.RulesetError):
        ruleset({"use": PLAN, "params": {"deadline": bad}})


def test_params_defaults_and_round_trip():
    assert PlanMissing.Params().model_dump(mode="json") == {"deadline": "10:00"}
    assert SummaryMissing.Params().model_dump(mode="json") == {"deadline": "23:59:59"}
    p = PlanMissing.Params(deadline="09:30:15")
    assert PlanMissing.Params.model_validate(p.model_dump()) == p
    assert PlanMissing.Params.model_validate(p.model_dump(mode="json")) == p


# ========================================= summary.missing ========================================
def test_summary_default_deadline_is_the_end_of_d(engine, ruleset):
    events = [hired("h1"), hired("h2", "E2"), hired("h3", "E3"),
              punch("p1", t("09:00:00")), punch("p2", t("09:00:00"), emp="E2"), punch("p3", t("09:00:00"), emp="E3"),
              summary("a", t("23:59:59")),                                # exactly at the deadline: counts
              summary("b", t("00:00:00", NEXT), emp="E2"),                # one second later: too late
              summary("c", t("08:00:00"), emp="E3")]                      # before the work: counts too
    res = run_all_ways(events, rules(ruleset, SUMMARY), as_of=t("12:00:00", NEXT), engine=engine)
    assert got(res) == [want(SUMMARY, t("23:59:59"), DAY, t("23:59:59"), "p2", t("09:00:00"), emp="E2")]
    assert res.findings[0].message == ("E2 clocked in on 2026-04-02 (first punch 09:00) but had submitted no "
                                       "daily work summary for it by 23:59:59")


def test_summary_deadline_and_as_of(engine, ruleset):
    events = [hired("h1"), punch("p1", t("09:00:00")), summary("s", t("18:00:01"))]
    rs = rules(ruleset, SUMMARY, deadline="18:00")
    assert run_all_ways(events, rs, as_of=t("17:59:59"), engine=engine).findings == []
    res = run_all_ways(events, rs, as_of=t("18:00:00"), engine=engine)
    assert got(res) == [want(SUMMARY, t("18:00:00"), DAY, t("18:00:00"), "p1", t("09:00:00"))]
    # a punch after the deadline: the finding waits for it
    events = [hired("h1"), punch("p1", t("19:30:00"))]
    res = run_all_ways(events, rs, engine=engine)
    assert got(res) == [want(SUMMARY, t("19:30:00"), DAY, t("18:00:00"), "p1", t("19:30:00"))]


def test_a_plan_is_not_a_summary_and_a_summary_is_not_a_plan(engine, ruleset):
    events = [hired("h1"), summary("s", t("08:00:00")), plan("pl", t("08:00:00")), punch("p1", t("09:00:00"))]
    rs = ruleset([{"use": PLAN, "scope": SALES}, {"use": SUMMARY, "scope": SALES}], timezone="Asia/Shanghai")
    assert run_all_ways(events, rs, as_of=t("12:00:00", NEXT), engine=engine).findings == []
    rs = ruleset([{"use": PLAN, "scope": SALES}, {"use": SUMMARY, "scope": SALES}], timezone="Asia/Shanghai")
    only_plan = [e for e in events if e["id"] != "s"]
    res = run_all_ways(only_plan, rs, as_of=t("12:00:00", NEXT), engine=engine)
    assert got(res) == [want(SUMMARY, t("23:59:59"), DAY, t("23:59:59"), "p1", t("09:00:00"))]


def test_summary_missing_in_chinese(engine, ruleset):
    events = [hired("h1"), punch("p1", t("08:05:00"))]
    res = run_all_ways(events, rules(ruleset, SUMMARY, language="zh"), as_of=t("23:59:59"), engine=engine)
    assert [f.message for f in res.findings] == [
        "E1 在 2026-04-02 有打卡记录（首次打卡 08:05），但截至 23:59:59 仍未提交当天的工作日报"]


# ========================================= property test ==========================================
BASE = datetime(2026, 4, 1, 0, 0, tzinfo=timezone(timedelta(hours=8)))
EMPLOYEES = ["E1", "E2", "E3"]


@pytest.fixture(scope="module")
def day_rules(engine):
    return engine.load_ruleset({"ruleset": "prop", "timezone": "Asia/Shanghai", "rules": [
        {"use": PLAN, "params": {"deadline": "09:00"}},
        {"use": SUMMARY, "params": {"deadline": "21:00"}, "scope": {"roles": ["sales"]}}]})


@st.composite
def event_sets(draw: st.DrawFn) -> list[dict]:
    n = draw(st.integers(0, 40))
    out = [hired("h-E1"), hired("h-E2", "E2", role="hr")]
    for i in range(n):
        dt = BASE + timedelta(hours=3 * draw(st.integers(0, 24)))
        ts = dt.isoformat()
        id_ = f"e{draw(st.integers(0, 99))}-{i}"
        emp = draw(st.sampled_from(EMPLOYEES))
        kind = draw(st.sampled_from(["punch", "punch", "punch", "plan", "summary", "hired"]))
        date = (dt.date() + timedelta(days=draw(st.integers(-1, 1)))).isoformat()
        if kind == "punch":
            out.append(punch(id_, ts, emp=emp))
        elif kind == "plan":
            out.append(plan(id_, ts, date=date, emp=emp))
        elif kind == "summary":
            out.append(summary(id_, ts, date=date, emp=emp))
        else:
            out.append(hired(id_, emp, role=draw(st.sampled_from(["sales", "hr"])), ts=ts))
    return out


@settings(max_examples=40, deadline=None)
@given(events=event_sets(), hours=st.integers(0, 80))
def test_property_same_findings_however_the_events_arrive(engine, day_rules, events, hours):
    as_of = (BASE + timedelta(hours=hours)).isoformat()
    res = run_all_ways(events, day_rules, as_of=as_of, engine=engine)
    keys = [(f.rule, f.employee_id, f.details["date"]) for f in res.findings]
    assert len(keys) == len(set(keys))  # one finding per (employee, working day)
    for f in res.findings:
        assert f.ts >= datetime.fromisoformat(f.details["deadline"])
        assert f.ts >= datetime.fromisoformat(f.details["first_punch_at"])


@pytest.mark.parametrize("use", [PLAN, SUMMARY])
def test_state_keeps_only_the_days_not_over(engine, ruleset, use):
    # 40 working days of 3 people, half of them without documents: the detector's state after the
    # last event holds that last day only (earlier days are over and judged), whatever the log length
    s = Stream(rules(ruleset, use), engine=engine)
    start = datetime(2026, 4, 1, tzinfo=timezone(timedelta(hours=8)))
    for emp in ("E1", "E2", "E3"):
        s.push(hired(f"h-{emp}", emp, ts=t("00:00:00", "2026-03-01")))
    for d in range(40):
        day = (start + timedelta(days=d)).date().isoformat()
        for emp in ("E1", "E2", "E3"):
            s.push(punch(f"p-{emp}-{d}", t("08:00:00", day), emp=emp))
        for emp in ("E1", "E2", "E3"):
            if d % 2:
                s.push((plan if use == PLAN else summary)(f"doc-{emp}-{d}", t("09:00:00", day), day, emp=emp))
    (_, det), = s.runner.instances[-1]
    assert len(s.rejected) == 0 and len(s.findings) == 20 * 3
    assert set((det.working.keys & 0xFFFFFFFF).tolist()) == {(det.today + (1 << 31))}
    assert len(det.on_time) <= 3 and det.timers["due"].size <= 3 and len(det._deadlines) <= 2
