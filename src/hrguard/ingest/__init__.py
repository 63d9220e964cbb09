"""From raw records to columns: the one reader (JSON Lines, JSON arrays, Python records, tables), the fast path derived from the event models, and the :class:`Intake` every entry point uses."""

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
    builder_keys,
    tenant_key,
    tenant_keys,
    watch_blocks,
)
from ._tables import (
    date_fields,
    is_parquet_path,
    pushed_records,
    table_kind,
)
from ._reader import (
    Block,
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
    "Broken",
    "Deferred",
    "FieldCodec",
    "IngestStats",
    "Intake",
    "JudgedIds",
    "KindColumns",
    "LateMessage",
    "Rejection",
    "SMALL_BLOCK",
    "Schema",
    "StructPlan",
    "date_fields",
    "field_codec",
    "is_parquet_path",
    "json_problem",
    "builder_keys",
    "kind_columns",
    "parse_dates",
    "parse_instants",
    "parse_line",
    "parse_times",
    "pushed_records",
    "read_blocks",
    "salvage_id",
    "table_kind",
    "tenant_key",
    "tenant_keys",
    "validate",
    "watch_blocks",
]
