"""``summary.unsupported_claim``: the daily work summary claims work that left no trace.

Each claim of each ``summary.submitted`` (employee E, date D) is checked against what E left on local
date D before the summary in the one order of events: a ``visit`` claim for customer C needs a visit
follow-up by E for C and a clock-in by E within ``radius_m`` of C's location (as of the summary); a
``call`` claim needs a phone, WeChat or email follow-up by E for C.

Every punch with coordinates and every visit/call-channel follow-up is kept in a :class:`KeyedRuns`
keyed by (employee, local date): appends and the look-ups of a chunk's claims are numpy (sorted runs
and binary searches), so neither hot kind is touched by a Python loop and nothing is quadratic. The
Python loop is over summaries and their claims (a few per employee-day) and over findings.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from ..columns import Chunk
from ..detector import Detector, DetectorParams, RuleContext
from ..findings import Severity
from ..kit import haversine_m, pack2, rows_pos
from ..timeutil import days_to_date
from .visit import CUSTOMER, FOLLOWUP, CustomerPlaces, customer_label

SUMMARY, PUNCH = "summary.submitted", "attendance.punched"
_PUNCH, _VISIT, _CALL = 0, 1, 2  # kinds of trace (a visit claim wants _VISIT follow-ups, a call claim _CALL)
_CALL_CHANNELS = ("phone", "wechat", "email")
REQUIREMENTS = ("followup", "punch")


class KeyedRuns:
    """An append-only multimap from ``int64`` keys to rows of columns, queried for all rows of many keys.

    Rows live in a few runs sorted by key; a new run is merged into the one before it while that one is
    at most twice its size (a binary counter), so there are O(log n) runs, appending n rows costs
    O(n log n) in all, and a query is two binary searches per run: vectorised whatever the chunking.
    Within a key, rows keep their insertion order.
    """

    def __init__(self, **dtypes: type) -> None:
        self.dtypes = dtypes
        self.runs: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []

    def __len__(self) -> int:
        return sum(k.size for k, _ in self.runs)

    def add(self, keys: np.ndarray, cols: dict[str, np.ndarray]) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        if keys.size == 0:
            return
        o = np.argsort(keys, kind="stable")
        self.runs.append((keys[o], {n: np.asarray(cols[n], dtype=t)[o] for n, t in self.dtypes.items()}))
        while len(self.runs) > 1 and self.runs[-2][0].size <= 2 * self.runs[-1][0].size:
            (k2, c2), (k1, c1) = self.runs.pop(), self.runs.pop()
            keys = np.concatenate([k1, k2])
            o = np.argsort(keys, kind="stable")  # older rows first within a key
            self.runs.append((keys[o], {n: np.concatenate([c1[n], c2[n]])[o] for n in self.dtypes}))

    def find(self, q_keys: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Every stored row whose key equals a query key: ``(query index, columns)`` of the matches."""
        q_keys = np.asarray(q_keys, dtype=np.int64)
        nq = q_keys.size
        qs: list[np.ndarray] = []
        parts: dict[str, list[np.ndarray]] = {n: [] for n in self.dtypes}
        for keys, cols in self.runs:
            lo = np.searchsorted(keys, q_keys, side="left")
            cnt = np.searchsorted(keys, q_keys, side="right") - lo
            total = int(cnt.sum())
            if total == 0:
                continue
            qi = np.repeat(np.arange(nq), cnt)
            idx = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(total)
            qs.append(qi)
            for n in self.dtypes:
                parts[n].append(cols[n][idx])
        if not qs:
            return np.zeros(0, np.int64), {n: np.zeros(0, t) for n, t in self.dtypes.items()}
        return np.concatenate(qs), {n: np.concatenate(v) for n, v in parts.items()}


class SummaryParams(DetectorParams):
    radius_m: float = Field(500, ge=0, description="a clock-in within this distance of the customer's location supports a visit claim, metres")
    require: list[Literal["followup", "punch"]] = Field(
        default=["followup", "punch"], min_length=1,
        description="which traces a claim needs: 'followup' (a follow-up record of the claimed kind) and/or "
                    "'punch' (for visits: a clock-in near the customer)",
    )

    @field_validator("require")
    @classmethod
    def _dedupe(cls, v: list[str]) -> list[str]:
        return [r for r in REQUIREMENTS if r in v]


