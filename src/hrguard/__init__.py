"""hrguard: catch workplace misconduct risk in the records an HR system already has.

The public surface is what ``__all__`` lists; everything else is internal.
"""

from __future__ import annotations

from .columns import Chunk
from .detector import Detector, DetectorParams, RuleContext
from .engine import Engine, ScanResult, Stream, default_engine, scan
from .errors import (
    DetectorError,
    HrguardError,
    InvalidEventError,
    LateEventError,
    MissingExtraError,
    PluginError,
    Problem,
    RulesetError,
)
from .events import Event
from .findings import Finding, Severity
from .hookspecs import hookimpl
from .ingest import Rejection
from .params import Duration
from .ruleset import Rule, Ruleset, load_ruleset

__version__ = "0.1.0"

__all__ = [
    "Chunk",
    "Detector",
    "DetectorError",
    "DetectorParams",
    "Duration",
    "Engine",
    "Event",
    "Finding",
    "HrguardError",
    "InvalidEventError",
    "LateEventError",
    "MissingExtraError",
    "PluginError",
    "Problem",
    "Rejection",
    "Rule",
    "RuleContext",
    "Ruleset",
    "RulesetError",
    "ScanResult",
    "Severity",
    "Stream",
    "__version__",
    "default_engine",
    "hookimpl",
    "load_ruleset",
    "scan",
]
