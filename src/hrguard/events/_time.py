"""Time as hrguard counts it: instants in integer microseconds, durations, and local dates and times.

Every instant inside the engine is an ``int`` (or ``int64`` column) of microseconds since the Unix
epoch, UTC. Local dates are ``int`` days since 1970-01-01 in the ruleset's time zone.

**One policy for times given to hrguard** — function arguments (``scan(as_of=)``,
``Stream(allowed_lateness=)``, ``Stream.advance_to()``, ``scan(max_disorder=)``, the notebook and
quality helpers), command-line options (``--as-of``, ``--max-disorder``) and ruleset parameters
(:data:`hrguard.sdk.Duration`) all go through :func:`to_instant_us` and :func:`to_duration_us`:

- an **instant** is an aware ``datetime``; a string in RFC 3339 with an offset
  (``2026-04-20T18:00:00+08:00``, ``...Z``); or a number (``int``, ``float``, numpy) of **seconds since
  the Unix epoch**, as ``time.time()`` gives. A naive ``datetime``, a string without an offset and a
  bare date are refused (which zone's midnight?), as the contract refuses them in events.
- a **duration** is a ``timedelta``; a string such as ``30m``, ``12h``, ``7d``, ``1h30m`` or ISO 8601
  ``P7D``/``PT30M`` (the contract's formats); or a number of **seconds**.
- The type decides: a number is seconds, text is read in the contract's formats and must say its
  unit or offset. Text that is just a number (``"90"``, ``--max-disorder 90``) is refused with the
  fix (``'90s'`` or ``'90m'``), except ``"0"``: the command line always gives text, and a YAML
  string was written as one on purpose.
- ``bool`` is never a number here; NaN, infinities, negative durations and instants outside the
  years 0001-01-02 to 9999-12-30 (UTC) are refused. Every refusal is an
  :class:`~hrguard.errors.InvalidArgumentError` (a ``ValueError``; ``ArgumentTypeError``, also a
  ``TypeError``, for a type never accepted) whose message names the argument.

Event timestamps are not arguments: they follow the wire format of the contract (RFC 3339 strings
with an offset only), checked by the event models.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from ..errors import ArgumentTypeError, InvalidArgumentError

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
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

MIN_US = (datetime(1, 1, 2, tzinfo=timezone.utc) - _EPOCH) // timedelta(microseconds=1)
"""The earliest instant accepted (0001-01-02 UTC: a day of room for any zone's offset)."""
MAX_US = (datetime(9999, 12, 30, 23, 59, 59, 999_999, tzinfo=timezone.utc) - _EPOCH) // timedelta(microseconds=1)
"""The latest instant accepted (9999-12-30 UTC)."""
MAX_DURATION_US = MAX_US - MIN_US
"""The longest duration accepted: any longer reaches past the instants hrguard can represent."""

DURATION_HELP = "a duration such as '45s', '30m', '12h', '7d', '1h30m' or ISO 8601 'P7D' / 'PT30M'"
"""The text forms of a duration (a number, not text, is seconds)."""
INSTANT_HELP = "an RFC 3339 time with an offset, e.g. 2026-04-20T18:00:00+08:00"
"""The text form of an instant (a number, not text, is seconds since the Unix epoch)."""
_INSTANT_TYPES = ("an aware datetime, an RFC 3339 string with an offset, or a number of seconds since the Unix "
                  "epoch (as time.time() gives)")
_DURATION_TYPES = f"a timedelta, {DURATION_HELP}, or a number of seconds"


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _seconds_to_us(value: Any) -> int:
    """Microseconds of ``value`` seconds: exact for integers, rounded to the microsecond otherwise."""
    if isinstance(value, numbers.Integral):
        return int(value) * US
    return int(round(float(value) * US))


# -- instants ---------------------------------------------------------------------------------------
def to_instant_us(value: Any, *, what: str | None = None) -> int:
    """Microseconds since the Unix epoch of an instant given to hrguard (see the module's policy).

    ``what`` names the argument in the error (``"as_of"``, ``"--as-of"``, ``"advance_to(ts)"``).
    """
    if isinstance(value, datetime):
        return _in_range(to_us(value, what=what), value, what)
    if isinstance(value, bool) or not (_is_number(value) or isinstance(value, str)):
        if isinstance(value, date):
            raise InvalidArgumentError(what, f"{value.isoformat()} is a date and has no UTC offset: give an aware "
                                             f"datetime, e.g. {value.isoformat()}T00:00:00+08:00")
        raise ArgumentTypeError(what, f"expected {_INSTANT_TYPES}; got {_shown(value)}")
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER.match(text):
            raise InvalidArgumentError(what, f"expected {INSTANT_HELP}; got {value!r} (text is read as RFC 3339; "
                                             f"seconds since the Unix epoch are given as a number, not as text)")
        if _DATE_ONLY.match(text):
            raise InvalidArgumentError(what, f"{value!r} is a date and has no UTC offset: write a time with an "
                                             f"offset, e.g. {text}T00:00:00+08:00")
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise InvalidArgumentError(what, f"expected {INSTANT_HELP}; got {value!r}") from None
        if parsed.tzinfo is None:
            raise InvalidArgumentError(what, f"{value!r} has no UTC offset: write it with one, e.g. "
                                             f"{parsed.isoformat()}+08:00")
        return _in_range(to_us(parsed), value, what)
    return _epoch_seconds(value, value, what)


def to_datetime(value: Any, *, what: str | None = None, tz: ZoneInfo | timezone = timezone.utc) -> datetime:
    """An instant given to hrguard as an aware ``datetime``: a ``datetime`` or a string keeps its own offset;
    a number of seconds is given in ``tz`` (UTC by default)."""
    us = to_instant_us(value, what=what)
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return from_us(us, tz)


_PLAUSIBLE = (0, 7_258_118_400)  # 1970 to 2200, in seconds: where an epoch number in a finer unit points


def _epoch_seconds(seconds: Any, given: Any, what: str | None) -> int:
    if not math.isfinite(seconds):
        raise InvalidArgumentError(what, f"expected {_INSTANT_TYPES}; got {given!r}")
    us = _seconds_to_us(seconds)
    if not MIN_US <= us <= MAX_US:
        hint = ""
        for unit, factor in (("milliseconds", 1_000), ("microseconds", 1_000_000), ("nanoseconds", 10**9)):
            if seconds >= 1e12 and _PLAUSIBLE[0] <= seconds / factor <= _PLAUSIBLE[1]:  # 1e12 ms is 2001
                hint = f" (in {unit}? a number is seconds: divide by {factor:_})"
                break
        raise InvalidArgumentError(what, f"{given!r} seconds since the Unix epoch is outside the years "
                                         f"0001 to 9999{hint}")
    return us


def _in_range(us: int, given: Any, what: str | None) -> int:
    if not MIN_US <= us <= MAX_US:
        shown = given.isoformat() if isinstance(given, datetime) else repr(given)
        raise InvalidArgumentError(what, f"{shown} is outside the instants hrguard can represent "
                                         f"(0001-01-02 to 9999-12-30 UTC)")
    return us


def _shown(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if value is not None else "None"


# -- durations --------------------------------------------------------------------------------------
def to_duration_us(value: Any, *, what: str | None = None) -> int:
    """Microseconds of a duration given to hrguard (see the module's policy): a ``timedelta``, a string
    such as ``30m`` / ``1h30m`` / ``P7D``, or a number of seconds.

    ``what`` names the argument in the error (``"allowed_lateness"``, ``"--max-disorder"``).
    """
    if isinstance(value, timedelta):
        us = (value.days * 86_400 + value.seconds) * US + value.microseconds
        return _duration_in_range(us, value, what)
    if isinstance(value, bool) or not (_is_number(value) or isinstance(value, str)):
        raise ArgumentTypeError(what, f"expected {_DURATION_TYPES}; got {_shown(value)}")
    if _is_number(value):
        if not math.isfinite(value):
            raise InvalidArgumentError(what, f"expected {_DURATION_TYPES}; got {value!r}")
        return _duration_in_range(_seconds_to_us(value), value, what)
    text = value.strip()
    if not text:
        raise InvalidArgumentError(what, f"expected {DURATION_HELP}, got an empty string")
    if text == "0":
        return 0
    if _SIMPLE.match(text):
        us = int(round(sum(float(n) * _UNIT_US[u] for n, u in _PART.findall(text))))
        return _duration_in_range(us, value, what)
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
        return _duration_in_range(int(round(total)), value, what)
    hint = ""
    if text.startswith("-"):
        hint = " (a duration cannot be negative)"
    elif re.match(r"^P(?:[\d.]+[YMWD])*[\d.]+[YM]", text.upper()):
        hint = " (months and years have no fixed length: write days, e.g. 'P30D' or '30d')"
    elif re.match(r"^\s*(?:\d+(?:\.\d+)?\s*[SMHDW]\s*)+$", text):
        hint = f" (units are lower case: {text.lower()!r})"
    elif _NUMBER.match(text):
        hint = f" (a bare number needs a unit, e.g. '{text}s' or '{text}m'; a number, not text, is seconds)"
    raise InvalidArgumentError(what, f"expected {DURATION_HELP}, got {value!r}{hint}")


def _duration_in_range(us: int, given: Any, what: str | None) -> int:
    if us < 0:
        raise InvalidArgumentError(what, f"a duration cannot be negative, got {given!r}")
    if us > MAX_DURATION_US:
        raise InvalidArgumentError(what, f"{given!r} is longer than any span of time hrguard can represent "
                                         f"(about 9,998 years)")
    return us


def parse_duration(value: Any, *, what: str | None = None) -> int:
    """:func:`to_duration_us` under its older name (kept for code that imports it)."""
    return to_duration_us(value, what=what)


# -- formatting durations ---------------------------------------------------------------------------
Units = Sequence[tuple[int, str, str]]
"""A unit table for :func:`format_duration`: ``(size in microseconds, singular, plural)``, largest first."""

SHORT_UNITS: Units = ((DAY_US, "d", "d"), (3600 * US, "h", "h"), (60 * US, "m", "m"), (US, "s", "s"))
"""``7d``, ``36h``, ``90m``, ``45s``: how rulesets write durations."""
ENGLISH_UNITS: Units = ((DAY_US, "day", "days"), (3600 * US, "hour", "hours"), (60 * US, "minute", "minutes"),
                        (US, "second", "seconds"))
"""``5 days``, ``1 hour``: for English messages (with ``sep=" "``)."""


def format_duration(us: int, units: Units = SHORT_UNITS, *, sep: str = "", decimals: int | None = None,
                    round_up: bool = False, trim: bool = False) -> str:
    """A duration in microseconds as text: the one duration formatter of hrguard.

    Exact (the default): in the largest unit of ``units`` that states it as a whole number, so a
    threshold reads as it was meant (``36h``, not ``1.5d``; ``0s`` for zero, in the smallest unit);
    what no unit divides is given in the smallest unit with its fraction (``0.25s``). With
    ``decimals``, rounded: in the largest unit it is at least one of (else the smallest), with that
    many decimals (``2.5 d``, ``0.5 h``), for figures such as a median time to detect; ``round_up``
    rounds up instead of to the nearest (an age just past a limit never reads as the limit), and
    ``trim`` drops trailing zeros (``49 days``, ``48.8 days``).
    ``sep`` goes between the number and the unit's name (``5 days``); the singular is used for
    exactly one unit.
    """
    us = int(us)
    if decimals is not None:
        size, one, many = next((u for u in units if abs(us) >= u[0]), units[-1])
        scale = 10**decimals
        text = f"{-(-us * scale // size) / scale:.{decimals}f}" if round_up else f"{us / size:.{decimals}f}"
        if trim and "." in text:
            text = text.rstrip("0").rstrip(".")
        return f"{text}{sep}{one if text == '1' else many}"
    if us == 0:
        return f"0{sep}{units[-1][2]}"
    for size, one, many in units:
        if us % size == 0:
            n = us // size
            return f"{n}{sep}{one if n == 1 else many}"
    size, one, many = units[-1]
    return f"{us / size}{sep}{many}"


# -- times of day ------------------------------------------------------------------------------------
TIME_OF_DAY = re.compile(r"([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?")
"""``HH:MM`` or ``HH:MM:SS``, 00:00 to 23:59:59: how the contract writes local times of day."""


def parse_time_of_day(value: Any, *, what: str | None = None, allow_24: bool = False) -> int:
    """Seconds after local midnight of a time of day: ``"HH:MM"``, ``"HH:MM:SS"`` or a naive ``datetime.time``
    without fractions. The one ``HH:MM`` parser of hrguard.

    ``allow_24`` also accepts ``"24:00"`` (86400: the end of the day), for the end of a span of hours.
    """
    if isinstance(value, time):
        if value.tzinfo is not None or value.microsecond:
            raise InvalidArgumentError(what, "a time of day is HH:MM or HH:MM:SS local time, without a zone or "
                                             "fractions")
        return time_to_seconds(value)
    if isinstance(value, str):
        if allow_24 and value in ("24:00", "24:00:00"):
            return 86_400
        m = TIME_OF_DAY.fullmatch(value)
        if m is not None:
            return int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3] or 0)
    end = ", or 24:00" if allow_24 else ""
    raise InvalidArgumentError(what, f"expected a local time of day HH:MM or HH:MM:SS (00:00 to 23:59:59{end}), "
                                     f"got {value!r}")


