"""The engine: plugins loaded into one object, and the ways events reach detectors.

- :class:`Engine` (``_engine``): plugins, kinds, rulesets, and :meth:`Engine.scan`.
- the batch scan (``_batch``): everything read, sorted, judged in chunks.
- :class:`BoundedScan` (``_bounded``): one pass in order of arrival, in bounded memory.
- :class:`Stream` (``_stream``): one event at a time, the same findings as a scan.
- :class:`Runner` (``_runner``): the one path from chunks to findings all three share.
- :class:`ScanResult` (``_result``): what a scan gives back.
- :func:`ship_ruleset` (``_shipping``): a ruleset as self-contained data for other processes, checked by
  fingerprint where it is loaded.
- :func:`scan_partition` (``_partition``): one partition of a scale-out scan, Arrow in and out.
"""

from __future__ import annotations

from ._batch import GcFreezer
from ._bounded import BoundedScan
from ._engine import Engine, default_engine, load_pipeline, load_ruleset, scan
from ._partition import PartitionResult, partition_schemas, scan_partition
from ._result import ScanResult
from ._runner import DEFAULT_CHUNK, Runner
from ._shipping import MODEL_CACHE_VAR, ShippedRuleset, load_shipped, ship_ruleset
from ._stream import STATE_FORMAT, Drained, Outcome, Released, Stream

__all__ = [
    "DEFAULT_CHUNK",
    "BoundedScan",
    "Drained",
    "Engine",
    "GcFreezer",
    "MODEL_CACHE_VAR",
    "PartitionResult",
    "Runner",
    "ScanResult",
    "Outcome",
    "Released",
    "STATE_FORMAT",
    "ShippedRuleset",
    "Stream",
    "default_engine",
    "load_pipeline",
    "load_ruleset",
    "load_shipped",
    "partition_schemas",
    "scan",
    "scan_partition",
    "ship_ruleset",
]
