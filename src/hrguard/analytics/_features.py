"""Behaviour features: one vector per (employee, period), built from the events, vectorised.

A *period* is a local day or a local week (Monday to Sunday) in the ruleset's time zone. The vector
of employee E for period P summarises what E did in P; :data:`FEATURES` lists every feature and how
it is counted. Two ways to get them:

- :func:`build_features` over events (a path, paths, or a list of dicts), for notebooks: a
  :class:`FeatureMatrix` (a NumPy matrix with feature names and an ``(employee, period start)``
  index), and a pandas DataFrame with :meth:`FeatureMatrix.to_pandas` (the ``pandas`` extra).
- :class:`FeatureBuilder`, incrementally over the engine's time-ordered chunks (what the
  ``outlier.isolation_forest`` detector uses): state is carried from chunk to chunk, and a period's
  vectors are handed out, final, once the period has ended (every event up to its end has been seen).

Either way the vectors are the same, whatever the chunking: every look-up (a customer's owner or
location, a follow-up before a summary) is made as of the event's place in the one order of events,
sums that could depend on their order are integers or are taken in event order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Literal

import numpy as np

from ..columns import Chunk, Interner
from ..engine import default_engine
from ..errors import InvalidArgumentError, MissingExtraError, UnknownNameError
from ..events import (
    DAY_US,
    US,
    LocalClock,
    format_duration,
    format_time_of_day,
    parse_time_of_day,
    to_duration_us,
    to_instant_us,
)
from ..sdk import haversine_m, pack2, rows_pos, unpack2
from ..sdk.state import Column, Latest, Rows

PUNCH, PLAN, FOLLOWUP, SUMMARY = "attendance.punched", "plan.submitted", "followup.logged", "summary.submitted"
REQUEST, ORDER, REGISTERED, ASSIGNED, SITE = (
    "approval.requested", "order.recorded", "customer.registered", "customer.assigned", "site.registered")

HR_RECORDS = frozenset({"employee.hired", "employee.terminated", "payroll.settled"})
"""Kinds whose ``employee_id`` is the employee concerned, not someone acting: never counted as activity."""

Period = Literal["day", "week"]
PERIOD_DAYS = {"day": 1, "week": 7}
#: a summary's claims count (``claims``, ``unsupported_claims``) when it is sent at most this long after
#: its date has ended, as ``summary.unsupported_claim``'s default horizon: the follow-ups of older
#: dates are forgotten
CLAIM_HORIZON_US = 31 * 86_400_000_000


@dataclass(frozen=True)
class Feature:
    """One feature: its name, short labels for messages (English, Chinese), and how it is counted."""

    name: str
    en: str
    zh: str
    doc: str


FEATURES: tuple[Feature, ...] = (
    Feature("events", "events", "记录数",
            "events the employee acted in (their `employee_id`), of any kind but the HR records about them "
            "(`employee.hired`, `employee.terminated`, `payroll.settled`)"),
    Feature("punches", "clock-ins", "打卡次数", "`attendance.punched` events, in or out"),
    Feature("plan_items", "plan items", "计划事项数",
            "items naming a customer or site in the employee's plans for the period's dates (for each date, the "
            "latest `plan.submitted` for it received by the end of that date)"),
    Feature("plan_matched_share", "share of plan items visited", "计划事项到访比例",
            "share of those items whose place has a known location (as of the plan) that a clock-in matched: "
            "within `radius_m` of the place, inside the item's window widened by `window_slack` on both sides "
            "(1 when no item has a located place)"),
    Feature("plan_distance_mean_m", "mean distance from the planned place (m)", "与计划地点的平均距离（米）",
            "mean distance from each clock-in with coordinates that falls inside a plan item's widened window "
            "to that item's place (the first such item in plan order; items with a located place); 0 when none"),
    Feature("plan_distance_max_m", "largest distance from the planned place (m)", "与计划地点的最大距离（米）",
            "the largest of those distances; 0 when none"),
    Feature("visits", "visits", "拜访次数", "`followup.logged` with `channel: visit`"),
    Feature("visits_with_photo", "visits with a photo", "带照片的拜访次数", "those visits with at least one photo"),
    Feature("followups", "follow-ups", "跟进次数", "`followup.logged`, any channel"),
    Feature("customers", "customers", "客户数",
            "distinct customers named by the employee's follow-ups, approval requests and orders"),
    Feature("customers_of_others", "other people's customers", "他人名下客户数",
            "of those, customers owned by another employee at the event (latest `customer.registered` or "
            "`customer.assigned` before it)"),
    Feature("claims", "summary claims", "日报声明数", "`visit` and `call` claims of the employee's `summary.submitted` "
            "(sent within 31 days after its date)"),
    Feature("unsupported_claims", "unsupported claims", "无记录支撑的声明数",
            "those claims with no `followup.logged` by the employee for that customer on the summary's `date` "
            "before the summary (any channel)"),
    Feature("approvals", "approval requests", "审批申请数", "`approval.requested` events"),
    Feature("orders", "orders", "订单数", "`order.recorded` events"),
    Feature("order_amount", "order amount", "订单金额", "the sum of those orders' `amount`"),
    Feature("off_hours", "events outside working hours", "非工作时间记录数",
            "events counted in `events` before `work_start` (07:00) or after `work_end` (21:00), local time"),
    Feature("workday_h", "hours from first to last clock-in", "首末打卡间隔（小时）",
            "for each local date of the period with a clock-in, the hours from its first to its last "
            "`attendance.punched` (any direction); summed over the period's dates"),
    Feature("dwell_min", "minutes clocked in at places", "打卡停留时长（分钟）",
            "minutes from each `in` clock-in to the employee's next clock-in of the same date when that one is "
            "`out`: the time spent where they clocked in (at customers, for a sales rep)"),
    Feature("travel_km", "distance between clock-ins (km)", "打卡点间距离（公里）",
            "great-circle distance between consecutive clock-ins with coordinates of the same local date, "
            "summed, in kilometres"),
    Feature("first_in_h", "hour of the first clock-in", "首次打卡时间（时）",
            "local hour of the day's first clock-in (e.g. 9.5 for 09:30), averaged over the period's dates with "
            "a clock-in; 0 when none"),
    Feature("unregistered_customers", "customers the company does not know", "未登记客户数",
            "of the `customers`, those with no `customer.registered` before the event"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
_F = {name: i for i, name in enumerate(FEATURE_NAMES)}
_N = len(FEATURES)
(EVENTS, PUNCHES, PLAN_ITEMS, PLAN_SHARE, PLAN_MEAN, PLAN_MAX, VISITS, VISITS_PHOTO, FOLLOWUPS, CUSTOMERS,
 CUSTOMERS_OTHERS, CLAIMS, UNSUPPORTED, APPROVALS, ORDERS, AMOUNT, OFF_HOURS, WORKDAY_H, DWELL_MIN, TRAVEL_KM,
 FIRST_IN_H, UNREGISTERED) = range(_N)


def _bits(*features: int) -> int:
    out = 0
    for f in features:
        out |= 1 << f
    return out


_PLAN_BITS = _bits(PLAN_ITEMS, PLAN_SHARE, PLAN_MEAN, PLAN_MAX)
_CLOCK_BITS = _bits(WORKDAY_H, DWELL_MIN, TRAVEL_KM, FIRST_IN_H)


@dataclass(frozen=True)
class FeatureConfig:
    """How vectors are cut and counted: the period, and the few constants some features use."""

    period: Period = "day"
    radius_m: float = 500.0
    window_slack_us: int = 30 * 60 * US
    work_start_s: int = 7 * 3600
    work_end_s: int = 21 * 3600

    def __post_init__(self) -> None:
        if self.period not in PERIOD_DAYS:
            raise InvalidArgumentError("period", f"expected 'day' or 'week', got {self.period!r}")

    def as_dict(self) -> dict[str, Any]:
        """The settings as written in a ruleset (kept with a saved model, compared when loading it)."""
        return {"period": self.period, "radius_m": float(self.radius_m),
                "window_slack": format_duration(self.window_slack_us),
                "work_start": format_time_of_day(self.work_start_s),
                "work_end": format_time_of_day(self.work_end_s)}


def period_starts(days: np.ndarray, period: Period) -> np.ndarray:
    """The first local day of the period holding each local day (weeks start on Monday)."""
    days = np.asarray(days, dtype=np.int64)
    return days if period == "day" else days - ((days + 3) % 7)  # 1970-01-01 was a Thursday


def _key_day(keys: np.ndarray) -> np.ndarray:
    """The second half of :func:`hrguard.kit.pack2` keys."""
    return (np.asarray(keys, dtype=np.int64) & 0xFFFFFFFF) - (1 << 31)


def _key_emp(keys: np.ndarray) -> np.ndarray:
    return np.asarray(keys, dtype=np.int64) >> 32


# -- results ---------------------------------------------------------------------------------------
@dataclass
class FeatureBlock:
    """The final vectors of one period, rows ordered by employee id; and the events behind them.

    ``refs`` are the events each vector counts: ``ref_row`` (the vector's row), ``ref_mask`` (a
    bit per feature the event counts towards, bit ``i`` for ``FEATURE_NAMES[i]``), ``ref_ts``,
    ``ref_id``; sorted by row, then event order.
    """

    period_start: int
    end_us: int
    employees: list[str]
    X: np.ndarray
    ref_row: np.ndarray
    ref_mask: np.ndarray
    ref_ts: np.ndarray
    ref_id: np.ndarray

    def evidence(self, row: int, mask: int) -> list[tuple[int, str]]:
        """``(ts, id)`` of the events of vector ``row`` that count towards any feature in ``mask``."""
        lo, hi = np.searchsorted(self.ref_row, [row, row + 1])
        sel = lo + np.flatnonzero(self.ref_mask[lo:hi] & mask)
        return list(zip(self.ref_ts[sel].tolist(), self.ref_id[sel].tolist()))


@dataclass
class FeatureMatrix:
    """Feature vectors as a matrix: ``X[i]`` is the vector of ``employees[i]`` for the period starting ``periods[i]``.

    ``X`` is ``float64`` (rows x features), ``employees`` an object array of ids, ``periods`` a
    ``datetime64[D]`` array of local start dates. Rows are ordered by period start, then employee
    id. ``period`` is ``"day"`` or ``"week"``.
    """

    X: np.ndarray
    feature_names: tuple[str, ...]
    employees: np.ndarray
    periods: np.ndarray
    period: Period

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def index(self) -> list[tuple[str, date]]:
        """``(employee id, period start)`` of every row."""
        return list(zip(self.employees.tolist(), self.periods.tolist()))

    def select(self, features: list[str] | tuple[str, ...]) -> FeatureMatrix:
        """The same rows with only ``features`` (in that order)."""
        unknown = [f for f in features if f not in self.feature_names]
        if unknown:
            raise UnknownNameError("features", f"unknown feature(s) {unknown}; available: "
                                               f"{', '.join(self.feature_names)}")
        cols = [self.feature_names.index(f) for f in features]
        return FeatureMatrix(self.X[:, cols], tuple(features), self.employees, self.periods, self.period)

    def to_pandas(self) -> Any:
        """A pandas DataFrame: one column per feature, indexed by ``(employee_id, period_start)``."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise MissingExtraError("pandas", "pandas") from exc
        index = pd.MultiIndex.from_arrays(
            [self.employees.astype(str), pd.to_datetime(self.periods)],
            names=["employee_id", "period_start"])
        return pd.DataFrame(self.X, index=index, columns=list(self.feature_names))

    @classmethod
    def from_blocks(cls, blocks: list[FeatureBlock], period: Period) -> FeatureMatrix:
        rows = [b.X for b in blocks]
        X = np.vstack(rows) if rows else np.zeros((0, _N))
        employees = np.asarray([e for b in blocks for e in b.employees], dtype=object)
        periods = np.asarray([b.period_start for b in blocks for _ in b.employees], dtype=np.int64).astype("datetime64[D]")
        return cls(X, FEATURE_NAMES, employees, periods, period)


