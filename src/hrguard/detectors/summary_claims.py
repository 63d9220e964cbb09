"""``summary.unsupported_claim``: the daily work summary claims work that left no trace.

Each claim of each ``summary.submitted`` (employee E, date D) is checked against what E left on local
date D before the summary in the one order of events: a ``visit`` claim for customer C needs a visit
follow-up by E for C and a clock-in by E within ``radius_m`` of C's location (as of the summary); a
``call`` claim needs a phone, WeChat or email follow-up by E for C.

Every punch with coordinates and every visit/call-channel follow-up is a *trace*, kept in a
:class:`hrguard.state.Rows` keyed by (employee, local date): appends and the look-ups of a chunk's
summaries are sorted runs and binary searches, so nothing is quadratic, and a stream's one-event
chunks take the store's own few-row path. Claims are read as flat columns (:meth:`~hrguard.Chunk.nested`)
and joined with their summary's traces in numpy; the only Python loop is over findings. One code path
serves a batch chunk and a stream's one event; the customer locations (:class:`~.visit.CustomerPlaces`)
and the traces are saved with the detector.
"""

from __future__ import annotations

from typing import Any, Iterable, Literal

import numpy as np
from pydantic import Field, field_validator

from ..columns import Chunk
from ..events import MIN_US, days_to_date
from ..findings import Severity
from ..sdk import Detector, DetectorParams, Duration, RuleContext, haversine_m, pack2, rows_pos, unpack2
from ..sdk.state import Rows
from .visit import CUSTOMER, FOLLOWUP, CustomerPlaces, customer_label

SUMMARY, PUNCH = "summary.submitted", "attendance.punched"
_PUNCH, _VISIT, _CALL = 0, 1, 2  # kinds of trace (a visit claim wants _VISIT follow-ups, a call claim _CALL)
_CALL_CHANNELS = ("phone", "wechat", "email")
REQUIREMENTS = ("followup", "punch")


