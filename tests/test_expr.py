"""``expr``: CEL conditions from the ruleset, judged per event; each scenario checked all ways."""

from __future__ import annotations

from datetime import datetime

import pytest

import hrguard
from hrguard.testing import run_all_ways

RULE = "expr"
SH = "+08:00"


def t(hms: str, day: str = "2026-04-01") -> str:
    return f"{day}T{hms}{SH}"


def order(id_, ts, amount, c="C1", emp="E1", **extra):
    return {"id": id_, "kind": "order.recorded", "ts": ts, "employee_id": emp, "order_id": f"O-{id_}",
            "customer_id": c, "amount": amount, **extra}


def request(id_, ts, amount=None, c=None, emp="E1", **extra):
    return {"id": id_, "kind": "approval.requested", "ts": ts, "employee_id": emp, "request_id": f"R-{id_}",
            "subject": "order", "customer_id": c, "amount": amount, **extra}


def followup(id_, ts, c="C1", emp="E1", **extra):
    return {"id": id_, "kind": "followup.logged", "ts": ts, "employee_id": emp, "customer_id": c,
            "channel": "visit", "summary": "met", **extra}


def rules(ruleset, on, condition, message=None, name=None, language="en"):
    params = {"on": on, "condition": condition}
    if message is not None:
        params["message"] = message
    spec = {"use": RULE, "params": params}
    if name is not None:
        spec["name"] = name
    return ruleset(spec, language=language)


def got(result):
    return [(f.rule, f.employee_id, f.customer_id, f.ts, f.evidence, f.details) for f in result.findings]


def want(ts, event_id, condition, values, emp="E1", cust="C1"):
    return (RULE, emp, cust, datetime.fromisoformat(ts), [event_id], {"condition": condition, "values": values})


# -- true and false -----------------------------------------------------------------------------------
def test_fires_when_true_and_not_when_false(engine, ruleset):
    cond = "event.amount > 100000"
    events = [order("o1", t("09:00:00"), 150000, c="C1", emp="E1"),
              order("o2", t("09:10:00"), 100000, c="C2", emp="E2"),    # equal: false
              order("o3", t("09:20:00"), "100000.01", c="C3", emp="E3"),  # money as a string
              followup("f1", t("09:30:00"))]                               # another kind: not judged
    res = run_all_ways(events, rules(ruleset, "order.recorded", cond), engine=engine)
    assert got(res) == [want(t("09:00:00"), "o1", cond, {"amount": 150000.0}),
                        want(t("09:20:00"), "o3", cond, {"amount": 100000.01}, emp="E3", cust="C3")]
    assert [f.name for f in res.findings] == ["expr", "expr"]
    assert res.findings[0].message == "expr: condition met on order.recorded o1"
    assert res.warnings == []


def test_a_condition_that_reads_no_field(engine, ruleset):
    events = [order("o1", t("09:00:00"), 1), order("o2", t("09:10:00"), 2)]
    res = run_all_ways(events, rules(ruleset, "order.recorded", "true"), engine=engine)
    assert got(res) == [want(t("09:00:00"), "o1", "true", {}), want(t("09:10:00"), "o2", "true", {})]
    assert run_all_ways(events, rules(ruleset, "order.recorded", "false"), engine=engine).findings == []
    assert run_all_ways(events, rules(ruleset, "order.recorded", "1 + 1 == 3"), engine=engine).findings == []


def test_on_as_a_string_and_as_a_list(engine, ruleset):
    cond = "event.amount >= 500"
    events = [order("o1", t("09:00:00"), 500), request("r1", t("09:05:00"), amount=800),
              request("r2", t("09:06:00"), amount=100), followup("f1", t("09:07:00"))]
    one = run_all_ways(events, rules(ruleset, "order.recorded", cond), engine=engine)
    assert got(one) == [want(t("09:00:00"), "o1", cond, {"amount": 500.0})]
    both = run_all_ways(events, rules(ruleset, ["order.recorded", "approval.requested"], cond), engine=engine)
    assert got(both) == [want(t("09:00:00"), "o1", cond, {"amount": 500.0}),
                         want(t("09:05:00"), "r1", cond, {"amount": 800.0}, cust=None)]
    # a kind listed twice is still judged once
    twice = run_all_ways(events, rules(ruleset, ["order.recorded", "order.recorded"], cond), engine=engine)
    assert got(twice) == got(one)


def test_the_finding_names_the_actor_and_the_customer_of_the_event(engine, ruleset):
    events = [request("r1", t("09:00:00"), amount=10, c="C7", emp="E5"), request("r2", t("09:01:00"), amount=10, emp=None)]
    res = run_all_ways(events, rules(ruleset, "approval.requested", "event.amount == 10"), engine=engine)
    assert [(f.employee_id, f.customer_id, f.evidence) for f in res.findings] == [("E5", "C7", ["r1"]), (None, None, ["r2"])]