# -- the incremental builder -----------------------------------------------------------------------
#: the features that count the events whose ``mask`` bit is set (one each)
_COUNTED = (EVENTS, PUNCHES, VISITS, VISITS_PHOTO, FOLLOWUPS, APPROVALS, ORDERS, OFF_HOURS)
#: the features summed from the ``extras`` log (claims per summary, order amounts in cents)
_SUMMED = (CLAIMS, UNSUPPORTED, AMOUNT)


class _Log:
    """Rows appended chunk by chunk into typed columns (:class:`~hrguard.state.Column`), taken out
    (removed and returned) once the period they belong to has ended.

    Appending costs the same few NumPy calls for one row as for a chunk's thousands, and a saved
    log is one array per column, however it was chunked.
    """

    def __init__(self, **dtypes: Any):
        self.cols: dict[str, Column] = {name: _column(t) for name, t in dtypes.items()}

    def __len__(self) -> int:
        return len(next(iter(self.cols.values())))

    def append(self, **values: np.ndarray) -> None:
        for name, col in self.cols.items():
            col.extend(values[name])

    def take(self, closing: Callable[[dict[str, np.ndarray]], np.ndarray]) -> dict[str, np.ndarray] | None:
        """Remove the rows ``closing(columns)`` selects and return them (``None``: there are none)."""
        if not len(self):
            return None
        whole = {name: col.values for name, col in self.cols.items()}
        sel = closing(whole)
        if not sel.any():
            return None
        out = {name: v[sel] for name, v in whole.items()}
        keep = ~sel
        for name, col in self.cols.items():
            rest = whole[name][keep]
            self.cols[name] = fresh = _column(col.values.dtype)
            fresh.extend(rest)
        return out