def format_time_of_day(seconds: int) -> str:
    """``HH:MM``, or ``HH:MM:SS`` when there are seconds: a time of day as the contract writes it."""
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")


def seconds_to_time(seconds: int) -> time:
    """The ``datetime.time`` of seconds after midnight (0 to 86399)."""
    h, rest = divmod(int(seconds), 3600)
    return time(h, *divmod(rest, 60))


def to_us(dt: datetime, *, what: str | None = None) -> int:
    """Microseconds since the epoch of an aware datetime (exact integer arithmetic)."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise InvalidArgumentError(what, f"{dt.isoformat()} has no UTC offset: a timestamp needs an offset (RFC 3339), "
                                         f"e.g. {dt.isoformat()}+08:00")
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
    """The IANA zone ``name``; :class:`~hrguard.errors.InvalidArgumentError` (a ``ValueError``) when it does not exist."""
    if not isinstance(name, str) or len(name) > 64:  # the longest IANA name is ~32 characters
        shown = name[:64] + "..." if isinstance(name, str) else repr(name)
        raise InvalidArgumentError(None, f"unknown IANA time zone {shown!r} (e.g. 'Asia/Shanghai', 'UTC')")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a folder of zones ('Asia'), a bad path
        raise InvalidArgumentError(None, f"unknown IANA time zone {name!r} (e.g. 'Asia/Shanghai', 'UTC')") from exc


_I64 = np.dtype(np.int64)


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
        if type(ts_us) is not np.ndarray or ts_us.dtype != _I64:
            ts_us = np.asarray(ts_us, dtype=np.int64)
        if ts_us.size == 0:
            return np.zeros(0, dtype=np.int64)
        if ts_us.size == 1:  # a stream's single event: no need to sort (nor a numpy call per step)
            return np.array([self._offset_of_bucket(ts_us.item(0) // _BUCKET_US)], dtype=np.int64)
        buckets = np.floor_divide(ts_us, _BUCKET_US)
        uniq, inverse = np.unique(buckets, return_inverse=True)
        offs = np.fromiter((self._offset_of_bucket(int(b)) for b in uniq), dtype=np.int64, count=uniq.size)
        return offs[inverse]

    def local_us(self, ts_us: np.ndarray) -> np.ndarray:
        """Local wall-clock microseconds since 1970-01-01T00:00 (local)."""
        if type(ts_us) is not np.ndarray or ts_us.dtype != _I64:
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

    def day_ends(self, days: np.ndarray) -> np.ndarray:
        """The instant each local date of ``days`` ends (the next date's midnight), computed once per date."""
        uniq, inverse = np.unique(np.asarray(days, dtype=np.int64), return_inverse=True)
        ends = np.fromiter((self.instant(d + 1, 0) for d in uniq.tolist()), dtype=np.int64, count=uniq.size)
        return ends[inverse].reshape(np.shape(days))

    def end_of_day(self, days: int) -> int:
        """The instant of local 23:59:59 on local date ``days``."""
        return self.instant(days, 86_399)
