"""Customer resources belong to the company: work on unknown customers, and on other people's customers.

``customer.unregistered`` fires once per (employee, customer) at the first event naming a customer
that no ``customer.registered`` made known before it. ``customer.ownership_conflict`` fires once per
(employee, customer, local date) when someone works a customer another salesperson owns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from ..columns import CODE, Chunk, Entries
from ..events import days_to_date
from ..findings import Severity
from ..sdk import Detector, DetectorParams, RuleContext, first_per_key, pack2, rows_pos
from ..sdk.state import Latest

REGISTERED, ASSIGNED, HIRED = "customer.registered", "customer.assigned", "employee.hired"
FOLLOWUP, REQUEST, ORDER = "followup.logged", "approval.requested", "order.recorded"
PLAN, SUMMARY, PUNCH = "plan.submitted", "summary.submitted", "attendance.punched"
STAGE = "customer.stage_changed"

_EMPTY = np.zeros(0, dtype=np.int64)
_NO_UPDATES = (_EMPTY, _EMPTY, {})  # (keys, positions, values) of a chunk with none


def _cat(parts: list[np.ndarray], dtype: Any = np.int64) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


# -- customer.unregistered ------------------------------------------------------------------------------
class UnregisteredParams(DetectorParams):
    """``customer.unregistered`` has no parameters."""


_UNREG_REASON = {FOLLOWUP: "followup", PUNCH: "punch", PLAN: "plan", SUMMARY: "summary", REQUEST: "approval",
                 ORDER: "order", ASSIGNED: "assigned", STAGE: "stage"}
_NOT_KNOWN_EN = "which is not registered in the company's customer records"
_NOT_KNOWN_ZH = "但公司客户档案中没有登记该客户"


class CustomerUnregistered(Detector):
    id = "customer.unregistered"
    title = "Work on a customer the company does not know"
    Params = UnregisteredParams
    default_severity = Severity.medium
    kinds = frozenset()  # every kind with a top-level customer_id, plugin kinds included
    messages = {
        "en": {
            "followup": "{employee_id} logged a follow-up with customer {customer_id}, " + _NOT_KNOWN_EN,
            "punch": "{employee_id} clocked in at customer {customer_id}, " + _NOT_KNOWN_EN,
            "plan": "{employee_id} planned work at customer {customer_id} for {date}, " + _NOT_KNOWN_EN,
            "summary": "{employee_id}'s daily summary for {date} claims work with customer {customer_id}, " + _NOT_KNOWN_EN,
            "approval": "{employee_id} requested an approval for customer {customer_id}, " + _NOT_KNOWN_EN,
            "order": "{employee_id} recorded an order for customer {customer_id}, " + _NOT_KNOWN_EN,
            "assigned": "{employee_id} assigned customer {customer_id} to {owner_id}, " + _NOT_KNOWN_EN,
            "stage": "{employee_id} moved customer {customer_id} to stage '{stage}', " + _NOT_KNOWN_EN,
            "default": "{employee_id} recorded {kind} for customer {customer_id}, " + _NOT_KNOWN_EN,
        },
        "zh": {
            "followup": "{employee_id} 记录了对客户 {customer_id} 的跟进，" + _NOT_KNOWN_ZH,
            "punch": "{employee_id} 打卡时选择了客户 {customer_id}，" + _NOT_KNOWN_ZH,
            "plan": "{employee_id} 在 {date} 的工作计划中安排了客户 {customer_id}，" + _NOT_KNOWN_ZH,
            "summary": "{employee_id} 在 {date} 的工作日报中声称服务了客户 {customer_id}，" + _NOT_KNOWN_ZH,
            "approval": "{employee_id} 为客户 {customer_id} 发起了审批，" + _NOT_KNOWN_ZH,
            "order": "{employee_id} 为客户 {customer_id} 录入了订单，" + _NOT_KNOWN_ZH,
            "assigned": "{employee_id} 将客户 {customer_id} 分配给了 {owner_id}，" + _NOT_KNOWN_ZH,
            "stage": "{employee_id} 将客户 {customer_id} 的阶段改为“{stage}”，" + _NOT_KNOWN_ZH,
            "default": "{employee_id} 的记录（{kind}）涉及客户 {customer_id}，" + _NOT_KNOWN_ZH,
        },
    }

    not_state = frozenset({"_names_customer"})  # a cache of what the kinds' layouts say

    def __init__(self, params: UnregisteredParams, ctx: RuleContext):
        super().__init__(params, ctx)
        self.known = Latest()  # the customers registered (one slot a code)
        self.known_names: set[str] = set()  # the same, as text: list entries carry names, not codes
        self._names_customer: dict[str, bool] = {}  # kind -> judged for its top-level customer_id
        self.fired: set[int] = set()  # pack2(employee, customer) pairs already reported (one a finding)

    def _names(self, kind: str, layout: Any) -> bool:
        names = self._names_customer.get(kind)
        if names is None:
            names = self._names_customer[kind] = kind != REGISTERED and ("customer_id", CODE) in layout.fields
        return names

    def _named(self, chunk: Chunk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The customers the chunk's events name: ``(frame row, item index or -1, customer code)``.

        List entries naming a customer registered before the chunk are left out (they cannot fire).
        """
        rows, subs, custs = [], [], []
        for table in chunk.frame.tables.values():
            if not self._names(table.kind, table.layout):
                continue
            r = chunk.rows(table.kind)
            if r.size == 0:
                continue
            c = chunk.col(table.kind, "customer_id")
            named = c >= 0
            rows.append(r[named])
            subs.append(np.full(int(named.sum()), -1, dtype=np.int64))
            custs.append(c[named])
        for kind, field in ((PLAN, "items"), (SUMMARY, "claims")):
            r = chunk.rows(kind)
            if r.size:
                rows_i, subs_i, custs_i = _entry_customers(r, chunk.nested(kind, field))
                rows.append(rows_i)
                subs.append(subs_i)
                custs.append(custs_i)
        if not rows:
            return _EMPTY, _EMPTY, _EMPTY
        if len(rows) == 1:  # one kind: already in event order
            return rows[0].astype(np.int64), subs[0], custs[0].astype(np.int64)
        rows_a, subs_a, custs_a = _cat(rows), _cat(subs), _cat(custs)
        order = np.lexsort((subs_a, rows_a))
        return rows_a[order], subs_a[order], custs_a[order]

    def next_due(self) -> int | None:
        return None  # reacts to events only

    def process(self, chunk: Chunk) -> None:
        reg_rows = chunk.rows(REGISTERED)
        rows, subs, custs = self._named(chunk)
        if reg_rows.size == 0 and rows.size == 0:
            return  # a stream's event naming no customer
        reg_c = chunk.col(REGISTERED, "customer_id").astype(np.int64) if reg_rows.size else _EMPTY
        reg_u = (reg_c, rows_pos(chunk, reg_rows), {})
        if rows.size:
            maybe = np.flatnonzero(~self.known.contains(custs))  # most customers were registered long ago
            found, _ = self.known.lookup(custs[maybe], rows_pos(chunk, rows[maybe]), *reg_u)
            cand = maybe[~found]
            if cand.size:
                emps = chunk.frame.employee[rows[cand]]
                pairs = pack2(emps, custs[cand])
                for k in first_per_key(pairs).tolist():  # candidates are in event order
                    pair = int(pairs[k])
                    if pair in self.fired:
                        continue
                    self.fired.add(pair)
                    i = int(cand[k])
                    self._emit(chunk, int(rows[i]), int(subs[i]), int(custs[i]))
        self.known.commit(*reg_u[::2])
        if reg_c.size:
            self.known_names.update(self.ctx.strings.texts(reg_c))

    def _emit(self, chunk: Chunk, row: int, sub: int, cust: int) -> None:
        f, strings = chunk.frame, self.ctx.strings
        kind = strings.text(int(f.kind[row]))
        field = "customer_id" if sub < 0 else f"{'items' if kind == PLAN else 'claims'}[{sub}].customer_id"
        details = {"kind": kind, "field": field}
        extra: dict[str, Any] = {}
        for name in {PLAN: ("date",), SUMMARY: ("date",), ASSIGNED: ("owner_id",), STAGE: ("stage",)}.get(kind, ()):
            extra[name] = _field(chunk, row, name)
        emp = strings.text(int(f.employee[row]))
        cust_id = strings.text(cust)
        reason = _UNREG_REASON.get(kind, "default")
        self.emit(
            ts=int(f.ts[row]),
            subject=(emp, cust_id),
            employee_id=emp,
            customer_id=cust_id,
            evidence=[(int(f.ts[row]), f.ids[row])],
            details=details,
            reason=reason,
            message=self.render(reason, details, employee_id=emp, customer_id=cust_id, **extra),
        )