class SummaryParams(DetectorParams):
    radius_m: float = Field(500, ge=0, description="a clock-in within this distance of the customer's location supports a visit claim, metres")
    require: list[Literal["followup", "punch"]] = Field(
        default=["followup", "punch"], min_length=1,
        description="which traces a claim needs: 'followup' (a follow-up record of the claimed kind) and/or "
                    "'punch' (for visits: a clock-in near the customer)",
    )

    horizon: Duration = Field(
        "31d", validate_default=True,
        description="a summary is judged when it arrives within this long after its date has ended; the day's traces "
                    "are kept that long (a stream forgets them after it)")

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
        # every trace that can support a claim, found by (employee, local date)
        self.traces = Rows(**_TRACE_FIELDS)

    def next_due(self) -> int | None:
        return None  # reacts to events only

    def expire(self, watermark: int) -> None:
        """A summary for date D is judged only up to ``horizon`` after D ends: the traces of dates that
        ended more than ``horizon`` before the watermark are out of reach. Customers' locations are kept."""
        cut = watermark - self.params.horizon
        if cut <= MIN_US:  # a horizon longer than the calendar: nothing is ever out of reach
            return
        before = self.ctx.clock.local_day(cut) - 1
        self.traces.forget(lambda keys: unpack2(keys)[1] < before)

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
            self._add(chunk, prow[keep], _PUNCH, -1, lat[keep], lon[keep])
        frow = chunk.rows(FOLLOWUP)
        if frow.size:
            ch = chunk.col(FOLLOWUP, "channel")
            kind = np.full(frow.size, -1, dtype=np.int8)
            for channel in ("visit", *_CALL_CHANNELS):
                code = strings.find(channel)
                if code >= 0:
                    kind[ch == code] = _VISIT if channel == "visit" else _CALL
            keep = (kind >= 0) & (f.employee[frow] >= 0)
            self._add(chunk, frow[keep], kind[keep], chunk.col(FOLLOWUP, "customer_id")[keep], np.nan, np.nan)

    def _add(self, chunk: Chunk, rows: np.ndarray, kind: Any, cust: Any, lat: Any, lon: Any) -> None:
        """Add traces, findable by (employee, local date) (``kind``...``lon``: arrays aligned with ``rows``, or
        one value for all)."""
        if rows.size:
            f = chunk.frame
            ts = f.ts[rows]
            self.traces.add(pack2(f.employee[rows], self.ctx.clock.local_days(ts)), {
                "kind": kind, "cust": cust, "lat": lat, "lon": lon, "pos": rows_pos(chunk, rows), "ts": ts,
                "id": f.ids[rows]})

    # -- judging -----------------------------------------------------------------------------------
    def _judge(self, chunk: Chunk) -> None:
        f, strings, p = chunk.frame, self.ctx.strings, self.params
        claims = chunk.nested(SUMMARY, "claims")
        act = _activities(claims.col("activity"), strings)
        judged = act >= 0  # "other" claims are not judged, nor a summary that came after the horizon
        srows = chunk.rows(SUMMARY)
        s_day = chunk.col(SUMMARY, "date")
        in_time = chunk.frame.ts[srows] <= self.ctx.clock.day_ends(s_day) + p.horizon
        judged = np.flatnonzero(judged & in_time[claims.owner])
        if judged.size == 0:
            return
        cust = claims.col("customer_id")[judged].astype(np.int64)
        act, claim_index, qs = act[judged], claims.index[judged], claims.owner[judged]
        row = srows[qs]
        emp = f.employee[row].astype(np.int64)
        day = chunk.col(SUMMARY, "date")[qs]
        pos = rows_pos(chunk, row)
        nq = qs.size
        place = self.places.lookup(cust, pos)
        located = ~np.isnan(place["lat"])

        # the traces of each judged summary's (employee, date) before it in the one order of events
        starts = np.ones(qs.size, dtype=bool)  # qs ascends: np.unique(qs, return_inverse=True) without its sort
        starts[1:] = qs[1:] != qs[:-1]
        summ, claim_summ = qs[starts], np.cumsum(starts) - 1
        s_row = srows[summ]
        s_pos = rows_pos(chunk, s_row)
        ts_of, tr = self.traces.find(pack2(f.employee[s_row], chunk.col(SUMMARY, "date")[summ]))
        keep = np.flatnonzero(tr["pos"] < s_pos[ts_of])  # indices into ``tr``
        ts_of = ts_of[keep]
        kind = tr["kind"][keep].astype(np.int64)

        # follow-up: one of the claimed kind, for the claimed customer, in the claim's summary's traces
        fu = kind != _PUNCH
        has_fu = _member(_claim_key(claim_summ, cust, act), _claim_key(ts_of[fu], tr["cust"][keep[fu]], kind[fu]))
        # punch: the nearest one (earliest on a tie) to the customer's location as of the summary
        near_d = np.full(nq, np.nan)
        near_ref = np.full(nq, -1, dtype=np.int64)  # the nearest punch, an index into ``tr``
        want = np.flatnonzero((act == _VISIT) & located)
        punches = ~fu
        if want.size and punches.any():
            p_of, p_ref = ts_of[punches], keep[punches]
            o = np.argsort(p_of, kind="stable")
            p_of, p_ref = p_of[o], p_ref[o]
            first = np.searchsorted(p_of, claim_summ[want], side="left")
            cnt = np.searchsorted(p_of, claim_summ[want], side="right") - first
            total = int(cnt.sum())
            if total:
                pq = np.repeat(want, cnt)
                ref = p_ref[np.repeat(first - (np.cumsum(cnt) - cnt), cnt) + np.arange(total)]
                d = haversine_m(tr["lat"][ref], tr["lon"][ref], place["lat"][pq], place["lon"][pq])
                best = _nearest_earliest(cnt[cnt > 0], d, tr["pos"][ref])
                near_d[pq[best]] = d[best]
                near_ref[pq[best]] = ref[best]
        has_punch = near_d <= p.radius_m  # nan (no punch with coordinates) is False

        need_fu = np.full(nq, "followup" in p.require)
        need_punch = ("punch" in p.require) & (act == _VISIT) & located
        miss_fu = need_fu & ~has_fu
        miss_punch = need_punch & ~has_punch
        fire = np.flatnonzero(miss_fu | miss_punch)
        if fire.size == 0:
            return
        all_missing = (miss_fu.astype(int) + miss_punch) == (need_fu.astype(int) + need_punch)

        self._emit_all(f, tr, zip(
            row[fire].tolist(), miss_fu[fire].tolist(), miss_punch[fire].tolist(), act[fire].tolist(),
            near_d[fire].tolist(), near_ref[fire].tolist(), claim_index[fire].tolist(), day[fire].tolist(),
            strings.texts(cust[fire]), strings.texts(emp[fire]), all_missing[fire].tolist(),
            place["src_ts"][fire].tolist(), place["src"][fire].tolist(), place["name"][fire].tolist(),
        ))

    def _emit_all(self, f: Any, tr: dict[str, np.ndarray], fired: Iterable[tuple]) -> None:
        """One finding per unsupported claim: ``(summary row, follow-up missing, punch missing, activity,
        nearest punch distance (nan: none), its index in the traces ``tr`` (-1), claim index, date, customer,
        employee, nothing met, customer location's src_ts, src, name code)``."""
        p, strings = self.params, self.ctx.strings
        zh = self.ctx.language == "zh"
        log_ts, log_id = tr["ts"], tr["id"]
        for r, fu_missing, punch_missing, a, d, k, i, dy, c, e, raise_it, src_ts, src, name_code in fired:
            missing = [what for what, m in (("followup", fu_missing), ("punch", punch_missing)) if m]
            activity = "visit" if a == _VISIT else "call"
            d_near = None if d != d else round(d, 1)  # nan: no punch with coordinates
            details = {
                "missing": missing,
                "activity": activity,
                "claim_index": i,
                "date": days_to_date(dy).isoformat(),
                "nearest_punch_m": d_near,
            }
            t = int(f.ts[r])
            evidence = [(t, f.ids[r])]
            if punch_missing:  # where the customer is, and where the employee clocked in instead
                evidence.append((src_ts, src))
                if k >= 0:
                    evidence.append((int(log_ts[k]), log_id[k]))
            if d_near is None:
                nearest = "当天没有带定位的打卡" if zh else "no clock-in with a location that day"
            else:
                nearest = f"最近的打卡距客户 {d_near:,.0f} 米" if zh else f"the nearest was {d_near:,.0f} m away"
            reason = f"{activity}_{'_'.join(missing)}"
            self.emit(
                ts=t,
                subject=(f.ids[r], i),
                employee_id=e,
                customer_id=c,
                evidence=evidence,
                details=details,
                reason=reason,
                severity=self.ctx.severity.raised() if raise_it else None,
                message=self.render(
                    reason, {**details, "missing": ", ".join(missing)}, employee_id=e or "-", customer_id=c,
                    customer=customer_label(strings, c, name_code), radius_m=float(p.radius_m), nearest=nearest,
                ),
            )