# -- the ruleset is checked when it loads ------------------------------------------------------------
@pytest.mark.parametrize("condition", ["event.amount >", "event.amount > 1 &&", "(event.amount", "'unclosed"])
def test_a_cel_syntax_error_is_a_ruleset_error(ruleset, condition):
    with pytest.raises(hrguard.RulesetError, match="CEL syntax error"):
        rules(ruleset, "order.recorded", condition)


@pytest.mark.parametrize("params", [
    {"on": "no.such_kind", "condition": "true"},
    {"on": ["order.recorded", "nope"], "condition": "true"},
    {"on": [], "condition": "true"},
    {"on": "order.recorded", "condition": ""},
    {"condition": "true"},
    {"on": "order.recorded"},
    {"on": "order.recorded", "condition": "true", "python": "print(1)"},
])
def test_bad_params_are_ruleset_errors(ruleset, params):
    with pytest.raises(hrguard.RulesetError):
        ruleset({"use": RULE, "params": params})


@pytest.mark.parametrize("condition", [
    "__import__('os').system('touch {marker}') == 0",
    "open('{marker}', 'w') == null",
    "exec('open(\"{marker}\", \"w\")') == null",
    "event.__class__.__init__.__globals__ == null",
])
def test_an_expression_cannot_reach_python(engine, ruleset, tmp_path, condition):
    marker = tmp_path / "pwned"
    cond = condition.replace("{marker}", str(marker))
    try:
        rs = rules(ruleset, "order.recorded", cond)
    except hrguard.RulesetError:
        return  # refused when loading: fine
    res = run_all_ways([order("o1", t("09:00:00"), 1), order("o2", t("09:01:00"), 2)], rs, engine=engine)
    assert res.findings == []
    assert not marker.exists()
    assert len(res.warnings) == 1 and "2 event(s)" in res.warnings[0]


# -- what the expression sees -------------------------------------------------------------------------
def test_fields_the_kind_lacks_are_null(engine, ruleset):
    events = [order("o1", t("09:00:00"), 1), followup("f1", t("09:01:00"))]
    cond = "event.direction == null && event.no_such_field == null"
    res = run_all_ways(events, rules(ruleset, ["order.recorded", "followup.logged"], cond), engine=engine)
    values = {"direction": None, "no_such_field": None}
    assert got(res) == [want(t("09:00:00"), "o1", cond, values), want(t("09:01:00"), "f1", cond, values)]
    # optional fields left out of the record are null too
    res = run_all_ways([request("r1", t("09:00:00"))], rules(ruleset, "approval.requested", "event.amount == null"),
                       engine=engine)
    assert [f.evidence for f in res.findings] == [["r1"]]


def test_fields_the_kind_lacks_are_null_when_the_whole_event_is_used(engine, ruleset):
    cond = "'amount' in event && event.direction == null"
    res = run_all_ways([order("o1", t("09:00:00"), 1)], rules(ruleset, "order.recorded", cond), engine=engine)
    assert [f.evidence for f in res.findings] == [["o1"]]
    assert res.warnings == []


def test_attrs_are_reachable_as_event_attrs(engine, ruleset):
    events = [order("o1", t("09:00:00"), 1, region="east", channel_partner={"tier": 2}),
              order("o2", t("09:01:00"), 1, region="west"),
              order("o3", t("09:02:00"), 1, attrs={"region": "east"})]
    cond = "event.attrs.region == 'east'"
    res = run_all_ways(events, rules(ruleset, "order.recorded", cond), engine=engine)
    assert got(res) == [
        want(t("09:00:00"), "o1", cond, {"attrs": {"region": "east", "channel_partner": {"tier": 2}}}),
        want(t("09:02:00"), "o3", cond, {"attrs": {"region": "east"}}),
    ]
    nested = run_all_ways(events, rules(ruleset, "order.recorded", "has(event.attrs.channel_partner) && "
                                        "event.attrs.channel_partner.tier >= 2"), engine=engine)
    assert [f.evidence for f in nested.findings] == [["o1"]]


def test_envelope_fields_ts_and_lists(engine, ruleset):
    events = [followup("f1", t("09:00:00"), emp="E1", photos=[{"uri": "a.jpg"}, {"uri": "b.jpg"}]),
              followup("f2", t("10:00:00"), emp="E2"),
              followup("f3", t("10:00:01"), emp="E1")]
    cond = "event.employee_id == 'E1' && event.ts >= timestamp('2026-04-01T01:30:00Z') && size(event.photos) == 0"
    res = run_all_ways(events, rules(ruleset, "followup.logged", cond), engine=engine)
    assert [f.evidence for f in res.findings] == [["f3"]]
    assert res.findings[0].details["values"] == {"employee_id": "E1", "ts": "2026-04-01T02:00:01+00:00", "photos": []}
    cond = "size(event.photos) == 2 && event.photos[1].uri == 'b.jpg' && event.kind == 'followup.logged' && event.id == 'f1'"
    res = run_all_ways(events, rules(ruleset, "followup.logged", cond), engine=engine)
    assert [f.evidence for f in res.findings] == [["f1"]]


