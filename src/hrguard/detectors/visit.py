"""``visit.evidence_missing``: a visit follow-up logged without a photo that proves it.

The article's control "visits need a photo taken at the customer": a ``followup.logged`` with
``channel: visit`` fires with the first reason that applies, ``no_photo``, ``photo_far`` (every photo
with coordinates is farther than ``radius_m`` from the customer's location) or ``photo_stale`` (every
photo with ``taken_at`` is more than ``max_photo_age`` away from the follow-up, before or after).

Photos are read as flat columns (:meth:`~hrguard.Chunk.nested`, :func:`_flatten_photos`); distances,
ages and the per-visit minima are numpy over them, one code path for a batch chunk and a stream's one
event. The customer's location is the latest ``customer.registered`` before the follow-up
(:class:`CustomerPlaces`, a :class:`hrguard.state.Latest` carried across chunks and saved with the
detector).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from ..columns import NULL_INT, Chunk, Entries
from ..events import US
from ..findings import Severity
from ..sdk import Detector, DetectorParams, Duration, RuleContext, haversine_m, rows_pos
from ..sdk.state import Latest

FOLLOWUP, CUSTOMER = "followup.logged", "customer.registered"
_NO_TS = np.iinfo(np.int64).max
_NONE = np.zeros(0, dtype=np.int64)


class CustomerPlaces:
    """Each customer's location and name as of any position: the latest ``customer.registered`` before it.

    Call :meth:`stage` with a chunk first, :meth:`lookup` any number of times, then :meth:`commit`.
    A registration with a null location clears it (``lat`` is ``nan`` when the location is unknown).
    The state is one :class:`hrguard.state.Latest` keyed by customer code, so it saves with its owner.
    """

    def __init__(self) -> None:
        self.latest = Latest(lat=(np.float64, np.nan), lon=(np.float64, np.nan), name=(np.int64, -1),
                             src=(object, None), src_ts=(np.int64, 0))

    def stage(self, chunk: Chunk) -> None:
        rows = chunk.rows(CUSTOMER)
        if rows.size == 0:
            self.latest.stage(_NONE, _NONE)
            return
        f = chunk.frame
        self.latest.stage(chunk.col(CUSTOMER, "customer_id"), rows_pos(chunk, rows), {
            "lat": chunk.col(CUSTOMER, "lat"),
            "lon": chunk.col(CUSTOMER, "lon"),
            "name": chunk.col(CUSTOMER, "name"),
            "src": f.ids[rows],
            "src_ts": f.ts[rows],
        })

    def lookup(self, cust: np.ndarray, pos: np.ndarray) -> dict[str, np.ndarray]:
        """``lat``/``lon`` (``nan`` unknown), ``name`` (code, ``-1``), ``src``/``src_ts`` (the event that set them)."""
        return self.latest.lookup(cust, pos)[1]

    def commit(self) -> None:
        self.latest.commit()


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
        counts, owner, plat, plon, taken = _flatten_photos(chunk.nested(FOLLOWUP, "photos"), sel)

        cust = chunk.col(FOLLOWUP, "customer_id")[sel]
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
        if fire.size:
            self._emit_all(f, rows[fire], ts[fire], cust[fire], {k: v[fire] for k, v in place.items()},
                           np.where(no_photo[fire], 0, np.where(far[fire], 1, 2)), nearest[fire],
                           np.where(n_t[fire] > 0, min_age[fire], -1), counts[fire])

    def _emit_all(self, f: Any, rows: np.ndarray, ts: np.ndarray, cust: np.ndarray, place: dict[str, np.ndarray],
                  why: np.ndarray, nearest: np.ndarray, min_age: np.ndarray, counts: np.ndarray) -> None:
        """One finding per fired visit (``why``: 0 no photo, 1 far, 2 stale; ``min_age`` ``-1``: no photo time)."""
        p, strings = self.params, self.ctx.strings
        radius_m, max_age_h = float(p.radius_m), p.max_photo_age / (3600 * US)
        when = _local_texts(self.ctx.clock.local_us(ts))
        for row, t, loc_text, w, near, age, cnt, c, name, src, src_ts in zip(
            rows.tolist(), ts.tolist(), when, why.tolist(), nearest.tolist(), min_age.tolist(),
            counts.tolist(), cust.tolist(), place["name"].tolist(), place["src"].tolist(), place["src_ts"].tolist(),
        ):
            reason = _REASONS[w]
            dist = round(near, 1) if near != np.inf else None
            age_s = age / US if age >= 0 else None
            details = {"reason": reason, "distance_m": dist, "photo_age_s": age_s, "photos": cnt}
            evidence = [(t, f.ids[row])]
            if dist is not None:  # the distance depends on the event that set the customer's location
                evidence.append((src_ts, src))
            cid = strings.text(c)
            emp = strings.text(int(f.employee[row]))
            self.emit(
                ts=t,
                subject=(f.ids[row],),
                employee_id=emp,
                customer_id=cid,
                evidence=evidence,
                details=details,
                reason=reason,
                message=self.render(
                    reason, details, employee_id=emp or "-", customer_id=cid,
                    customer=customer_label(strings, cid, name), when=loc_text,
                    radius_m=radius_m, max_age_h=max_age_h, age_h=(age_s or 0.0) / 3600,
                ),
            )


_REASONS = ("no_photo", "photo_far", "photo_stale")


def _flatten_photos(photos: Entries, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                               np.ndarray]:
    """The photos of the follow-ups ``sel`` (ascending positions among the chunk's follow-ups):
    ``(counts, owner, lat, lon, taken)``.

    ``owner`` is each photo's visit (a position in ``sel``); ``lat``/``lon`` are ``nan`` unless the
    photo has both, ``taken`` is ``NULL_INT`` without ``taken_at``.
    """
    counts = photos.counts[sel]
    chosen = np.zeros(photos.counts.size, dtype=bool)
    chosen[sel] = True
    pick = chosen[photos.owner]
    owner = np.searchsorted(sel, photos.owner[pick])
    lat, lon = photos.col("lat")[pick], photos.col("lon")[pick]
    partial = np.isnan(lat) != np.isnan(lon)
    if partial.any():
        lat[partial] = lon[partial] = np.nan
    return counts, owner, lat, lon, photos.col("taken_at")[pick]


def _local_texts(local_us: np.ndarray) -> list[str]:
    """``2026-04-02 10:30`` for each local wall-clock instant (microseconds), formatted by numpy."""
    return [t.replace("T", " ") for t in np.datetime_as_string(local_us.astype("datetime64[us]"), unit="m").tolist()]


DETECTORS = (VisitEvidenceMissing,)
