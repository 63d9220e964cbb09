"""``geofence.mismatch``: a punch away from the place its own customer/site or the day's plan expects."""

from __future__ import annotations

import sys
from typing import Any, Iterable

import numpy as np
from pydantic import Field

from ..columns import NULL_CODE, Chunk, Entries
from ..detector import Detector, DetectorParams, RuleContext
from ..findings import Severity
from ..kit import GrowBuf, haversine_m, pack2, rows_pos
from ..params import Duration
from ..timeutil import LocalClock
from ._asof import AsOfLatest

PUNCH, PLAN, CUSTOMER, SITE = "attendance.punched", "plan.submitted", "customer.registered", "site.registered"


class GeofenceParams(DetectorParams):
    radius_m: float = Field(500, ge=0, description="allowed distance from the expected place, metres")
    window_slack: Duration = Field("30m", validate_default=True, description="widening of each plan item's window, both ends")
    max_accuracy_credit_m: float = Field(200, ge=0, description="at most this much of a fix's accuracy_m is added to the radius")
    flag_missing_location: bool = Field(True, description="fire (reason no_location) for a punch without coordinates where a place is expected")


class GeofenceMismatch(Detector):
    id = "geofence.mismatch"
    title = "A clock-in away from where the plan says the employee is"
    Params = GeofenceParams
    default_severity = Severity.medium
    kinds = frozenset({PUNCH, PLAN, CUSTOMER, SITE})
    messages = {
        "en": {
            "too_far": "{employee_id} clocked {direction} {distance_m:,.0f} m from {place} ({why}), "
                       "more than the {threshold_m:,.0f} m allowed",
            "no_location": "{employee_id} clocked {direction} without a location while expected at {place} ({why})",
        },
        "zh": {
            "too_far": "{employee_id} {direction_zh}打卡位置距{place_zh} {distance_m:,.0f} 米（{why_zh}），"
                       "超出允许的 {threshold_m:,.0f} 米",
            "no_location": "{employee_id} {direction_zh}打卡没有定位，而此时应在{place_zh}（{why_zh}）",
        },
    }

    #: fewer plans or punches than this (a stream's) are handled in Python: numpy calls cost more than their work
    SMALL = 8

    def __init__(self, params: GeofenceParams, ctx: RuleContext):
        super().__init__(params, ctx)
        place = {"lat": (np.float64, np.nan), "lon": (np.float64, np.nan), "src": (object, None), "src_ts": (np.int64, 0)}
        self.customers = AsOfLatest(**place)
        self.sites = AsOfLatest(**place, radius=(np.float64, np.nan))
        # the latest plan per (employee, local date): its id/ts and where its items start in the item columns
        self.plans = AsOfLatest(first=(np.int64, 0), count=(np.int64, 0), src=(object, None), src_ts=(np.int64, 0))
        # every plan item naming a place, of every plan ever seen, as instants
        self._item_start = GrowBuf(np.int64)
        self._item_end = GrowBuf(np.int64)
        self._item_cust = GrowBuf(np.int32, NULL_CODE)
        self._item_site = GrowBuf(np.int32, NULL_CODE)

    # -- chunk updates -------------------------------------------------------------------------------
    def _stage_plans(self, chunk: Chunk) -> None:
        rows = chunk.rows(PLAN)
        if rows.size == 0:
            self.plans.stage(rows, rows, {})
            return
        f = chunk.frame
        days = chunk.col(PLAN, "date")
        if rows.size < self.SMALL:
            start, end, cust, site, counts = _items_few(chunk.nested(PLAN, "items"), days, self.ctx.clock)
        else:
            start, end, cust, site, owner = _flatten_items(chunk.nested(PLAN, "items"))
            start = _instants(self.ctx.clock, days[owner], start)
            end = _instants(self.ctx.clock, days[owner], end)
            counts = np.bincount(owner, minlength=rows.size)
        self.plans.stage(pack2(f.employee[rows], days), rows_pos(chunk, rows), {
            "first": self._item_start.n + np.cumsum(counts) - counts,
            "count": counts,
            "src": f.ids[rows],
            "src_ts": f.ts[rows],
        })
        self._item_start.extend(start)
        self._item_end.extend(end)
        self._item_cust.extend(cust)
        self._item_site.extend(site)

    @staticmethod
    def _stage_places(table: AsOfLatest, chunk: Chunk, kind: str, key: str, with_radius: bool) -> None:
        rows = chunk.rows(kind)
        if rows.size == 0:
            table.stage(rows, rows, {})
            return
        vals = {
            "lat": chunk.col(kind, "lat"),
            "lon": chunk.col(kind, "lon"),
            "src": chunk.frame.ids[rows],
            "src_ts": chunk.frame.ts[rows],
        }
        if with_radius:
            vals["radius"] = chunk.col(kind, "radius_m")
        table.stage(chunk.col(kind, key), rows_pos(chunk, rows), vals)

    # -- judging -------------------------------------------------------------------------------------
    def next_due(self) -> int | None:
        return None  # reacts to events only

    def process(self, chunk: Chunk) -> None:
        self._stage_plans(chunk)
        self._stage_places(self.customers, chunk, CUSTOMER, "customer_id", False)
        self._stage_places(self.sites, chunk, SITE, "site_id", True)
        rows = chunk.rows(PUNCH)
        if rows.size:
            (self._judge_few if rows.size < self.SMALL else self._judge)(chunk, rows)
        self.plans.commit()
        self.customers.commit()
        self.sites.commit()

    def _judge(self, chunk: Chunk, rows: np.ndarray) -> None:
        p = self.params
        f = chunk.frame
        n = rows.size
        ts = f.ts[rows]
        pos = rows_pos(chunk, rows)
        exp_c = chunk.col(PUNCH, "customer_id").astype(np.int64)
        exp_s = np.where(exp_c >= 0, NULL_CODE, chunk.col(PUNCH, "site_id")).astype(np.int64)
        plan_row = np.full(n, -1, dtype=np.int64)  # the plan that named the place (a row of self.plans)

        need = np.flatnonzero((exp_c < 0) & (exp_s < 0))
        if need.size:
            days = self.ctx.clock.local_days(ts[need])
            prow = self.plans.lookup_rows(pack2(f.employee[rows[need]], days), pos[need])
            found = prow >= 0
            q, prow = need[found], prow[found]
            if q.size:
                plan = self.plans.values(prow)
                counts, firsts = plan["count"], plan["first"]
                total = int(counts.sum())
                if total:
                    rep = np.repeat(np.arange(q.size), counts)
                    item = np.repeat(firsts - (np.cumsum(counts) - counts), counts) + np.arange(total)
                    t = ts[q][rep]
                    inside = (self._item_start.values[item] - p.window_slack <= t) & (t <= self._item_end.values[item] + p.window_slack)
                    hits = np.flatnonzero(inside)
                    if hits.size:
                        first_hit = hits[np.r_[True, rep[hits][1:] != rep[hits][:-1]]]  # rep ascends
                        who = q[rep[first_hit]]
                        it = item[first_hit]
                        exp_c[who] = self._item_cust.values[it]
                        exp_s[who] = self._item_site.values[it]
                        plan_row[who] = prow[rep[first_hit]]

        place_lat = np.full(n, np.nan)
        place_lon = np.full(n, np.nan)
        radius = np.full(n, float(p.radius_m))
        src = np.full(n, None, dtype=object)
        src_ts = np.zeros(n, dtype=np.int64)
        for sel, table, is_site in (
            (np.flatnonzero(exp_c >= 0), self.customers, False),
            (np.flatnonzero((exp_c < 0) & (exp_s >= 0)), self.sites, True),
        ):
            if sel.size == 0:
                continue
            vals = table.values(table.lookup_rows((exp_s if is_site else exp_c)[sel], pos[sel]))
            place_lat[sel] = vals["lat"]
            place_lon[sel] = vals["lon"]
            src[sel] = vals["src"]
            src_ts[sel] = vals["src_ts"]
            if is_site:
                radius[sel] = vals["radius"]

        known = ~np.isnan(place_lat)  # no expectation, or a place with no known location: not judged
        if not known.any():
            return
        lat = chunk.col(PUNCH, "lat")
        lon = chunk.col(PUNCH, "lon")
        acc_raw = chunk.col(PUNCH, "accuracy_m")
        acc = np.nan_to_num(acc_raw, nan=0.0)
        threshold = radius + np.minimum(acc, p.max_accuracy_credit_m)
        has_fix = ~np.isnan(lat)
        dist = np.full(n, np.nan)
        m = known & has_fix
        dist[m] = haversine_m(lat[m], lon[m], place_lat[m], place_lon[m])
        too_far = m & (dist > threshold)
        no_loc = known & ~has_fix if p.flag_missing_location else np.zeros(n, dtype=bool)
        fire = np.flatnonzero(too_far | no_loc)
        if fire.size == 0:
            return
        strings = self.ctx.strings
        self._emit_all(f, zip(
            rows[fire].tolist(), ts[fire].tolist(), strings.texts(chunk.col(PUNCH, "direction")[fire]),
            strings.texts(exp_c[fire]), strings.texts(exp_s[fire]), plan_row[fire].tolist(), dist[fire].tolist(),
            threshold[fire].tolist(), np.where(np.isnan(acc_raw[fire]), np.nan, acc[fire]).tolist(),
            too_far[fire].tolist(), src_ts[fire].tolist(), src[fire].tolist(),
        ))

    def _judge_few(self, chunk: Chunk, rows: np.ndarray) -> None:
        """:meth:`_judge` for a few punches (a stream's), in Python with the same arithmetic."""
        p, f, strings = self.params, chunk.frame, self.ctx.strings
        cols = _LazyColumns(chunk, PUNCH)
        fired = []
        for k, row in enumerate(rows.tolist()):
            t, pos = int(f.ts[row]), f.base + row
            c = cols["customer_id"][k]
            site = NULL_CODE if c >= 0 else cols["site_id"][k]
            plan_row = -1
            if c < 0 and site < 0:
                key = (int(f.employee[row]) << 32) + self.ctx.clock.local_day(t) + (1 << 31)  # kit.pack2
                prow = self.plans.lookup_one(key, pos)
                if prow >= 0:
                    first = self.plans.value("first", prow)
                    for it in range(first, first + self.plans.value("count", prow)):
                        if self._item_start.values[it] - p.window_slack <= t <= self._item_end.values[it] + p.window_slack:
                            c, site = int(self._item_cust.values[it]), int(self._item_site.values[it])
                            plan_row = prow
                            break
            table = self.customers if c >= 0 else self.sites if site >= 0 else None
            r = table.lookup_one(c if c >= 0 else site, pos) if table is not None else -1
            place_lat = table.value("lat", r) if r >= 0 else np.nan
            if place_lat != place_lat:
                continue  # no expectation, or a place with no known location: not judged
            radius = table.value("radius", r) if table is self.sites else float(p.radius_m)
            acc_raw = cols["accuracy_m"][k]
            acc = _nan_to_num(acc_raw)
            threshold = radius + min(acc, p.max_accuracy_credit_m)
            lat = cols["lat"][k]
            if lat == lat:  # a fix
                dist = float(haversine_m(lat, cols["lon"][k], place_lat, table.value("lon", r)))
                if not dist > threshold:
                    continue
            elif p.flag_missing_location:
                dist = np.nan
            else:
                continue
            fired.append((row, t, strings.text(cols["direction"][k]), strings.text(c), strings.text(site), plan_row,
                          dist, threshold, np.nan if acc_raw != acc_raw else acc, lat == lat,
                          table.value("src_ts", r), table.value("src", r)))
        self._emit_all(f, fired)

    def _emit_all(self, f: Any, fired: Iterable[tuple]) -> None:
        """One finding per fired punch: ``(row, ts, direction, customer, site, plan row, distance, threshold,
        accuracy, too far, place src_ts, place src)``, the texts decoded, ``nan`` for a missing number."""
        strings = self.ctx.strings
        for row, t, d, c, st, plan_row, d_m, thr, acc_k, far, src_ts, src in fired:
            reason = "too_far" if far else "no_location"
            evidence = [(t, f.ids[row]), (src_ts, src)]
            plan_id = None
            if plan_row >= 0:
                plan_id = self.plans.value("src", plan_row)
                evidence.append((self.plans.value("src_ts", plan_row), plan_id))
            details = {
                "reason": reason,
                "distance_m": None if d_m != d_m else round(d_m, 1),  # nan: no fix
                "expected": {"customer_id": c} if c is not None else {"site_id": st},
                "threshold_m": round(thr, 1),
                "accuracy_m": None if acc_k != acc_k else acc_k,
                "plan_id": plan_id,
            }
            place = f"customer {c}" if c is not None else f"site {st}"
            place_zh = f"客户 {c}" if c is not None else f"地点 {st}"
            emp = strings.text(int(f.employee[row]))
            self.emit(
                ts=t,
                subject=(f.ids[row],),
                employee_id=emp,
                customer_id=c,
                evidence=evidence,
                details=details,
                reason=reason,
                message=self.render(
                    reason, details, employee_id=emp, direction=d,
                    direction_zh="上班" if d == "in" else "下班", place=place, place_zh=place_zh,
                    why=f"per plan {plan_id}" if plan_id else "chosen at the punch",
                    why_zh=f"按计划 {plan_id}" if plan_id else "打卡时所选",
                ),
            )


