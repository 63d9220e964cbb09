"""``geofence.mismatch``: a punch away from the place its own customer/site or the day's plan expects."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from ..columns import NULL_CODE, Chunk
from ..detector import Detector, DetectorParams, RuleContext
from ..findings import Severity
from ..kit import GrowBuf, Latest, haversine_m, pack2, rows_pos
from ..params import Duration

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

    def __init__(self, params: GeofenceParams, ctx: RuleContext):
        super().__init__(params, ctx)
        self.customers = Latest(lat=np.nan, lon=np.nan, src=None, src_ts=0)
        self.sites = Latest(lat=np.nan, lon=np.nan, radius=np.nan, src=None, src_ts=0)
        self.plans = Latest(plan=-1)
        # every plan ever seen: its id/ts, and its items (those naming a place) as instants
        self._plan_id: list[str] = []
        self._plan_ts: list[int] = []
        self._plan_first = GrowBuf(np.int64)
        self._plan_count = GrowBuf(np.int64)
        self._item_start = GrowBuf(np.int64)
        self._item_end = GrowBuf(np.int64)
        self._item_cust = GrowBuf(np.int32, NULL_CODE)
        self._item_site = GrowBuf(np.int32, NULL_CODE)

    # -- chunk updates -------------------------------------------------------------------------------
    def _plan_updates(self, chunk: Chunk) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        rows = chunk.rows(PLAN)
        if rows.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), {"plan": np.zeros(0, np.int64)}
        f, clock, strings = chunk.frame, self.ctx.clock, self.ctx.strings
        days = chunk.col(PLAN, "date")
        items = chunk.col(PLAN, "items")
        handles = np.empty(rows.size, dtype=np.int64)
        starts, ends, custs, sites, counts = [], [], [], [], []
        first = self._item_start.n
        for k, (row, day, its) in enumerate(zip(rows.tolist(), days.tolist(), items)):
            handles[k] = len(self._plan_id)
            self._plan_id.append(f.ids[row])
            self._plan_ts.append(int(f.ts[row]))
            n = 0
            for it in its:
                if it.customer_id is None and it.site_id is None:
                    continue  # items naming neither are skipped
                s = it.start.hour * 3600 + it.start.minute * 60 + it.start.second
                e = it.end.hour * 3600 + it.end.minute * 60 + it.end.second
                starts.append(clock.instant(day, s))
                ends.append(clock.instant(day, e))
                custs.append(strings.code(it.customer_id))
                sites.append(NULL_CODE if it.customer_id is not None else strings.code(it.site_id))
                n += 1
            counts.append(n)
        firsts = first + np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self._plan_first.extend(firsts)
        self._plan_count.extend(counts)
        self._item_start.extend(starts)
        self._item_end.extend(ends)
        self._item_cust.extend(custs)
        self._item_site.extend(sites)
        keys = pack2(f.employee[rows], days)
        return keys, rows_pos(chunk, rows), {"plan": handles}

    @staticmethod
    def _place_updates(chunk: Chunk, kind: str, key: str, with_radius: bool) -> tuple[np.ndarray, np.ndarray, dict]:
        rows = chunk.rows(kind)
        vals = {
            "lat": chunk.col(kind, "lat") if rows.size else np.zeros(0),
            "lon": chunk.col(kind, "lon") if rows.size else np.zeros(0),
            "src": chunk.frame.ids[rows],
            "src_ts": chunk.frame.ts[rows],
        }
        if with_radius:
            vals["radius"] = chunk.col(kind, "radius_m") if rows.size else np.zeros(0)
        keys = chunk.col(kind, key).astype(np.int64) if rows.size else np.zeros(0, np.int64)
        return keys, rows_pos(chunk, rows), vals

    # -- judging -------------------------------------------------------------------------------------
    def next_due(self) -> int | None:
        return None  # reacts to events only

    def process(self, chunk: Chunk) -> None:
        plan_u = self._plan_updates(chunk)
        cust_u = self._place_updates(chunk, CUSTOMER, "customer_id", False)
        site_u = self._place_updates(chunk, SITE, "site_id", True)
        rows = chunk.rows(PUNCH)
        if rows.size:
            self._judge(chunk, rows, plan_u, cust_u, site_u)
        self.plans.commit(plan_u[0], plan_u[2])
        self.customers.commit(cust_u[0], cust_u[2])
        self.sites.commit(site_u[0], site_u[2])

    def _judge(self, chunk: Chunk, rows: np.ndarray, plan_u, cust_u, site_u) -> None:
        p = self.params
        f = chunk.frame
        n = rows.size
        ts = f.ts[rows]
        pos = rows_pos(chunk, rows)
        exp_c = chunk.col(PUNCH, "customer_id").astype(np.int64)
        exp_s = np.where(exp_c >= 0, NULL_CODE, chunk.col(PUNCH, "site_id")).astype(np.int64)
        plan_used = np.full(n, -1, dtype=np.int64)

        need = np.flatnonzero((exp_c < 0) & (exp_s < 0))
        if need.size:
            days = self.ctx.clock.local_days(ts[need])
            found, vals = self.plans.lookup(pack2(f.employee[rows[need]], days), pos[need], *plan_u)
            q = need[found]
            handle = vals["plan"][found].astype(np.int64)
            if q.size:
                counts = self._plan_count.values[handle]
                firsts = self._plan_first.values[handle]
                total = int(counts.sum())
                if total:
                    rep = np.repeat(np.arange(q.size), counts)
                    offs = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
                    item = firsts[rep] + offs
                    t = ts[q][rep]
                    inside = (self._item_start.values[item] - p.window_slack <= t) & (t <= self._item_end.values[item] + p.window_slack)
                    hits = np.flatnonzero(inside)
                    if hits.size:
                        _, first_hit = np.unique(rep[hits], return_index=True)
                        chosen = hits[first_hit]
                        who = q[rep[chosen]]
                        it = item[chosen]
                        exp_c[who] = self._item_cust.values[it]
                        exp_s[who] = self._item_site.values[it]
                        plan_used[who] = handle[rep[chosen]]

        place_lat = np.full(n, np.nan)
        place_lon = np.full(n, np.nan)
        radius = np.full(n, float(p.radius_m))
        src = np.full(n, None, dtype=object)
        src_ts = np.zeros(n, dtype=np.int64)
        for sel, table, upd, is_site in (
            (np.flatnonzero(exp_c >= 0), self.customers, cust_u, False),
            (np.flatnonzero((exp_c < 0) & (exp_s >= 0)), self.sites, site_u, True),
        ):
            if sel.size == 0:
                continue
            keys = exp_c[sel] if not is_site else exp_s[sel]
            found, vals = table.lookup(keys, pos[sel], *upd)
            place_lat[sel] = np.where(found, vals["lat"].astype(float), np.nan)
            place_lon[sel] = np.where(found, vals["lon"].astype(float), np.nan)
            src[sel] = vals["src"]
            src_ts[sel] = vals["src_ts"].astype(np.int64)
            if is_site:
                radius[sel] = vals["radius"].astype(float)

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
        direction = self.ctx.strings.texts(chunk.col(PUNCH, "direction")[fire])
        for k, d in zip(fire.tolist(), direction):
            row = int(rows[k])
            cust = strings.text(int(exp_c[k]))
            site = strings.text(int(exp_s[k])) if cust is None else None
            reason = "too_far" if too_far[k] else "no_location"
            evidence = [(int(ts[k]), f.ids[row]), (int(src_ts[k]), src[k])]
            if plan_used[k] >= 0:
                h = int(plan_used[k])
                evidence.append((self._plan_ts[h], self._plan_id[h]))
            details = {
                "reason": reason,
                "distance_m": None if np.isnan(dist[k]) else round(float(dist[k]), 1),
                "expected": {"customer_id": cust} if cust is not None else {"site_id": site},
                "threshold_m": round(float(threshold[k]), 1),
                "accuracy_m": None if np.isnan(acc_raw[k]) else float(acc[k]),
                "plan_id": self._plan_id[int(plan_used[k])] if plan_used[k] >= 0 else None,
            }
            place = f"customer {cust}" if cust is not None else f"site {site}"
            place_zh = f"客户 {cust}" if cust is not None else f"地点 {site}"
            self.emit(
                ts=int(ts[k]),
                subject=(f.ids[row],),
                employee_id=strings.text(int(f.employee[row])),
                customer_id=cust,
                evidence=evidence,
                details=details,
                reason=reason,
                message=self.render(
                    reason, details, employee_id=strings.text(int(f.employee[row])), direction=d,
                    direction_zh="上班" if d == "in" else "下班", place=place, place_zh=place_zh,
                    why=f"per plan {details['plan_id']}" if details["plan_id"] else "chosen at the punch",
                    why_zh=f"按计划 {details['plan_id']}" if details["plan_id"] else "打卡时所选",
                ),
            )


DETECTORS = (GeofenceMismatch,)