def _column(dtype: Any) -> Column:
    dtype = np.dtype(dtype)
    return Column(dtype, None if dtype == object else 0)


_NO_BOOL = np.zeros(0, dtype=bool)
_NO_BOOL.flags.writeable = False
_TRUE = np.ones(1, dtype=bool)
_TRUE.flags.writeable = False


class FeatureBuilder:
    """Builds the vectors incrementally from time-ordered chunks of one tenant's events.

    Call :meth:`add` with each chunk, then :meth:`close` with the chunk's ``upto``: it returns the
    blocks of every period that has ended by then (its end is the next period's first instant), in
    period order, and forgets them. :meth:`flush` hands out the periods still open (for notebooks).

    What is carried between chunks is kept per *event*, not per vector: each event the employee
    acted in is one row of a log (its vector's key, a bit per feature it counts towards, its place
    in the order of events), plus rows for the few features that are sums (claims, order amounts),
    the customers named, plan items and clock-ins with a location. A chunk appends its rows with a
    few NumPy operations over its columns, whatever its size (a stream's one event or a batch's
    thousands); closing periods counts each feature per vector with one ``bincount`` over those
    rows. The carried state is :mod:`hrguard.state` stores and plain values, so it can be saved.
    """

    def __init__(self, clock: LocalClock, strings: Interner, config: FeatureConfig | None = None):
        self.clock = clock
        self.strings = strings
        self.config = config or FeatureConfig()
        self.days = PERIOD_DAYS[self.config.period]
        self.owners = Latest(owner=-1)  # customer -> owning employee
        self.known = Latest(known=0)  # customer -> 1 once registered
        self.places = Latest(lat=np.nan, lon=np.nan)  # customer -> registered location (nan: none)
        self.sites = Latest(lat=np.nan, lon=np.nan)  # site -> location
        self.followups = Rows(cust=np.int64, pos=np.int64)  # by (employee, local date)
        self._open: set[int] = set()  # period starts with something in them
        self._hr: tuple[int, ...] = ()  # the codes of the HR record kinds (see _hr_codes)
        self._ends: dict[int, int] = {}  # period start -> its end (a cache)
        # one row per event an employee acted in: vector key, feature bits, ts, id, position
        self._events = _Log(key=np.int64, mask=np.int64, ts=np.int64, id=object, pos=np.int64)
        self._extras = _Log(key=np.int64, col=np.int64, val=np.float64)  # summed features
        self._cust = _Log(key=np.int64, cust=np.int64, other=bool, unknown=bool)  # customers named
        self._items = _Log(emp=np.int64, day=np.int64, plan_pos=np.int64, k=np.int64, lo=np.int64, hi=np.int64,
                           lat=np.float64, lon=np.float64, plan_ts=np.int64, plan_id=object)
        self._punches = _Log(emp=np.int64, day=np.int64, wall=np.int64, lat=np.float64, lon=np.float64, pos=np.int64)
        # every clock-in, for the time and travel features: vector key, date, wall time, in or out, fix
        self._clock = _Log(key=np.int64, emp=np.int64, day=np.int64, wall=np.int64, inward=bool, lat=np.float64,
                           lon=np.float64, pos=np.int64)

    # -- period bookkeeping ----------------------------------------------------------------------
    def period_end(self, start: int) -> int:
        """The instant period ``start`` ends: local midnight starting the next period."""
        end = self._ends.get(start)
        if end is None:
            end = self._ends[start] = self.clock.instant(start + self.days, 0)
        return end

    def open_periods(self) -> list[int]:
        return sorted(self._open)

    # -- adding a chunk --------------------------------------------------------------------------
    def add(self, chunk: Chunk) -> None:
        """Fold the chunk's events into the open periods' vectors."""
        if len(chunk) == 0:
            return
        f = chunk.frame
        self._stage(chunk)
        acting = chunk.idx[f.employee[chunk.idx] >= 0]
        if acting.size:
            kind = f.kind[acting]
            hr = None
            for code in self._hr_codes():
                hr = kind == code if hr is None else hr | (kind == code)
            if hr is not None and hr.any():
                acting = acting[~hr]
        if acting.size:
            self._add_acting(chunk, acting)
        if chunk.has(PLAN):
            self._add_plans(chunk)
        self.places.commit()
        self.sites.commit()
        self.owners.commit()
        self.known.commit()

    def _hr_codes(self) -> tuple[int, ...]:
        """The codes of the HR record kinds seen so far (a kind's code never changes once it has one)."""
        codes = self._hr
        if len(codes) < len(HR_RECORDS):
            codes = self._hr = tuple(c for c in (self.strings.find(k) for k in sorted(HR_RECORDS)) if c >= 0)
        return codes

    def _stage(self, chunk: Chunk) -> None:
        """Stage the chunk's updates of customers' places and owners and of sites' places."""
        reg, asg, site = chunk.rows(REGISTERED), chunk.rows(ASSIGNED), chunk.rows(SITE)
        if reg.size:
            self.places.stage(chunk.col(REGISTERED, "customer_id"), rows_pos(chunk, reg),
                              {"lat": chunk.col(REGISTERED, "lat"), "lon": chunk.col(REGISTERED, "lon")})
            self.known.stage(chunk.col(REGISTERED, "customer_id"), rows_pos(chunk, reg),
                             {"known": np.ones(reg.size, dtype=np.int64)})
        if reg.size or asg.size:
            rows = np.concatenate([reg, asg])
            cust = np.concatenate([chunk.col(REGISTERED, "customer_id"), chunk.col(ASSIGNED, "customer_id")])
            owner = np.concatenate([chunk.col(REGISTERED, "owner_id"), chunk.col(ASSIGNED, "owner_id")])
            order = np.argsort(rows, kind="stable")
            self.owners.stage(cust[order], rows_pos(chunk, rows[order]), {"owner": owner.astype(np.int64)[order]})
        if site.size:
            self.sites.stage(chunk.col(SITE, "site_id"), rows_pos(chunk, site),
                             {"lat": chunk.col(SITE, "lat"), "lon": chunk.col(SITE, "lon")})

    def _add_acting(self, chunk: Chunk, acting: np.ndarray) -> None:
        f, cfg, strings = chunk.frame, self.config, self.strings
        n = acting.size
        ts = f.ts[acting]
        emp = f.employee[acting].astype(np.int64)
        local = self.clock.local_us(ts)
        day = np.floor_divide(local, DAY_US)
        tod = local - day * DAY_US
        starts = period_starts(day, cfg.period)
        keys = pack2(emp, starts)
        mask = np.full(n, 1 << EVENTS, dtype=np.int64)
        mask[(tod < cfg.work_start_s * US) | (tod > cfg.work_end_s * US)] |= 1 << OFF_HOURS
        sums: list[tuple[np.ndarray, int, np.ndarray]] = []  # (index in acting, feature, value)

        def mine(kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """This kind's rows by an employee: (which of the kind's rows, frame rows, index in ``acting``)."""
            rows = chunk.rows(kind)
            if rows.size == 0:  # most kinds, in a stream's one-event chunk
                return _NO_BOOL, rows, rows
            has = f.employee[rows] >= 0
            return has, rows[has], np.searchsorted(acting, rows[has])

        has, rows, j = mine(PUNCH)
        if rows.size:
            mask[j] |= (1 << PUNCHES) | _PLAN_BITS | _CLOCK_BITS
            lat, lon = chunk.col(PUNCH, "lat")[has], chunk.col(PUNCH, "lon")[has]
            inward = chunk.col(PUNCH, "direction")[has] == strings.find("in")
            self._clock.append(key=keys[j], emp=emp[j], day=day[j], wall=local[j], inward=inward, lat=lat, lon=lon,
                               pos=rows_pos(chunk, rows))
            fix = ~np.isnan(lat)
            if fix.any():
                jf = j[fix]
                self._punches.append(emp=emp[jf], day=day[jf], wall=local[jf], lat=lat[fix], lon=lon[fix],
                                     pos=rows_pos(chunk, rows[fix]))

        cust_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (index in acting, customer, pos)
        has, rows, j = mine(FOLLOWUP)
        if rows.size:
            mask[j] |= 1 << FOLLOWUPS
            visit = strings.find("visit")
            is_visit = chunk.col(FOLLOWUP, "channel")[has] == visit if visit >= 0 else np.zeros(rows.size, bool)
            with_photo = is_visit & (chunk.col(FOLLOWUP, "photos")[has] > 0)  # the number of photos
            mask[j[is_visit]] |= 1 << VISITS
            mask[j[with_photo]] |= 1 << VISITS_PHOTO
            cust = chunk.col(FOLLOWUP, "customer_id")[has].astype(np.int64)
            pos = rows_pos(chunk, rows)
            self.followups.add(pack2(emp[j], day[j]), {"cust": cust, "pos": pos})
            cust_parts.append((j, cust, pos))
        for kind, col in ((REQUEST, APPROVALS), (ORDER, ORDERS)):
            has, rows, j = mine(kind)
            if rows.size:
                mask[j] |= 1 << col
                cust = chunk.col(kind, "customer_id")[has].astype(np.int64)
                cust_parts.append((j, cust, rows_pos(chunk, rows)))
                if kind == ORDER:  # in cents, so that sums are exact integers whatever the chunking
                    sums.append((j, AMOUNT, np.rint(np.nan_to_num(chunk.col(ORDER, "amount")[has]) * 100)))
                    mask[j] |= 1 << AMOUNT
        if cust_parts:
            j, cust, pos = (np.concatenate(p) for p in zip(*cust_parts)) if len(cust_parts) > 1 else cust_parts[0]
            named = cust >= 0
            if not named.all():
                j, cust, pos = j[named], cust[named], pos[named]
            _, vals = self.owners.lookup(cust, pos)
            owner = vals["owner"].astype(np.int64)
            other = (owner >= 0) & (owner != emp[j])
            _, known = self.known.lookup(cust, pos)
            unknown = known["known"].astype(np.int64) == 0
            mask[j] |= 1 << CUSTOMERS
            mask[j[other]] |= 1 << CUSTOMERS_OTHERS
            mask[j[unknown]] |= 1 << UNREGISTERED
            self._cust.append(key=keys[j], cust=cust, other=other, unknown=unknown)

        has, rows, j = mine(SUMMARY)
        if rows.size:
            self._add_claims(chunk, rows, has, j, emp, mask, sums)

        self._events.append(key=keys, mask=mask, ts=ts, id=f.ids[acting], pos=rows_pos(chunk, acting))
        if sums:
            j = np.concatenate([s[0] for s in sums])
            self._extras.append(key=keys[j], col=np.concatenate([np.full(s[0].size, s[1]) for s in sums]),
                                val=np.concatenate([s[2] for s in sums]))
        self._open.update(starts[np.concatenate((_TRUE, starts[1:] != starts[:-1]))].tolist())  # in time order: runs

    def _add_claims(self, chunk: Chunk, rows: np.ndarray, has: np.ndarray, j: np.ndarray, emp: np.ndarray,
                    mask: np.ndarray, sums: list[tuple[np.ndarray, int, np.ndarray]]) -> None:
        dates = chunk.col(SUMMARY, "date")[has]
        claims = chunk.nested(SUMMARY, "claims")
        act = claims.col("activity")
        visit, call = self.strings.find("visit"), self.strings.find("call")
        # the visit and call claims of summaries sent within CLAIM_HORIZON after their date
        in_time = np.zeros(has.size, dtype=bool)
        in_time[has] = chunk.frame.ts[rows] <= self.clock.day_ends(dates) + CLAIM_HORIZON_US
        q = np.flatnonzero(in_time[claims.owner] & ((act == visit) | (act == call)))
        if q.size == 0:
            return
        qs = (np.cumsum(has) - 1)[claims.owner[q]]  # the claim's summary, among the employees' ones
        qc = claims.col("customer_id")[q].astype(np.int64)
        qpos = rows_pos(chunk, rows)[qs]
        qi, found = self.followups.find(pack2(emp[j[qs]], dates[qs].astype(np.int64)))
        ok = (found["cust"] == qc[qi]) & (found["pos"] < qpos[qi])
        supported = np.bincount(qi[ok], minlength=qs.size) > 0
        sums.append((j[qs], CLAIMS, np.ones(qs.size)))
        sums.append((j[qs[~supported]], UNSUPPORTED, np.ones(int((~supported).sum()))))
        mask[j[qs]] |= 1 << CLAIMS
        mask[j[qs[~supported]]] |= 1 << UNSUPPORTED

    def _add_plans(self, chunk: Chunk) -> None:
        f, strings, cfg = chunk.frame, self.strings, self.config
        rows = chunk.rows(PLAN)
        has = f.employee[rows] >= 0
        rows = rows[has]
        if rows.size == 0:
            return
        dates = chunk.col(PLAN, "date")[has].astype(np.int64)
        received = np.floor_divide(self.clock.local_us(f.ts[rows]), DAY_US)
        ok = received <= dates  # a plan received after its date has ended is never used
        items = chunk.nested(PLAN, "items")
        ok_all = np.zeros(has.size, dtype=bool)
        ok_all[np.flatnonzero(has)] = ok
        cust, site = items.col("customer_id").astype(np.int64), items.col("site_id").astype(np.int64)
        by_site = cust < 0
        q = np.flatnonzero(ok_all[items.owner] & ~(by_site & (site < 0)))  # items naming a place
        if q.size == 0:
            return  # no item names a place
        ri = (np.cumsum(has) - 1)[items.owner[q]]  # the item's plan, among the employees' ones
        k_i = items.index[q]
        by_site = by_site[q]
        place = np.where(by_site, site[q], cust[q])
        base = dates[ri] * DAY_US
        lo = base + items.col("start")[q] * US
        hi = base + items.col("end")[q] * US
        pos = rows_pos(chunk, rows)[ri]
        lat, lon = np.full(ri.size, np.nan), np.full(ri.size, np.nan)
        for store, which in ((self.places, ~by_site), (self.sites, by_site)):
            s = np.flatnonzero(which)
            if s.size:
                _, vals = store.lookup(place[s], pos[s])
                lat[s], lon[s] = vals["lat"], vals["lon"]
        slack = cfg.window_slack_us
        self._items.append(emp=f.employee[rows][ri].astype(np.int64), day=dates[ri], plan_pos=pos,
                           k=np.asarray(k_i, dtype=np.int64), lo=lo - slack, hi=hi + slack, lat=lat, lon=lon,
                           plan_ts=f.ts[rows][ri], plan_id=f.ids[rows][ri])
        self._open.update(period_starts(dates[ri], cfg.period).tolist())

    # -- closing periods -------------------------------------------------------------------------
    def expire(self, watermark: int) -> None:
        """Forget the follow-ups no later summary can count (dates more than :data:`CLAIM_HORIZON_US` ended)."""
        before = self.clock.local_day(watermark - CLAIM_HORIZON_US) - 1
        self.followups.forget(lambda keys: unpack2(keys)[1] < before)

    def close(self, upto: int) -> list[FeatureBlock]:
        """The blocks of every open period that has ended at or before ``upto``, in period order."""
        ready = [s for s in sorted(self._open) if self.period_end(s) <= upto]
        return self._close(ready) if ready else []

    def flush(self) -> list[FeatureBlock]:
        """The blocks of every open period, ended or not (what a notebook over a finished log wants)."""
        return self._close(sorted(self._open))

    def _close(self, starts: list[int]) -> list[FeatureBlock]:
        want = np.asarray(starts, dtype=np.int64)
        self._open.difference_update(starts)
        period = self.config.period

        def by_key(c: dict[str, np.ndarray]) -> np.ndarray:
            return np.isin(_key_day(c["key"]), want)

        def by_day(c: dict[str, np.ndarray]) -> np.ndarray:
            return np.isin(period_starts(c["day"], period), want)

        events, extras, cust = self._events.take(by_key), self._extras.take(by_key), self._cust.take(by_key)
        latest = self._latest_plans(self._items.take(by_day))
        punches = self._punches.take(by_day)
        clock = self._clock.take(by_key)
        ikeys = pack2(latest["emp"], period_starts(latest["day"], period)) if latest else np.zeros(0, np.int64)
        ekeys = events["key"] if events is not None else np.zeros(0, np.int64)
        # the vectors: every (employee, period) with an event or a plan item, sorted; each one's row
        vkeys, v_row = np.unique(np.concatenate([ekeys, ikeys]), return_inverse=True)
        if vkeys.size == 0:
            return []
        nv = vkeys.size
        e_row, i_row = v_row[:ekeys.size], v_row[ekeys.size:]

        # counts: one bincount per feature over the closing events' rows
        X = np.zeros((nv, _N))
        e_mask = events["mask"] if events is not None else np.zeros(0, np.int64)
        for col in _COUNTED if events is not None else ():
            X[:, col] = np.bincount(e_row[(e_mask & (1 << col)) != 0], minlength=nv)
        if extras is not None:
            x_row = np.searchsorted(vkeys, extras["key"])
            for col in _SUMMED:
                sel = extras["col"] == col
                if sel.any():  # exact: every value is an integer (cents for amounts)
                    X[:, col] = np.bincount(x_row[sel], weights=extras["val"][sel], minlength=nv)
        X[:, AMOUNT] /= 100.0
        X[:, PLAN_SHARE] = 1.0  # nothing planned: nothing missed
        plan_refs = self._plan_features(X, i_row, latest, punches) if latest else None
        if clock is not None:
            _clock_features(X, np.searchsorted(vkeys, clock["key"]), clock)

        # distinct customers, and those owned by someone else
        if cust is not None:
            k, c, other = cust["key"], cust["cust"], cust["other"]
            for col, m in ((CUSTOMERS, None), (CUSTOMERS_OTHERS, other), (UNREGISTERED, cust["unknown"])):
                kk, cc = (k, c) if m is None else (k[m], c[m])
                if kk.size:
                    o = np.lexsort((cc, kk))
                    kk, cc = kk[o], cc[o]
                    first = np.r_[True, (kk[1:] != kk[:-1]) | (cc[1:] != cc[:-1])]
                    X[:, col] = np.bincount(np.searchsorted(vkeys, kk[first]), minlength=nv)

        # the events behind each vector (the plans behind the plan features after the events)
        r_row, r_mask = e_row, e_mask
        r_ts = events["ts"] if events is not None else np.zeros(0, np.int64)
        r_id = events["id"] if events is not None else np.zeros(0, dtype=object)
        r_pos = events["pos"] if events is not None else np.zeros(0, np.int64)
        if plan_refs is not None:
            p_row, p_ts, p_id, p_pos = plan_refs
            r_row = np.concatenate([r_row, p_row])
            r_mask = np.concatenate([r_mask, np.full(p_row.size, _PLAN_BITS, dtype=np.int64)])
            r_ts, r_id = np.concatenate([r_ts, p_ts]), np.concatenate([r_id, p_id])
            r_pos = np.concatenate([r_pos, p_pos])

        # one block per period, rows by employee id: one sort of the vectors and one of the refs for
        # every closing period at once (a batch scan closes hundreds of periods in one call)
        vday = _key_day(vkeys)
        codes, inv = np.unique(_key_emp(vkeys), return_inverse=True)
        names = self.strings.texts(codes.astype(np.int32))
        rank = np.empty(codes.size, dtype=np.int64)
        rank[sorted(range(codes.size), key=names.__getitem__)] = np.arange(codes.size)
        order = np.lexsort((rank[inv], vday))  # by period, then employee id
        bounds = np.flatnonzero(np.r_[True, vday[order][1:] != vday[order][:-1], True])
        block_of = np.empty(nv, dtype=np.int64)
        newpos = np.empty(nv, dtype=np.int64)
        block_of[order] = np.repeat(np.arange(bounds.size - 1), np.diff(bounds))
        newpos[order] = np.arange(nv) - np.repeat(bounds[:-1], np.diff(bounds))
        # the refs by vector (block, then row), then place in the order of events, i.e. (ts, id); a plan
        # counted both as an event and as the plan behind the plan features: the event's entry first.
        # One key, unique, so one unstable sort: vector rank, then position rank, then plan-or-not
        v_rank = np.empty(nv, dtype=np.int64)
        v_rank[order] = np.arange(nv)
        p_seq, p_rank = np.unique(r_pos, return_inverse=True)
        plan = np.zeros(r_row.size, dtype=np.int64)
        plan[e_row.size:] = 1
        o = np.argsort((v_rank[r_row] * p_seq.size + p_rank) * 2 + plan)
        r_block, rr = block_of[r_row[o]], newpos[r_row[o]]
        r_mask, r_ts, r_id = r_mask[o], r_ts[o], r_id[o]
        r_bounds = np.searchsorted(r_block, np.arange(bounds.size))
        blocks = []
        for b, (lo, hi) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist())):
            rows = order[lo:hi]
            s = int(vday[rows[0]])
            a, z = r_bounds[b], r_bounds[b + 1]
            blocks.append(FeatureBlock(
                period_start=s, end_us=self.period_end(s), employees=[names[i] for i in inv[rows].tolist()],
                X=X[rows], ref_row=rr[a:z], ref_mask=r_mask[a:z], ref_ts=r_ts[a:z], ref_id=r_id[a:z]))
        return blocks

    @staticmethod
    def _latest_plans(items: dict[str, np.ndarray] | None) -> dict[str, np.ndarray] | None:
        """Only the items of each (employee, date)'s latest plan, sorted by (employee, date, item order)."""
        if items is None:
            return None
        ed = pack2(items["emp"], items["day"])
        o = np.lexsort((items["k"], items["plan_pos"], ed))
        items = {k: v[o] for k, v in items.items()}
        ed = ed[o]
        last = np.r_[ed[1:] != ed[:-1], True]
        latest_pos = np.repeat(items["plan_pos"][last], np.diff(np.r_[0, np.flatnonzero(last) + 1]))
        keep = items["plan_pos"] == latest_pos
        return {k: v[keep] for k, v in items.items()}

    def _plan_features(self, X: np.ndarray, i_row: np.ndarray, items: dict[str, np.ndarray],
                       punches: dict[str, np.ndarray] | None) -> tuple[np.ndarray, ...]:
        """Fill the plan columns of ``X`` (``i_row``: each item's vector); return the plans used as
        evidence: (vector row, ts, id, position)."""
        nv = X.shape[0]
        i_ed = pack2(items["emp"], items["day"])
        located = ~np.isnan(items["lat"])
        n_items = i_ed.size
        matched = np.zeros(n_items, dtype=bool)
        if punches is not None:
            p_ed = pack2(punches["emp"], punches["day"])
            po = np.lexsort((punches["pos"], p_ed))
            punches = {k: v[po] for k, v in punches.items()}
            p_ed = p_ed[po]
            lo = np.searchsorted(p_ed, i_ed, side="left")
            cnt = np.searchsorted(p_ed, i_ed, side="right") - lo
            total = int(cnt.sum())
            if total:
                pi = np.repeat(np.arange(n_items), cnt)  # pair -> item (items sorted by (E, D, k))
                pp = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(total)  # pair -> punch
                wall = punches["wall"][pp]
                w = np.flatnonzero((wall >= items["lo"][pi]) & (wall <= items["hi"][pi]))  # inside the window
                if w.size:
                    pi, pp = pi[w], pp[w]  # from here on, only the pairs inside the window
                    dist = haversine_m(punches["lat"][pp], punches["lon"][pp], items["lat"][pi], items["lon"][pi])
                    matched[pi[dist <= self.config.radius_m]] = True
                    # each punch's planned place: the first item (plan order) whose window holds it
                    o = np.lexsort((pi, pp))
                    first = o[np.r_[True, pp[o][1:] != pp[o][:-1]]]
                    first = first[located[pi[first]]]
                    first = first[np.argsort(pp[first], kind="stable")]  # event order within a vector
                    row = i_row[pi[first]]
                    d = dist[first]
                    count = np.bincount(row, minlength=nv)
                    total_d = np.bincount(row, weights=d, minlength=nv)
                    has = count > 0
                    X[has, PLAN_MEAN] = total_d[has] / count[has]
                    mx = np.zeros(nv)
                    np.maximum.at(mx, row, d)
                    X[:, PLAN_MAX] = mx
        X[:, PLAN_ITEMS] = np.bincount(i_row, minlength=nv)
        n_located = np.bincount(i_row[located], minlength=nv)
        n_matched = np.bincount(i_row[matched & located], minlength=nv)
        X[:, PLAN_SHARE] = np.where(n_located > 0, n_matched / np.maximum(n_located, 1), 1.0)
        # one evidence entry per plan per vector
        key = np.lexsort((items["plan_pos"], i_row))
        r, p = i_row[key], items["plan_pos"][key]
        first = np.r_[True, (r[1:] != r[:-1]) | (p[1:] != p[:-1])]
        return r[first], items["plan_ts"][key][first], items["plan_id"][key][first], p[first]