def test_dates_are_iso_strings(engine, ruleset):
    plan = {"id": "p1", "kind": "plan.submitted", "ts": t("08:00:00"), "employee_id": "E1", "date": "2026-04-02",
            "items": [{"customer_id": "C1", "start": "09:00", "end": "10:00"}]}
    cond = "event.date == '2026-04-02' && event.items[0].customer_id == 'C1'"
    res = run_all_ways([plan], rules(ruleset, "plan.submitted", cond), engine=engine)
    assert [(f.evidence, f.customer_id) for f in res.findings] == [(["p1"], None)]


# -- messages -----------------------------------------------------------------------------------------
def test_message_template_substitution(engine, ruleset):
    msg = ("Large order {amount} for {event.customer_id} by {employee_id} "
           "({event.attrs.region}, {attrs.missing}, {event.nothing}, {order_id})")
    events = [order("o1", t("09:00:00"), "250000", c="C9", emp="E7", region="east"),
              order("o2", t("09:01:00"), "250000.50", c="C8", emp="E6")]
    res = run_all_ways(events, rules(ruleset, "order.recorded", "event.amount > 1000", message=msg, name="big"),
                       engine=engine)
    assert [f.message for f in res.findings] == [
        "Large order 250000 for C9 by E7 (east, , , O-o1)",
        "Large order 250000.5 for C8 by E6 (, , , O-o2)",
    ]
    assert [f.name for f in res.findings] == ["big", "big"]


def test_a_template_is_never_evaluated(engine, ruleset):
    msg = "{amount.__class__} {event.__init__} {0} {{amount}} {amount!r}"
    res = run_all_ways([order("o1", t("09:00:00"), 5)], rules(ruleset, "order.recorded", "true", message=msg),
                       engine=engine)
    # only {name} / {name.key} / {event.name.key} are looked up, as plain data: never attributes, never code
    assert [f.message for f in res.findings] == ["  {0} {5} {amount!r}"]


def test_default_message_in_chinese(engine, ruleset):
    res = run_all_ways([order("o1", t("09:00:00"), 5)],
                       rules(ruleset, "order.recorded", "true", name="大额", language="zh"), engine=engine)
    assert [f.message for f in res.findings] == ["大额：order.recorded o1 满足条件"]


# -- evaluation errors --------------------------------------------------------------------------------
def test_evaluation_errors_are_counted_in_warnings_and_do_not_fire(engine, ruleset):
    events = [request("r1", t("09:00:00"), amount=None),   # null > 100: no such overload
              request("r2", t("09:01:00"), amount=500),
              request("r3", t("09:02:00"), amount=None),
              request("r4", t("09:03:00"), amount=50)]
    res = run_all_ways(events, rules(ruleset, "approval.requested", "event.amount > 100"), engine=engine)
    assert [f.evidence for f in res.findings] == [["r2"]]
    assert len(res.warnings) == 1
    assert "could not be evaluated on 2 event(s)" in res.warnings[0]
    assert "event r1" in res.warnings[0] and "event r3" in res.warnings[0]


def test_a_missing_attr_is_an_evaluation_error(engine, ruleset):
    events = [order("o1", t("09:00:00"), 1, region="east"), order("o2", t("09:01:00"), 1)]
    res = run_all_ways(events, rules(ruleset, "order.recorded", "event.attrs.region == 'east'"), engine=engine)
    assert [f.evidence for f in res.findings] == [["o1"]]
    assert len(res.warnings) == 1 and "1 event(s)" in res.warnings[0] and "event o2" in res.warnings[0]


@pytest.mark.parametrize("condition", ["event.amount", "'yes'", "1", "null"])
def test_a_non_boolean_result_is_an_evaluation_error(engine, ruleset, condition):
    res = run_all_ways([order("o1", t("09:00:00"), 1)], rules(ruleset, "order.recorded", condition), engine=engine)
    assert res.findings == []
    assert len(res.warnings) == 1 and "not a boolean" in res.warnings[0]


def test_several_instances_are_independent(engine, ruleset):
    rs = ruleset([
        {"use": RULE, "name": "big", "params": {"on": "order.recorded", "condition": "event.amount > 100"}},
        {"use": RULE, "name": "small", "params": {"on": "order.recorded", "condition": "event.amount < 10"}},
    ])
    events = [order("o1", t("09:00:00"), 500), order("o2", t("09:01:00"), 5), order("o3", t("09:02:00"), 50)]
    res = run_all_ways(events, rs, engine=engine)
    assert [(f.name, f.evidence) for f in res.findings] == [("big", ["o1"]), ("small", ["o2"])]
    assert len({f.id for f in res.findings}) == 2
