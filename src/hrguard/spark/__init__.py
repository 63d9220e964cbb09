"""hrguard on Apache Spark: tenants as partitions, the same finding ids as one machine (docs/scale-out.md).

:func:`scan` groups a Spark DataFrame of events by tenant and runs :func:`hrguard.scan_partition` on
each group on the executors (``groupBy(tenant).applyInArrow``), with the ruleset shipped by
:func:`hrguard.ship_ruleset`. pyspark is imported only when :func:`scan` is called (the ``spark`` extra);
``import hrguard`` never imports it.
"""

from __future__ import annotations

from ._scan import OUTPUT_DDL, SparkScan, scan

__all__ = ["OUTPUT_DDL", "SparkScan", "scan"]
