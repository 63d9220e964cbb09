"""``hrguard.features``: per-employee behaviour features, now in :mod:`hrguard.analytics`.

This name is documented and stays, as an alias: it re-exports exactly what ``hrguard.features`` held.
"""

from __future__ import annotations

from hrguard.analytics import (
    FEATURE_NAMES,
    FEATURES,
    HR_RECORDS,
    PERIOD_DAYS,
    Feature,
    FeatureBlock,
    FeatureBuilder,
    FeatureConfig,
    FeatureMatrix,
    Period,
    build_features,
    period_starts,
    time_of_day_seconds,
)

__all__ = [
    "FEATURES",
    "FEATURE_NAMES",
    "Feature",
    "FeatureBlock",
    "FeatureBuilder",
    "FeatureConfig",
    "FeatureMatrix",
    "HR_RECORDS",
    "PERIOD_DAYS",
    "Period",
    "build_features",
    "period_starts",
    "time_of_day_seconds",
]
