"""``approval.bypass`` and ``approval.unverified_source``: the approval loop of the seed article.

An order must go through an online approval chain (sales manager -> finance -> legal) before it can
reach finance or an invoice, and starting an approval needs a follow-up record for the customer
(order-source verification). ``approval.bypass`` judges every ``order.recorded`` against the approval
request it cites and every ``invoice.issued`` against its order; ``approval.unverified_source``
judges every ``approval.requested`` against the requester's own follow-ups.

Everything is looked up "as of" the judged event's position in the one order of events, with state
carried from chunk to chunk in sorted arrays (:class:`hrguard.state.Latest`), so the findings do not depend on how the
events are chunked.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from ..columns import Chunk
from ..events import ENGLISH_UNITS, US, format_duration
from ..findings import Severity
from ..sdk import Detector, DetectorParams, Duration, RuleContext, Steps, first_per_key, pack2, rows_pos
from ..sdk.state import Column, Latest, keep_spans

REQUEST, DECISION = "approval.requested", "approval.decided"
ORDER, INVOICE, FOLLOWUP = "order.recorded", "invoice.issued", "followup.logged"

OK, NO_REQUEST, MISMATCH, NOT_APPROVED, OUT_OF_ORDER = 0, 1, 2, 3, 4
_REASONS = {NO_REQUEST: "no_request", MISMATCH: "mismatch", NOT_APPROVED: "not_approved", OUT_OF_ORDER: "out_of_order"}

# money is compared as float64: ignore differences below a billionth (binary rounding, not money)
_REL_EPS = 1e-9

_STEP_ZH = {"manager": "经理", "sales_manager": "销售经理", "finance": "财务", "legal": "法务", "hr": "人事",
            "ceo": "总经理", "director": "总监"}
_SUBJECT_ZH = {"order": "订单", "contract": "合同", "expense": "费用"}
_PROBLEM_EN = {"no_request": "no approval request", "mismatch": "its approval does not match it",
               "not_approved": "its approval chain was not completed", "out_of_order": "its approvals came out of order"}
_PROBLEM_ZH = {"no_request": "未发起审批", "mismatch": "审批与订单不符", "not_approved": "审批流程未完成",
               "out_of_order": "审批顺序不符"}


def _step_zh(step: str) -> str:
    zh = _STEP_ZH.get(step)
    return f"{zh}（{step}）" if zh else step


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def _empty(dtype: Any) -> np.ndarray:
    return np.zeros(0, dtype=dtype)


_NO_UPDATES = (_empty(np.int64), _empty(np.int64), {})  # (keys, positions, values) of a chunk with none


def _opt_float(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


# ==================================================================================================
# approval.bypass
# ==================================================================================================
class BypassParams(DetectorParams):
    required_steps: Steps = Field(
        default_factory=lambda: ["manager", "finance", "legal"],
        description="approval steps every order needs, in the order they must approve",
    )
    exempt_below: float = Field(0, ge=0, description="orders with an amount below this are not judged (nor their invoices)")
    amount_tolerance: float = Field(
        0.0, ge=0, description="an order may exceed its request's amount by this fraction (0.05 = 5%) before it is a mismatch"
    )
    exempt_types: list[Literal["order", "contract"]] = Field(
        default_factory=list, description="order types (`order`, `contract`) that are not judged (nor their invoices)"
    )
    horizon: Duration = Field(
        "365d", validate_default=True,
        description="an order is judged against requests and decisions of at most this long before it, an invoice "
                    "against an order of at most this long before it; older ones are out of reach (a stream forgets them)")


class ApprovalBypass(Detector):
    id = "approval.bypass"
    title = "An order or invoice without a completed approval chain"
    Params = BypassParams
    default_severity = Severity.high
    kinds = frozenset({REQUEST, DECISION, ORDER, INVOICE})
    messages = {
        "en": {
            "no_request": "{employee_id} recorded order {order_id} for customer {customer_id} ({amount:,.2f}) "
                          "without any approval request",
            "no_request_unknown": "{employee_id} recorded order {order_id} for customer {customer_id} ({amount:,.2f}) "
                                  "citing approval request {request_id}, which did not exist at that time",
            "mismatch_customer": "{employee_id} recorded order {order_id} for customer {customer_id} ({amount:,.2f}) "
                                 "under approval request {request_id}, which was requested for {request_customer}",
            "mismatch_amount": "{employee_id} recorded order {order_id} for customer {customer_id} at {amount:,.2f}, "
                               "{excess:,.2f} more than the {request_amount:,.2f} requested in approval {request_id}",
            "mismatch_both": "{employee_id} recorded order {order_id} for customer {customer_id} ({amount:,.2f}) "
                             "under approval request {request_id}, which was for {request_customer} and "
                             "{request_amount:,.2f}",
            "not_approved": "{employee_id} recorded order {order_id} for customer {customer_id} ({amount:,.2f}) "
                            "before approval request {request_id} was approved: {steps_text}",
            "out_of_order": "{employee_id} recorded order {order_id} for customer {customer_id} ({amount:,.2f}) "
                            "whose approvals came out of order: {sequence_text} (required: {required_text})",
            "invoice_without_approved_order": "{invoiced_by} issued invoice {invoice_id} for order {order_id} of "
                                              "{employee_id} (customer {customer_id}), but {problem}",
            "invoice_unknown_order": "{invoiced_by} issued invoice {invoice_id} for order {order_id}, "
                                     "which was never recorded",
        },
        "zh": {
            "no_request": "{employee_id} 为客户 {customer_id} 录入订单 {order_id}（金额 {amount:,.2f}），未发起任何审批",
            "no_request_unknown": "{employee_id} 为客户 {customer_id} 录入订单 {order_id}（金额 {amount:,.2f}），"
                                  "所引用的审批 {request_id} 当时并不存在",
            "mismatch_customer": "{employee_id} 为客户 {customer_id} 录入订单 {order_id}（金额 {amount:,.2f}），"
                                 "但所用审批 {request_id} 申请的是{request_customer_zh}",
            "mismatch_amount": "{employee_id} 为客户 {customer_id} 录入订单 {order_id}，金额 {amount:,.2f}，"
                               "比审批 {request_id} 申请的 {request_amount:,.2f} 多出 {excess:,.2f}",
            "mismatch_both": "{employee_id} 为客户 {customer_id} 录入订单 {order_id}（金额 {amount:,.2f}），"
                             "但所用审批 {request_id} 申请的是{request_customer_zh}、金额 {request_amount:,.2f}",
            "not_approved": "{employee_id} 为客户 {customer_id} 录入订单 {order_id}（金额 {amount:,.2f}）时，"
                            "审批 {request_id} 尚未通过：{steps_text_zh}",
            "out_of_order": "{employee_id} 为客户 {customer_id} 录入的订单 {order_id}（金额 {amount:,.2f}）审批顺序不符："
                            "实际为 {sequence_text_zh}，应为 {required_text_zh}",
            "invoice_without_approved_order": "{invoiced_by} 为 {employee_id}（客户 {customer_id}）的订单 {order_id} "
                                              "开具发票 {invoice_id}，但该订单{problem_zh}",
            "invoice_unknown_order": "{invoiced_by} 为订单 {order_id} 开具发票 {invoice_id}，但该订单从未录入系统",
        },
    }

    #: derived from the params and the context (a fresh instance rebuilds them): not state
    not_state = frozenset({"steps", "approved", "exempt_types"})

    def __init__(self, params: BypassParams, ctx: RuleContext):
        super().__init__(params, ctx)
        strings = ctx.strings
        self.steps = np.array([strings.code(s) for s in params.required_steps], dtype=np.int64)
        self.approved = strings.code("approved")
        self.exempt_types = np.array([strings.code(t) for t in params.exempt_types], dtype=np.int64)
        self.requests = Latest(cust=-1, amount=np.nan, src=None, src_ts=0)  # by request id
        # by (request id, required step): the latest decision, and the earliest approving one
        self.decisions = Latest(decision=-1, src=None, src_ts=0)
        self.first_ok = Latest(src=None, src_ts=0)
        # by order id: the latest order's finding, which an invoice of it repeats (reason -1: none):
        # the order's event id, employee and customer (codes), and its evidence, ``ev_lo:ev_hi`` of
        # the evidence log below
        self.orders = Latest(reason=-1, event_id=None, employee=-1, customer=-1, ev_lo=0, ev_hi=0, src_ts=0)
        self.evidence_ts = Column(np.int64)
        self.evidence_id = Column(object, None)

    # -- chunk updates -------------------------------------------------------------------------------
    @staticmethod
    def _request_updates(chunk: Chunk) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        rows = chunk.rows(REQUEST)
        if rows.size == 0:
            return _NO_UPDATES
        f = chunk.frame
        vals = {"cust": chunk.col(REQUEST, "customer_id").astype(np.int64), "amount": chunk.col(REQUEST, "amount"),
                "src": f.ids[rows], "src_ts": f.ts[rows]}
        return chunk.col(REQUEST, "request_id").astype(np.int64), rows_pos(chunk, rows), vals

    def _decision_updates(self, chunk: Chunk):
        """Updates of the latest decision per (request, required step), and of the earliest approving one.

        The second only holds keys with no approval before the chunk, one update each (the chunk's
        first approval), so its ``lookup`` and ``commit`` give "the earliest".
        """
        rows = chunk.rows(DECISION)
        if rows.size == 0:
            return _NO_UPDATES, _NO_UPDATES
        step = chunk.col(DECISION, "step")
        required = (step[:, None] == self.steps).any(axis=1)  # no order asks about another step: not kept
        if not required.any():
            return _NO_UPDATES, _NO_UPDATES
        f = chunk.frame
        rows = rows[required]
        keys = pack2(chunk.col(DECISION, "request_id")[required], step[required])
        pos = rows_pos(chunk, rows)
        decision = chunk.col(DECISION, "decision")[required].astype(np.int64)
        latest = (keys, pos, {"decision": decision, "src": f.ids[rows], "src_ts": f.ts[rows]})
        # the chunk's earliest approving decision of each key not already approved before the chunk
        ok = np.flatnonzero(decision == self.approved)
        first = ok[first_per_key(keys[ok])]
        first = first[~self.first_ok.contains(keys[first])]
        return latest, (keys[first], pos[first], {"src": f.ids[rows[first]], "src_ts": f.ts[rows[first]]})

    # -- judging -------------------------------------------------------------------------------------
    def next_due(self) -> int | None:
        return None  # reacts to events only

    def expire(self, watermark: int) -> None:
        """Requests, decisions and orders more than ``horizon`` before the watermark are out of reach of
        every later order and invoice; the evidence log of flagged orders goes with its orders."""
        cut = watermark - self.params.horizon
        for store in (self.requests, self.decisions, self.first_ok):
            store.forget(lambda keys, store=store: store.column("src_ts") < cut)
        if self.orders.forget(lambda keys: self.orders.column("src_ts") < cut):
            lo, hi = self.orders.column("ev_lo"), self.orders.column("ev_hi")
            if 2 * int((hi - lo).sum()) < len(self.evidence_ts):
                starts = keep_spans((self.evidence_ts, self.evidence_id), lo, hi)
                rows = np.arange(lo.size)
                self.orders.set_column("ev_hi", rows, starts + (hi - lo))
                self.orders.set_column("ev_lo", rows, starts)

    def process(self, chunk: Chunk) -> None:
        req_u = self._request_updates(chunk)
        dec_u, first_u = self._decision_updates(chunk)
        order_u = self._judge_orders(chunk, req_u, dec_u, first_u)
        self._judge_invoices(chunk, order_u)
        self.requests.commit(req_u[0], req_u[2])
        self.decisions.commit(dec_u[0], dec_u[2])
        self.first_ok.commit(first_u[0], first_u[2])
        self.orders.commit(order_u[0], order_u[2])

    def _judge_orders(self, chunk: Chunk, req_u, dec_u, first_u):
        """Judge the chunk's orders; the updates of :attr:`orders` they make."""
        rows = chunk.rows(ORDER)
        if rows.size == 0:
            return _NO_UPDATES
        p = self.params
        n = rows.size
        pos = rows_pos(chunk, rows)
        amount = chunk.col(ORDER, "amount")
        cust = chunk.col(ORDER, "customer_id").astype(np.int64)
        req = chunk.col(ORDER, "approval_request_id").astype(np.int64)
        judged = amount >= p.exempt_below  # the one place that says which orders are judged
        if self.exempt_types.size:
            judged &= ~(chunk.col(ORDER, "type")[:, None] == self.exempt_types).any(axis=1)
        reason = np.full(n, OK, dtype=np.int64)

        # the request the order cites, as of the order (request ids are never null, so -1 finds nothing)
        ts = chunk.frame.ts[rows]
        oldest = ts - p.horizon  # what is older than this is out of reach
        found, rv = self.requests.lookup(req, pos, *req_u)
        found &= rv["src_ts"].astype(np.int64) >= oldest
        r_cust = rv["cust"].astype(np.int64)
        r_amount = rv["amount"].astype(np.float64)
        limit = r_amount * (1.0 + p.amount_tolerance)
        # compared only where the request has an amount (np.errstate would cost more than a stream event)
        over = np.zeros(n, dtype=bool)
        has = np.flatnonzero(~np.isnan(r_amount))
        over[has] = amount[has] - limit[has] > _REL_EPS * np.maximum(1.0, limit[has])
        cust_bad = r_cust != cust
        reason[judged & ~found] = NO_REQUEST
        reason[judged & found & (cust_bad | over)] = MISMATCH

        # the decisions of every required step, as of the order
        q = np.flatnonzero(judged & (reason == OK))
        k = self.steps.size
        dec_ids: dict[int, list] = {}
        if q.size and k:
            q_key = pack2(np.repeat(req[q], k), np.tile(self.steps, q.size))
            q_pos = np.repeat(pos[q], k)
            _, dv = self.decisions.lookup(q_key, q_pos, *dec_u)
            q_oldest = np.repeat(oldest[q], k)
            dec = np.where(dv["src_ts"].astype(np.int64) >= q_oldest, dv["decision"].astype(np.int64), -1).reshape(q.size, k)
            approved = dec == self.approved
            incomplete = ~approved.all(axis=1)
            reason[q[incomplete]] = NOT_APPROVED
            _, fv = self.first_ok.lookup(q_key, q_pos, *first_u)
            # the earliest approval within reach: beyond the horizon, the latest decision (an approval) stands in
            gone = fv["src_ts"].astype(np.int64) < q_oldest
            first_ids = np.where(gone, dv["src"], fv["src"])
            first_ts = np.where(gone, dv["src_ts"], fv["src_ts"]).astype(np.int64).reshape(q.size, k)
            # earliest approvals compared as instants: a later step strictly before an earlier one
            disorder = ~incomplete & (np.diff(first_ts, axis=1) < 0).any(axis=1)
            reason[q[disorder]] = OUT_OF_ORDER
            for slot in np.flatnonzero(incomplete | disorder).tolist():
                base = slot * k
                dec_ids[int(q[slot])] = [
                    (int(dec[slot, s]), dv["src"][base + s], int(dv["src_ts"][base + s]),
                     first_ids[base + s], int(first_ts[slot, s]))
                    for s in range(k)
                ]

        order_ids = chunk.col(ORDER, "order_id").astype(np.int64)
        flagged = np.flatnonzero(reason != OK)
        vals: dict[str, np.ndarray] = {"reason": np.where(reason != OK, reason, -1), "src_ts": ts}
        if flagged.size:  # what an invoice of a flagged order repeats
            f = chunk.frame
            vals.update(event_id=np.full(n, None, dtype=object), employee=np.full(n, -1, dtype=np.int64),
                        customer=np.full(n, -1, dtype=np.int64), ev_lo=np.zeros(n, dtype=np.int64),
                        ev_hi=np.zeros(n, dtype=np.int64))
            vals["event_id"][flagged] = f.ids[rows[flagged]]
            vals["employee"][flagged] = f.employee[rows[flagged]]
            vals["customer"][flagged] = cust[flagged]
            for i in flagged.tolist():
                request = (int(r_cust[i]), float(r_amount[i]), rv["src"][i], int(rv["src_ts"][i])) if found[i] else None
                evidence = self._emit_order(chunk, int(rows[i]), int(order_ids[i]), int(reason[i]), float(amount[i]),
                                            int(cust[i]), int(req[i]), request, bool(cust_bad[i]), bool(over[i]),
                                            float(limit[i]), dec_ids.get(i))
                vals["ev_lo"][i] = len(self.evidence_ts)
                self.evidence_ts.extend([t for t, _ in evidence])
                self.evidence_id.extend([e for _, e in evidence])
                vals["ev_hi"][i] = len(self.evidence_ts)
        return order_ids, pos, vals

    def _emit_order(self, chunk: Chunk, row: int, order_code: int, reason: int, amount: float, cust: int, req: int,
                    request: tuple | None, cust_bad: bool, over: bool, limit: float,
                    decisions: list | None) -> list[tuple[int, str]]:
        """Report an order (``request``: the cited request's customer, amount, src, src_ts, if found); its evidence."""
        f = chunk.frame
        strings = self.ctx.strings
        ts = int(f.ts[row])
        order_id = strings.text(order_code)
        employee = strings.text(int(f.employee[row]))
        customer = strings.text(cust)
        request_id = strings.text(req)
        name = _REASONS[reason]
        evidence: list[tuple[int, str]] = [(ts, f.ids[row])]
        details: dict[str, Any] = {"reason": name, "order_id": order_id, "amount": amount, "request_id": request_id}
        extra: dict[str, Any] = {}
        template = name
        if request is not None:
            evidence.append((request[3], request[2]))
        if reason == NO_REQUEST:
            template = "no_request" if request_id is None else "no_request_unknown"
        elif reason == MISMATCH:
            assert request is not None
            r_cust = strings.text(request[0])
            r_amount = _opt_float(request[1])
            details.update(request_customer_id=r_cust, request_amount=r_amount,
                           max_amount=None if r_amount is None else limit,
                           mismatched=[m for m, bad in (("customer_id", cust_bad), ("amount", over)) if bad])
            template = "mismatch_both" if cust_bad and over else ("mismatch_customer" if cust_bad else "mismatch_amount")
            extra.update(request_customer=f"customer {r_cust}" if r_cust else "no customer",
                         request_customer_zh=f"客户 {r_cust}" if r_cust else "未指定客户",
                         excess=None if r_amount is None else amount - r_amount)
        elif reason == NOT_APPROVED:
            missing, rejected, en, zh = [], [], [], []
            for step, (dec, src, src_ts, _, _) in zip(self.params.required_steps, decisions or []):
                if dec == self.approved:
                    continue
                missing.append(step)
                if dec >= 0:  # the latest decision is a rejection
                    rejected.append(step)
                    evidence.append((src_ts, src))
                    en.append(f"{step} rejected")
                    zh.append(f"{_step_zh(step)}已驳回")
                else:
                    en.append(f"no {step} decision")
                    zh.append(f"{_step_zh(step)}未审批")
            details.update(missing_steps=missing, rejected_steps=rejected)
            extra.update(steps_text=", ".join(en), steps_text_zh="，".join(zh))
        elif reason == OUT_OF_ORDER:
            steps = self.params.required_steps
            firsts = decisions or []
            order = sorted(range(len(steps)), key=lambda s: (firsts[s][4], s))  # ties keep the required order
            for _, _, _, fid, fts in firsts:
                evidence.append((fts, fid))
            sequence = [steps[s] for s in order]
            details.update(approval_sequence=sequence)
            extra.update(sequence_text=" -> ".join(sequence), required_text=" -> ".join(steps),
                         sequence_text_zh=" → ".join(_step_zh(s) for s in sequence),
                         required_text_zh=" → ".join(_step_zh(s) for s in steps))
        message = self.render(template, details, employee_id=employee, customer_id=customer, **extra)
        self.emit(ts=ts, subject=(order_id,), employee_id=employee, customer_id=customer, evidence=evidence,
                  details=details, reason=name, message=message)
        return evidence

    def _judge_invoices(self, chunk: Chunk, order_u) -> None:
        rows = chunk.rows(INVOICE)
        if rows.size == 0:
            return
        f = chunk.frame
        strings = self.ctx.strings
        pos = rows_pos(chunk, rows)
        order_key = chunk.col(INVOICE, "order_id").astype(np.int64)
        found, ov = self.orders.lookup(order_key, pos, *order_u)
        found &= ov["src_ts"].astype(np.int64) >= f.ts[rows] - self.params.horizon
        flag = ov["reason"].astype(np.int64)
        fire = np.flatnonzero(~found | (flag >= 0))
        if fire.size == 0:
            return
        inv_ids = chunk.col(INVOICE, "invoice_id")
        inv_amount = chunk.col(INVOICE, "amount")
        ev_ts, ev_id = self.evidence_ts.values, self.evidence_id.values
        for i in fire.tolist():
            row = int(rows[i])
            ts = int(f.ts[row])
            invoiced_by = strings.text(int(f.employee[row]))
            invoice_id = strings.text(int(inv_ids[i]))
            details: dict[str, Any] = {
                "reason": "invoice_without_approved_order", "invoice_id": invoice_id,
                "order_id": strings.text(int(order_key[i])), "invoiced_by": invoiced_by,
                "amount": _opt_float(float(inv_amount[i])), "order_event_id": None, "order_reason": None,
            }
            evidence: list[tuple[int, str]] = [(ts, f.ids[row])]
            if found[i]:
                details.update(order_event_id=ov["event_id"][i], order_reason=_REASONS[int(flag[i])])
                lo, hi = int(ov["ev_lo"][i]), int(ov["ev_hi"][i])
                evidence.extend(zip(ev_ts[lo:hi].tolist(), ev_id[lo:hi].tolist()))
                employee, customer = strings.text(int(ov["employee"][i])), strings.text(int(ov["customer"][i]))
                template = "invoice_without_approved_order"
            else:
                employee, customer, template = invoiced_by, None, "invoice_unknown_order"
            problem = _PROBLEM_EN.get(details["order_reason"] or "", "")
            problem_zh = _PROBLEM_ZH.get(details["order_reason"] or "", "")
            message = self.render(template, details, employee_id=employee, customer_id=customer,
                                  problem=problem, problem_zh=problem_zh)
            self.emit(ts=ts, subject=(invoice_id,), employee_id=employee, customer_id=customer, evidence=evidence,
                      details=details, reason="invoice_without_approved_order", message=message)