def _entry_customers(rows: np.ndarray, entries: Entries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The customers named by list entries (plan items, summary claims): ``(row, index, code)``."""
    if len(entries) == 0:
        return _EMPTY, _EMPTY, _EMPTY
    codes = entries.col("customer_id").astype(np.int64)
    named = np.flatnonzero(codes >= 0)  # None names no customer
    return rows[entries.owner[named]], entries.index[named], codes[named]


def _field(chunk: Chunk, row: int, name: str) -> Any:
    """One field of the event at frame ``row`` (strings as text, dates as ISO), for a message."""
    value = chunk.event(row)[name]
    return value.isoformat() if hasattr(value, "isoformat") else value


# -- customer.ownership_conflict ------------------------------------------------------------------------
class OwnershipParams(DetectorParams):
    exempt_roles: list[str] = Field(
        default_factory=lambda: ["manager", "admin"],
        description="roles (as known at the event) that may work any customer",
    )


_OWN_REASON = {FOLLOWUP: "followup", REQUEST: "approval", ORDER: "order"}


class OwnershipConflict(Detector):
    id = "customer.ownership_conflict"
    title = "Working another salesperson's customer"
    Params = OwnershipParams
    default_severity = Severity.medium
    kinds = frozenset({FOLLOWUP, REQUEST, ORDER, REGISTERED, ASSIGNED, HIRED})
    messages = {
        "en": {
            "followup": "{employee_id} logged a follow-up with customer {customer_id} on {date}, "
                        "but the customer belongs to {owner_id}",
            "approval": "{employee_id} requested an approval for customer {customer_id} on {date}, "
                        "but the customer belongs to {owner_id}",
            "order": "{employee_id} recorded an order for customer {customer_id} on {date}, "
                     "but the customer belongs to {owner_id}",
            "default": "{employee_id} worked customer {customer_id} on {date}, but the customer belongs to {owner_id}",
        },
        "zh": {
            "followup": "{employee_id} 在 {date} 跟进了客户 {customer_id}，但该客户归属 {owner_id}",
            "approval": "{employee_id} 在 {date} 为客户 {customer_id} 发起了审批，但该客户归属 {owner_id}",
            "order": "{employee_id} 在 {date} 为客户 {customer_id} 录入了订单，但该客户归属 {owner_id}",
            "default": "{employee_id} 在 {date} 操作了客户 {customer_id}，但该客户归属 {owner_id}",
        },
    }

    not_state = frozenset({"exempt"})  # the exempt roles' codes, from the params

    def __init__(self, params: OwnershipParams, ctx: RuleContext):
        super().__init__(params, ctx)
        # customer -> owner and the (ts, id) of the event that set it; employee -> role, manager
        self.owners = Latest(owner=-1, src_ts=0, src_id=None)
        self.people = Latest(role=-1, manager=-1)
        self.exempt = np.array(sorted({ctx.strings.code(r) for r in params.exempt_roles}), dtype=np.int64)
        # pack2(E, C) already reported on the local day ``self.day``: earlier days can never fire again
        self.day = np.iinfo(np.int64).min
        self.fired: set[int] = set()

    @staticmethod
    def _owner_updates(chunk: Chunk) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        rows = np.concatenate([chunk.rows(REGISTERED), chunk.rows(ASSIGNED)])
        if rows.size == 0:
            return _NO_UPDATES
        order = np.argsort(rows, kind="stable")
        cust = np.concatenate([chunk.col(REGISTERED, "customer_id"), chunk.col(ASSIGNED, "customer_id")])
        owner = np.concatenate([chunk.col(REGISTERED, "owner_id"), chunk.col(ASSIGNED, "owner_id")])
        rows = rows[order]
        return (cust.astype(np.int64)[order], rows_pos(chunk, rows),
                {"owner": owner.astype(np.int64)[order], "src_ts": chunk.frame.ts[rows], "src_id": chunk.frame.ids[rows]})

    @staticmethod
    def _people_updates(chunk: Chunk) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        rows = chunk.rows(HIRED)
        if rows.size == 0:
            return _NO_UPDATES
        return (chunk.frame.employee[rows].astype(np.int64), rows_pos(chunk, rows),
                {"role": chunk.col(HIRED, "role").astype(np.int64),
                 "manager": chunk.col(HIRED, "manager_id").astype(np.int64)})

    def next_due(self) -> int | None:
        return None  # reacts to events only

    def process(self, chunk: Chunk) -> None:
        own_u = self._owner_updates(chunk)
        ppl_u = self._people_updates(chunk)
        parts = [(chunk.rows(k), chunk.col(k, "customer_id")) for k in (FOLLOWUP, REQUEST, ORDER) if chunk.has(k)]
        if parts:
            self._judge(chunk, parts, own_u, ppl_u)
        self.owners.commit(*own_u[::2])
        self.people.commit(*ppl_u[::2])

    def _judge(self, chunk: Chunk, parts: list, own_u: tuple, ppl_u: tuple) -> None:
        f = chunk.frame
        rows = _cat([p[0] for p in parts])
        cust = _cat([p[1] for p in parts])
        order = np.argsort(rows, kind="stable")
        rows, cust = rows[order], cust[order]
        emp = f.employee[rows].astype(np.int64)
        keep = (cust >= 0) & (emp >= 0)
        rows, cust, emp = rows[keep], cust[keep], emp[keep]
        pos = rows_pos(chunk, rows)
        _, own = self.owners.lookup(cust, pos, *own_u)
        owner = own["owner"]
        hit = (owner >= 0) & (owner != emp)
        if not hit.any():
            return
        role = self.people.lookup(emp, pos, *ppl_u)[1]["role"]
        boss = self.people.lookup(owner, pos, *ppl_u)[1]["manager"]
        hit &= ~np.isin(role, self.exempt) & (boss != emp)
        cand = np.flatnonzero(hit)
        if cand.size == 0:
            return
        days = self.ctx.clock.local_days(f.ts[rows[cand]])
        pairs = pack2(emp[cand], cust[cand])
        # the first candidate of each (E, C, day) in event order
        by_key = np.lexsort((cand, days, pairs))
        first = np.concatenate(([True], (pairs[by_key][1:] != pairs[by_key][:-1]) | (days[by_key][1:] != days[by_key][:-1])))
        strings = self.ctx.strings
        for k in np.sort(by_key[first]).tolist():
            day = int(days[k])
            if day != self.day:  # events come in time order: the days before are over
                self.day = day
                self.fired.clear()
            pair = int(pairs[k])
            if pair in self.fired:
                continue
            self.fired.add(pair)
            i = int(cand[k])
            row = int(rows[i])
            kind = strings.text(int(f.kind[row]))
            e_id, c_id, o_id = strings.text(int(emp[i])), strings.text(int(cust[i])), strings.text(int(owner[i]))
            date = days_to_date(int(days[k])).isoformat()
            details = {"owner_id": o_id, "kind": kind, "date": date}
            self.emit(
                ts=int(f.ts[row]),
                subject=(e_id, c_id, date),
                employee_id=e_id,
                customer_id=c_id,
                evidence=[(int(f.ts[row]), f.ids[row]), (int(own["src_ts"][i]), own["src_id"][i])],
                details=details,
                reason=_OWN_REASON.get(kind, "default"),
            )


DETECTORS = (CustomerUnregistered, OwnershipConflict)