def _clock_features(X: np.ndarray, row: np.ndarray, clock: dict[str, np.ndarray]) -> None:
    """Fill the time and travel columns of ``X`` from the period's clock-ins (``row``: each one's vector)."""
    nv = X.shape[0]
    ed = pack2(clock["emp"], clock["day"])
    o = np.lexsort((clock["pos"], ed))  # by employee and date, then the one order of events
    ed, row = ed[o], row[o]
    wall, inward, lat, lon = clock["wall"][o], clock["inward"][o], clock["lat"][o], clock["lon"][o]
    first = np.r_[True, ed[1:] != ed[:-1]]
    last = np.r_[ed[1:] != ed[:-1], True]
    n_days = np.bincount(row[first], minlength=nv)
    span = (wall[last] - wall[first]) / 3_600_000_000  # hours, per (employee, date)
    X[:, WORKDAY_H] = np.bincount(row[first], weights=span, minlength=nv)
    tod = (wall[first] - np.floor_divide(wall[first], DAY_US) * DAY_US) / 3_600_000_000
    X[:, FIRST_IN_H] = np.where(n_days > 0, np.bincount(row[first], weights=tod, minlength=nv) / np.maximum(n_days, 1), 0)
    same = ~first[1:]  # consecutive clock-ins of one (employee, date)
    pair = np.flatnonzero(same & inward[:-1] & ~inward[1:])
    X[:, DWELL_MIN] = np.bincount(row[pair], weights=(wall[pair + 1] - wall[pair]) / 60_000_000, minlength=nv)
    # travel: between consecutive fixes of a date (clock-ins without coordinates are skipped)
    fx = np.flatnonzero(~np.isnan(lat))
    if fx.size > 1:
        a, b = fx[:-1], fx[1:]
        ok = ed[a] == ed[b]
        a, b = a[ok], b[ok]
        d = haversine_m(lat[a], lon[a], lat[b], lon[b]) / 1000.0
        X[:, TRAVEL_KM] = np.bincount(row[a], weights=d, minlength=nv)