# ==================================================================================================
# approval.unverified_source
# ==================================================================================================
class UnverifiedSourceParams(DetectorParams):
    lookback: Duration = Field(
        "30d", validate_default=True,
        description="the requester must have logged a follow-up for the customer within this long before the request",
    )


_ZH_UNITS = ((86_400 * US, "天", "天"), (3_600 * US, "小时", "小时"), (60 * US, "分钟", "分钟"), (US, "秒", "秒"))


def _span(us: int, exact: bool) -> tuple[str, str]:
    """A duration for people, in English and Chinese: exact (``30 days``), or in the largest unit it
    reaches rounded *up* to a tenth (``48.8 days``), so an age just past a limit never reads as the limit."""
    kw: dict[str, Any] = {} if exact else {"decimals": 1, "round_up": True, "trim": True}
    return (format_duration(us, ENGLISH_UNITS, sep=" ", **kw), format_duration(us, _ZH_UNITS, sep=" ", **kw))


class ApprovalUnverifiedSource(Detector):
    id = "approval.unverified_source"
    title = "An approval requested for a customer the requester never worked"
    Params = UnverifiedSourceParams
    default_severity = Severity.medium
    kinds = frozenset({REQUEST, FOLLOWUP})
    messages = {
        "en": {
            "never": "{employee_id} requested approval {request_id} ({what}) for customer {customer_id} without any "
                     "follow-up of their own with that customer on record: the order's source cannot be verified",
            "stale": "{employee_id} requested approval {request_id} ({what}) for customer {customer_id}, but their last "
                     "follow-up with that customer was {age} earlier (more than the {lookback} allowed): "
                     "the order's source cannot be verified",
        },
        "zh": {
            "never": "{employee_id} 为客户 {customer_id} 发起审批 {request_id}（{what_zh}），但本人没有该客户的任何跟进记录，"
                     "订单来源无法核实",
            "stale": "{employee_id} 为客户 {customer_id} 发起审批 {request_id}（{what_zh}），但本人最近一次跟进该客户是在 "
                     "{age_zh}前（超过 {lookback_zh}），订单来源无法核实",
        },
    }

    def __init__(self, params: UnverifiedSourceParams, ctx: RuleContext):
        super().__init__(params, ctx)
        self.followups = Latest(src=None, src_ts=0)  # by (employee, customer): the latest follow-up

    def next_due(self) -> int | None:
        return None  # reacts to events only

    def process(self, chunk: Chunk) -> None:
        f = chunk.frame
        rows = chunk.rows(FOLLOWUP)
        if rows.size:
            emp = f.employee[rows]
            mine = emp >= 0  # a follow-up by nobody is nobody's own
            rows = rows[mine]
            fu = (pack2(emp[mine], chunk.col(FOLLOWUP, "customer_id")[mine]), rows_pos(chunk, rows),
                  {"src": f.ids[rows], "src_ts": f.ts[rows]})
        else:
            fu = _NO_UPDATES
        if chunk.has(REQUEST):
            self._judge(chunk, fu)
        self.followups.commit(fu[0], fu[2])

    def _judge(self, chunk: Chunk, fu) -> None:
        f = chunk.frame
        rows = chunk.rows(REQUEST)
        cust = chunk.col(REQUEST, "customer_id").astype(np.int64)
        sel = np.flatnonzero(cust >= 0)  # a request naming no customer is not judged
        if sel.size == 0:
            return
        rows, cust = rows[sel], cust[sel]
        emp = f.employee[rows].astype(np.int64)
        ts = f.ts[rows]
        found, vals = self.followups.lookup(pack2(emp, cust), rows_pos(chunk, rows), *fu)
        last_ts = vals["src_ts"].astype(np.int64)
        verified = found & (emp >= 0) & (last_ts >= ts - self.params.lookback)
        fire = np.flatnonzero(~verified)
        if fire.size == 0:
            return
        strings = self.ctx.strings
        req_ids = chunk.col(REQUEST, "request_id")[sel]
        subjects = chunk.col(REQUEST, "subject")[sel]
        subject_ids = chunk.col(REQUEST, "subject_id")[sel]
        amounts = chunk.col(REQUEST, "amount")[sel]
        lookback = self.params.lookback
        span_en, span_zh = _span(lookback, exact=True)
        for i in fire.tolist():
            row = int(rows[i])
            t = int(ts[i])
            known = bool(found[i]) and emp[i] >= 0
            subject = strings.text(int(subjects[i]))
            subject_id = strings.text(int(subject_ids[i]))
            amount = _opt_float(float(amounts[i]))
            details = {
                "request_id": strings.text(int(req_ids[i])),
                "subject": subject,
                "subject_id": subject_id,
                "amount": amount,
                "lookback_seconds": lookback // US,
                "last_followup_id": vals["src"][i] if known else None,
                "last_followup_age_seconds": (t - int(last_ts[i])) // US if known else None,
            }
            what = " ".join(x for x in (subject, subject_id) if x) or "approval"
            what_zh = " ".join(x for x in (_SUBJECT_ZH.get(subject or "", subject), subject_id) if x) or "审批"
            if amount is not None:
                what, what_zh = f"{what}, {_money(amount)}", f"{what_zh}，金额 {_money(amount)}"
            template = "stale" if known else "never"
            employee = strings.text(int(emp[i]))
            customer = strings.text(int(cust[i]))
            age, age_zh = _span(t - int(last_ts[i]), exact=False) if known else ("", "")
            message = self.render(template, details, employee_id=employee, customer_id=customer, what=what,
                                  what_zh=what_zh, lookback=span_en, lookback_zh=span_zh, age=age, age_zh=age_zh)
            self.emit(ts=t, subject=(f.ids[row],), employee_id=employee, customer_id=customer,
                      evidence=[(t, f.ids[row])], details=details, reason=template, message=message)


DETECTORS = (ApprovalBypass, ApprovalUnverifiedSource)
