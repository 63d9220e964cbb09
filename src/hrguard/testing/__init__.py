"""The conformance kit for detector authors: the checks every detector must pass, helpers to run them, and the pytest plugin."""

from __future__ import annotations

from ._checks import (
    CHECKS,
    KIND_DEFAULTS,
    ConformanceError,
    DetectorCase,
    EventFactory,
    at,
    check_detector,
    event,
    parametrize_with_checks,
    run_all_ways,
    stream_all,
)

__all__ = [
    "CHECKS",
    "ConformanceError",
    "DetectorCase",
    "EventFactory",
    "KIND_DEFAULTS",
    "at",
    "check_detector",
    "event",
    "parametrize_with_checks",
    "run_all_ways",
    "stream_all",
]
