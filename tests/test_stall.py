"""``followup.stall``: every boundary of spec/detectors.md, each scenario checked all ways."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import hrguard
from hrguard.testing import run_all_ways

RULE = "followup.stall"
T0 = datetime.fromisoformat("2026-04-01T10:00:00+08:00")
DAY = 86_400


def at(days: float = 0, seconds: float = 0) -> str:
    return (T0 + timedelta(days=days, seconds=seconds)).isoformat()


def registered(id_, ts, c="C1", owner="E1"):
    return {"id": id_, "kind": "customer.registered", "ts": ts, "employee_id": owner, "customer_id": c,
            "name": c, "owner_id": owner}


def assigned(id_, ts, owner, c="C1", previous=None):
    return {"id": id_, "kind": "customer.assigned", "ts": ts, "employee_id": "M1", "customer_id": c,
            "owner_id": owner, "previous_owner_id": previous}


def stage(id_, ts, st, c="C1", emp="E1", previous=None):
    return {"id": id_, "kind": "customer.stage_changed", "ts": ts, "employee_id": emp, "customer_id": c,
            "stage": st, "previous_stage": previous}


def followup(id_, ts, c="C1", emp="E1", channel="phone"):
    return {"id": id_, "kind": "followup.logged", "ts": ts, "employee_id": emp, "customer_id": c,
            "channel": channel, "summary": "called"}


def got(result):
    return [(f.rule, f.employee_id, f.customer_id, f.ts, f.evidence, f.details) for f in result.findings]


def want(ts, evidence, st, idle_s, last, emp="E1", cust="C1"):
    return (RULE, emp, cust, datetime.fromisoformat(ts), evidence,
            {"stage": st, "idle_seconds": idle_s, "last_activity_id": last, "idle_days": round(idle_s / DAY, 1)})


def rules(ruleset, max_idle=None, tz="Asia/Shanghai"):
    params = {} if max_idle is None else {"max_idle": max_idle}
    return ruleset({"use": RULE, "params": params}, timezone=tz)


SEVEN = 7 * DAY
FIVE = 5 * DAY


# -- the moment ---------------------------------------------------------------------------------------
def test_fires_exactly_at_max_idle_and_not_a_second_before(engine, ruleset):
    events = [registered("r", at(-1)), stage("s1", at(0), "quoting")]
    rs = rules(ruleset)
    assert run_all_ways(events, rs, at(7, -1), engine=engine).findings == []
    res = run_all_ways(events, rs, at(7), engine=engine)
    assert got(res) == [want(at(7), ["s1"], "quoting", SEVEN, "s1")]
    assert res.findings[0].message == "Customer C1 has had no follow-up for 7 days in stage 'quoting' — is something wrong?"


def test_an_activity_exactly_at_the_moment_still_fires_and_starts_a_new_period(engine, ruleset):
    events = [registered("r", at(-1)), stage("s1", at(0), "quoting"), followup("f1", at(7))]
    rs = rules(ruleset)
    res = run_all_ways(events, rs, at(14, -1), engine=engine)
    assert got(res) == [want(at(7), ["s1"], "quoting", SEVEN, "s1")]
    res = run_all_ways(events, rs, at(14), engine=engine)
    assert got(res) == [want(at(7), ["s1"], "quoting", SEVEN, "s1"),
                        want(at(14), ["s1", "f1"], "quoting", SEVEN, "f1")]


def test_an_activity_one_second_before_the_moment_prevents_it(engine, ruleset):
    events = [registered("r", at(-1)), stage("s1", at(0), "quoting"), followup("f1", at(7, -1))]
    rs = rules(ruleset)
    assert run_all_ways(events, rs, at(14, -2), engine=engine).findings == []
    res = run_all_ways(events, rs, at(14, -1), engine=engine)
    assert got(res) == [want(at(14, -1), ["s1", "f1"], "quoting", SEVEN, "f1")]


def test_one_finding_per_idle_period(engine, ruleset):
    events = [registered("r", at(-1)), stage("s1", at(0), "quoting")]
    res = run_all_ways(events, rules(ruleset), at(90), engine=engine)
    assert got(res) == [want(at(7), ["s1"], "quoting", SEVEN, "s1")]
    # long gaps between activities: one finding for each gap that reaches the threshold
    events += [followup("f1", at(8)), followup("f2", at(10)), followup("f3", at(30))]
    res = run_all_ways(events, rules(ruleset), at(90), engine=engine)
    assert got(res) == [want(at(7), ["s1"], "quoting", SEVEN, "s1"),
                        want(at(17), ["s1", "f2"], "quoting", SEVEN, "f2"),
                        want(at(37), ["s1", "f3"], "quoting", SEVEN, "f3")]


def test_only_followups_and_stage_changes_of_that_customer_reset_the_clock(engine, ruleset):
    events = [registered("r", at(-1)), registered("r2", at(-1), c="C2"),
              stage("s1", at(0), "quoting"),
              followup("f1", at(3), emp="E9"),         # anyone's follow-up resets, even unregistered E9
              followup("x", at(5), c="C2"),            # another customer's follow-up does not
              assigned("a", at(6), "E1"),              # nor an assignment
              registered("r3", at(6, 1)),              # nor a re-registration
              stage("s2", at(8), "quoting", previous="quoting")]  # a stage change (even to the same) does
    res = run_all_ways(events, rules(ruleset), at(30), engine=engine)
    assert got(res) == [want(at(15), ["s2"], "quoting", SEVEN, "s2")]


# -- stages -------------------------------------------------------------------------------------------
def test_no_stage_means_no_clock(engine, ruleset):
    events = [registered("r", at(-1)), followup("f1", at(0)), followup("f2", at(1))]
    assert run_all_ways(events, rules(ruleset), at(60), engine=engine).findings == []


def test_a_change_to_an_unwatched_stage_stops_the_clock(engine, ruleset):
    events = [registered("r", at(-1)), stage("s1", at(0), "quoting"), stage("s2", at(3), "quoted"),
              followup("f1", at(4))]
    assert run_all_ways(events, rules(ruleset), at(60), engine=engine).findings == []
    # a watched stage again starts a clock with that stage's threshold
    events += [stage("s3", at(10), "pending_signing"), followup("f2", at(11))]
    res = run_all_ways(events, rules(ruleset), at(60), engine=engine)
    assert got(res) == [want(at(16), ["s3", "f2"], "pending_signing", FIVE, "f2")]


def test_a_stage_change_between_watched_stages_starts_the_new_stages_clock(engine, ruleset):
    events = [registered("r", at(-1)), stage("s1", at(0), "quoting"), stage("s2", at(6), "pending_signing")]
    res = run_all_ways(events, rules(ruleset), at(60), engine=engine)
    assert got(res) == [want(at(11), ["s2"], "pending_signing", FIVE, "s2")]


def test_customers_are_independent(engine, ruleset):
    events = [registered("r1", at(-1), c="C1", owner="E1"), registered("r2", at(-1), c="C2", owner="E2"),
              stage("a1", at(0), "quoting", c="C1"), stage("a2", at(1), "pending_signing", c="C2"),
              followup("f1", at(2), c="C2")]
    res = run_all_ways(events, rules(ruleset), at(60), engine=engine)
    assert got(res) == [want(at(7), ["a1"], "quoting", SEVEN, "a1", emp="E1", cust="C1"),
                        want(at(7), ["a2", "f1"], "pending_signing", FIVE, "f1", emp="E2", cust="C2")]


# -- as-of --------------------------------------------------------------------------------------------
def test_a_stall_due_after_as_of_waits_for_a_later_as_of(engine, ruleset):
    events = [registered("r", at(-1)), stage("s1", at(0), "quoting"), followup("f1", at(2))]
    rs = rules(ruleset)
    assert run_all_ways(events, rs, at(9, -1), engine=engine).findings == []
    assert got(run_all_ways(events, rs, at(9), engine=engine)) == [want(at(9), ["s1", "f1"], "quoting", SEVEN, "f1")]
    assert got(run_all_ways(events, rs, at(20), engine=engine)) == [want(at(9), ["s1", "f1"], "quoting", SEVEN, "f1")]
    # the default as-of is the latest event: the clock never runs past it
    assert run_all_ways(events, rs, engine=engine).findings == []


def test_events_after_as_of_are_ignored(engine, ruleset):
    # the follow-up at day 5 would prevent the stall, but it is after as-of (day 7): the stall fires
    events = [registered("r", at(-1)), stage("s1", at(0), "quoting"), followup("f1", at(8))]
    res = run_all_ways(events, rules(ruleset), at(7), engine=engine)
    assert got(res) == [want(at(7), ["s1"], "quoting", SEVEN, "s1")]


# -- who ----------------------------------------------------------------------------------------------
def test_the_owner_at_the_findings_ts_is_the_employee(engine, ruleset):
    events = [registered("r", at(-1), owner="E1"), stage("s1", at(0), "quoting", emp="E1"),
              assigned("a1", at(5), "E2", previous="E1"),    # before the moment: E2 owns it then
              assigned("a2", at(8), "E3", previous="E2")]    # after the moment: irrelevant
    res = run_all_ways(events, rules(ruleset), at(8), engine=engine)
    assert got(res) == [want(at(7), ["s1"], "quoting", SEVEN, "s1", emp="E2")]


def test_an_assignment_at_the_very_moment_counts(engine, ruleset):
    events = [registered("r", at(-1), owner="E1"), stage("s1", at(0), "quoting"),
              assigned("a1", at(7), "E2")]
    res = run_all_ways(events, rules(ruleset), at(10), engine=engine)
    assert got(res) == [want(at(7), ["s1"], "quoting", SEVEN, "s1", emp="E2")]


def test_re_registration_sets_the_owner_and_an_unknown_customer_has_none(engine, ruleset):
    events = [registered("r1", at(-1), owner="E1"), stage("s1", at(0), "quoting"),
              registered("r2", at(2), owner="E4"),
              stage("u1", at(0), "quoting", c="CX", emp="E1")]   # never registered: no owner
    res = run_all_ways(events, rules(ruleset), at(10), engine=engine)
    assert got(res) == [want(at(7), ["s1"], "quoting", SEVEN, "s1", emp="E4"),
                        want(at(7), ["u1"], "quoting", SEVEN, "u1", emp=None, cust="CX")]


# -- evidence -----------------------------------------------------------------------------------------
def test_evidence_is_the_last_activity_and_the_stage_change_when_different(engine, ruleset):
    events = [registered("r", at(-1)), stage("s1", at(0), "quoting"), followup("f1", at(1)), followup("f2", at(2))]
    res = run_all_ways(events, rules(ruleset), at(20), engine=engine)
    assert got(res) == [want(at(9), ["s1", "f2"], "quoting", SEVEN, "f2")]


def test_same_instant_activities_follow_id_order(engine, ruleset):
    # at the same ts, "b" comes after "a": the stage set by "a" holds, "b" is the last activity
    events = [registered("r", at(-1)), stage("a", at(0), "quoting"), followup("b", at(0))]
    res = run_all_ways(events, rules(ruleset), at(20), engine=engine)
    assert got(res) == [want(at(7), ["a", "b"], "quoting", SEVEN, "b")]
    # "z" after "b": the last activity is the stage change itself
    events = [registered("r", at(-1)), followup("b", at(0)), stage("z", at(0), "quoting")]
    res = run_all_ways(events, rules(ruleset), at(20), engine=engine)
    assert got(res) == [want(at(7), ["z"], "quoting", SEVEN, "z")]


# -- params -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("idle", ["36h", "1d12h", "P1DT12H", "PT36H", "2160m"])
def test_custom_max_idle_durations(engine, ruleset, idle):
    rs = rules(ruleset, {"negotiating": idle})
    events = [registered("r", at(-1)), stage("s1", at(0), "negotiating"),
              registered("r2", at(-1), c="C2"), stage("q", at(0), "quoting", c="C2")]  # quoting unwatched now
    assert run_all_ways(events, rs, at(1.5, -1), engine=engine).findings == []
    res = run_all_ways(events, rs, at(30), engine=engine)
    assert got(res) == [want(at(1.5), ["s1"], "negotiating", 36 * 3600, "s1")]


def test_stage_names_are_case_sensitive_open_strings(engine, ruleset):
    rs = rules(ruleset, {"报价中": "2d"}, tz="UTC")
    events = [registered("r", at(-1)), stage("s1", at(0), "报价中"), stage("s2", at(0), "Quoting", c="C2")]
    res = run_all_ways(events, rs, at(10), engine=engine)
    assert got(res) == [want(at(2), ["s1"], "报价中", 2 * DAY, "s1")]


@pytest.mark.parametrize("idle, language, text", [
    ("36h", "en", "Customer C1 has had no follow-up for 36 hours in stage 'quoting' — is something wrong?"),
    ("1d", "en", "Customer C1 has had no follow-up for 1 day in stage 'quoting' — is something wrong?"),
    ("90m", "en", "Customer C1 has had no follow-up for 90 minutes in stage 'quoting' — is something wrong?"),
    ("7d", "zh", "客户 C1 处于“quoting”阶段已 7 天无跟进，是否出了问题？"),
    ("36h", "zh", "客户 C1 处于“quoting”阶段已 36 小时无跟进，是否出了问题？"),
])
def test_the_message_states_the_threshold_exactly(engine, ruleset, idle, language, text):
    # 36h is "36 hours", never a rounded "2 days"
    rs = ruleset({"use": RULE, "params": {"max_idle": {"quoting": idle}}}, language=language)
    events = [registered("r", at(-1)), stage("s1", at(0), "quoting")]
    res = run_all_ways(events, rs, at(30), engine=engine)
    assert [f.message for f in res.findings] == [text]


@pytest.mark.parametrize("bad", ["7 days", "-1d", "", 1.5j])
def test_bad_durations_are_ruleset_errors(ruleset, bad):
    with pytest.raises(hrguard.RulesetError):
        rules(ruleset, {"quoting": bad})
