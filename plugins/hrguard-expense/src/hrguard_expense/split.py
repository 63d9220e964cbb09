"""``expense.split_claim``: one purchase claimed as several claims, each just under the approval limit.

Judges each counted ``expense.claimed`` C (an amount from ``min_share`` x ``limit`` up to, not
including, ``limit``): the group is C and the current records of the other counted claims of the same
employee, merchant and currency incurred within ``window`` days of C's date, before C in the one order
``(ts, id)``. It fires at C when the group has at least ``min_claims`` claims summing to ``limit`` or
more, unless a claim of the group was cited by an earlier finding of the rule: a claim belongs to one
split at most, so a split is reported once, at the claim that completes it.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from hrguard import Chunk, Detector, RuleContext, Severity

from .events import Currency
from ._claims import CLAIM, Claims, DayWindow, Keys, WindowParams, iso_day, merchant_name, text, whole_days

_EPS = 1e-9  # money compares as float64: ignore differences below a billionth of the limit


class SplitParams(WindowParams):
    limit: float = Field(5000, gt=0, description="the approval limit: a claim of this amount or more needs approval")
    min_claims: int = Field(2, ge=2, description="how many claims at least make a split")
    min_share: float = Field(0.2, ge=0, lt=1,
                             description="claims below this share of the limit are not counted (everyday spending)")
    currency: Currency | None = Field(None,
                                 description="judge only claims in this currency (ISO 4217); null: every currency, "
                                             "each against the same limit")


class SplitClaim(Detector):
    id = "expense.split_claim"
    title = "One purchase split into claims that each stay under the approval limit"
    Params = SplitParams
    default_severity = Severity.medium
    kinds = frozenset({CLAIM})
    messages = {
        "en": {
            "default": "{employee_id} claimed {total:,.2f} {currency} at {merchant} as {count} claims ({claims_text}) "
                       "incurred {first_incurred_on} to {last_incurred_on}, each under the approval limit of "
                       "{limit:,.2f}: a purchase split to avoid approval?",
            "same_day": "{employee_id} claimed {total:,.2f} {currency} at {merchant} as {count} claims ({claims_text}) "
                        "incurred on {first_incurred_on}, each under the approval limit of {limit:,.2f}: "
                        "a purchase split to avoid approval?",
        },
        "zh": {
            "default": "{employee_id} 将 {merchant} 的 {total:,.2f} {currency} 拆成 {count} 笔报销（{claims_text}，"
                       "{first_incurred_on} 至 {last_incurred_on}），每笔均低于审批限额 {limit:,.2f}，疑似拆单规避审批",
            "same_day": "{employee_id} 将 {merchant} 的 {total:,.2f} {currency} 拆成 {count} 笔报销（{claims_text}，"
                        "均在 {first_incurred_on}），每笔均低于审批限额 {limit:,.2f}，疑似拆单规避审批",
        },
    }

    def __init__(self, params: SplitParams, ctx: RuleContext):
        super().__init__(params, ctx)
        self.width = whole_days(params.window)
        self.currency = ctx.strings.code(params.currency) if params.currency else None
        self.keys = Keys()
        self.claims = Claims()
        self.counted = DayWindow()  # every counted claim so far, by (employee, merchant, currency)
        self.cited: set[int] = set()  # claims a finding has cited: each claim is in one split at most

    def process(self, chunk: Chunk) -> None:
        c = self.claims.read(chunk)
        if not c:
            return
        p = self.params
        counted = (c["amount"] >= p.min_share * p.limit) & (c["amount"] < p.limit)
        if self.currency is not None:
            counted &= c["currency"] == self.currency
        q = np.flatnonzero(counted)
        mine = {f: c[f][q] for f in (*DayWindow.FIELDS, "id", "row", "merchant", "currency", "employee")}
        key = self.keys.of(mine["employee"], self.keys.merchant(mine["merchant"], self.ctx.strings), mine["currency"])
        qi, e = self.counted.pairs(key, mine["day"], mine["pos"], self.width, key, mine)
        # the other claims' current records (one per claim: only one record of a claim is current)
        ok = (e["claim"] != mine["claim"][qi]) & self.claims.current(e["claim"], e["pos"], mine["pos"][qi], c)
        qi, e = qi[ok], {f: v[ok] for f, v in e.items()}
        n = q.size
        count = np.bincount(qi, minlength=n) + 1
        total = np.bincount(qi, weights=e["amount"], minlength=n) + mine["amount"]
        reached = np.flatnonzero((count >= p.min_claims) & (total >= p.limit * (1 - _EPS)))
        if reached.size:  # few: in event order, since a finding makes its claims unavailable to later ones
            by_q = np.argsort(qi, kind="stable")
            bounds = np.searchsorted(qi[by_q], np.stack([reached, reached + 1]))
            for i, a, b in zip(reached.tolist(), bounds[0].tolist(), bounds[1].tolist()):
                group = {f: v[by_q[a:b]] for f, v in e.items()}
                if self.cited.isdisjoint(group["claim"].tolist()):
                    self.cited.update(group["claim"].tolist())
                    self.cited.add(int(mine["claim"][i]))
                    self._emit(chunk, mine, i, group, float(total[i]))
        self.counted.commit(key, mine)
        self.claims.commit(c)

    def _emit(self, chunk: Chunk, mine: dict[str, np.ndarray], i: int, group: dict[str, np.ndarray], total: float) -> None:
        f = chunk.frame
        strings = self.ctx.strings
        row = int(mine["row"][i])
        ts = int(mine["ts"][i])
        order = np.lexsort((group["id"].astype(str), group["ts"]))
        claims = [text(strings, c) for c in group["claim"][order].tolist()] + [text(strings, mine["claim"][i])]
        days = np.append(group["day"], mine["day"][i])
        details = {
            "claim_id": text(strings, mine["claim"][i]),
            "claim_ids": claims,
            "count": len(claims),
            "total": total,
            "limit": float(self.params.limit),
            "currency": text(strings, mine["currency"][i]),
            "merchant": merchant_name(strings, mine["merchant"][i]),
            "first_incurred_on": iso_day(days.min()),
            "last_incurred_on": iso_day(days.max()),
        }
        evidence = [(int(t), str(x)) for t, x in zip(group["ts"].tolist(), group["id"].tolist())] + [(ts, f.ids[row])]
        employee = text(strings, f.employee[row])
        reason = "same_day" if days.min() == days.max() else "default"
        self.emit(ts=ts, subject=(f.ids[row],), employee_id=employee, customer_id=None, evidence=evidence,
                  details=details, reason=reason,
                  message=self.render(reason, details, employee_id=employee, claims_text=", ".join(claims)))


DETECTORS = (SplitClaim,)
