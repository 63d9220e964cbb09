"""``visit.evidence_missing``: a visit follow-up logged without a photo that proves it.

The article's control "visits need a photo taken at the customer": a ``followup.logged`` with
``channel: visit`` fires with the first reason that applies, ``no_photo``, ``photo_far`` (every photo
with coordinates is farther than ``radius_m`` from the customer's location) or ``photo_stale`` (every
photo with ``taken_at`` is more than ``max_photo_age`` away from the follow-up, before or after).

Photos are Python objects, so they are flattened once per chunk; distances, ages and the per-visit
minima are numpy over the flattened photos. The customer's location is the latest
``customer.registered`` before the follow-up (a :class:`~hrguard.kit.Latest` carried across chunks).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from ..columns import NULL_INT, Chunk
from ..detector import Detector, DetectorParams, RuleContext
from ..findings import Severity
from ..kit import Latest, haversine_m, rows_pos
from ..params import Duration
from ..timeutil import US, from_us, to_us

FOLLOWUP, CUSTOMER = "followup.logged", "customer.registered"
_NO_TS = np.iinfo(np.int64).max


class CustomerPlaces:
    """Each customer's location and name as of any position: the latest ``customer.registered`` before it.

    Call :meth:`stage` with a chunk first, :meth:`lookup` any number of times, then :meth:`commit`.
    A registration with a null location clears it (``lat`` is ``nan`` when the location is unknown).
    """

    def __init__(self) -> None:
        self.latest = Latest(lat=np.nan, lon=np.nan, name=-1, src=None, src_ts=0)
        self._u: tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | None = None

    def stage(self, chunk: Chunk) -> None:
        rows = chunk.rows(CUSTOMER)
        if rows.size == 0:
            self._u = None
            return
        f = chunk.frame
        self._u = (
            chunk.col(CUSTOMER, "customer_id").astype(np.int64),
            rows_pos(chunk, rows),
            {
                "lat": chunk.col(CUSTOMER, "lat"),
                "lon": chunk.col(CUSTOMER, "lon"),
                "name": chunk.col(CUSTOMER, "name").astype(np.int64),
                "src": f.ids[rows],
                "src_ts": f.ts[rows],
            },
        )

    def lookup(self, cust: np.ndarray, pos: np.ndarray) -> dict[str, np.ndarray]:
        """``lat``/``lon`` (``nan`` unknown), ``name`` (code, ``-1``), ``src``/``src_ts`` (the event that set them)."""
        u = self._u or (np.zeros(0, np.int64), np.zeros(0, np.int64), {})
        found, vals = self.latest.lookup(np.asarray(cust, dtype=np.int64), pos, *u)
        lat = np.where(found, vals["lat"].astype(float), np.nan)
        return {
            "lat": lat,
            "lon": np.where(found, vals["lon"].astype(float), np.nan),
            "name": np.where(found, vals["name"].astype(np.int64), -1),
            "src": vals["src"],
            "src_ts": vals["src_ts"].astype(np.int64),
        }

    def commit(self) -> None:
        if self._u is not None:
            self.latest.commit(self._u[0], self._u[2])
            self._u = None


def customer_label(strings: Any, cust: str | None, name_code: int) -> str:
    """``Acme Trading (C-A)`` when the customer's name is known, else its id."""
    name = strings.text(int(name_code))
    if cust is None:
        return "-"
    return f"{name} ({cust})" if name and name != cust else cust


class VisitParams(DetectorParams):
    radius_m: float = Field(500, ge=0, description="a photo farther than this from the customer's location does not prove the visit, metres")
    max_photo_age: Duration = Field(
        "12h", validate_default=True,
        description="a photo taken more than this before or after the follow-up's ts does not prove the visit",
    )


