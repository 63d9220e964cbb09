"""``hrguard.spark.scan``: one ``groupBy(tenant).applyInArrow`` pass, three DataFrames out.

Why ``applyInArrow`` rather than ``applyInPandas``: hrguard reads Arrow tables as they are (nested plan
items, photos and claims stay lists of structs; a missing cell stays a null), while a pandas round trip
turns missing integers into floats, nested values into numpy objects and costs a conversion each way.

Why one pass: the function returns findings, rejections and per-tenant stats as rows of one table
(``record`` says which), and :class:`SparkScan` selects each; with ``cache=True`` (the default) that
table is persisted, so reading the three does not scan three times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine import ShippedRuleset, scan_partition, ship_ruleset
from ..errors import ArgumentTypeError, InvalidArgumentError, MissingExtraError
from ..events import to_instant_us

OUTPUT_DDL = (
    "record string, tenant string, id string, rule string, name string, severity string, ts timestamp, "
    "employee_id string, customer_id string, message string, evidence array<string>, details string, "
    "suppressed_by string, position bigint, field string, received bigint, valid bigint, duplicates bigint, "
    "rejected bigint, after_as_of bigint, findings bigint, suppressed bigint, detector_errors bigint, seconds double"
)
"""The schema (Spark DDL) of the one table the partition function returns; :class:`SparkScan` selects from it."""

FINDING_COLUMNS = ["id", "rule", "name", "severity", "ts", "employee_id", "customer_id", "tenant", "message",
                   "evidence", "details", "suppressed_by"]
REJECTION_COLUMNS = ["tenant", "position", "id", "field", "message"]
STATS_COLUMNS = ["tenant", "received", "valid", "duplicates", "rejected", "after_as_of", "findings", "suppressed",
                 "detector_errors", "seconds"]
_KEY, _ARRIVAL = "_hrguard_tenant", "_hrguard_arrival"


@dataclass(frozen=True)
class SparkScan:
    """What :func:`scan` gives back: Spark DataFrames, each sorted (``findings`` by ``(ts, id)``,
    ``rejections`` by ``(tenant, position)``, ``stats`` by ``tenant``), and the shipped ruleset used."""

    findings: Any
    rejections: Any
    stats: Any
    shipped: ShippedRuleset
    table: Any  # the one table all three are selected from (persisted with cache=True)

    def unpersist(self) -> None:
        self.table.unpersist()


def _output_schema(T: Any) -> Any:
    """:data:`OUTPUT_DDL` as a ``StructType`` (built from pyspark's public types: parsing DDL needs a session)."""
    kinds = {"string": T.StringType(), "timestamp": T.TimestampType(), "bigint": T.LongType(),
             "double": T.DoubleType(), "array<string>": T.ArrayType(T.StringType())}
    fields = [f.strip().split(" ", 1) for f in OUTPUT_DDL.split(", ")]
    return T.StructType([T.StructField(name, kinds[kind], True) for name, kind in fields])


def _combine(result: Any, pa: Any, schema: Any) -> Any:
    """The three tables of a partition as rows of one table of ``schema`` (``record`` says which)."""
    parts = []
    for record, table in (("finding", result.findings), ("rejection", result.rejections), ("stats", result.stats)):
        n = table.num_rows
        cols = []
        for f in schema:
            if f.name == "record":
                cols.append(pa.array([record] * n, pa.string()))
            elif f.name in table.column_names:
                cols.append(table.column(f.name).cast(f.type))
            else:
                cols.append(pa.nulls(n, f.type))
        parts.append(pa.Table.from_arrays(cols, schema=schema))
    return pa.concat_tables(parts)


def scan(df: Any, ruleset: Any = "sales", *, as_of: Any, tenant_col: str = "tenant", order_col: str | None = None,
         suppressed: bool = False, plugins: list[str] | None = None, cache: bool = True,
         adaptive_coalesce: bool = False) -> SparkScan:
    """Scan a Spark DataFrame of events (one row per event, columns as :func:`hrguard.scan` reads a table),
    one tenant per group, on the executors.

    ``as_of`` is required (an aware datetime, RFC 3339 text or epoch seconds): every tenant is judged at
    it, as one ``hrguard.scan`` of everything would be. ``tenant_col``: the tenant column (null and ``""``
    are the default tenant; missing: everything is the default tenant). ``order_col``: a column giving the
    order of arrival (an ingestion offset); without it, the DataFrame's row order as read is taken
    (``monotonically_increasing_id`` before the shuffle). Of two records with one ``(tenant, id)`` the
    first received is kept. ``ruleset``: a :class:`~hrguard.Ruleset`, name, path or :class:`ShippedRuleset`;
    ``plugins``: module names executors import (default: the ruleset's engine's plugins).

    ``adaptive_coalesce=False`` (the default) sets ``spark.sql.adaptive.coalescePartitions.enabled`` to
    false in the session: Spark's adaptive execution otherwise packs the small tenant groups of the
    shuffle into one partition, and so into one task on one executor.
    """
    try:
        from pyspark.sql import functions as F
    except ImportError as exc:
        raise MissingExtraError("pyspark", "spark") from exc
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql import types as T

    if as_of is None:
        raise InvalidArgumentError("as_of", "required: every tenant is judged at the same as-of time (the latest event "
                                            "ts of all the data, or the time of the run); each tenant defaulting to "
                                            "its own latest event would lose or add time-driven findings")
    as_of_s = to_instant_us(as_of, what="as_of") / 1e6
    if not hasattr(df, "groupBy") or not hasattr(df, "sparkSession"):
        raise ArgumentTypeError("df", f"expected a Spark DataFrame, got {type(df).__name__}")
    shipped = ruleset if isinstance(ruleset, ShippedRuleset) else ship_ruleset(ruleset, plugins=plugins)
    if not adaptive_coalesce:
        df.sparkSession.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
    names = df.columns
    if order_col is not None and order_col not in names:
        raise InvalidArgumentError("order_col", f"no column {order_col!r} in the DataFrame")
    arrival = order_col or _ARRIVAL
    if order_col is None:
        df = df.withColumn(_ARRIVAL, F.monotonically_increasing_id())
    key = F.coalesce(F.col(tenant_col).cast("string"), F.lit("")) if tenant_col in names else F.lit("")
    spark_schema = _output_schema(T)
    arrow_schema = to_arrow_schema(spark_schema, timezone="UTC")

    def judge(table: Any) -> Any:
        result = scan_partition(table.drop_columns([_KEY]), shipped, as_of=as_of_s, tenant_col=tenant_col,
                                order_col=arrival, suppressed=suppressed)
        return _combine(result, pa, arrow_schema)

    out = df.withColumn(_KEY, key).groupBy(_KEY).applyInArrow(judge, spark_schema)
    if cache:
        out = out.persist()
    findings = out.filter(F.col("record") == "finding").select(*FINDING_COLUMNS).orderBy("ts", "id")
    rejections = out.filter(F.col("record") == "rejection").select(*REJECTION_COLUMNS).orderBy("tenant", "position")
    stats = out.filter(F.col("record") == "stats").select(*STATS_COLUMNS).orderBy("tenant")
    return SparkScan(findings, rejections, stats, shipped, out)
