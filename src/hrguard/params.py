"""Parameter types detectors share: durations written as ``30m``/``7d``/ISO 8601, held as microseconds."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, ValidationInfo, WithJsonSchema

from .timeutil import DURATION_HELP, format_duration, parse_duration

MICROSECONDS = {"duration_unit": "us"}
"""Validation context under which a bare integer duration means microseconds (the held form)."""


def _duration(value: Any, info: ValidationInfo) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value == 0:
            return 0
        if isinstance(value, int) and (info.context or {}).get("duration_unit") == "us":
            if value < 0:
                raise ValueError("a duration cannot be negative")
            return value  # already microseconds (a round trip of a validated value)
        raise ValueError(f"a bare number is ambiguous as a duration: write it with a unit, e.g. "
                         f"'{value}s' or '{value}m' ({DURATION_HELP}), got {value!r}")
    if isinstance(value, timedelta) and value < timedelta(0):
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    return parse_duration(value)


Duration = Annotated[
    int,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "description": DURATION_HELP, "examples": ["30m", "7d", "PT30M"]}),
]
"""A duration: written as ``"30m"``, ``"7d"``, ``"1h30m"`` or ISO 8601; held as integer microseconds.

A bare number is refused (is ``30`` seconds or minutes?), except ``0``; a ``timedelta`` is taken as
is. Validating with ``context=MICROSECONDS`` accepts integers as microseconds, for round trips of
``model_dump()``.
"""

DURATION_FIELD_MARK = {"x-hrguard-type": "duration"}


def _distinct_steps(v: list[str]) -> list[str]:
    if any(not s for s in v):
        raise ValueError("a step name cannot be empty")
    dup = sorted({s for s in v if v.count(s) > 1})
    if dup:
        raise ValueError(f"steps must be distinct; repeated: {', '.join(dup)}")
    return v


Steps = Annotated[list[str], AfterValidator(_distinct_steps)]
"""Approval step names (``manager``, ``finance``, ``legal``...): non-empty and distinct, order kept."""
