"""The hrguard conformance kit over this plugin's detectors: one test per (detector, check)."""

from __future__ import annotations

import pytest

pytest.importorskip("hrguard_expense")

from expense_events import claim, decided, paid, request  # noqa: E402
from hrguard.testing import DetectorCase, parametrize_with_checks
from hrguard_expense import DuplicateClaim, SplitClaim, UnapprovedPayment  # noqa: E402
from hrguard_expense import plugin  # noqa: E402

TZ = "Asia/Shanghai"

DUPLICATES = [
    claim("c1", "04-02 10:00", "X1", 860, merchant="Golden Dragon", day="2026-04-01", receipt_uri="r/1.jpg"),
    claim("c2", "04-02 10:00", "X2", "860.00", merchant=" golden  DRAGON", day="2026-04-03"),  # same instant
    claim("c3", "04-03 09:00", "X3", 860, merchant="Golden Dragon", day="2026-04-02", receipt_uri="r/3.jpg"),
    claim("c4", "04-04 09:00", "X4", 860, merchant="Golden Dragon", day="2026-04-02", receipt_uri="r/1.jpg"),
    claim("c5", "04-04 09:00", "X5", 860, merchant="Golden Dragon", day="2026-04-09"),  # too far apart
    claim("c6", "04-05 09:00", "X2", 860, merchant="Golden Dragon", day="2026-04-03"),  # a correction of X2
    claim("c7", "04-05 09:00", "X7", 860, merchant="Golden Dragon", day="2026-04-02", employee="E2"),
]

SPLITS = [
    claim("s1", "04-10 09:00", "S1", 2400, merchant="Suning", day="2026-04-08"),
    claim("s2", "04-10 09:00", "S2", 2300, merchant="Suning", day="2026-04-08"),
    claim("s3", "04-10 09:05", "S3", 1900, merchant="suning", day="2026-04-09"),  # completes 6,600
    claim("s4", "04-11 09:00", "S4", 3000, merchant="Suning", day="2026-04-12"),  # only S3 in its window: 4,900
    claim("s5", "04-11 09:00", "S5", 4900, merchant="Suning", day="2026-04-20", currency="USD"),
    claim("s6", "04-12 09:00", "S6", 200, merchant="Suning", day="2026-04-20"),  # everyday spending
    claim("s7", "04-12 10:00", "S2", 100, merchant="Suning", day="2026-04-08"),  # S2 corrected down
    claim("s8", "04-13 10:00", "S8", 2500, merchant="Suning", day="2026-04-07"),  # S1 + S3 + S8, not S2
]

PAYMENTS = [
    claim("c1", "04-01 09:00", "X1", 3500, approval_request_id="R1"),
    request("r1", "04-01 09:01", "R1", subject_id="X1", amount=3500),
    decided("d1", "04-01 12:00", "R1", "manager"),
    claim("c2", "04-01 09:00", "X2", 800),  # no request at all
    claim("c3", "04-01 10:00", "X3", 1200),  # found by subject_id, fully approved
    request("r3", "04-01 10:00", "R3", subject_id="X3", amount=1200),
    decided("d3", "04-01 11:00", "R3", "manager"),
    decided("d4", "04-01 11:00", "R3", "finance", by="F1"),
    claim("c4", "04-01 10:30", "X4", 900, approval_request_id="R9"),  # cites an order's request
    request("r9", "04-01 10:00", "R9", subject="order", subject_id="O-1", amount=900),
    paid("p1", "04-02 10:00", "X1"),
    paid("p2", "04-02 10:00", "X2"),
    paid("p3", "04-02 10:00", "X3"),
    paid("p4", "04-02 11:00", "X4"),
    paid("p5", "04-02 11:00", "X9", amount=50),
    decided("d5", "04-02 12:00", "R1", "finance", decision="rejected", by="F1"),
    paid("p6", "04-02 13:00", "X1"),  # paid again after finance rejected it
]

CASES = [
    DetectorCase(DuplicateClaim, DUPLICATES, plugins=[plugin], timezone=TZ,
                 bad_params=[{"window": "36h"}, {"min_amount": -1}]),
    DetectorCase(SplitClaim, SPLITS, plugins=[plugin], timezone=TZ,
                 bad_params=[{"min_share": 1}, {"min_claims": 1}, {"currency": "yuan"}, {"limit": 0}]),
    DetectorCase(UnapprovedPayment, PAYMENTS, plugins=[plugin], timezone=TZ,
                 bad_params=[{"required_steps": ["manager", "manager"]}, {"amount_tolerance": -0.1}]),
]


@parametrize_with_checks(CASES)
def test_expense_detector_conforms(case, check):
    check(case)


def test_the_cases_fire_for_every_reason():
    reasons = {c.detector.id: sorted({f.details.get("reason", "-") for f in c.reference().findings}) for c in CASES}
    assert reasons == {
        "expense.duplicate_claim": ["same_details", "same_receipt"],
        "expense.split_claim": ["-"],
        "expense.unapproved_payment": ["mismatch", "no_request", "not_approved", "unknown_claim"],
    }