class SummaryUnsupportedClaim(Detector):
    id = "summary.unsupported_claim"
    title = "The daily summary claims a visit or call that left no follow-up or clock-in that day"
    Params = SummaryParams
    default_severity = Severity.medium
    kinds = frozenset({SUMMARY, FOLLOWUP, PUNCH, CUSTOMER})
    messages = {
        "en": {
            "visit_followup": "{employee_id}'s work summary for {date} says they visited customer {customer}, "
                              "but no visit follow-up for that customer was logged that day",
            "visit_punch": "{employee_id}'s work summary for {date} says they visited customer {customer}, "
                           "but no clock-in that day was within {radius_m:,.0f} m of the customer ({nearest})",
            "visit_followup_punch": "{employee_id}'s work summary for {date} says they visited customer {customer}, "
                                    "but that day there is neither a visit follow-up for the customer nor a clock-in "
                                    "within {radius_m:,.0f} m of it ({nearest})",
            "call_followup": "{employee_id}'s work summary for {date} says they called customer {customer}, "
                             "but no phone, WeChat or email follow-up for that customer was logged that day",
            "default": "{employee_id}'s work summary for {date} claims work with customer {customer} "
                       "that left no trace (missing: {missing})",
        },
        "zh": {
            "visit_followup": "{employee_id} 在 {date} 的工作总结中称拜访了客户 {customer}，但当天没有该客户的拜访跟进记录",
            "visit_punch": "{employee_id} 在 {date} 的工作总结中称拜访了客户 {customer}，但当天没有一次打卡在客户 "
                           "{radius_m:,.0f} 米范围内（{nearest}）",
            "visit_followup_punch": "{employee_id} 在 {date} 的工作总结中称拜访了客户 {customer}，但当天既没有该客户的拜访"
                                    "跟进记录，也没有在客户 {radius_m:,.0f} 米范围内的打卡（{nearest}）",
            "call_followup": "{employee_id} 在 {date} 的工作总结中称联系了客户 {customer}，但当天没有该客户的电话、微信或"
                             "邮件跟进记录",
            "default": "{employee_id} 在 {date} 的工作总结中所称与客户 {customer} 的工作没有留下记录（缺少：{missing}）",
        },
    }

    def __init__(self, params: SummaryParams, ctx: RuleContext):
        super().__init__(params, ctx)
        self.places = CustomerPlaces()
        # every trace that can support a claim, by (employee, local date); ``ref`` indexes ``_ids``
        self.traces = KeyedRuns(kind=np.int8, cust=np.int64, lat=np.float64, lon=np.float64,
                                pos=np.int64, ts=np.int64, ref=np.int64)
        self._ids: list[str] = []

    def next_due(self) -> int | None:
        return None  # reacts to events only

    def process(self, chunk: Chunk) -> None:
        self.places.stage(chunk)
        self._record(chunk)  # before judging: a trace counts only when its position is before the summary's
        if chunk.has(SUMMARY):
            self._judge(chunk)
        self.places.commit()

    # -- traces ------------------------------------------------------------------------------------
    def _record(self, chunk: Chunk) -> None:
        f, strings = chunk.frame, self.ctx.strings
        prow = chunk.rows(PUNCH)
        if prow.size:
            lat, lon = chunk.col(PUNCH, "lat"), chunk.col(PUNCH, "lon")
            keep = ~np.isnan(lat) & (f.employee[prow] >= 0)  # a punch without coordinates is near nothing
            self._add(chunk, prow[keep], np.full(int(keep.sum()), _PUNCH), np.full(int(keep.sum()), -1),
                      lat[keep], lon[keep])
        frow = chunk.rows(FOLLOWUP)
        if frow.size:
            ch = chunk.col(FOLLOWUP, "channel")
            kind = np.full(frow.size, -1, dtype=np.int8)
            visit = strings.find("visit")
            if visit >= 0:
                kind[ch == visit] = _VISIT
            calls = [c for c in (strings.find(x) for x in _CALL_CHANNELS) if c >= 0]
            if calls:
                kind[np.isin(ch, calls)] = _CALL
            keep = (kind >= 0) & (f.employee[frow] >= 0)
            nan = np.full(int(keep.sum()), np.nan)
            self._add(chunk, frow[keep], kind[keep], chunk.col(FOLLOWUP, "customer_id")[keep], nan, nan)

    def _add(self, chunk: Chunk, rows: np.ndarray, kind: np.ndarray, cust: np.ndarray, lat: np.ndarray,
             lon: np.ndarray) -> None:
        if rows.size == 0:
            return
        f = chunk.frame
        ts = f.ts[rows]
        start = len(self._ids)
        self._ids.extend(f.ids[rows].tolist())
        keys = pack2(f.employee[rows], self.ctx.clock.local_days(ts))
        self.traces.add(keys, {"kind": kind, "cust": cust, "lat": lat, "lon": lon, "pos": rows_pos(chunk, rows),
                               "ts": ts, "ref": np.arange(start, start + rows.size)})

    # -- judging -----------------------------------------------------------------------------------
    def _judge(self, chunk: Chunk) -> None:
        f, strings, p = chunk.frame, self.ctx.strings, self.params
        srows = chunk.rows(SUMMARY)
        dates = chunk.col(SUMMARY, "date")
        q_s, q_i, q_act, q_c = [], [], [], []
        for k, claims in enumerate(chunk.col(SUMMARY, "claims")):
            for i, c in enumerate(claims):
                if c.activity == "other":
                    continue  # not judged
                q_s.append(k)
                q_i.append(i)
                q_act.append(_VISIT if c.activity == "visit" else _CALL)
                q_c.append(strings.code(c.customer_id))
        if not q_s:
            return
        qs = np.asarray(q_s, dtype=np.int64)
        act = np.asarray(q_act, dtype=np.int8)
        cust = np.asarray(q_c, dtype=np.int64)
        row = srows[qs]
        emp = f.employee[row].astype(np.int64)
        day = dates[qs].astype(np.int64)
        pos = rows_pos(chunk, row)
        nq = qs.size
        place = self.places.lookup(cust, pos)
        located = ~np.isnan(place["lat"])

        qi, tr = self.traces.find(pack2(emp, day))
        before = tr["pos"] < pos[qi]  # on D, and before the summary in the one order of events
        qi, tr = qi[before], {n: v[before] for n, v in tr.items()}
        # follow-up: one of the claimed kind, for the claimed customer
        fu = (tr["kind"] == act[qi]) & (tr["cust"] == cust[qi])
        has_fu = np.bincount(qi[fu], minlength=nq) > 0
        # punch: the nearest one (earliest on a tie) to the customer's location as of the summary
        pm = (tr["kind"] == _PUNCH) & (act[qi] == _VISIT) & located[qi]
        near_d = np.full(nq, np.nan)
        near_ref = np.full(nq, -1, dtype=np.int64)
        near_ts = np.zeros(nq, dtype=np.int64)
        if pm.any():
            pq = qi[pm]
            d = haversine_m(tr["lat"][pm], tr["lon"][pm], place["lat"][pq], place["lon"][pq])
            o = np.lexsort((tr["pos"][pm], d, pq))
            first = o[np.r_[True, pq[o][1:] != pq[o][:-1]]]
            near_d[pq[first]] = d[first]
            near_ref[pq[first]] = tr["ref"][pm][first]
            near_ts[pq[first]] = tr["ts"][pm][first]
        has_punch = near_d <= p.radius_m  # nan (no punch with coordinates) is False

        need_fu = np.full(nq, "followup" in p.require)
        need_punch = ("punch" in p.require) & (act == _VISIT) & located
        miss_fu = need_fu & ~has_fu
        miss_punch = need_punch & ~has_punch
        fire = np.flatnonzero(miss_fu | miss_punch)
        if fire.size == 0:
            return
        all_missing = (miss_fu.astype(int) + miss_punch) == (need_fu.astype(int) + need_punch)

        zh = self.ctx.language == "zh"
        for j in fire.tolist():
            r = int(row[j])
            missing = [name for name, m in (("followup", miss_fu[j]), ("punch", miss_punch[j])) if m]
            activity = "visit" if act[j] == _VISIT else "call"
            d_near = None if np.isnan(near_d[j]) else round(float(near_d[j]), 1)
            details = {
                "missing": missing,
                "activity": activity,
                "claim_index": int(q_i[j]),
                "date": days_to_date(int(day[j])).isoformat(),
                "nearest_punch_m": d_near,
            }
            evidence = [(int(f.ts[r]), f.ids[r])]
            if miss_punch[j]:  # where the customer is, and where the employee clocked in instead
                evidence.append((int(place["src_ts"][j]), place["src"][j]))
                if near_ref[j] >= 0:
                    evidence.append((int(near_ts[j]), self._ids[int(near_ref[j])]))
            if d_near is None:
                nearest = "当天没有带定位的打卡" if zh else "no clock-in with a location that day"
            else:
                nearest = f"最近的打卡距客户 {d_near:,.0f} 米" if zh else f"the nearest was {d_near:,.0f} m away"
            cid = strings.text(int(cust[j]))
            emp_id = strings.text(int(emp[j]))
            reason = f"{activity}_{'_'.join(missing)}"
            self.emit(
                ts=int(f.ts[r]),
                subject=(f.ids[r], int(q_i[j])),
                employee_id=emp_id,
                customer_id=cid,
                evidence=evidence,
                details=details,
                reason=reason,
                severity=self.ctx.severity.raised() if all_missing[j] else None,
                message=self.render(
                    reason, {**details, "missing": ", ".join(missing)}, employee_id=emp_id or "-", customer_id=cid,
                    customer=customer_label(strings, cid, int(place["name"][j])), radius_m=float(p.radius_m),
                    nearest=nearest,
                ),
            )


DETECTORS = (SummaryUnsupportedClaim,)