def _nearest_earliest(sizes: np.ndarray, d: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Per run of ``sizes`` consecutive rows, the row with the smallest ``d``, the smallest ``pos`` on a tie."""
    starts = np.cumsum(sizes) - sizes
    group = np.repeat(np.arange(sizes.size), sizes)
    tie = d == np.minimum.reduceat(d, starts)[group]
    cand_pos = np.where(tie, pos, np.iinfo(np.int64).max)
    return np.flatnonzero(tie & (cand_pos == np.minimum.reduceat(cand_pos, starts)[group]))


def _member(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.isin(a, b)`` for ``int64`` arrays by one sort and a binary search (a few numpy calls, not dozens)."""
    if b.size == 0:
        return np.zeros(a.size, dtype=bool)
    b = np.sort(b)
    i = np.minimum(np.searchsorted(b, a), b.size - 1)
    return b[i] == a


def _claim_key(summary: np.ndarray, customer: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """One ``int64`` per (summary of the chunk, customer code, kind of trace): fits while summaries < 2**29."""
    return (np.asarray(summary, dtype=np.int64) << 34) | (np.asarray(customer, dtype=np.int64) << 2) | kind


def _activities(codes: np.ndarray, strings: Any) -> np.ndarray:
    """``_VISIT``/``_CALL`` per claim activity (codes), ``-1`` for ``other`` (not judged)."""
    out = np.full(codes.size, -1, dtype=np.int64)
    for name, act in (("visit", _VISIT), ("call", _CALL)):
        code = strings.find(name)
        if code >= 0:
            out[codes == code] = act
    return out


_TRACE_FIELDS = {  # the columns of a trace (``cust``: -1 for a punch; ``lat``/``lon``: nan for a follow-up)
    "kind": np.int8, "cust": np.int64, "lat": np.float64, "lon": np.float64, "pos": np.int64, "ts": np.int64,
    "id": object,
}


DETECTORS = (SummaryUnsupportedClaim,)
