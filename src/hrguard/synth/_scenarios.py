"""What the generator injects: misconduct scenarios (with the rules that should catch them) and honest
noise (which no rule should treat as misconduct), and the ground-truth label each injection leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # "misconduct" or "noise"
    expected_rules: tuple[str, ...]
    what: str


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("private_orders", "misconduct",
             ("followup.stall", "geofence.mismatch", "summary.unsupported_claim", "customer.unregistered",
              "private-orders", "repeated-geofence"),
             "the article's case: a rep moves a few customers to 'quoting' and stops recording any contact with "
             "them (the deals go private), clocks in at a cafe on about half of her days while her summaries claim "
             "the planned visits, and logs a WeChat contact with a customer the company does not know; at the end "
             "she marks the diverted customers lost and is often dismissed"),
    Scenario("fake_visits", "misconduct",
             ("geofence.mismatch", "summary.unsupported_claim", "visit.evidence_missing", "repeated-geofence"),
             "on most days of a stretch, one or two planned visits do not happen: the rep clocks in and out from "
             "home, logs the visit with no photo, a photo taken at home, or an old photo, and claims it in the "
             "daily summary"),
    Scenario("approval_bypass", "misconduct", ("approval.bypass",),
             "one to three orders skip the approval loop: recorded with no request, before the manager decided, "
             "without the legal step, or for more than was approved; finance invoices them anyway"),
    Scenario("poaching", "misconduct", ("customer.ownership_conflict", "approval.unverified_source"),
             "a rep works a colleague's customers (calls, visits) and requests orders for them, once for a "
             "customer of the colleague's they never contacted at all"),
    Scenario("ghost_customers", "misconduct", ("customer.unregistered",),
             "a rep plans, visits, calls and claims one to three customers that were never registered "
             "with the company"),
    Scenario("sloppy_reporting", "misconduct", ("plan.missing", "summary.missing", "visit.evidence_missing"),
             "for several weeks plans come after 10:00 or not at all, daily summaries are skipped, and visits are "
             "logged without photos"),
    Scenario("unsettled_termination", "misconduct", ("termination.unsettled",),
             "an employee leaves (resigns, or is dismissed after private orders) and the final wages are never "
             "settled, or only a week or more after the grace period; the label is on the employee concerned"),
    Scenario("coasting", "misconduct", ("outlier.isolation_forest",),
             "for weeks a rep quietly coasts while everything stays formally in order: one or two planned visits a "
             "day instead of two or three, arriving late in the planned window and leaving after a quarter of an "
             "hour, with long gaps and an early end; plans, photos, clock-ins at the customer and summaries are all "
             "there and match (no rule's condition holds; only behaviour over time betrays it)"),
    Scenario("poor_gps", "noise", (),
             "an honest rep whose phone gives poor fixes: about one clock-in in ten reports 60-1,200 m accuracy, "
             "and lands about that far off"),
    Scenario("plan_changed", "noise", (),
             "a customer moves the afternoon appointment: the rep resubmits the day's plan at midday, or picks "
             "the new customer at the clock-in, and visits another customer of theirs instead"),
    Scenario("covered_customer", "noise", (),
             "while a rep is on leave, the manager reassigns their hot customers to a teammate "
             "(customer.assigned by the manager) and assigns them back on the rep's return; the label is on the "
             "teammate who works a colleague's customers with the manager's blessing"),
    Scenario("left_properly", "noise", (),
             "a rep resigns with notice, their customers are reassigned to teammates on the last day, and the "
             "final wages are settled within one or two working days"),
)}

MISCONDUCT = tuple(n for n, s in SCENARIOS.items() if s.kind == "misconduct")
NOISE = tuple(n for n, s in SCENARIOS.items() if s.kind == "noise")
# misconduct handed out round-robin in this order (unsettled_termination also stacks on some private_orders)
ROTATION = ("private_orders", "fake_visits", "approval_bypass", "poaching", "ghost_customers", "sloppy_reporting",
            "unsettled_termination")
#: coasting reps are drawn in addition to the rotation (as many as each scenario of it gets), with a random
#: stream of their own (see ``CompanyBase.plan_coasting``), so every other rep behaves as without them
# desired window lengths in days (shrunk to fit short datasets)
WINDOW_DAYS = {"private_orders": (21, 35), "fake_visits": (10, 21), "approval_bypass": (10, 30),
               "poaching": (14, 28), "ghost_customers": (14, 28), "sloppy_reporting": (21, 42),
               "unsettled_termination": (1, 1), "coasting": (21, 42)}


@dataclass(eq=False)  # identity: open injections are looked up by id()
class Injection:
    """One scenario on one employee: its planned window (day indexes) and what actually happened."""

    scenario: str
    employee_id: str
    start_di: int
    end_di: int
    data: dict[str, Any] = field(default_factory=dict)
    first_t: int | None = None  # absolute seconds since the dataset's first midnight
    last_t: int | None = None
    events: int = 0

    def active(self, di: int) -> bool:
        return self.start_di <= di <= self.end_di

    def mark(self, t: int) -> None:
        """An event of this injection happened at absolute second ``t``."""
        self.events += 1
        if self.first_t is None or t < self.first_t:
            self.first_t = t
        if self.last_t is None or t > self.last_t:
            self.last_t = t

    def label(self, ts_of: Any) -> dict[str, Any]:
        sc = SCENARIOS[self.scenario]
        out = {"employee_id": self.employee_id, "scenario": self.scenario, "start": ts_of(self.first_t),
               "end": ts_of(self.last_t), "expected_rules": list(sc.expected_rules), "kind": sc.kind}
        details = {k: v for k, v in self.data.items() if not k.startswith("_")}
        if details:
            out["details"] = details
        return out
