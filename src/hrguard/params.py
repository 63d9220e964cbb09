"""Parameter types detectors share: durations written as ``30m``/``7d``/ISO 8601, held as microseconds."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from .timeutil import DURATION_HELP, format_duration, parse_duration


def _duration(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return value  # already microseconds (defaults and round trips)
    return parse_duration(value)


Duration = Annotated[
    int,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "description": DURATION_HELP, "examples": ["30m", "7d", "PT30M"]}),
]
"""A duration: written as ``"30m"``, ``"7d"``, ``"1h30m"`` or ISO 8601; held as integer microseconds."""

DURATION_FIELD_MARK = {"x-hrguard-type": "duration"}
