"""Parameter types detectors share: durations written as ``30m``/``7d``/ISO 8601 or a number of seconds,
held as microseconds; local times of day written ``HH:MM``."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, ValidationInfo, WithJsonSchema

from ..errors import InvalidArgumentError
from ..events import (
    DURATION_HELP,
    TIME_OF_DAY,
    format_duration,
    format_time_of_day,
    parse_time_of_day,
    seconds_to_time,
    time_to_seconds,
    to_duration_us,
)

DURATION_FIELD_MARK = {"x-hrguard-type": "duration"}
"""Marks a duration in JSON Schema (``hrguard detectors`` shows its type as ``duration``)."""

MICROSECONDS = {"duration_unit": "us"}
"""Validation context under which an integer duration means microseconds (the held form), for round trips
of ``model_dump()``."""


def _duration(value: Any, info: ValidationInfo) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and (info.context or {}).get("duration_unit") == "us":
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return value  # already microseconds (a round trip of a validated value)
    try:
        return to_duration_us(value, what=info.field_name)
    except InvalidArgumentError as exc:  # pydantic locates it (file:line:col and the parameter's path)
        raise ValueError(exc.reason) from None


Duration = Annotated[
    int,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": ["string", "number"], "minimum": 0, "description": f"{DURATION_HELP}, or a number of seconds",
                    "examples": ["30m", "7d", "PT30M", 90], **DURATION_FIELD_MARK}),
]
"""A duration: written as ``"30m"``, ``"7d"``, ``"1h30m"``, ISO 8601 ``"PT30M"``, a ``timedelta``, or a
number of seconds (``90`` is 90 seconds, as everywhere in hrguard; the text ``"90"`` needs a unit: see
:mod:`hrguard.events`); held as integer microseconds, written back (JSON) in the shortest exact form
(``"90s"``).

Validating with ``context=MICROSECONDS`` reads integers as microseconds, for round trips of
``model_dump()``.
"""


def _local_time(value: Any, info: ValidationInfo) -> time:
    try:
        return seconds_to_time(parse_time_of_day(value, what=info.field_name))
    except InvalidArgumentError as exc:
        raise ValueError(exc.reason) from None


LocalTime = Annotated[
    time,
    BeforeValidator(_local_time),
    PlainSerializer(lambda t: format_time_of_day(time_to_seconds(t)), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": f"^{TIME_OF_DAY.pattern}$", "examples": ["10:00", "23:59:59"]}),
]
"""A local time of day in the ruleset's zone, written ``HH:MM`` or ``HH:MM:SS``; held as ``datetime.time``."""

def _distinct_steps(v: list[str]) -> list[str]:
    if any(not s for s in v):
        raise ValueError("a step name cannot be empty")
    dup = sorted({s for s in v if v.count(s) > 1})
    if dup:
        raise ValueError(f"steps must be distinct; repeated: {', '.join(dup)}")
    return v


Steps = Annotated[list[str], AfterValidator(_distinct_steps)]
"""Approval step names (``manager``, ``finance``, ``legal``...): non-empty and distinct, order kept."""
