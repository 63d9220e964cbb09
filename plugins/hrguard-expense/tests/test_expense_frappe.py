"""The ``frappe-hrms-expense`` pipeline this plugin registers: Frappe HRMS Expense Claims, built from the real
DocType definition (``../shared/extdata/hris``), become expense claims, their approval and their payment,
and ``expense.unapproved_payment`` judges them as it judges native events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("hrguard_expense")

import hrguard  # noqa: E402
from hrguard_expense import plugin  # noqa: E402

FRAPPE = Path(__file__).resolve().parents[3].parent / "shared" / "extdata" / "hris" / "frappe_hrms"
pytestmark = pytest.mark.skipif(not FRAPPE.is_dir(), reason=f"the Frappe HRMS reference data is not here ({FRAPPE})")
DOCTYPE = "hrms/hr/doctype/{0}/{0}.json"


def _fields(name: str) -> dict[str, dict]:
    spec = json.loads((FRAPPE / DOCTYPE.format(name)).read_text(encoding="utf-8"))
    return {f["fieldname"]: f for f in spec["fields"]}


def claim(name: str, approval_status: str, status: str, rows: list[dict], **more) -> dict:
    """An Expense Claim as Frappe's REST API gives it: every key a field of the real DocTypes."""
    head, detail = _fields("expense_claim"), _fields("expense_claim_detail")
    assert approval_status in head["approval_status"]["options"].split("\n")
    assert status in head["status"]["options"].split("\n")
    assert all(set(r) <= set(detail) for r in rows)
    total = sum(r["amount"] for r in rows)
    doc = {"doctype": "Expense Claim", "name": name, "docstatus": 1, "employee": "HR-EMP-00007",
           "expense_approver": "approver@example.com", "approval_status": approval_status, "status": status,
           "posting_date": "2024-10-01", "modified": "2024-10-03 16:20:00", "expenses": rows,
           "total_claimed_amount": total, "total_sanctioned_amount": total,
           "total_amount_reimbursed": total if status == "Paid" else 0, **more}
    assert set(doc) - {"doctype", "name", "docstatus", "modified"} <= set(head)
    return doc


def test_expense_claims_map_to_the_plugins_kinds_and_are_judged():
    engine = hrguard.Engine([plugin], entrypoints=False)
    assert engine.registry.pipelines["frappe-hrms-expense"].plugin.endswith("plugin")
    site = engine.load_pipeline({"extends": "frappe-hrms-expense", "timezone": "Asia/Kolkata",
                                 "set": {"currency": "INR"}})
    taxi = {"expense_date": "2024-09-28", "expense_type": "Travel", "amount": 1200.0, "description": "Meru Cabs"}
    records = [
        claim("HR-EXP-2024-00001", "Approved", "Paid", [taxi]),
        claim("HR-EXP-2024-00002", "Rejected", "Paid", [{**taxi, "amount": 900.0}]),  # paid although rejected
        claim("HR-EXP-2024-00003", "Draft", "Submitted", [taxi]),
        {**claim("HR-EXP-2024-00004", "Draft", "Draft", [taxi]), "docstatus": 0},  # a draft: skipped
    ]
    first = site.map(records[0])
    assert [e["kind"] for e in first] == ["approval.requested", "expense.claimed", "approval.decided", "expense.paid"]
    claimed = first[1]
    assert (claimed["claim_id"], claimed["amount"], claimed["currency"], claimed["merchant"], claimed["category"],
            claimed["incurred_on"], claimed["ts"]) == ("HR-EXP-2024-00001", 1200.0, "INR", "Meru Cabs", "Travel",
                                                       "2024-09-28", "2024-10-01T00:00:00+05:30")
    assert first[2]["employee_id"] == "approver@example.com"  # the approver is a User, not an Employee
    rs = engine.load_ruleset({"timezone": "Asia/Kolkata",
                              "rules": [{"use": "expense.unapproved_payment", "params": {"required_steps": ["manager"]}}]})
    result = engine.scan(records, rs, pipeline=site)
    assert not result.rejected and result.stats.skipped == 1
    assert [(f.details["claim_id"], f.details["reason"]) for f in result.findings] == [
        ("HR-EXP-2024-00002", "not_approved")]
    no_currency = engine.load_pipeline({"extends": "frappe-hrms-expense", "timezone": "Asia/Kolkata"})
    rej = engine.scan(records[:1], rs, pipeline=no_currency).rejected
    assert [(r.id, r.field) for r in rej] == [("frappe:HR-EXP-2024-00001", "currency")]
