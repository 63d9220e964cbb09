"""Deals and the approval loop: a request, the manager's, finance's and legal's decisions, the order
(recorded by whoever owns the customer then), and the invoice — and the ways a bypass skips them."""

from __future__ import annotations

from ._company import CompanyBase
from ._model import STEPS, Customer, Deal, Person, money
from ._scenarios import Injection


class DealFlows(CompanyBase):
    def start_deal(self, rep: Person, c: Customer, sec: int, subject: str, variant: str | None = None,
                   inj: Injection | None = None, amount: float | None = None) -> Deal:
        r = self.rng
        if amount is None:
            amount = c.amount if subject == "contract" else round(c.amount * self.uni(0.1, 0.4), -2)
        order = self.new_id("order", "O")
        req = None if variant == "no_request" else self.new_id("req", "R")
        deal = Deal(req, order, c, amount, rep, subject, variant, inj)
        if variant == "inflated":
            deal.order_amount = round(amount * self.uni(1.15, 1.4), -2)
        elif variant is None and r.random() < 0.05:
            deal.order_amount = round(amount * self.uni(0.9, 0.98), -2)  # negotiated down: allowed
        c.deal = deal
        if req is None:
            self.at(self.di, sec + self.ri(1200, 5400), "order", deal)
            return deal
        self.emit(sec, "approval.requested", rep.id, {"request_id": req, "subject": subject, "subject_id": order,
                                                      "customer_id": c.id, "amount": money(amount)}, inj)
        if variant == "early_order":
            self.at(self.di, sec + self.ri(1800, 5400), "order", deal)
        di, t = self.later(sec, 3600, 6 * 3600)
        self.at(di, t, "decide", (deal, 0))
        return deal

    def _do_decide(self, sec: int, payload: tuple) -> None:
        deal, step = payload
        r = self.rng
        if step == 0:
            mgr = self.people.get(deal.rep.manager) or self.pick(self.managers)
            who = mgr.id
        else:
            who = self.pick(self.finance if step == 1 else self.legal).id
        honest = deal.variant is None and deal.inj is None
        if honest and r.random() < (0.04, 0.02, 0.02)[step]:
            self.emit(sec, "approval.decided", who,
                      {"request_id": deal.req, "step": STEPS[step], "decision": "rejected"})
            di, t = self.later(sec, 1800, 20 * 3600)
            self.at(di, t, "rejected", deal)
            return
        self.emit(sec, "approval.decided", who, {"request_id": deal.req, "step": STEPS[step], "decision": "approved"})
        if step == 1 and deal.variant == "skip_legal":
            self.at(self.di, sec + self.ri(1200, 4 * 3600), "order", deal)
            return
        if step < 2:
            di, t = self.later(sec, 1800, 8 * 3600)
            self.at(di, t, "decide", (deal, step + 1))
        elif not deal.ordered:
            di, t = self.later(sec, 1800, 6 * 3600)
            self.at(di, t, "order", deal)

    def _do_rejected(self, sec: int, deal: Deal) -> None:
        c = deal.cust
        c.deal = None
        if c.stage == "pending_signing" and c.owner in self.people:
            self.stage(c, "quoted", sec, c.owner)

    def _do_order(self, sec: int, deal: Deal) -> None:
        c = deal.cust
        r = self.rng
        deal.ordered = True
        actor = deal.rep.id
        owner = self.people.get(c.owner)
        if deal.inj is None and owner is not None and owner.status != "gone":
            actor = owner.id  # the customer may have changed hands (cover, or the rep left): its owner records it
        self.emit(sec, "order.recorded", actor, {
            "order_id": deal.order, "customer_id": c.id, "amount": money(deal.order_amount),
            "type": "contract" if deal.subject == "contract" else "order", "approval_request_id": deal.req}, deal.inj)
        if deal.subject == "contract" and c.stage != "signed" and not c.frozen:
            self.stage(c, "signed", sec + self.ri(60, 600), actor)
        if c.deal is deal:
            c.deal = None
        di, t = self.later(sec, 20 * 3600, 60 * 3600)
        self.at(di, t, "invoice", deal)
        if deal.inj is not None and "_pending" in deal.inj.data:
            deal.inj.data["_pending"] -= 1
            if deal.inj.data["_pending"] <= 0 and self.di >= deal.inj.end_di:
                self.close(deal.inj)

    def _do_invoice(self, sec: int, deal: Deal) -> None:
        self.emit(sec, "invoice.issued", self.pick(self.finance).id, {
            "invoice_id": self.new_id("inv", "I"), "order_id": deal.order, "amount": money(deal.order_amount)})