# -- standalone ------------------------------------------------------------------------------------
def build_features(events: Any, *, timezone: str = "UTC", period: Period = "day", as_of: Any = None,
                   complete_only: bool = False, tenant: str | None = None, radius_m: float = 500.0,
                   window_slack: Any = "30m", work_start: str = "07:00", work_end: str = "21:00",
                   engine: Any = None) -> FeatureMatrix:
    """Feature vectors of ``events`` (a path, paths, a file, or an iterable of event dicts).

    ``timezone`` is the IANA zone of local dates (use the ruleset's: ``ruleset.timezone``). Events
    after ``as_of`` (default: the latest ``ts``) are ignored; ``complete_only=True`` keeps only the
    periods that ended by ``as_of``. Invalid records are skipped (as a scan rejects them). Events of
    several tenants need ``tenant=`` to pick one.
    """

    engine = engine or default_engine()
    config = FeatureConfig(period, float(radius_m), to_duration_us(window_slack, what="window_slack"),
                           time_of_day_seconds(work_start),
                           time_of_day_seconds(work_end))
    intake = engine.intake()
    strings = intake.strings
    as_of_us = to_instant_us(as_of, what="as_of") if as_of is not None else None
    frame = intake.frame(events, as_of_us)
    if as_of_us is None and len(frame):
        as_of_us = int(frame.ts[-1])
    tenants = sorted(set(strings.texts(np.unique(frame.tenant))), key=lambda t: (t is not None, t or ""))
    if tenant is None and len(tenants) > 1:
        raise InvalidArgumentError("tenant", f"the events belong to several tenants ({', '.join(map(str, tenants))}): "
                                             f"pass tenant=")
    fb = FeatureBuilder(LocalClock(timezone), strings, config)
    blocks: list[FeatureBlock] = []
    if len(frame):
        chunk = Chunk(frame, np.arange(len(frame)), as_of_us)
        if tenant is not None:
            code = strings.find(tenant)
            chunk = chunk.select(frame.tenant == code) if code >= 0 else Chunk.empty(frame, as_of_us)
        fb.add(chunk)
        blocks = fb.close(as_of_us) if complete_only else fb.flush()
    return FeatureMatrix.from_blocks(blocks, period)


def time_of_day_seconds(hhmm: str) -> int:
    """Seconds after local midnight of ``HH:MM`` or ``HH:MM:SS`` (``24:00`` is the day's end): see
    :func:`hrguard.events.parse_time_of_day`."""
    return parse_time_of_day(hhmm, allow_24=True)
