"""The ``hrguard`` command line."""

from __future__ import annotations

from ._main import (
    EXIT_DETECTOR,
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    UsageError,
    build_parser,
    detector_params,
    main,
    render_table,
    summary_line,
)

__all__ = [
    "EXIT_DETECTOR",
    "EXIT_FINDINGS",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_USAGE",
    "UsageError",
    "build_parser",
    "detector_params",
    "main",
    "render_table",
    "summary_line",
]