class _LazyColumns(dict):
    """A chunk's columns of one kind as Python lists, each read on first use (most punches need few)."""

    def __init__(self, chunk: Chunk, kind: str) -> None:
        super().__init__()
        self.chunk, self.kind = chunk, kind

    def __missing__(self, name: str) -> list[Any]:
        col = self[name] = self.chunk.col(self.kind, name).tolist()
        return col


def _nan_to_num(x: float) -> float:
    """``np.nan_to_num`` of one float: ``nan`` is 0, infinities the largest finite floats."""
    if x != x:
        return 0.0
    return max(min(x, sys.float_info.max), -sys.float_info.max)


def _flatten_items(items: Entries) -> tuple[np.ndarray, ...]:
    """The plans' items that name a place: ``(start, end, customer, site, owner)``.

    ``start``/``end`` are seconds of the day, ``customer``/``site`` codes (an item naming a customer
    has no site), ``owner`` the item's plan (ascending). Items naming neither are skipped.
    """
    cust = items.col("customer_id").astype(np.int64)
    site = items.col("site_id").astype(np.int64)
    is_cust = cust >= 0
    keep = is_cust | (site >= 0)
    return (items.col("start")[keep], items.col("end")[keep], np.where(is_cust, cust, NULL_CODE)[keep],
            np.where(is_cust, NULL_CODE, site)[keep], items.owner[keep])


def _items_few(items: Entries, days: np.ndarray, clock: LocalClock) -> tuple[list[int], ...]:
    """:func:`_flatten_items` and :func:`_instants` for a few plans, in Python: ``(start, end, customer, site,
    items per plan)`` with ``start``/``end`` as instants."""
    start, end, cust, site, owner = _flatten_items(items)
    day = days[owner].tolist()
    return ([clock.instant(d, s) for d, s in zip(day, start.tolist())],
            [clock.instant(d, s) for d, s in zip(day, end.tolist())],
            cust.tolist(), site.tolist(), np.bincount(owner, minlength=items.counts.size).tolist())


def _instants(clock: LocalClock, days: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """``clock.instant(day, s)`` elementwise, computed once per distinct (day, second) pair."""
    if days.size == 0:
        return np.zeros(0, dtype=np.int64)
    uniq, inverse = np.unique(days.astype(np.int64) * 86_400 + seconds, return_inverse=True)
    vals = np.fromiter((clock.instant(u // 86_400, u % 86_400) for u in uniq.tolist()), dtype=np.int64, count=uniq.size)
    return vals[inverse]


DETECTORS = (GeofenceMismatch,)
