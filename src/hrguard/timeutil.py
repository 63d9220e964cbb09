"""Time as hrguard counts it: instants in integer microseconds, durations, and local dates and times.

Every instant inside the engine is an ``int`` (or ``int64`` column) of microseconds since the Unix
epoch, UTC. Local dates are ``int`` days since 1970-01-01 in the ruleset's time zone.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

US = 1_000_000
DAY_US = 86_400 * US
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_DATE = date(1970, 1, 1)
_BUCKET_US = 900 * US  # UTC offsets change only on quarter-hour boundaries in every modern zone

_UNIT_US = {"s": US, "m": 60 * US, "h": 3600 * US, "d": 86_400 * US, "w": 7 * 86_400 * US}
_SIMPLE = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*([smhdw])\s*)+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_ISO = re.compile(
    r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)

DURATION_HELP = "a duration such as '45s', '30m', '12h', '7d', '1h30m' or ISO 8601 'P7D' / 'PT30M'"


def parse_duration(value: str | int | float | timedelta) -> int:
    """Return a duration in microseconds; ``ValueError`` names the accepted forms."""
    if isinstance(value, timedelta):
        return (value.days * 86_400 + value.seconds) * US + value.microseconds
    if isinstance(value, bool):
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value!r}")
        return int(round(value * US))  # a bare number is seconds
    if not isinstance(value, str):
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    text = value.strip()
    if text in ("0", ""):
        if text == "0":
            return 0
        raise ValueError(f"expected {DURATION_HELP}, got an empty string")
    if _SIMPLE.match(text):
        return int(round(sum(float(n) * _UNIT_US[u] for n, u in _PART.findall(text))))
    m = _ISO.match(text.upper())
    if m and text.upper() not in ("P", "PT") and not text.upper().endswith("T"):
        parts = {k: float(v) for k, v in m.groupdict().items() if v is not None}
        total = (
            parts.get("w", 0) * _UNIT_US["w"]
            + parts.get("d", 0) * _UNIT_US["d"]
            + parts.get("h", 0) * _UNIT_US["h"]
            + parts.get("m", 0) * _UNIT_US["m"]
            + parts.get("s", 0) * US
        )
        return int(round(total))
    hint = ""
    if text.startswith("-"):
        hint = " (a duration cannot be negative)"
    elif re.match(r"^P(?:[\d.]+[YMWD])*[\d.]+[YM]", text.upper()):
        hint = " (months and years have no fixed length: write days, e.g. 'P30D' or '30d')"
    elif re.match(r"^\s*(?:\d+(?:\.\d+)?\s*[SMHDW]\s*)+$", text):
        hint = f" (units are lower case: {text.lower()!r})"
    elif re.match(r"^\s*\d+(?:\.\d+)?\s*$", text):
        hint = f" (a bare number needs a unit, e.g. '{text}s' or '{text}m')"
    raise ValueError(f"expected {DURATION_HELP}, got {value!r}{hint}")


def format_duration(us: int) -> str:
    """The shortest exact ``7d`` / ``90m`` / ``45s`` form of a duration in microseconds (``0s`` for zero)."""
    if us == 0:
        return "0s"
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_US[unit]
        if us % size == 0:
            return f"{us // size}{unit}"
    return f"{us / US}s"


def to_us(dt: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact integer arithmetic)."""
    if dt.tzinfo is None:
        raise ValueError("a timestamp needs an offset (RFC 3339), e.g. 2026-03-30T09:12:00+08:00")
    d = dt - _EPOCH
    return (d.days * 86_400 + d.seconds) * US + d.microseconds


def from_us(us: int, tz: ZoneInfo | timezone = timezone.utc) -> datetime:
    return (_EPOCH + timedelta(microseconds=int(us))).astimezone(tz)


def date_to_days(d: date) -> int:
    return (d - _EPOCH_DATE).days


def days_to_date(days: int) -> date:
    return _EPOCH_DATE + timedelta(days=int(days))


def time_to_seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


@lru_cache(maxsize=64)
def get_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ``ValueError`` when it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r} (e.g. 'Asia/Shanghai', 'UTC')") from exc


class LocalClock:
    """Converts instants to local dates and times of one zone, vectorised over ``int64`` columns.

    UTC offsets are looked up once per quarter hour of the data (zones change offsets only on
    quarter-hour instants) and cached, so a million punches cost a few thousand zone lookups.
    """

    def __init__(self, zone: str = "UTC"):
        self.name = zone
        self.zone = get_zone(zone)
        self._offsets: dict[int, int] = {}
        self._instants: dict[tuple[int, float], int] = {}  # plans repeat the same few HH:MM a day

    def _offset_of_bucket(self, bucket: int) -> int:
        off = self._offsets.get(bucket)
        if off is None:
            dt = _EPOCH + timedelta(microseconds=bucket * _BUCKET_US)
            delta = dt.astimezone(self.zone).utcoffset()
            off = (delta.days * 86_400 + delta.seconds) * US + delta.microseconds
            self._offsets[bucket] = off
        return off

    def offsets(self, ts_us: np.ndarray) -> np.ndarray:
        ts_us = np.asarray(ts_us, dtype=np.int64)
        if ts_us.size == 0:
            return np.zeros(0, dtype=np.int64)
        buckets = np.floor_divide(ts_us, _BUCKET_US)
        if buckets.size == 1:  # a stream's single event: no need to sort
            return np.array([self._offset_of_bucket(int(buckets[0]))], dtype=np.int64)
        uniq, inverse = np.unique(buckets, return_inverse=True)
        offs = np.fromiter((self._offset_of_bucket(int(b)) for b in uniq), dtype=np.int64, count=uniq.size)
        return offs[inverse]

    def local_us(self, ts_us: np.ndarray) -> np.ndarray:
        """Local wall-clock microseconds since 1970-01-01T00:00 (local)."""
        ts_us = np.asarray(ts_us, dtype=np.int64)
        return ts_us + self.offsets(ts_us)

    def local_days(self, ts_us: np.ndarray) -> np.ndarray:
        return np.floor_divide(self.local_us(ts_us), DAY_US)

    def local_day(self, ts_us: int) -> int:
        return int(self.local_days(np.array([ts_us]))[0])

    def instant(self, days: int, seconds_of_day: float) -> int:
        """The instant of local wall time ``seconds_of_day`` on local date ``days`` (fold=0).

        Seconds beyond 86400 or below 0 roll into the next or previous day, so windows widened by a
        slack stay exact instants.
        """
        key = (days, seconds_of_day)
        got = self._instants.get(key)
        if got is None:
            base = datetime.combine(days_to_date(days), time(0)) + timedelta(seconds=seconds_of_day)
            got = self._instants[key] = to_us(base.replace(tzinfo=self.zone))
        return got

    def end_of_day(self, days: int) -> int:
        """The instant of local 23:59:59 on local date ``days``."""
        return self.instant(days, 86_399)
