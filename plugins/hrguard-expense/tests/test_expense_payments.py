"""``expense.unapproved_payment``: every reason, in its order, judged on what was known before the payment."""

from __future__ import annotations

import pytest

pytest.importorskip("hrguard_expense")

from expense_events import claim, decided, paid, request  # noqa: E402
from hrguard.testing import run_all_ways

RULE = "expense.unapproved_payment"


def scan(hrguard_ruleset, events, language="en", **params):
    return run_all_ways(events, hrguard_ruleset({"use": RULE, "params": params}, timezone="Asia/Shanghai",
                                                language=language))


def found(result):
    """What fired, in evidence order (findings at one instant are ordered by their ids, hashes)."""
    return sorted((f.evidence, f.details["reason"], f.details.get("missing_steps")) for f in result.findings)


def approved(request_id="R1", at="04-01 12:00", steps=("manager", "finance")):
    return [decided(f"d-{s}", at, request_id, s) for s in steps]


def test_a_claim_approved_by_every_step_before_it_is_paid_is_fine(hrguard_ruleset):
    events = [claim("c", "04-01 09:00", "X1", 1000, approval_request_id="R1"),
              request("r", "04-01 09:00", "R1", subject_id="X1", amount=1000), *approved(),
              paid("p", "04-01 12:00", "X1")]  # the same instant as the last approval: ordered by id, d < p
    assert found(scan(hrguard_ruleset, events)) == []


def test_unknown_claim(hrguard_ruleset):
    events = [paid("p", "04-02 10:00", "X1", amount=70), claim("c", "04-02 11:00", "X1", 70)]  # claimed after
    result = scan(hrguard_ruleset, events)
    assert found(result) == [(["p"], "unknown_claim", None)]
    f = result.findings[0]
    assert (f.employee_id, f.details["amount"], f.details["currency"], f.details["paid_by"]) == ("F1", 70.0, None, "F1")
    assert f.message == "F1 paid 70.00 for claim X1, which was never claimed"


def test_no_request(hrguard_ruleset):
    events = [claim("c1", "04-01 09:00", "X1", 800), claim("c2", "04-01 09:00", "X2", 900, approval_request_id="R7"),
              paid("p1", "04-02 10:00", "X1"), paid("p2", "04-02 10:00", "X2"),
              request("r", "04-02 11:00", "R7", subject_id="X2")]  # too late
    result = scan(hrguard_ruleset, events)
    assert found(result) == [(["c1", "p1"], "no_request", None), (["c2", "p2"], "no_request", None)]
    assert sorted(f.message for f in result.findings) == [
        "F1 paid claim X1 of E1 (800.00 CNY at Acme Store) without any approval request",
        "F1 paid claim X2 of E1 (900.00 CNY at Acme Store) citing approval request R7, which did not exist at that time"]
    assert [f.employee_id for f in result.findings] == ["E1", "E1"]


def test_a_claim_citing_no_request_is_matched_by_subject_id(hrguard_ruleset):
    events = [claim("c", "04-01 09:00", "X1", 800), request("r", "04-01 09:30", "R1", subject_id="X1"),
              request("r0", "04-01 09:40", "R0", subject="order", subject_id="X1"),  # not an expense request
              *approved(), paid("p", "04-02 10:00", "X1")]
    assert found(scan(hrguard_ruleset, events)) == []


@pytest.mark.parametrize("req, problem", [
    ({"subject": "order", "subject_id": "O-1"}, "which was requested for order O-1"),
    ({"subject": "expense", "subject_id": "X2"}, "which was requested for expense X2"),
    ({"amount": 999.99}, "which approved only 999.99"),
    ({"subject": "contract", "amount": 10}, "which was requested for contract and approved only 10.00"),
])
def test_mismatch(hrguard_ruleset, req, problem):
    events = [claim("c", "04-01 09:00", "X1", 1000, approval_request_id="R1"),
              request("r", "04-01 09:00", "R1", **req), *approved(), paid("p", "04-02 10:00", "X1")]
    result = scan(hrguard_ruleset, events)
    assert found(result) == [(["c", "r", "p"], "mismatch", None)]
    assert result.findings[0].message.endswith(problem), result.findings[0].message


def test_the_amount_paid_counts_and_a_tolerance_allows_a_little_more(hrguard_ruleset):
    events = [claim("c", "04-01 09:00", "X1", 1000, approval_request_id="R1"),
              request("r", "04-01 09:00", "R1", amount=1000), *approved(),
              paid("p", "04-02 10:00", "X1", amount=1050)]
    assert found(scan(hrguard_ruleset, events)) == [(["c", "r", "p"], "mismatch", None)]
    assert found(scan(hrguard_ruleset, events, amount_tolerance=0.05)) == []


def test_not_approved_names_each_missing_step_and_cites_a_rejection(hrguard_ruleset):
    events = [claim("c", "04-01 09:00", "X1", 1000, approval_request_id="R1"), request("r", "04-01 09:00", "R1"),
              decided("d1", "04-01 10:00", "R1", "manager", "rejected"),
              decided("d2", "04-01 11:00", "R1", "manager", "approved"),  # the latest decision counts
              decided("d3", "04-01 12:00", "R1", "finance", "rejected", by="F2"),
              paid("p", "04-02 10:00", "X1"), decided("d4", "04-02 11:00", "R1", "finance")]  # too late
    result = scan(hrguard_ruleset, events, required_steps=["manager", "finance", "director"])
    assert found(result) == [(["c", "r", "d3", "p"], "not_approved", ["finance", "director"])]
    assert result.findings[0].message.endswith("before approval request R1 was approved: finance rejected it; "
                                               "director has not approved")
    zh = scan(hrguard_ruleset, events, language="zh", required_steps=["manager", "finance", "director"])
    assert zh.findings[0].message == ("F1 向 E1 支付报销单 X1（Acme Store，1,000.00 CNY）时，审批 R1 尚未通过："
                                      "财务已驳回；总监未审批")


def test_exempt_below_and_no_required_steps(hrguard_ruleset):
    events = [claim("c1", "04-01 09:00", "X1", 99.99), claim("c2", "04-01 09:00", "X2", 100),
              paid("p1", "04-02 10:00", "X1"), paid("p2", "04-02 10:00", "X2"), paid("p3", "04-02 10:00", "X3")]
    assert found(scan(hrguard_ruleset, events, exempt_below=100)) == [
        (["c2", "p2"], "no_request", None), (["p3"], "unknown_claim", None)]
    events += [request("r", "04-01 09:00", "R2", subject_id="X2")]
    assert found(scan(hrguard_ruleset, events, exempt_below=100, required_steps=[])) == [(["p3"], "unknown_claim", None)]


def test_a_corrected_claim_is_paid_as_corrected(hrguard_ruleset):
    events = [claim("c1", "04-01 09:00", "X1", 100, approval_request_id="R1"),
              request("r", "04-01 09:00", "R1", subject_id="X1", amount=100), *approved(),
              claim("c2", "04-01 13:00", "X1", 5000, approval_request_id="R1"),  # inflated after approval
              paid("p", "04-02 10:00", "X1")]
    assert found(scan(hrguard_ruleset, events)) == [(["r", "c2", "p"], "mismatch", None)]
