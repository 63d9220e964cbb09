"""``expense.unapproved_payment``: a claim paid out without a completed approval chain.

Judges each ``expense.paid`` against what was known just before it: the claim paid (its current
record), the approval request the claim cites (or else the latest ``approval.requested`` with
``subject: expense`` and ``subject_id`` = the claim id), and the latest decision of each required step.
Reasons, the first that applies: ``unknown_claim``, ``no_request``, ``mismatch``, ``not_approved``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from hrguard import Chunk, Detector, DetectorParams, RuleContext, Severity
from hrguard.kit import Latest, pack2, rows_pos
from hrguard.sdk import Steps

from ._claims import CLAIM, PAID, text

REQUEST, DECISION = "approval.requested", "approval.decided"
OK, UNKNOWN_CLAIM, NO_REQUEST, MISMATCH, NOT_APPROVED = range(5)
_REASONS = {UNKNOWN_CLAIM: "unknown_claim", NO_REQUEST: "no_request", MISMATCH: "mismatch", NOT_APPROVED: "not_approved"}
_REL_EPS = 1e-9
_STEP_ZH = {"manager": "经理", "finance": "财务", "hr": "人事", "director": "总监", "ceo": "总经理", "legal": "法务"}


class UnapprovedParams(DetectorParams):
    required_steps: Steps = Field(default_factory=lambda: ["manager", "finance"],
                                      description="approval steps every paid claim needs (each's latest decision "
                                                  "before the payment must be approved)")
    exempt_below: float = Field(0, ge=0, description="payments of less than this amount are not judged")
    amount_tolerance: float = Field(0.0, ge=0, description="a payment may exceed its request's amount by this "
                                                           "fraction (0.05 = 5%) before it is a mismatch")


def _empty() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    z = np.zeros(0, dtype=np.int64)
    return z, z, {}


class UnapprovedPayment(Detector):
    id = "expense.unapproved_payment"
    title = "An expense claim paid without a completed approval chain"
    Params = UnapprovedParams
    default_severity = Severity.high
    kinds = frozenset({CLAIM, PAID, REQUEST, DECISION})
    messages = {
        "en": {
            "unknown_claim": "{paid_by} paid {amount_text} for claim {claim_id}, which was never claimed",
            "no_request": "{paid_by} paid claim {claim_id} of {employee_id} ({amount_text} at {merchant}) without "
                          "any approval request",
            "no_request_unknown": "{paid_by} paid claim {claim_id} of {employee_id} ({amount_text} at {merchant}) "
                                  "citing approval request {request_id}, which did not exist at that time",
            "mismatch": "{paid_by} paid claim {claim_id} of {employee_id} ({amount_text} at {merchant}) under "
                        "approval request {request_id}, which {problem}",
            "not_approved": "{paid_by} paid claim {claim_id} of {employee_id} ({amount_text} at {merchant}) before "
                            "approval request {request_id} was approved: {steps_text}",
        },
        "zh": {
            "unknown_claim": "{paid_by} 为报销单 {claim_id} 付款 {amount_text}，但该报销单从未提交",
            "no_request": "{paid_by} 向 {employee_id} 支付报销单 {claim_id}（{merchant}，{amount_text}），未发起任何审批",
            "no_request_unknown": "{paid_by} 向 {employee_id} 支付报销单 {claim_id}（{merchant}，{amount_text}），"
                                  "所引用的审批 {request_id} 当时并不存在",
            "mismatch": "{paid_by} 向 {employee_id} 支付报销单 {claim_id}（{merchant}，{amount_text}），"
                        "但所用审批 {request_id} {problem_zh}",
            "not_approved": "{paid_by} 向 {employee_id} 支付报销单 {claim_id}（{merchant}，{amount_text}）时，"
                            "审批 {request_id} 尚未通过：{steps_text_zh}",
        },
    }

    def __init__(self, params: UnapprovedParams, ctx: RuleContext):
        super().__init__(params, ctx)
        s = ctx.strings
        self.steps = np.array([s.code(x) for x in params.required_steps], dtype=np.int64)
        self.approved = s.code("approved")
        self.expense = s.code("expense")
        self.claims = Latest(employee=-1, amount=np.nan, currency=-1, merchant=-1, request=-1, src=None, src_ts=0)
        self.requests = Latest(subject=-1, subject_id=-1, amount=np.nan, src=None, src_ts=0)  # by request id
        self.by_subject = Latest(request=-1)  # by claim id: the latest expense request naming it
        self.decisions = Latest(decision=-1, src=None, src_ts=0)  # by (request, step)

    def process(self, chunk: Chunk) -> None:
        f = chunk.frame
        claim_u = req_u = subj_u = dec_u = _empty()
        rows = chunk.rows(CLAIM)
        if rows.size:
            claim_u = (chunk.col(CLAIM, "claim_id").astype(np.int64), rows_pos(chunk, rows), {
                "employee": f.employee[rows].astype(np.int64), "amount": chunk.col(CLAIM, "amount"),
                "currency": chunk.col(CLAIM, "currency").astype(np.int64),
                "merchant": chunk.col(CLAIM, "merchant").astype(np.int64),
                "request": chunk.col(CLAIM, "approval_request_id").astype(np.int64),
                "src": f.ids[rows], "src_ts": f.ts[rows]})
        rows = chunk.rows(REQUEST)
        if rows.size:
            rid = chunk.col(REQUEST, "request_id").astype(np.int64)
            subject = chunk.col(REQUEST, "subject").astype(np.int64)
            sid = chunk.col(REQUEST, "subject_id").astype(np.int64)
            pos = rows_pos(chunk, rows)
            req_u = (rid, pos, {"subject": subject, "subject_id": sid, "amount": chunk.col(REQUEST, "amount"),
                                "src": f.ids[rows], "src_ts": f.ts[rows]})
            mine = (subject == self.expense) & (sid >= 0)
            subj_u = (sid[mine], pos[mine], {"request": rid[mine]})
        rows = chunk.rows(DECISION)
        if rows.size:
            dec_u = (pack2(chunk.col(DECISION, "request_id"), chunk.col(DECISION, "step")), rows_pos(chunk, rows),
                     {"decision": chunk.col(DECISION, "decision").astype(np.int64), "src": f.ids[rows],
                      "src_ts": f.ts[rows]})
        if chunk.has(PAID):
            self._judge(chunk, claim_u, req_u, subj_u, dec_u)
        self.claims.commit(claim_u[0], claim_u[2])
        self.requests.commit(req_u[0], req_u[2])
        self.by_subject.commit(subj_u[0], subj_u[2])
        self.decisions.commit(dec_u[0], dec_u[2])

    def _judge(self, chunk: Chunk, claim_u, req_u, subj_u, dec_u) -> None:
        p = self.params
        rows = chunk.rows(PAID)
        pos = rows_pos(chunk, rows)
        claim = chunk.col(PAID, "claim_id").astype(np.int64)
        payment = chunk.col(PAID, "payment_id")
        paid = chunk.col(PAID, "amount").astype(np.float64)
        found_c, cv = self.claims.lookup(claim, pos, *claim_u)
        amount = np.where(np.isnan(paid), cv["amount"].astype(np.float64), paid)
        judged = ~(amount < p.exempt_below)  # an unknown amount is judged
        reason = np.full(rows.size, OK, dtype=np.int64)
        reason[~found_c] = UNKNOWN_CLAIM

        cited = cv["request"].astype(np.int64)
        _, sv = self.by_subject.lookup(claim, pos, *subj_u)
        req = np.where(found_c & (cited < 0), sv["request"].astype(np.int64), cited)
        found_r, rv = self.requests.lookup(req, pos, *req_u)
        reason[found_c & ~found_r] = NO_REQUEST
        subject, sid = rv["subject"].astype(np.int64), rv["subject_id"].astype(np.int64)
        r_amount = rv["amount"].astype(np.float64)
        limit = r_amount * (1.0 + p.amount_tolerance)
        with np.errstate(invalid="ignore"):
            over = ~np.isnan(r_amount) & (amount - limit > _REL_EPS * np.maximum(1.0, limit))
        other_subject = (subject >= 0) & (subject != self.expense)
        other_claim = (sid >= 0) & (sid != claim)
        reason[found_c & found_r & (other_subject | other_claim | over)] = MISMATCH

        q = np.flatnonzero((reason == OK) & judged)
        k = self.steps.size
        decided: dict[int, list[tuple[int, str | None, int]]] = {}
        if q.size and k:
            keys = pack2(np.repeat(req[q], k), np.tile(self.steps, q.size))
            _, dv = self.decisions.lookup(keys, np.repeat(pos[q], k), *dec_u)
            dec = dv["decision"].astype(np.int64).reshape(q.size, k)
            for slot in np.flatnonzero(~(dec == self.approved).all(axis=1)).tolist():
                i = int(q[slot])
                reason[i] = NOT_APPROVED
                decided[i] = [(int(dec[slot, s]), dv["src"][slot * k + s], int(dv["src_ts"][slot * k + s]))
                              for s in range(k)]

        for i in np.flatnonzero((reason != OK) & judged).tolist():
            self._emit(chunk, int(rows[i]), i, int(reason[i]), float(amount[i]), int(claim[i]), int(payment[i]), int(req[i]),
                       bool(found_c[i]), bool(found_r[i]), cv, rv, decided.get(i),
                       (bool(other_subject[i]), bool(other_claim[i]), bool(over[i]), float(r_amount[i])))

    def _emit(self, chunk: Chunk, row: int, i: int, reason: int, amount: float, claim: int, payment: int, req: int,
              found_c: bool, found_r: bool, cv: dict, rv: dict, decided: list | None, mism: tuple) -> None:
        f = chunk.frame
        s = self.ctx.strings
        ts = int(f.ts[row])
        evidence: list[tuple[int, str]] = [(ts, f.ids[row])]
        currency = text(s, cv["currency"][i]) if found_c else None
        known = not np.isnan(amount)
        amount_text = (f"{amount:,.2f}" + (f" {currency}" if currency else "")) if known else "-"
        paid_by = text(s, f.employee[row])
        employee = text(s, cv["employee"][i]) if found_c else paid_by
        details: dict[str, Any] = {
            "reason": _REASONS[reason], "claim_id": text(s, claim),
            "payment_id": text(s, payment),
            "amount": amount if known else None, "currency": currency, "paid_by": paid_by,
            "merchant": text(s, cv["merchant"][i]) if found_c else None,
            "request_id": text(s, req) if req >= 0 else None,
        }
        extra: dict[str, Any] = {"amount_text": amount_text}
        template = details["reason"]
        if found_c:
            evidence.append((int(cv["src_ts"][i]), cv["src"][i]))
        if found_r:
            evidence.append((int(rv["src_ts"][i]), rv["src"][i]))
        if reason == NO_REQUEST and req >= 0:
            template = "no_request_unknown"
        elif reason == MISMATCH:
            other_subject, other_claim, over, r_amount = mism
            subject, sid = text(s, rv["subject"][i]), text(s, rv["subject_id"][i])
            en, zh = [], []
            if other_subject or other_claim:
                what = " ".join(x for x in (subject, sid) if x)
                en.append(f"was requested for {what}")
                zh.append(f"申请的是 {what}")
            if over:
                en.append(f"approved only {r_amount:,.2f}")
                zh.append(f"只批准了 {r_amount:,.2f}")
            details.update(request_subject=subject, request_subject_id=sid,
                           request_amount=None if np.isnan(r_amount) else r_amount)
            extra.update(problem=" and ".join(en), problem_zh="，且".join(zh))
        elif reason == NOT_APPROVED:
            missing, en, zh = [], [], []
            for step, (dec, src, src_ts) in zip(self.params.required_steps, decided or []):
                step_zh = _STEP_ZH.get(step, step)
                if dec == self.approved:
                    continue
                missing.append(step)
                if src is not None:
                    evidence.append((src_ts, src))
                    en.append(f"{step} rejected it")
                    zh.append(f"{step_zh}已驳回")
                else:
                    en.append(f"{step} has not approved")
                    zh.append(f"{step_zh}未审批")
            details["missing_steps"] = missing
            extra.update(steps_text="; ".join(en), steps_text_zh="；".join(zh))
        message = self.render(template, details, employee_id=employee, **extra)
        self.emit(ts=ts, subject=(f.ids[row],), employee_id=employee, customer_id=None, evidence=evidence,
                  details=details, reason=template, message=message)


DETECTORS = (UnapprovedPayment,)
