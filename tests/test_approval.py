"""``approval.bypass`` and ``approval.unverified_source``: every boundary of the spec, all ways.

Every scenario goes through ``run_all_ways`` (shuffled, chunked, streamed), and the assertions are
on exact findings: rule, employee, customer, ts, evidence, details and severity.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hrguard
from hrguard.testing import run_all_ways

DAY = "2026-04-01"
BASE = datetime(2026, 4, 1, 0, 0, tzinfo=timezone.utc)


def T(hhmmss: str, day: str = DAY) -> str:
    return f"{day}T{hhmmss}+00:00"


def ts(hhmmss: str, day: str = DAY) -> datetime:
    return datetime.fromisoformat(T(hhmmss, day))


def request(id_: str, at: str, req: str = "R1", emp: str = "S1", customer: str | None = "C1",
            amount: Any = "1000", subject: str | None = "order", subject_id: str | None = "O1") -> dict:
    return {"id": id_, "kind": "approval.requested", "ts": at, "employee_id": emp, "request_id": req,
            "subject": subject, "subject_id": subject_id, "customer_id": customer, "amount": amount}


def decided(id_: str, at: str, step: str, decision: str = "approved", req: str = "R1", emp: str = "M1") -> dict:
    return {"id": id_, "kind": "approval.decided", "ts": at, "employee_id": emp, "request_id": req,
            "step": step, "decision": decision}


def order(id_: str, at: str, req: str | None = "R1", order_id: str = "O1", emp: str = "S1", customer: str = "C1",
          amount: Any = "1000", type_: str = "order") -> dict:
    return {"id": id_, "kind": "order.recorded", "ts": at, "employee_id": emp, "order_id": order_id,
            "customer_id": customer, "amount": amount, "type": type_, "approval_request_id": req}


def invoice(id_: str, at: str, order_id: str = "O1", invoice_id: str = "I1", emp: str = "F1", amount: Any = "1000") -> dict:
    return {"id": id_, "kind": "invoice.issued", "ts": at, "employee_id": emp, "invoice_id": invoice_id,
            "order_id": order_id, "amount": amount}


def followup(id_: str, at: str, emp: str = "S1", customer: str = "C1", channel: str = "phone") -> dict:
    return {"id": id_, "kind": "followup.logged", "ts": at, "employee_id": emp, "customer_id": customer,
            "channel": channel, "summary": "talked"}


def approved_chain(req: str = "R1", hours: tuple[str, str, str] = ("09:00:00", "10:00:00", "11:00:00")) -> list[dict]:
    """Manager, finance and legal approve ``req`` in that order (decision ids d-<req>-<step>)."""
    return [decided(f"d-{req}-{s}", T(h), s, req=req) for s, h in zip(("manager", "finance", "legal"), hours)]


def brief(f: hrguard.Finding) -> tuple:
    return (f.rule, f.employee_id, f.customer_id, f.ts, f.evidence, f.details, f.severity.value)


def bypass_rs(ruleset, **params: Any):
    return ruleset({"use": "approval.bypass", "params": params} if params else {"use": "approval.bypass"})


def order_details(reason: str, order_id: str = "O1", amount: float = 1000.0, request_id: str | None = "R1", **more) -> dict:
    return {"reason": reason, "order_id": order_id, "amount": amount, "request_id": request_id, **more}


# ==================================================================================================
# approval.bypass: orders
# ==================================================================================================
def test_fully_approved_order_and_its_invoice_are_clean(engine, ruleset):
    events = [request("r", T("08:00:00")), *approved_chain(), order("o", T("12:00:00")), invoice("i", T("13:00:00"))]
    assert run_all_ways(events, bypass_rs(ruleset), engine=engine).findings == []


def test_order_without_request_id_is_no_request(engine, ruleset):
    events = [order("o", T("12:00:00"), req=None)]
    (f,) = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert brief(f) == ("approval.bypass", "S1", "C1", ts("12:00:00"), ["o"],
                        order_details("no_request", request_id=None), "high")
    assert f.name == "approval.bypass"
    assert f.message == "S1 recorded order O1 for customer C1 (1,000.00) without any approval request"


def test_request_id_with_no_request_at_or_before_the_order_is_no_request(engine, ruleset):
    events = [*approved_chain(), order("o", T("12:00:00")), request("r", T("12:30:00"))]  # requested too late
    (f,) = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert brief(f) == ("approval.bypass", "S1", "C1", ts("12:00:00"), ["o"], order_details("no_request"), "high")
    assert "citing approval request R1, which did not exist at that time" in f.message


def test_request_at_the_same_instant_counts_only_if_it_sorts_before_the_order(engine, ruleset):
    chain = approved_chain(hours=("07:00:00", "07:10:00", "07:20:00"))  # decisions keyed by request id only
    before = [request("a-req", T("08:00:00")), *chain, order("b-ord", T("08:00:00"))]
    assert run_all_ways(before, bypass_rs(ruleset), engine=engine).findings == []
    # same instant, but the request's id sorts after the order's: it comes after in the one order
    after = [request("z-req", T("08:00:00")), *chain, order("b-ord", T("08:00:00"))]
    (f,) = run_all_ways(after, bypass_rs(ruleset), engine=engine).findings
    assert f.details["reason"] == "no_request" and f.evidence == ["b-ord"]


def test_the_latest_request_with_the_id_is_the_one_used(engine, ruleset):
    # first request for C1 (matching), then re-requested for C2: the order for C1 no longer matches
    events = [request("r1", T("08:00:00")), request("r2", T("08:30:00"), customer="C2"), *approved_chain(),
              order("o", T("12:00:00"))]
    (f,) = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert brief(f) == ("approval.bypass", "S1", "C1", ts("12:00:00"), ["r2", "o"],
                        order_details("mismatch", request_customer_id="C2", request_amount=1000.0,
                                      max_amount=1000.0, mismatched=["customer_id"]), "high")
    # and the other way round: a corrected request makes the order match
    fixed = [request("r1", T("08:00:00"), customer="C2"), request("r2", T("08:30:00")), *approved_chain(),
             order("o", T("12:00:00"))]
    assert run_all_ways(fixed, bypass_rs(ruleset), engine=engine).findings == []


def test_mismatch_customer(engine, ruleset):
    events = [request("r", T("08:00:00"), customer="C9"), *approved_chain(), order("o", T("12:00:00"))]
    (f,) = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert f.details == order_details("mismatch", request_customer_id="C9", request_amount=1000.0,
                                      max_amount=1000.0, mismatched=["customer_id"])
    assert f.evidence == ["r", "o"]
    assert f.message == ("S1 recorded order O1 for customer C1 (1,000.00) under approval request R1, "
                         "which was requested for customer C9")


def test_mismatch_null_request_customer(engine, ruleset):
    events = [request("r", T("08:00:00"), customer=None), *approved_chain(), order("o", T("12:00:00"))]
    (f,) = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert f.details == order_details("mismatch", request_customer_id=None, request_amount=1000.0,
                                      max_amount=1000.0, mismatched=["customer_id"])
    assert f.message.endswith("which was requested for no customer")


@pytest.mark.parametrize(("amount", "tolerance", "fires"), [
    ("1000", 0.0, False),       # exactly the requested amount
    ("1000.01", 0.0, True),     # a cent over, no tolerance
    ("1100", 0.1, False),       # exactly at request x 1.1 (binary rounding of 1.1 must not matter)
    ("1100.01", 0.1, True),     # just outside the tolerance
    ("1050", 0.05, False),
    ("1050.01", 0.05, True),
    ("10", 0.0, False),         # less than requested is fine
])
def test_mismatch_amount_tolerance(engine, ruleset, amount, tolerance, fires):
    events = [request("r", T("08:00:00")), *approved_chain(), order("o", T("12:00:00"), amount=amount)]
    found = run_all_ways(events, bypass_rs(ruleset, amount_tolerance=tolerance), engine=engine).findings
    if not fires:
        assert found == []
        return
    (f,) = found
    assert brief(f) == ("approval.bypass", "S1", "C1", ts("12:00:00"), ["r", "o"],
                        order_details("mismatch", amount=float(amount), request_customer_id="C1",
                                      request_amount=1000.0, max_amount=pytest.approx(1000 * (1 + tolerance)),
                                      mismatched=["amount"]), "high")
    assert f.message == (f"S1 recorded order O1 for customer C1 at {float(amount):,.2f}, "
                         f"{float(amount) - 1000:,.2f} more than the 1,000.00 requested in approval R1")


def test_a_request_already_used_by_an_order_still_judges_the_next_one(engine, ruleset):
    # why approval.bypass keeps every request: a second order may cite one already used
    events = [request("r", T("08:00:00")), *approved_chain(), order("o1", T("12:00:00")),
              order("o2", T("13:00:00"), order_id="O2", amount="2000"), order("o3", T("14:00:00"), order_id="O3")]
    found = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert [(f.details["order_id"], f.details["reason"], f.evidence) for f in found] == [("O2", "mismatch", ["r", "o2"])]


def test_mismatch_customer_and_amount_together(engine, ruleset):
    events = [request("r", T("08:00:00"), customer="C9"), *approved_chain(), order("o", T("12:00:00"), amount="5000")]
    (f,) = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert f.details["mismatched"] == ["customer_id", "amount"]
    assert f.message.endswith("which was for customer C9 and 1,000.00")


def test_request_without_amount_skips_the_amount_test(engine, ruleset):
    events = [request("r", T("08:00:00"), amount=None), *approved_chain(), order("o", T("12:00:00"), amount="999999")]
    assert run_all_ways(events, bypass_rs(ruleset), engine=engine).findings == []
    # ... but the customer test still applies
    events = [request("r", T("08:00:00"), amount=None, customer="C2"), *approved_chain(), order("o", T("12:00:00"))]
    (f,) = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert f.details == order_details("mismatch", request_customer_id="C2", request_amount=None, max_amount=None,
                                      mismatched=["customer_id"])


def test_mismatch_comes_before_not_approved(engine, ruleset):
    events = [request("r", T("08:00:00"), customer="C2"), order("o", T("12:00:00"))]  # no decisions at all
    (f,) = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert f.details["reason"] == "mismatch"


def test_not_approved_a_step_missing(engine, ruleset):
    events = [request("r", T("08:00:00")), *approved_chain()[:2], order("o", T("12:00:00"))]
    (f,) = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert brief(f) == ("approval.bypass", "S1", "C1", ts("12:00:00"), ["r", "o"],
                        order_details("not_approved", missing_steps=["legal"], rejected_steps=[]), "high")
    assert f.message == ("S1 recorded order O1 for customer C1 (1,000.00) before approval request R1 was approved: "
                         "no legal decision")


def test_not_approved_no_decision_at_all_lists_every_step_in_order(engine, ruleset):
    events = [request("r", T("08:00:00")), order("o", T("12:00:00"))]
    (f,) = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert f.details["missing_steps"] == ["manager", "finance", "legal"]


def test_not_approved_when_the_latest_decision_of_a_step_is_a_rejection(engine, ruleset):
    events = [request("r", T("08:00:00")), *approved_chain(),
              decided("rej", T("11:30:00"), "finance", "rejected", emp="F2"), order("o", T("12:00:00"))]
    (f,) = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert brief(f) == ("approval.bypass", "S1", "C1", ts("12:00:00"), ["r", "rej", "o"],
                        order_details("not_approved", missing_steps=["finance"], rejected_steps=["finance"]), "high")
    assert f.message.endswith("was approved: finance rejected")


def test_a_rejected_step_approved_later_is_fine(engine, ruleset):
    events = [request("r", T("08:00:00")), decided("m", T("09:00:00"), "manager"),
              decided("f1", T("09:30:00"), "finance", "rejected"), decided("f2", T("10:00:00"), "finance"),
              decided("l", T("11:00:00"), "legal"), order("o", T("12:00:00"))]
    assert run_all_ways(events, bypass_rs(ruleset), engine=engine).findings == []


def test_decisions_after_the_order_do_not_count(engine, ruleset):
    events = [request("r", T("08:00:00")), *approved_chain(hours=("09:00:00", "10:00:00", "13:00:00")),
              order("o", T("12:00:00"))]
    (f,) = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert f.details["missing_steps"] == ["legal"]
    # a rejection after the order does not undo an approved order either
    events = [request("r", T("08:00:00")), *approved_chain(), order("o", T("12:00:00")),
              decided("late", T("12:30:00"), "legal", "rejected")]
    assert run_all_ways(events, bypass_rs(ruleset), engine=engine).findings == []


def test_decision_at_the_same_instant_counts_only_if_it_sorts_before_the_order(engine, ruleset):
    chain = approved_chain()[:2]
    early = [request("r", T("08:00:00")), *chain, decided("a-legal", T("12:00:00"), "legal"), order("b-ord", T("12:00:00"))]
    assert run_all_ways(early, bypass_rs(ruleset), engine=engine).findings == []
    late = [request("r", T("08:00:00")), *chain, decided("c-legal", T("12:00:00"), "legal"), order("b-ord", T("12:00:00"))]
    (f,) = run_all_ways(late, bypass_rs(ruleset), engine=engine).findings
    assert f.details["missing_steps"] == ["legal"]


def test_out_of_order(engine, ruleset):
    events = [request("r", T("08:00:00")), decided("fin", T("09:00:00"), "finance"),
              decided("man", T("10:00:00"), "manager"), decided("leg", T("11:00:00"), "legal"),
              order("o", T("12:00:00"))]
    (f,) = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert brief(f) == ("approval.bypass", "S1", "C1", ts("12:00:00"), ["r", "fin", "man", "leg", "o"],
                        order_details("out_of_order", approval_sequence=["finance", "manager", "legal"]), "high")
    assert f.message == ("S1 recorded order O1 for customer C1 (1,000.00) whose approvals came out of order: "
                         "finance -> manager -> legal (required: manager -> finance -> legal)")


def test_out_of_order_is_judged_on_the_earliest_approving_decision_per_step(engine, ruleset):
    # manager approved first; a later rejection and re-approval do not move its earliest approval
    ok = [request("r", T("08:00:00")), decided("m1", T("08:30:00"), "manager"),
          decided("f", T("09:00:00"), "finance"), decided("m2", T("09:30:00"), "manager", "rejected"),
          decided("m3", T("10:00:00"), "manager"), decided("l", T("11:00:00"), "legal"), order("o", T("12:00:00"))]
    assert run_all_ways(ok, bypass_rs(ruleset), engine=engine).findings == []
    # finance approved before the manager; finance approving again later does not fix it
    bad = [request("r", T("08:00:00")), decided("f1", T("08:30:00"), "finance"),
           decided("m", T("09:00:00"), "manager"), decided("f2", T("09:30:00"), "finance"),
           decided("l", T("11:00:00"), "legal"), order("o", T("12:00:00"))]
    (f,) = run_all_ways(bad, bypass_rs(ruleset), engine=engine).findings
    assert f.details["reason"] == "out_of_order"
    assert f.evidence == ["r", "f1", "m", "l", "o"]
    assert f.details["approval_sequence"] == ["finance", "manager", "legal"]


def test_approvals_at_the_same_instant_are_in_order(engine, ruleset):
    # compared as instants: equal times are not out of order, whatever their ids
    events = [request("r", T("08:00:00")), decided("z-man", T("09:00:00"), "manager"),
              decided("a-fin", T("09:00:00"), "finance"), decided("l", T("10:00:00"), "legal"), order("o", T("12:00:00"))]
    assert run_all_ways(events, bypass_rs(ruleset), engine=engine).findings == []


def test_custom_required_steps(engine, ruleset):
    events = [request("r", T("08:00:00")), decided("c", T("09:00:00"), "ceo"), decided("m", T("10:00:00"), "manager"),
              order("o", T("12:00:00"))]
    assert run_all_ways(events, bypass_rs(ruleset, required_steps=["ceo", "manager"]), engine=engine).findings == []
    (f,) = run_all_ways(events, bypass_rs(ruleset, required_steps=["manager", "ceo"]), engine=engine).findings
    assert f.details["approval_sequence"] == ["ceo", "manager"]
    # no steps required: only the request and its match are judged
    assert run_all_ways(events[:1] + events[-1:], bypass_rs(ruleset, required_steps=[]), engine=engine).findings == []


def test_duplicate_required_steps_are_a_ruleset_error(ruleset):
    with pytest.raises(hrguard.RulesetError, match="repeated: manager"):
        bypass_rs(ruleset, required_steps=["manager", "finance", "manager"])


@pytest.mark.parametrize(("amount", "judged"), [("99.99", False), ("100", True), ("100.01", True)])
def test_exempt_below(engine, ruleset, amount, judged):
    events = [order("o", T("12:00:00"), req=None, amount=amount), invoice("i", T("13:00:00"))]
    found = run_all_ways(events, bypass_rs(ruleset, exempt_below=100), engine=engine).findings
    if not judged:
        assert found == []  # neither the order nor its invoice
    else:
        assert [f.details["reason"] for f in found] == ["no_request", "invoice_without_approved_order"]


@pytest.mark.parametrize(("type_", "judged"), [("contract", False), ("order", True)])
def test_exempt_types(engine, ruleset, type_, judged):
    events = [order("o", T("12:00:00"), req=None, type_=type_), invoice("i", T("13:00:00"))]
    found = run_all_ways(events, bypass_rs(ruleset, exempt_types=["contract"]), engine=engine).findings
    if not judged:
        assert found == []  # neither the order nor its invoice
    else:
        assert [f.details["reason"] for f in found] == ["no_request", "invoice_without_approved_order"]


def test_exempt_types_are_order_types(ruleset):
    with pytest.raises(hrguard.RulesetError, match="exempt_types"):
        bypass_rs(ruleset, exempt_types=["invoice"])


# ==================================================================================================
# approval.bypass: invoices
# ==================================================================================================
def test_invoice_for_an_unknown_order_names_the_invoicer_and_no_customer(engine, ruleset):
    events = [invoice("i", T("13:00:00"), order_id="O404", amount=None)]
    (f,) = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert brief(f) == ("approval.bypass", "F1", None, ts("13:00:00"), ["i"],
                        {"reason": "invoice_without_approved_order", "invoice_id": "I1", "order_id": "O404",
                         "invoiced_by": "F1", "amount": None, "order_event_id": None, "order_reason": None}, "high")
    assert f.message == "F1 issued invoice I1 for order O404, which was never recorded"


def test_invoice_before_its_order_is_for_an_unknown_order(engine, ruleset):
    events = [request("r", T("08:00:00")), *approved_chain(), invoice("i", T("11:30:00")), order("o", T("12:00:00"))]
    (f,) = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert (f.employee_id, f.customer_id, f.details["order_event_id"]) == ("F1", None, None)


def test_invoice_for_a_flagged_order_names_the_deals_owner(engine, ruleset):
    events = [request("r", T("08:00:00")), *approved_chain()[:2], order("o", T("12:00:00")),
              invoice("i", T("13:00:00"), amount="1000")]
    order_f, inv_f = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert order_f.details["reason"] == "not_approved"
    assert brief(inv_f) == ("approval.bypass", "S1", "C1", ts("13:00:00"), ["r", "o", "i"],
                            {"reason": "invoice_without_approved_order", "invoice_id": "I1", "order_id": "O1",
                             "invoiced_by": "F1", "amount": 1000.0, "order_event_id": "o",
                             "order_reason": "not_approved"}, "high")
    assert inv_f.message == ("F1 issued invoice I1 for order O1 of S1 (customer C1), "
                             "but its approval chain was not completed")


def test_invoice_follows_the_latest_recording_of_its_order(engine, ruleset):
    # first recorded without approval, then re-recorded under a complete approval: the invoice is fine
    events = [order("o1", T("07:00:00"), req=None), request("r", T("08:00:00")), *approved_chain(),
              order("o2", T("12:00:00")), invoice("i", T("13:00:00"))]
    found = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert [(f.evidence, f.details["reason"]) for f in found] == [(["o1"], "no_request")]
    # and the other way round
    events = [request("r", T("08:00:00")), *approved_chain(), order("o1", T("12:00:00")),
              order("o2", T("12:30:00"), req=None), invoice("i", T("13:00:00"))]
    found = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert [(f.evidence, f.details["reason"]) for f in found] == [
        (["o2"], "no_request"), (["o2", "i"], "invoice_without_approved_order")]


def test_invoice_judges_the_order_finding_before_scope_and_exceptions(engine, ruleset):
    rs = ruleset({"use": "approval.bypass", "exceptions": [{"until": DAY, "reason": "migration day"}]})
    events = [order("o", T("12:00:00"), req=None), invoice("i", T("09:00:00", "2026-04-02"))]
    result = run_all_ways(events, rs, engine=engine)
    assert [f.details["reason"] for f in result.suppressed] == ["no_request"]
    (f,) = result.findings
    assert (f.employee_id, f.customer_id, f.evidence) == ("S1", "C1", ["o", "i"])
    # out of scope works the same way: the order's employee is not in scope, the invoice still fires
    rs = ruleset({"use": "approval.bypass", "scope": {"employees": ["F1"]}})
    events = [order("o", T("12:00:00"), req=None, emp="S1"), invoice("i", T("13:00:00"), order_id="O404")]
    assert [f.employee_id for f in run_all_ways(events, rs, engine=engine).findings] == ["F1"]


def test_finding_ids_are_stable_and_keyed_on_the_order_and_invoice_ids(engine, ruleset):
    from hrguard.findings import finding_id
    from hrguard.timeutil import to_us

    events = [order("o", T("12:00:00"), req=None), invoice("i", T("13:00:00"))]
    order_f, inv_f = run_all_ways(events, bypass_rs(ruleset), engine=engine).findings
    assert order_f.id == finding_id("approval.bypass", ("O1",), to_us(ts("12:00:00")))
    assert inv_f.id == finding_id("approval.bypass", ("I1",), to_us(ts("13:00:00")))


def test_bypass_messages_in_chinese(engine, ruleset):
    rs = ruleset({"use": "approval.bypass"}, language="zh")
    events = [request("r", T("08:00:00")), decided("m", T("09:00:00"), "manager"),
              decided("f", T("10:00:00"), "finance", "rejected"), order("o", T("12:00:00")),
              invoice("i", T("13:00:00")), order("o2", T("14:00:00"), req=None, order_id="O2"),
              invoice("i2", T("15:00:00"), order_id="O9", invoice_id="I9")]
    got = [f.message for f in run_all_ways(events, rs, engine=engine).findings]
    assert got == [
        "S1 为客户 C1 录入订单 O1（金额 1,000.00）时，审批 R1 尚未通过：财务（finance）已驳回，法务（legal）未审批",
        "F1 为 S1（客户 C1）的订单 O1 开具发票 I1，但该订单审批流程未完成",
        "S1 为客户 C1 录入订单 O2（金额 1,000.00），未发起任何审批",
        "F1 为订单 O9 开具发票 I9，但该订单从未录入系统",
    ]


# ==================================================================================================
# approval.unverified_source
# ==================================================================================================
def unverified_rs(ruleset, **params: Any):
    return ruleset({"use": "approval.unverified_source", "params": params} if params else {"use": "approval.unverified_source"})


def unverified_details(last_id: str | None = None, age: int | None = None, lookback: int = 30 * 86_400,
                       amount: float | None = 1000.0) -> dict:
    return {"request_id": "R1", "subject": "order", "subject_id": "O1", "amount": amount, "lookback_seconds": lookback,
            "last_followup_id": last_id, "last_followup_age_seconds": age}


def test_own_followup_within_lookback_verifies_the_source(engine, ruleset):
    events = [followup("fu", T("10:00:00", "2026-03-20")), request("r", T("12:00:00"))]
    assert run_all_ways(events, unverified_rs(ruleset), engine=engine).findings == []


def test_lookback_edge_counts_and_one_second_before_does_not(engine, ruleset):
    at_edge = [followup("fu", T("12:00:00", "2026-03-02")), request("r", T("12:00:00"))]  # exactly 30 d before
    assert run_all_ways(at_edge, unverified_rs(ruleset), engine=engine).findings == []
    too_old = [followup("fu", T("11:59:59", "2026-03-02")), request("r", T("12:00:00"))]
    (f,) = run_all_ways(too_old, unverified_rs(ruleset), engine=engine).findings
    assert brief(f) == ("approval.unverified_source", "S1", "C1", ts("12:00:00"), ["r"],
                        unverified_details("fu", 30 * 86_400 + 1), "medium")
    assert f.message == ("S1 requested approval R1 (order O1, 1,000.00) for customer C1, but their last follow-up "
                         "with that customer was 30.1 days earlier (more than the 30 days allowed): "
                         "the order's source cannot be verified")


def test_another_employees_followup_does_not_count(engine, ruleset):
    events = [followup("fu", T("10:00:00"), emp="S2"), followup("fu2", T("10:00:00"), customer="C2"),
              request("r", T("12:00:00"))]
    (f,) = run_all_ways(events, unverified_rs(ruleset), engine=engine).findings
    assert brief(f) == ("approval.unverified_source", "S1", "C1", ts("12:00:00"), ["r"], unverified_details(), "medium")
    assert f.message == ("S1 requested approval R1 (order O1, 1,000.00) for customer C1 without any follow-up of "
                         "their own with that customer on record: the order's source cannot be verified")


@pytest.mark.parametrize("channel", ["visit", "phone", "wechat", "email", "meeting", "other"])
def test_any_channel_counts(engine, ruleset, channel):
    events = [followup("fu", T("10:00:00"), channel=channel), request("r", T("12:00:00"))]
    assert run_all_ways(events, unverified_rs(ruleset), engine=engine).findings == []


def test_request_without_customer_is_not_judged(engine, ruleset):
    events = [request("r", T("12:00:00"), customer=None, subject="expense", subject_id=None)]
    assert run_all_ways(events, unverified_rs(ruleset), engine=engine).findings == []


def test_followup_after_the_request_does_not_count(engine, ruleset):
    events = [request("r", T("12:00:00")), followup("fu", T("12:00:01"))]
    (f,) = run_all_ways(events, unverified_rs(ruleset), engine=engine).findings
    assert f.details["last_followup_id"] is None
    # at the same instant, the follow-up counts only if it sorts before the request
    same = [request("b-req", T("12:00:00")), followup("a-fu", T("12:00:00"))]
    assert run_all_ways(same, unverified_rs(ruleset), engine=engine).findings == []
    same = [request("b-req", T("12:00:00")), followup("c-fu", T("12:00:00"))]
    assert len(run_all_ways(same, unverified_rs(ruleset), engine=engine).findings) == 1


def test_the_latest_own_followup_is_the_one_measured(engine, ruleset):
    events = [followup("old", T("08:00:00")), followup("new", T("10:00:00")), request("r", T("12:00:00"))]
    (f,) = run_all_ways(events, unverified_rs(ruleset, lookback="1h"), engine=engine).findings
    assert f.details == unverified_details("new", 2 * 3600, lookback=3600)
    assert "their last follow-up with that customer was 2 hours earlier (more than the 1 hour allowed)" in f.message


def test_unverified_source_message_in_chinese(engine, ruleset):
    rs = ruleset({"use": "approval.unverified_source"}, language="zh")
    events = [followup("fu", T("12:00:00", "2026-02-01")), request("r", T("12:00:00")),
              request("r2", T("13:00:00"), emp="S2", subject="contract", subject_id=None, amount=None)]
    got = [f.message for f in run_all_ways(events, rs, engine=engine).findings]
    assert got == [
        "S1 为客户 C1 发起审批 R1（订单 O1，金额 1,000.00），但本人最近一次跟进该客户是在 59 天前（超过 30 天），订单来源无法核实",
        "S2 为客户 C1 发起审批 R1（合同），但本人没有该客户的任何跟进记录，订单来源无法核实",
    ]


# ==================================================================================================
# property: batch == shuffled == chunked == streamed
# ==================================================================================================
RULES = [
    {"use": "approval.bypass"},
    {"use": "approval.bypass", "name": "loose", "params": {"amount_tolerance": 0.1, "exempt_below": 500,
                                                          "exempt_types": ["contract"],
                                                          "required_steps": ["manager", "finance"]}},
    {"use": "approval.unverified_source", "params": {"lookback": "9h"}},
]


@pytest.fixture(scope="module")
def prop_rs(engine):
    return engine.load_ruleset({"ruleset": "approval-props", "timezone": "Asia/Shanghai", "rules": RULES})


@st.composite
def approval_events(draw: st.DrawFn) -> list[dict]:
    events: list[dict] = []
    for i in range(draw(st.integers(0, 40))):
        at = (BASE + timedelta(hours=3 * draw(st.integers(0, 16)))).isoformat()
        eid = f"e{draw(st.integers(0, 99))}-{i}"
        emp = draw(st.sampled_from(["S1", "S2"]))
        req = draw(st.sampled_from(["R1", "R2"]))
        cust = draw(st.sampled_from(["C1", "C2"]))
        kind = draw(st.sampled_from(["req", "dec", "dec", "dec", "dec", "order", "invoice", "fu"]))
        if kind == "req":
            events.append(request(eid, at, req=req, emp=emp, customer=draw(st.sampled_from([cust, cust, None])),
                                  amount=draw(st.sampled_from([None, "1000", "2000"]))))
        elif kind == "dec":
            events.append(decided(eid, at, draw(st.sampled_from(["manager", "finance", "legal"])),
                                  draw(st.sampled_from(["approved", "approved", "rejected"])), req=req))
        elif kind == "order":
            events.append(order(eid, at, req=draw(st.sampled_from([req, req, None])), emp=emp, customer=cust,
                                order_id=draw(st.sampled_from(["O1", "O2"])),
                                amount=draw(st.sampled_from(["100", "1000", "1050", "2500"])),
                                type_=draw(st.sampled_from(["order", "order", "contract"]))))
        elif kind == "invoice":
            events.append(invoice(eid, at, order_id=draw(st.sampled_from(["O1", "O2", "O3"])),
                                  invoice_id=f"I{i}"))
        else:
            events.append(followup(eid, at, emp=emp, customer=cust))
    return events


def oracle(events: list[dict], as_of: datetime) -> list[tuple]:
    """A plain re-reading of the spec, one event at a time in the one order: what the rules must find."""
    key = {id(e): (datetime.fromisoformat(e["ts"]), e["id"]) for e in events}
    todo = sorted((e for e in events if key[id(e)][0] <= as_of), key=lambda e: key[id(e)])
    out: list[tuple] = []
    for name, steps, exempt, types, tol in (("approval.bypass", ["manager", "finance", "legal"], 0, [], Decimal(0)),
                                            ("loose", ["manager", "finance"], 500, ["contract"], Decimal("0.1"))):
        requests: dict[str, dict] = {}
        decisions: dict[tuple[str, str], list[dict]] = {}
        orders: dict[str, tuple | None] = {}
        for e in todo:
            t = key[id(e)][0]
            if e["kind"] == "approval.requested":
                requests[e["request_id"]] = e
            elif e["kind"] == "approval.decided":
                decisions.setdefault((e["request_id"], e["step"]), []).append(e)
            elif e["kind"] == "order.recorded":
                amount = Decimal(e["amount"])
                if amount < exempt or e["type"] in types:
                    orders[e["order_id"]] = None
                    continue
                r = requests.get(e["approval_request_id"]) if e["approval_request_id"] else None
                reason, evidence = None, [e]
                if r is None:
                    reason = "no_request"
                else:
                    evidence.append(r)
                    decs = [decisions.get((r["request_id"], s), []) for s in steps]
                    firsts = [next((d for d in ds if d["decision"] == "approved"), None) for ds in decs]
                    if r["customer_id"] != e["customer_id"] or (
                            r["amount"] is not None and amount > Decimal(r["amount"]) * (1 + tol)):
                        reason = "mismatch"
                    elif any(not ds or ds[-1]["decision"] != "approved" for ds in decs):
                        reason = "not_approved"
                        evidence += [ds[-1] for ds in decs if ds and ds[-1]["decision"] == "rejected"]
                    elif any(key[id(b)][0] < key[id(a)][0] for a, b in zip(firsts, firsts[1:])):
                        reason = "out_of_order"
                        evidence += firsts
                orders[e["order_id"]] = (e, reason, evidence) if reason else None
                if reason:
                    out.append((name, t, e["employee_id"], e["customer_id"], reason, evidence))
            elif e["kind"] == "invoice.issued":
                if e["order_id"] not in orders:
                    out.append((name, t, e["employee_id"], None, "invoice_without_approved_order", [e]))
                elif orders[e["order_id"]] is not None:
                    o, _, evidence = orders[e["order_id"]]
                    out.append((name, t, o["employee_id"], o["customer_id"], "invoice_without_approved_order",
                                evidence + [e]))
    last: dict[tuple[str, str], datetime] = {}
    for e in todo:
        t = key[id(e)][0]
        if e["kind"] == "followup.logged":
            last[(e["employee_id"], e["customer_id"])] = t
        elif e["kind"] == "approval.requested" and e["customer_id"] is not None:
            seen = last.get((e["employee_id"], e["customer_id"]))
            if seen is None or seen < t - timedelta(hours=9):
                out.append(("approval.unverified_source", t, e["employee_id"], e["customer_id"], None, [e]))

    def in_order(evidence: list[dict]) -> list[str]:
        return [x["id"] for x in sorted({x["id"]: x for x in evidence}.values(), key=lambda x: key[id(x)])]

    return sorted((n, t, emp, c, r, in_order(ev)) for n, t, emp, c, r, ev in out)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=approval_events(), seed=st.integers(0, 10_000), as_of_hours=st.one_of(st.none(), st.integers(0, 48)))
def test_batch_equals_shuffled_chunked_and_streamed(engine, prop_rs, events, seed, as_of_hours):
    as_of = None if as_of_hours is None else (BASE + timedelta(hours=as_of_hours)).isoformat()
    result = run_all_ways(events, prop_rs, as_of, engine=engine, seed=seed, chunk_sizes=(1, 2, 7, 65_536))
    if result.as_of is not None:
        got = sorted((f.name, f.ts, f.employee_id, f.customer_id, f.details.get("reason"), f.evidence)
                     for f in result.findings)
        assert got == oracle(events, result.as_of)
