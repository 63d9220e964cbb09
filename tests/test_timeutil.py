"""Durations, instants and local days: the arithmetic every detector's windows stand on."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from hrguard.timeutil import (
    DAY_US,
    US,
    LocalClock,
    date_to_days,
    days_to_date,
    format_duration,
    from_us,
    get_zone,
    parse_duration,
    to_us,
)

H = 3600 * US


@pytest.mark.parametrize("text, us", [
    ("45s", 45 * US),
    ("30m", 30 * 60 * US),
    ("12h", 12 * H),
    ("7d", 7 * 24 * H),
    ("2w", 14 * 24 * H),
    ("1h30m", 90 * 60 * US),
    ("1d 12h", 36 * H),
    ("1.5h", 90 * 60 * US),
    ("P7D", 7 * 24 * H),
    ("PT30M", 30 * 60 * US),
    ("P1DT2H", 26 * H),
    ("PT1H30M15S", (3600 + 1800 + 15) * US),
    ("P1W", 7 * 24 * H),
    ("p7d", 7 * 24 * H),
    ("PT0S", 0),
    ("0", 0),
    (" 30m ", 30 * 60 * US),
])
def test_parse_duration(text, us):
    assert parse_duration(text) == us


def test_parse_duration_of_numbers_and_timedeltas():
    assert parse_duration(90) == 90 * US  # a number is seconds, everywhere (hrguard.timeutil's policy)
    assert parse_duration(1.5) == 1_500_000
    assert parse_duration(timedelta(hours=1, microseconds=3)) == H + 3


@pytest.mark.parametrize("bad, hint", [
    ("7x", ""),
    ("", "empty"),
    ("30", "needs a unit"),
    ("7D", "units are lower case"),
    ("-5m", "cannot be negative"),
    ("P1M", "months and years have no fixed length"),
    ("P1Y", "months and years have no fixed length"),
    ("P", ""),
    ("PT", ""),
    ("P1DT", ""),
    ("1h30", ""),
    ("h", ""),
    (None, ""),
    (True, ""),
    ([1], ""),
    (float("nan"), ""),
    (float("inf"), ""),
])
def test_bad_durations_raise_value_error_naming_the_accepted_forms(bad, hint):
    with pytest.raises(ValueError) as info:
        parse_duration(bad)
    msg = str(info.value)
    assert "'45s', '30m', '12h', '7d', '1h30m'" in msg and "'P7D' / 'PT30M'" in msg
    assert hint in msg


def test_a_negative_number_is_refused():
    with pytest.raises(ValueError, match="cannot be negative"):
        parse_duration(-1)


@pytest.mark.parametrize("us, text", [(0, "0s"), (7 * 24 * H, "7d"), (36 * H, "36h"), (90 * 60 * US, "90m"),
                                      (45 * US, "45s"), (1_500_000, "1.5s")])
def test_format_duration_is_the_shortest_exact_form(us, text):
    assert format_duration(us) == text
    assert parse_duration(text) == us


# -- instants -----------------------------------------------------------------------------------------
def test_to_us_and_from_us_round_trip_exactly():
    dt = datetime(2026, 3, 30, 9, 12, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    us = to_us(dt)
    assert us == to_us(dt.astimezone(timezone.utc))
    assert from_us(us, ZoneInfo("Asia/Shanghai")) == dt and from_us(us).utcoffset() == timedelta(0)
    assert to_us(datetime(1969, 12, 31, 23, 59, 59, tzinfo=timezone.utc)) == -US


def test_to_us_refuses_a_naive_datetime():
    with pytest.raises(ValueError, match="needs an offset"):
        to_us(datetime(2026, 3, 30, 9, 0))


def test_days_and_dates():
    assert date_to_days(date(1970, 1, 1)) == 0
    assert days_to_date(date_to_days(date(2026, 3, 8))) == date(2026, 3, 8)
    assert date_to_days(date(1969, 12, 31)) == -1


def test_unknown_zone():
    with pytest.raises(ValueError, match="unknown IANA time zone 'Mars/Base'"):
        get_zone("Mars/Base")
    with pytest.raises(ValueError):
        LocalClock("not a zone")


# -- local days ---------------------------------------------------------------------------------------
def us_at(text: str) -> int:
    return to_us(datetime.fromisoformat(text))


def day(text: str) -> int:
    return date_to_days(date.fromisoformat(text))


def test_local_days_at_local_midnight_in_shanghai():
    c = LocalClock("Asia/Shanghai")
    ts = np.array([us_at("2026-03-30T00:00:00+08:00") - 1, us_at("2026-03-30T00:00:00+08:00"),
                   us_at("2026-03-29T16:00:00+00:00"), us_at("2026-03-30T23:59:59.999999+08:00")])
    assert c.local_days(ts).tolist() == [day("2026-03-29"), day("2026-03-30"), day("2026-03-30"), day("2026-03-30")]
    assert c.local_day(int(ts[1])) == day("2026-03-30")
    assert LocalClock("UTC").local_day(int(ts[1])) == day("2026-03-29")  # the same instant is still the 29th in UTC


def test_local_days_of_an_empty_column():
    assert LocalClock("Asia/Shanghai").local_days(np.array([], dtype=np.int64)).tolist() == []


@pytest.mark.parametrize("instant, local", [
    # spring forward in New York: 02:00 EST jumps to 03:00 EDT on 2026-03-08
    ("2026-03-08T04:59:59+00:00", "2026-03-07"),  # 23:59:59 EST
    ("2026-03-08T05:00:00+00:00", "2026-03-08"),  # 00:00 EST
    ("2026-03-08T06:59:59+00:00", "2026-03-08"),  # 01:59:59 EST
    ("2026-03-08T07:00:00+00:00", "2026-03-08"),  # 03:00 EDT
    ("2026-03-09T03:59:59+00:00", "2026-03-08"),  # 23:59:59 EDT
    ("2026-03-09T04:00:00+00:00", "2026-03-09"),  # midnight EDT: the day began an hour earlier in UTC
    # fall back: 02:00 EDT becomes 01:00 EST on 2026-11-01 (01:00-02:00 happens twice)
    ("2026-11-01T03:59:59+00:00", "2026-10-31"),
    ("2026-11-01T04:00:00+00:00", "2026-11-01"),  # midnight EDT
    ("2026-11-01T05:30:00+00:00", "2026-11-01"),  # 01:30 EDT
    ("2026-11-01T06:30:00+00:00", "2026-11-01"),  # 01:30 EST, the second time
    ("2026-11-02T04:59:59+00:00", "2026-11-01"),  # 23:59:59 EST
    ("2026-11-02T05:00:00+00:00", "2026-11-02"),  # midnight EST
])
def test_local_days_across_daylight_saving_changes(instant, local):
    c = LocalClock("America/New_York")
    assert c.local_day(us_at(instant)) == day(local)


def test_local_days_match_zoneinfo_every_quarter_hour_around_both_changes():
    c = LocalClock("America/New_York")
    zone = ZoneInfo("America/New_York")
    for start in ("2026-03-07T00:00:00+00:00", "2026-10-31T00:00:00+00:00"):
        ts = us_at(start) + np.arange(0, 3 * 24 * 4) * 900 * US + 7 * US  # 3 days, every 15 min (+7 s)
        want = [date_to_days(from_us(int(t), zone).date()) for t in ts]
        assert c.local_days(ts).tolist() == want
        offsets = [int(from_us(int(t), zone).utcoffset().total_seconds()) * US for t in ts]
        assert c.offsets(ts).tolist() == offsets


def test_a_day_is_23_or_25_hours_on_dst_days():
    c = LocalClock("America/New_York")
    spring, fall = day("2026-03-08"), day("2026-11-01")
    assert c.instant(spring + 1, 0) - c.instant(spring, 0) == 23 * H
    assert c.instant(fall + 1, 0) - c.instant(fall, 0) == 25 * H
    assert c.instant(day("2026-03-30"), 0) - c.instant(day("2026-03-29"), 0) == DAY_US


# -- instant: local wall time to an instant -------------------------------------------------------------
def test_instant_in_shanghai():
    c = LocalClock("Asia/Shanghai")
    d = day("2026-03-30")
    assert c.instant(d, 9 * 3600 + 30 * 60) == us_at("2026-03-30T09:30:00+08:00")
    assert c.instant(d, 0) == us_at("2026-03-29T16:00:00+00:00")
    assert c.end_of_day(d) == us_at("2026-03-30T23:59:59+08:00")
    assert c.local_day(c.instant(d, 0)) == d and c.local_day(c.end_of_day(d)) == d


def test_instant_rolls_over_days_for_widened_windows():
    c = LocalClock("Asia/Shanghai")
    d = day("2026-03-30")
    assert c.instant(d, -1800) == us_at("2026-03-29T23:30:00+08:00")
    assert c.instant(d, 86_400 + 1800) == us_at("2026-03-31T00:30:00+08:00")


def test_instant_on_dst_days():
    c = LocalClock("America/New_York")
    spring, fall = day("2026-03-08"), day("2026-11-01")
    assert c.instant(spring, 1 * 3600) == us_at("2026-03-08T01:00:00-05:00")
    assert c.instant(spring, 3 * 3600) == us_at("2026-03-08T03:00:00-04:00")
    # 02:30 does not exist that day: read with the offset before the change (fold=0), i.e. 03:30 EDT
    assert c.instant(spring, 2.5 * 3600) == us_at("2026-03-08T03:30:00-04:00")
    assert c.instant(spring, 12 * 3600) == us_at("2026-03-08T12:00:00-04:00")
    # 01:30 happens twice: the first one (EDT) is meant
    assert c.instant(fall, 1.5 * 3600) == us_at("2026-11-01T01:30:00-04:00")
    assert c.instant(fall, 12 * 3600) == us_at("2026-11-01T12:00:00-05:00")
    assert c.end_of_day(fall) == us_at("2026-11-01T23:59:59-05:00")
