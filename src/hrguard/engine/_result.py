"""What a scan gives back: findings, suppressed findings, rejections, counts and detector errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import DetectorError
from ..findings import Finding, Severity, to_csv, to_html, to_pandas, to_parquet
from ..ingest import IngestStats, Rejection


@dataclass
class ScanResult:
    """What a scan found, what it suppressed, what it rejected, and counts of everything."""

    findings: list[Finding]
    suppressed: list[Finding]
    rejected: list[Rejection]
    stats: IngestStats
    errors: list[DetectorError]
    as_of: datetime | None
    ruleset: str
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        by_sev = {s.value: 0 for s in Severity}
        for f in self.findings:
            by_sev[f.severity.value] += 1
        return {
            "ruleset": self.ruleset,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "records": self.stats.received,
            "valid": self.stats.valid,
            "duplicates": self.stats.duplicates,
            "rejected": self.stats.rejected,
            "findings": len(self.findings),
            "suppressed": len(self.suppressed),
            "by_severity": by_sev,
            "detector_errors": len(self.errors),
        }

    def to_pandas(self, suppressed: bool = False) -> Any:
        """The findings as a pandas DataFrame, one row per finding (:func:`hrguard.findings.to_pandas`)."""
        return to_pandas(self, suppressed=suppressed)

    def to_csv(self, target: Any, *, suppressed: bool = False, bom: bool | None = None) -> int:
        """Write the findings as CSV, one row per finding, to a path or a text stream; how many were
        written (:func:`hrguard.findings.to_csv`: evidence joined, details as JSON and flattened into
        ``details.*`` columns, UTF-8 with a byte order mark in a file, for Excel)."""
        return to_csv(self, target, suppressed=suppressed, bom=bom)

    def to_parquet(self, path: Any, *, suppressed: bool = False) -> int:
        """Write the findings to a Parquet file (:func:`hrguard.findings.to_parquet`; needs pyarrow, the
        ``tables`` extra); how many were written."""
        return to_parquet(self, path, suppressed=suppressed)

    def _repr_html_(self) -> str:
        return to_html(self)
