"""The engine-neutral core of a scale-out scan: one partition of events in (an Arrow table), Arrow tables out.

Spark (:mod:`hrguard.spark`), Dask, Ray or a process pool each cut the events into partitions by
tenant and call :func:`scan_partition` on each; it needs nothing from them. Each tenant in the
partition is scanned on its own (:func:`hrguard.scan` of that tenant's rows) at the one ``as_of``
given, which is what the spec promises anyway: a tenant is judged exactly as if scanned alone with the
same as-of time. So any partitioning that keeps a tenant's rows together gives the findings, ids
included, of one ``hrguard.scan`` of everything.

``as_of`` is required: defaulting to each partition's own latest event would judge every tenant at
another time and lose (or add) the time-driven findings (stalls, deadlines, missing summaries).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, NamedTuple

from ..errors import ArgumentTypeError, InvalidArgumentError
from ..events import to_instant_us
from ..findings import findings_table, require_pyarrow
from ..rules import Ruleset
from ._shipping import ShippedRuleset, load_shipped

STATS_COLUMNS = ("tenant", "received", "valid", "duplicates", "rejected", "after_as_of", "findings", "suppressed",
                 "detector_errors", "seconds")


class PartitionResult(NamedTuple):
    """What :func:`scan_partition` gives back: three pyarrow Tables.

    - ``findings``: the columns of :func:`hrguard.findings.to_parquet` (``ts`` a timestamp, ``evidence`` a
      list of strings, ``details`` JSON text), in ``(ts, id)`` order;
    - ``rejections``: ``tenant``, ``position`` (the row's ``order_col`` value, else its 0-based row in
      the table given), ``id``, ``field``, ``message``;
    - ``stats``: one row per tenant: ``tenant``, the counts of :class:`~hrguard.ingest.IngestStats`
      (``received``, ``valid``, ``duplicates``, ``rejected``, ``after_as_of``), ``findings``,
      ``suppressed``, ``detector_errors`` and ``seconds`` (the tenant's scan, wall time).
    """

    findings: Any
    rejections: Any
    stats: Any


def _ruleset(ruleset: Any) -> Ruleset:
    if isinstance(ruleset, ShippedRuleset):
        return load_shipped(ruleset)
    if isinstance(ruleset, Ruleset):
        return ruleset
    from ._engine import load_ruleset

    return load_ruleset(ruleset)


def _schemas(pa: Any) -> tuple[Any, Any]:
    text, count = pa.string(), pa.int64()
    rejections = pa.schema([("tenant", text), ("position", count), ("id", text), ("field", text), ("message", text)])
    stats = pa.schema([(c, text if c == "tenant" else pa.float64() if c == "seconds" else count)
                       for c in STATS_COLUMNS])
    return rejections, stats


def partition_schemas(zone: str = "UTC") -> PartitionResult:
    """The schemas of :func:`scan_partition`'s three tables (``ts`` in ``zone``), for engines that declare
    their output types before running (Spark, Dask's ``meta``)."""
    pa = require_pyarrow()
    rejections, stats = _schemas(pa)
    return PartitionResult(findings_table([], zone=zone).schema, rejections, stats)


def scan_partition(table: Any, ruleset: Any, *, as_of: Any, tenant_col: str = "tenant", order_col: str | None = None,
                   suppressed: bool = False, strict: bool = False) -> PartitionResult:
    """Scan one partition of events: a pyarrow ``Table`` (or ``RecordBatch``), one row per event, columns as
    :func:`hrguard.scan` reads a table.

    ``ruleset``: a :class:`ShippedRuleset` (what executors get: loaded once per process, checked by
    fingerprint), a :class:`~hrguard.Ruleset`, a bundled name or a path. ``as_of`` is required (an aware
    datetime, RFC 3339 text or epoch seconds): give every partition the same one. ``tenant_col`` names
    the tenant column (read as ``tenant``; null and ``""`` are the default tenant; no such column: all
    rows are the default tenant). ``order_col``: a column giving the order of arrival (the row order
    otherwise); it decides which of two records with one ``(tenant, id)`` is kept (the first received)
    and is dropped before scanning. ``suppressed`` adds the findings suppressed by exceptions
    (``suppressed_by`` says why). See :class:`PartitionResult` for what comes back.
    """
    pa = require_pyarrow()
    import pyarrow.compute as pc

    if as_of is None:
        raise InvalidArgumentError("as_of", "required: give every partition the same as-of time (the latest event "
                                            "ts of all the data, or the time of the run); each partition defaulting "
                                            "to its own latest event would judge time-driven rules (stalls, "
                                            "deadlines) at another time than a scan of everything")
    as_of_dt = datetime.fromtimestamp(to_instant_us(as_of, what="as_of") / 1e6, tz=timezone.utc)
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if not isinstance(table, pa.Table):
        raise ArgumentTypeError("table", f"expected a pyarrow Table or RecordBatch, got {type(table).__name__}")
    rs = _ruleset(ruleset)
    names = table.column_names
    if order_col is not None and order_col not in names:
        raise InvalidArgumentError("order_col", f"no column {order_col!r} in the table (columns: {', '.join(names)})")
    if tenant_col != "tenant" and tenant_col in names:
        if "tenant" in names:
            raise InvalidArgumentError("tenant_col", f"the table has both {tenant_col!r} and 'tenant'")
        table = table.rename_columns(["tenant" if n == tenant_col else n for n in names])
    positions = pa.array(range(table.num_rows), pa.int64())
    if order_col is not None:
        order = pc.sort_indices(table, sort_keys=[(order_col, "ascending")])  # stable: ties keep the row order
        positions = table.column(order_col).cast(pa.int64()).take(order)
        table = table.take(order).drop_columns([order_col])
    if "tenant" in table.column_names:
        keys = pc.fill_null(table.column("tenant").cast(pa.string()), "")
        tenants = sorted(pc.unique(keys).to_pylist())
    else:
        keys, tenants = None, [""]
    found, rejected, stats = [], [], []
    from ._engine import scan

    for tenant in tenants:
        if keys is None or len(tenants) == 1:
            part, pos = table, positions
        else:
            mask = pc.equal(keys, tenant)
            part, pos = table.filter(mask), positions.filter(mask)
        t0 = time.perf_counter()
        result = scan(part, rs, as_of=as_of_dt, strict=strict)
        seconds = time.perf_counter() - t0
        found += result.findings + (result.suppressed if suppressed else [])
        pos_list = pos.to_pylist()
        for r in result.rejected:
            rejected.append((tenant or None, pos_list[r.row] if r.row is not None else None, r.id, r.field,
                             r.message))
        s = result.stats
        stats.append((tenant or None, s.received, s.valid, s.duplicates, s.rejected, s.after_as_of,
                      len(result.findings), len(result.suppressed), len(result.errors), seconds))
    found.sort(key=lambda f: f.sort_key())
    rej_schema, stats_schema = _schemas(pa)
    return PartitionResult(
        findings_table(found, zone=rs.timezone),
        pa.table({c: [r[i] for r in rejected] for i, c in enumerate(rej_schema.names)}, schema=rej_schema),
        pa.table({c: [r[i] for r in stats] for i, c in enumerate(STATS_COLUMNS)}, schema=stats_schema),
    )
