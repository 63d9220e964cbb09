"""From raw records to columns: the one reader (JSON Lines, JSON arrays, Python records), the fast path derived from the event models, and the :class:`Intake` every entry point uses."""

from __future__ import annotations

from ._fastpath import (
    Deferred,
    FieldCodec,
    KindColumns,
    Schema,
    StructPlan,
    field_codec,
    kind_columns,
    parse_dates,
    parse_instants,
    parse_times,
)
from ._intake import (
    SMALL_BLOCK,
    Intake,
    JudgedIds,
    LateMessage,
    RememberedIds,
    builder_keys,
    tenant_key,
    tenant_keys,
)
from ._reader import (
    Block,
    BlockSource,
    Broken,
    IngestStats,
    Rejection,
    json_problem,
    parse_line,
    read_blocks,
    salvage_id,
    validate,
)

__all__ = [
    "Block",
    "BlockSource",
    "Broken",
    "Deferred",
    "FieldCodec",
    "IngestStats",
    "Intake",
    "JudgedIds",
    "KindColumns",
    "LateMessage",
    "Rejection",
    "RememberedIds",
    "SMALL_BLOCK",
    "Schema",
    "StructPlan",
    "field_codec",
    "json_problem",
    "builder_keys",
    "kind_columns",
    "parse_dates",
    "parse_instants",
    "parse_line",
    "parse_times",
    "read_blocks",
    "salvage_id",
    "tenant_key",
    "tenant_keys",
    "validate",
]
