"""``hrguard.timeutil``: the time policy (instants, durations, days, times of day), now in :mod:`hrguard.events`.

This name is documented and stays, as an alias: it re-exports exactly what ``hrguard.timeutil`` held.
"""

from __future__ import annotations

from hrguard.events import (
    DAY_US,
    DURATION_HELP,
    ENGLISH_UNITS,
    INSTANT_HELP,
    MAX_DURATION_US,
    MAX_US,
    MIN_US,
    SHORT_UNITS,
    TIME_OF_DAY,
    US,
    LocalClock,
    Units,
    date_to_days,
    days_to_date,
    format_duration,
    format_time_of_day,
    from_us,
    get_zone,
    parse_duration,
    parse_time_of_day,
    seconds_to_time,
    time_to_seconds,
    to_datetime,
    to_duration_us,
    to_instant_us,
    to_us,
)

__all__ = [
    "DAY_US",
    "DURATION_HELP",
    "ENGLISH_UNITS",
    "INSTANT_HELP",
    "LocalClock",
    "MAX_DURATION_US",
    "MAX_US",
    "MIN_US",
    "SHORT_UNITS",
    "TIME_OF_DAY",
    "US",
    "Units",
    "date_to_days",
    "days_to_date",
    "format_duration",
    "format_time_of_day",
    "from_us",
    "get_zone",
    "parse_duration",
    "parse_time_of_day",
    "seconds_to_time",
    "time_to_seconds",
    "to_datetime",
    "to_duration_us",
    "to_instant_us",
    "to_us",
]
