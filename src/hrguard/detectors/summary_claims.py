"""``summary.unsupported_claim``: the daily work summary claims work that left no trace.

Each claim of each ``summary.submitted`` (employee E, date D) is checked against what E left on local
date D before the summary in the one order of events: a ``visit`` claim for customer C needs a visit
follow-up by E for C and a clock-in by E within ``radius_m`` of C's location (as of the summary); a
``call`` claim needs a phone, WeChat or email follow-up by E for C.

Every punch with coordinates and every visit/call-channel follow-up is appended to a trace log and
found by (employee, local date) through a :class:`KeyedRuns`: appends and the look-ups of a chunk's
summaries are numpy (sorted runs and binary searches), so neither hot kind is touched by a Python loop
and nothing is quadratic. Claims are read as flat columns and joined with their summary's traces
in numpy; the only Python loop is over findings. A stream's events take Python paths instead (traces
wait in a list, a summary's claims are judged one by one): numpy calls cost more than their work.
"""

from __future__ import annotations

from typing import Any, Iterable, Literal

import numpy as np
from pydantic import Field, field_validator

from ..columns import Chunk
from ..detector import Detector, DetectorParams, RuleContext
from ..findings import Severity
from ..kit import GrowBuf, haversine_m, pack2, rows_pos
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
            # a linear merge of two sorted runs; the newer run's rows go after the older's within a key
            at = np.searchsorted(k1, k2, side="right") + np.arange(k2.size)
            old = np.ones(k1.size + k2.size, dtype=bool)
            old[at] = False
            self.runs.append((_merged(k1, k2, at, old), {n: _merged(c1[n], c2[n], at, old) for n in self.dtypes}))

    def find_one(self, key: int) -> dict[str, np.ndarray]:
        """:meth:`find` for one key (two binary searches per run, no other numpy call): its rows' columns."""
        parts = []
        for keys, cols in self.runs:
            lo, hi = keys.searchsorted(key, side="left"), keys.searchsorted(key, side="right")
            if hi > lo:
                parts.append(cols if hi - lo == keys.size else {n: c[lo:hi] for n, c in cols.items()})
        if not parts:
            return {n: np.zeros(0, t) for n, t in self.dtypes.items()}
        return parts[0] if len(parts) == 1 else {n: np.concatenate([q[n] for q in parts]) for n in self.dtypes}

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


