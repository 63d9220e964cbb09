"""``geofence.mismatch``: a punch away from the place its own customer/site or the day's plan expects.

Per chunk, in one code path for a batch chunk and a stream's one event: the chunk's plans and its
customer and site registrations are staged in two :class:`hrguard.state.Latest` stores (the latest
plan per (employee, local date); the latest location of each customer and site, one key space, see
:func:`_place_key`). Each punch without a place of its own looks up its plan as of its position and
searches the plan's items (flat :class:`hrguard.state.Column`\\ s of window instants and place keys,
which a plan points into with ``first``/``count``); then every punch with an expected place looks
up its location; distances are numpy. Every store is saved with the detector.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
from pydantic import Field

from ..columns import NULL_CODE, Chunk, Entries
from ..events import LocalClock
from ..findings import Severity
from ..sdk import Detector, DetectorParams, Duration, RuleContext, haversine_m, pack2, rows_pos, unpack2
from ..sdk.state import Column, Latest, keep_spans

PUNCH, PLAN, CUSTOMER, SITE = "attendance.punched", "plan.submitted", "customer.registered", "site.registered"
_NONE = np.zeros(0, dtype=np.int64)
_FMAX = np.finfo(np.float64).max


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

    def __init__(self, params: GeofenceParams, ctx: RuleContext):
        super().__init__(params, ctx)
        # the latest location of each customer and site, keyed by _place_key, as of any position, and the radius
        # it allows (a site's own; this rule's radius_m for a customer)
        self.places = Latest(lat=(np.float64, np.nan), lon=(np.float64, np.nan), radius=(np.float64, np.nan),
                             src=(object, None), src_ts=(np.int64, 0))
        # the latest plan per (employee, local date): its id/ts and where its items start in the item columns
        self.plans = Latest(first=(np.int64, 0), count=(np.int64, 0), src=(object, None), src_ts=(np.int64, 0))
        # every plan item naming a place, of every plan ever seen: its window as instants, its place key
        self._item_start = Column(np.int64)
        self._item_end = Column(np.int64)
        self._item_place = Column(np.int64, -1)

    # -- chunk updates -------------------------------------------------------------------------------
    def _stage_plans(self, chunk: Chunk) -> None:
        rows = chunk.rows(PLAN)
        if rows.size == 0:
            self.plans.stage(_NONE, _NONE)
            return
        f = chunk.frame
        days = chunk.col(PLAN, "date")
        start, end, cust, site, owner = _flatten_items(chunk.nested(PLAN, "items"))
        counts = np.bincount(owner, minlength=rows.size)
        self.plans.stage(pack2(f.employee[rows], days), rows_pos(chunk, rows), {
            "first": self._item_start.n + np.cumsum(counts) - counts,
            "count": counts,
            "src": f.ids[rows],
            "src_ts": f.ts[rows],
        })
        self._item_start.extend(_instants(self.ctx.clock, days[owner], start))
        self._item_end.extend(_instants(self.ctx.clock, days[owner], end))
        self._item_place.extend(_place_key(cust, site))

    def _stage_places(self, chunk: Chunk) -> None:
        """The chunk's customer and site registrations, in event order, as updates of :attr:`places`."""
        parts = []
        for kind, is_site in ((CUSTOMER, False), (SITE, True)):
            rows = chunk.rows(kind)
            if rows.size:
                code = chunk.col(kind, "site_id" if is_site else "customer_id").astype(np.int64)
                parts.append((rows, (code << 1) | is_site, chunk.col(kind, "lat"), chunk.col(kind, "lon"),
                              chunk.col(kind, "radius_m") if is_site else np.full(rows.size, float(self.params.radius_m))))
        if not parts:
            self.places.stage(_NONE, _NONE)
            return
        rows, key, lat, lon, radius = parts[0] if len(parts) == 1 else (np.concatenate(c) for c in zip(*parts))
        if len(parts) > 1:
            o = np.argsort(rows, kind="stable")
            rows, key, lat, lon, radius = rows[o], key[o], lat[o], lon[o], radius[o]
        f = chunk.frame
        self.places.stage(key, rows_pos(chunk, rows),
                          {"lat": lat, "lon": lon, "radius": radius, "src": f.ids[rows], "src_ts": f.ts[rows]})

    # -- judging -------------------------------------------------------------------------------------
    def next_due(self) -> int | None:
        return None  # reacts to events only

    def expire(self, watermark: int) -> None:
        """A punch reads the plan of its own local date: plans of dates before the watermark's are out of
        reach (exactly: no horizon to set). Their items go once most of the item log is theirs.
        Customers' and sites' locations are kept (one row a place)."""
        today = self.ctx.clock.local_day(watermark)
        if not self.plans.forget(lambda keys: unpack2(keys)[1] < today):
            return
        first, count = self.plans.column("first"), self.plans.column("count")
        if 2 * int(count.sum()) < len(self._item_start):
            starts = keep_spans((self._item_start, self._item_end, self._item_place), first, first + count)
            self.plans.set_column("first", np.arange(first.size), starts)

    def process(self, chunk: Chunk) -> None:
        self._stage_plans(chunk)
        self._stage_places(chunk)
        rows = chunk.rows(PUNCH)
        if rows.size:
            self._judge(chunk, rows)
        self.plans.commit()
        self.places.commit()

    def _judge(self, chunk: Chunk, rows: np.ndarray) -> None:
        p = self.params
        f = chunk.frame
        ts = f.ts[rows]
        pos = rows_pos(chunk, rows)
        # the expected place: the punch's own customer, else its own site ...
        place = _place_key(chunk.col(PUNCH, "customer_id"), chunk.col(PUNCH, "site_id"))
        # ... else the first item of its day's plan whose widened window holds the punch
        plan = np.full(rows.size, -1, dtype=np.int64)  # the plan that named the place: a row of ``plans``
        plans: dict[str, np.ndarray] = {}
        need = (place < 0).nonzero()[0]
        if need.size:
            days = self.ctx.clock.local_days(ts[need])
            _, plans = self.plans.lookup(pack2(f.employee[rows[need]], days), pos[need])
            counts = plans["count"]  # 0 where there is no plan
            total = int(counts.sum())
            if total:
                rep = np.repeat(np.arange(need.size), counts)  # the look-up of each item, ascending
                item = np.repeat(plans["first"] - (np.cumsum(counts) - counts), counts) + np.arange(total)
                t = ts[need[rep]]
                slack = p.window_slack
                hits = ((self._item_start.values[item] - slack <= t) & (t <= self._item_end.values[item] + slack)).nonzero()[0]
                if hits.size:
                    g = rep[hits]
                    first = np.ones(g.size, dtype=bool)  # each punch's first hit
                    first[1:] = g[1:] != g[:-1]
                    which = g[first]
                    place[need[which]] = self._item_place.values[item[hits[first]]]
                    plan[need[which]] = which

        sel = (place >= 0).nonzero()[0]  # no expectation: not judged
        if sel.size == 0:
            return
        _, at = self.places.lookup(place[sel], pos[sel])
        place_lat = at["lat"]
        known = ~np.isnan(place_lat)  # a place with no known location: not judged
        lat = chunk.col(PUNCH, "lat")[sel]
        lon = chunk.col(PUNCH, "lon")[sel]
        acc_raw = chunk.col(PUNCH, "accuracy_m")[sel]
        acc = np.minimum(np.where(np.isnan(acc_raw), 0.0, acc_raw), _FMAX)  # np.nan_to_num of a validated accuracy (>= 0)
        threshold = at["radius"] + np.minimum(acc, p.max_accuracy_credit_m)
        has_fix = ~np.isnan(lat)
        m = known & has_fix
        dist = np.full(sel.size, np.nan)
        dist[m] = haversine_m(lat[m], lon[m], place_lat[m], at["lon"][m])
        too_far = m & (dist > threshold)
        no_loc = known & ~has_fix if p.flag_missing_location else False
        fire = (too_far | no_loc).nonzero()[0]
        if fire.size == 0:
            return
        r = sel[fire]
        key = place[r]
        is_site = (key & 1) == 1
        strings = self.ctx.strings
        plan_src = plans.get("src")
        plan_ts = plans.get("src_ts")
        self._emit_all(f, zip(
            rows[r].tolist(), ts[r].tolist(), strings.texts(chunk.col(PUNCH, "direction")[r]),
            strings.texts(np.where(is_site, NULL_CODE, key >> 1)), strings.texts(np.where(is_site, key >> 1, NULL_CODE)),
            [None if k < 0 else plan_src[k] for k in plan[r].tolist()],
            [0 if k < 0 else int(plan_ts[k]) for k in plan[r].tolist()],
            dist[fire].tolist(), threshold[fire].tolist(), np.where(np.isnan(acc_raw[fire]), np.nan, acc[fire]).tolist(),
            too_far[fire].tolist(), at["src_ts"][fire].tolist(), at["src"][fire].tolist(),
        ))

    def _emit_all(self, f: Any, fired: Iterable[tuple]) -> None:
        """One finding per fired punch: ``(row, ts, direction, customer, site, plan id (None: no plan), plan ts,
        distance, threshold, accuracy, too far, place src_ts, place src)``, the texts decoded, ``nan`` for a
        missing number."""
        strings = self.ctx.strings
        for row, t, d, c, st, plan_id, plan_ts, d_m, thr, acc_k, far, src_ts, src in fired:
            reason = "too_far" if far else "no_location"
            evidence = [(t, f.ids[row]), (src_ts, src)]
            if plan_id is not None:
                evidence.append((plan_ts, plan_id))
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


def _place_key(cust: np.ndarray, site: np.ndarray) -> np.ndarray:
    """One ``int64`` key per expected place: ``2 * code`` for a customer (it wins over a site), ``2 * code + 1``
    for a site, ``-1`` for neither."""
    cust = cust.astype(np.int64)
    return np.where(cust >= 0, cust << 1, (site.astype(np.int64) << 1) | 1)  # no site (NULL_CODE, -1): -1


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




def _instants(clock: LocalClock, days: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """``clock.instant(day, s)`` elementwise, computed once per distinct (day, second) pair."""
    if days.size == 0:
        return np.zeros(0, dtype=np.int64)
    uniq, inverse = np.unique(days.astype(np.int64) * 86_400 + seconds, return_inverse=True)
    vals = np.fromiter((clock.instant(u // 86_400, u % 86_400) for u in uniq.tolist()), dtype=np.int64, count=uniq.size)
    return vals[inverse]


DETECTORS = (GeofenceMismatch,)