class VisitEvidenceMissing(Detector):
    id = "visit.evidence_missing"
    title = "A visit recorded without proof: no photo, a photo far from the customer, or a photo from another time"
    Params = VisitParams
    default_severity = Severity.medium
    kinds = frozenset({FOLLOWUP, CUSTOMER})
    messages = {
        "en": {
            "no_photo": "{employee_id} logged a visit to customer {customer} on {when} without any photo",
            "photo_far": "{employee_id} logged a visit to customer {customer} on {when}, but the nearest photo "
                         "was taken {distance_m:,.0f} m from the customer (more than the {radius_m:,.0f} m allowed)",
            "photo_stale": "{employee_id} logged a visit to customer {customer} on {when}, but the closest photo "
                           "was taken {age_h:.1f} h away from the visit (more than the {max_age_h:g} h allowed)",
        },
        "zh": {
            "no_photo": "{employee_id} 于 {when} 登记了对客户 {customer} 的拜访，但没有附任何照片",
            "photo_far": "{employee_id} 于 {when} 登记了对客户 {customer} 的拜访，但最近的一张照片拍摄于距客户 "
                         "{distance_m:,.0f} 米处（超出允许的 {radius_m:,.0f} 米）",
            "photo_stale": "{employee_id} 于 {when} 登记了对客户 {customer} 的拜访，但照片拍摄时间与拜访记录最少相差 "
                           "{age_h:.1f} 小时（超出允许的 {max_age_h:g} 小时）",
        },
    }

    def __init__(self, params: VisitParams, ctx: RuleContext):
        super().__init__(params, ctx)
        self.places = CustomerPlaces()

    def next_due(self) -> int | None:
        return None  # reacts to events only

    def process(self, chunk: Chunk) -> None:
        self.places.stage(chunk)
        rows = chunk.rows(FOLLOWUP)
        visit = self.ctx.strings.find("visit")
        if rows.size and visit >= 0:
            sel = np.flatnonzero(chunk.col(FOLLOWUP, "channel") == visit)
            if sel.size:
                self._judge(chunk, rows[sel], sel)
        self.places.commit()

    def _judge(self, chunk: Chunk, rows: np.ndarray, sel: np.ndarray) -> None:
        p = self.params
        f = chunk.frame
        n = rows.size
        ts = f.ts[rows]
        photos = chunk.col(FOLLOWUP, "photos")[sel]
        counts = np.fromiter((len(ps) for ps in photos), dtype=np.int64, count=n)
        flat = [ph for ps in photos for ph in ps]
        owner = np.repeat(np.arange(n), counts)
        plat = np.array([np.nan if ph.lat is None or ph.lon is None else ph.lat for ph in flat], dtype=np.float64)
        plon = np.array([np.nan if ph.lat is None or ph.lon is None else ph.lon for ph in flat], dtype=np.float64)
        taken = np.array([NULL_INT if ph.taken_at is None else to_us(ph.taken_at) for ph in flat], dtype=np.int64)

        cust = chunk.col(FOLLOWUP, "customer_id")[sel].astype(np.int64)
        place = self.places.lookup(cust, rows_pos(chunk, rows))
        known = ~np.isnan(place["lat"])

        # nearest photo (with coordinates) to the customer's location, per visit
        has_xy = ~np.isnan(plat)
        m = has_xy & known[owner]
        nearest = np.full(n, np.inf)
        if m.any():
            d = haversine_m(plat[m], plon[m], place["lat"][owner[m]], place["lon"][owner[m]])
            np.minimum.at(nearest, owner[m], d)
        n_xy = np.bincount(owner[has_xy], minlength=n)
        # closest photo time to the follow-up's ts, per visit (before or after)
        has_t = taken != NULL_INT
        min_age = np.full(n, _NO_TS, dtype=np.int64)
        if has_t.any():
            np.minimum.at(min_age, owner[has_t], np.abs(taken[has_t] - ts[owner[has_t]]))
        n_t = np.bincount(owner[has_t], minlength=n)

        no_photo = counts == 0
        far = ~no_photo & known & (n_xy > 0) & (nearest > p.radius_m)
        stale = ~no_photo & ~far & (n_t > 0) & (min_age > p.max_photo_age)
        fire = np.flatnonzero(no_photo | far | stale)
        if fire.size == 0:
            return

        strings = self.ctx.strings
        local = self.ctx.clock.local_us(ts[fire])
        for k, loc_us in zip(fire.tolist(), local.tolist()):
            row = int(rows[k])
            reason = "no_photo" if no_photo[k] else "photo_far" if far[k] else "photo_stale"
            dist = None if not np.isfinite(nearest[k]) else round(float(nearest[k]), 1)
            age_s = None if n_t[k] == 0 else int(min_age[k]) / US
            details = {"reason": reason, "distance_m": dist, "photo_age_s": age_s, "photos": int(counts[k])}
            evidence = [(int(ts[k]), f.ids[row])]
            if dist is not None:  # the distance depends on the event that set the customer's location
                evidence.append((int(place["src_ts"][k]), place["src"][k]))
            cid = strings.text(int(cust[k]))
            emp = strings.text(int(f.employee[row]))
            when = _local_text(loc_us)
            self.emit(
                ts=int(ts[k]),
                subject=(f.ids[row],),
                employee_id=emp,
                customer_id=cid,
                evidence=evidence,
                details=details,
                reason=reason,
                message=self.render(
                    reason, details, employee_id=emp or "-", customer_id=cid,
                    customer=customer_label(strings, cid, int(place["name"][k])), when=when,
                    radius_m=float(p.radius_m), max_age_h=p.max_photo_age / (3600 * US),
                    age_h=(age_s or 0.0) / 3600,
                ),
            )


def _local_text(local_us: int) -> str:
    """``2026-04-02 10:30`` from local wall-clock microseconds."""
    return from_us(local_us).strftime("%Y-%m-%d %H:%M")


DETECTORS = (VisitEvidenceMissing,)