def _merged(older: np.ndarray, newer: np.ndarray, at: np.ndarray, old: np.ndarray) -> np.ndarray:
    """``newer`` placed at ``at`` and ``older`` in the rest (the ``old`` slots), in one new array."""
    out = np.empty(old.size, dtype=older.dtype)
    out[at] = newer
    out[old] = older
    return out


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
        # every trace that can support a claim, in arrival order; ``runs`` finds them by (employee, local date)
        self.log = {name: GrowBuf(dtype, fill) for name, (dtype, fill) in _TRACE_FIELDS.items()}
        self.runs = KeyedRuns(ref=np.int64)
        self._pending: list[tuple] = []  # traces of small chunks not yet in the log (see SMALL)

    def next_due(self) -> int | None:
        return None  # reacts to events only

    def process(self, chunk: Chunk) -> None:
        self.places.stage(chunk)
        # before judging: a trace counts only when its position is before the summary's
        if len(chunk) < self.SMALL:
            self._record_small(chunk)
        else:
            self._flush()
            self._record(chunk)
        if chunk.has(SUMMARY):
            self._flush()
            (self._judge_few if len(chunk) < self.SMALL else self._judge)(chunk)
        self.places.commit()

    # -- traces ------------------------------------------------------------------------------------
    #: chunks of fewer events (a stream's) keep their traces in a Python list, moved into the numpy log in
    #: one go before a summary is judged or once it holds ``FLUSH_AT`` traces: numpy calls cost more than
    #: a few events' Python work
    SMALL = 8
    FLUSH_AT = 256

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
        if rows.size:
            f = chunk.frame
            self._append(f.employee[rows], f.ts[rows], kind, cust, lat, lon, rows_pos(chunk, rows), f.ids[rows])

    def _record_small(self, chunk: Chunk) -> None:
        """:meth:`_record` for a few events, in Python: the same traces, appended to ``_pending``."""
        f, strings, pending = chunk.frame, self.ctx.strings, self._pending
        prow = chunk.rows(PUNCH)
        if prow.size:
            for row, lat, lon in zip(prow.tolist(), chunk.col(PUNCH, "lat").tolist(), chunk.col(PUNCH, "lon").tolist()):
                emp = int(f.employee[row])
                if lat == lat and emp >= 0:  # not nan: a punch without coordinates is near nothing
                    pending.append((emp, int(f.ts[row]), _PUNCH, -1, lat, lon, f.base + row, f.ids[row]))
        frow = chunk.rows(FOLLOWUP)
        if frow.size:
            channels = strings.texts(chunk.col(FOLLOWUP, "channel"))
            for row, ch, cust in zip(frow.tolist(), channels, chunk.col(FOLLOWUP, "customer_id").tolist()):
                kind = _VISIT if ch == "visit" else _CALL if ch in _CALL_CHANNELS else -1
                emp = int(f.employee[row])
                if kind >= 0 and emp >= 0:
                    pending.append((emp, int(f.ts[row]), kind, cust, np.nan, np.nan, f.base + row, f.ids[row]))
        if len(pending) >= self.FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            emp, ts, kind, cust, lat, lon, pos, ids = zip(*self._pending)
            self._pending = []
            self._append(np.array(emp), np.array(ts, dtype=np.int64), np.array(kind), np.array(cust), np.array(lat),
                         np.array(lon), np.array(pos, dtype=np.int64), np.array(ids, dtype=object))

    def _append(self, emp: np.ndarray, ts: np.ndarray, kind: np.ndarray, cust: np.ndarray, lat: np.ndarray,
                lon: np.ndarray, pos: np.ndarray, ids: np.ndarray) -> None:
        """Add traces (in event order) to the log, findable by (employee, local date)."""
        start = self.log["ts"].n
        for name, values in (("kind", kind), ("cust", cust), ("lat", lat), ("lon", lon), ("pos", pos), ("ts", ts),
                             ("id", ids)):
            self.log[name].extend(values)
        self.runs.add(pack2(emp, self.ctx.clock.local_days(ts)), {"ref": np.arange(start, start + ts.size)})

    # -- judging -----------------------------------------------------------------------------------
    def _judge(self, chunk: Chunk) -> None:
        f, strings, p = chunk.frame, self.ctx.strings, self.params
        claims = chunk.nested(SUMMARY, "claims")
        act = _activities(claims.col("activity"), strings)
        judged = np.flatnonzero(act >= 0)  # "other" claims are not judged
        if judged.size == 0:
            return
        cust = claims.col("customer_id")[judged].astype(np.int64)
        act, claim_index, qs = act[judged], claims.index[judged], claims.owner[judged]
        srows = chunk.rows(SUMMARY)
        row = srows[qs]
        emp = f.employee[row].astype(np.int64)
        day = chunk.col(SUMMARY, "date")[qs]
        pos = rows_pos(chunk, row)
        nq = qs.size
        place = self.places.lookup(cust, pos)
        located = ~np.isnan(place["lat"])

        # the traces of each judged summary's (employee, date) before it in the one order of events
        summ, claim_summ = np.unique(qs, return_inverse=True)
        s_row = srows[summ]
        s_pos = rows_pos(chunk, s_row)
        ts_of, tr = self.runs.find(pack2(f.employee[s_row], chunk.col(SUMMARY, "date")[summ]))
        tr = tr["ref"]
        before = self.log["pos"].values[tr] < s_pos[ts_of]
        ts_of, tr = ts_of[before], tr[before]
        kind = self.log["kind"].values[tr].astype(np.int64)

        # follow-up: one of the claimed kind, for the claimed customer, in the claim's summary's traces
        fu = kind != _PUNCH
        has_fu = np.isin(_claim_key(claim_summ, cust, act),
                         _claim_key(ts_of[fu], self.log["cust"].values[tr[fu]], kind[fu]))
        # punch: the nearest one (earliest on a tie) to the customer's location as of the summary
        near_d = np.full(nq, np.nan)
        near_ref = np.full(nq, -1, dtype=np.int64)
        want = np.flatnonzero((act == _VISIT) & located)
        punches = ~fu
        if want.size and punches.any():
            p_of, p_ref = ts_of[punches], tr[punches]
            o = np.argsort(p_of, kind="stable")
            p_of, p_ref = p_of[o], p_ref[o]
            first = np.searchsorted(p_of, claim_summ[want], side="left")
            cnt = np.searchsorted(p_of, claim_summ[want], side="right") - first
            total = int(cnt.sum())
            if total:
                pq = np.repeat(want, cnt)
                ref = p_ref[np.repeat(first - (np.cumsum(cnt) - cnt), cnt) + np.arange(total)]
                d = haversine_m(self.log["lat"].values[ref], self.log["lon"].values[ref],
                                place["lat"][pq], place["lon"][pq])
                best = _nearest_earliest(cnt[cnt > 0], d, self.log["pos"].values[ref])
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

        self._emit_all(f, zip(
            row[fire].tolist(), miss_fu[fire].tolist(), miss_punch[fire].tolist(), act[fire].tolist(),
            near_d[fire].tolist(), near_ref[fire].tolist(), claim_index[fire].tolist(), day[fire].tolist(),
            strings.texts(cust[fire]), strings.texts(emp[fire]), all_missing[fire].tolist(),
            place["src_ts"][fire].tolist(), place["src"][fire].tolist(), place["name"][fire].tolist(),
        ))

    def _judge_few(self, chunk: Chunk) -> None:
        """:meth:`_judge` for a few summaries (a stream's), in Python with the same arithmetic."""
        f, strings, p, latest = chunk.frame, self.ctx.strings, self.params, self.places.latest
        log_kind, log_cust, log_pos = self.log["kind"].values, self.log["cust"].values, self.log["pos"].values
        log_lat, log_lon = self.log["lat"].values, self.log["lon"].values
        srows = chunk.rows(SUMMARY)
        claims = chunk.nested(SUMMARY, "claims")
        c_act, c_cust = _activities(claims.col("activity"), strings).tolist(), claims.col("customer_id").tolist()
        c_end = np.cumsum(claims.counts).tolist()
        fired = []
        for s_i, (row, day) in enumerate(zip(srows.tolist(), chunk.col(SUMMARY, "date").tolist())):
            first = c_end[s_i] - int(claims.counts[s_i])
            judged = [(k - first, c_act[k], c_cust[k]) for k in range(first, c_end[s_i]) if c_act[k] >= 0]
            if not judged:
                continue
            pos, emp = f.base + row, int(f.employee[row])
            # the traces of (employee, date) before the summary: follow-ups as (customer, kind), punches
            refs = [r for r in self.runs.find_one((emp << 32) + day + (1 << 31))["ref"].tolist() if log_pos[r] < pos]
            followups = {(int(log_cust[r]), int(log_kind[r])) for r in refs if log_kind[r] != _PUNCH}
            punches = np.array([r for r in refs if log_kind[r] == _PUNCH], dtype=np.int64)
            for i, act, cust in judged:
                r = latest.lookup_one(cust, pos)
                place_lat = latest.value("lat", r) if r >= 0 else np.nan
                located = place_lat == place_lat
                near_d, near_ref = np.nan, -1
                if act == _VISIT and located and punches.size:
                    d = haversine_m(log_lat[punches], log_lon[punches], place_lat, latest.value("lon", r)).tolist()
                    j = min(range(len(d)), key=lambda k: (d[k], log_pos[punches[k]]))  # nearest, earliest on a tie
                    near_d, near_ref = d[j], int(punches[j])
                need_fu = "followup" in p.require
                need_punch = "punch" in p.require and act == _VISIT and located
                miss_fu = need_fu and (cust, act) not in followups
                miss_punch = need_punch and not near_d <= p.radius_m  # nan: no punch with coordinates
                if miss_fu or miss_punch:
                    fired.append((row, miss_fu, miss_punch, act, near_d, near_ref, i, day, strings.text(cust),
                                  strings.text(emp), miss_fu + miss_punch == need_fu + need_punch,
                                  latest.value("src_ts", r) if r >= 0 else 0, latest.value("src", r) if r >= 0 else None,
                                  latest.value("name", r) if r >= 0 else -1))
        self._emit_all(f, fired)

    def _emit_all(self, f: Any, fired: Iterable[tuple]) -> None:
        """One finding per unsupported claim: ``(summary row, follow-up missing, punch missing, activity,
        nearest punch distance (nan: none), its log row (-1), claim index, date, customer, employee,
        nothing met, customer location's src_ts, src, name code)``."""
        p, strings = self.params, self.ctx.strings
        zh = self.ctx.language == "zh"
        log_ts, log_id = self.log["ts"].values, self.log["id"].values
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
_TRACE_FIELDS = {  # the columns of the trace log: (dtype, fill)
    "kind": (np.int8, -1), "cust": (np.int64, -1), "lat": (np.float64, np.nan), "lon": (np.float64, np.nan),
    "pos": (np.int64, 0), "ts": (np.int64, 0), "id": (object, None),
}


DETECTORS = (SummaryUnsupportedClaim,)
