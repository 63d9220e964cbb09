"""hrguard: catch workplace misconduct risk in the records an HR system already has.

The public surface is what ``__all__`` lists; everything else is internal.
"""

from __future__ import annotations

from .checkpoints import FileCheckpoints, SqliteCheckpoints
from .columns import Chunk
from .engine import (
    Engine,
    ScanResult,
    ShippedRuleset,
    Stream,
    default_engine,
    load_pipeline,
    load_ruleset,
    scan,
    scan_partition,
    ship_ruleset,
)
from .errors import (
    ArgumentTypeError,
    ConformanceError,
    DetectorError,
    FieldError,
    HrguardError,
    InvalidArgumentError,
    InvalidEventError,
    LateEventError,
    MissingExtraError,
    MissingFileError,
    ModelFileError,
    PipelineError,
    PluginError,
    Problem,
    RulesetError,
    RulesetMismatchError,
    StateError,
    UnknownFieldError,
    UnknownNameError,
    UnsupportedInputError,
    UsageError,
)
from .events import Event
from .findings import Finding, Severity
from .ingest import Rejection
from .pipelines import Pipeline
from .plugins.hookspecs import hookimpl
from .rules import Rule, Ruleset
from .sdk import Detector, DetectorParams, Duration, EventDetector, EventView, RuleContext
from .sinks import CallbackSink, JsonlSink, Sink, SqliteSink

__version__ = "0.1.0"

__all__ = [
    "ArgumentTypeError",
    "CallbackSink",
    "Chunk",
    "ConformanceError",
    "Detector",
    "DetectorError",
    "DetectorParams",
    "Duration",
    "Engine",
    "Event",
    "EventDetector",
    "EventView",
    "FieldError",
    "FileCheckpoints",
    "Finding",
    "HrguardError",
    "InvalidArgumentError",
    "InvalidEventError",
    "JsonlSink",
    "LateEventError",
    "MissingExtraError",
    "MissingFileError",
    "ModelFileError",
    "Pipeline",
    "PipelineError",
    "PluginError",
    "Problem",
    "Rejection",
    "Rule",
    "RuleContext",
    "Ruleset",
    "RulesetError",
    "RulesetMismatchError",
    "StateError",
    "ScanResult",
    "ShippedRuleset",
    "Severity",
    "Sink",
    "SqliteCheckpoints",
    "SqliteSink",
    "Stream",
    "UnknownFieldError",
    "UnknownNameError",
    "UnsupportedInputError",
    "UsageError",
    "__version__",
    "default_engine",
    "hookimpl",
    "load_pipeline",
    "load_ruleset",
    "scan",
    "scan_partition",
    "ship_ruleset",
]
