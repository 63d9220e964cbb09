"""Findings: what a detector reports, with severities and the deterministic id rule of the spec."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Severity(str, Enum):
    """Ordered severities: ``info < low < medium < high < critical``."""

    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def raised(self, levels: int = 1) -> Severity:
        """This severity raised by ``levels`` (capped at critical)."""
        return _ORDER[min(len(_ORDER) - 1, self.rank + levels)]

    def __str__(self) -> str:
        return self.value


_ORDER = list(Severity)
_RANK = {s: i for i, s in enumerate(_ORDER)}


def finding_id(name: str, subject: tuple[Any, ...], ts_us: int, tenant: str | None = None) -> str:
    """Stable id: a hash of (tenant, instance name, subject key, ts) — the spec's identity of a finding."""
    parts = [tenant or "", name, *("" if s is None else str(s) for s in subject), str(ts_us)]
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=10).hexdigest()
    return f"F{digest}"


class Finding(BaseModel):
    """One finding. ``evidence`` lists event ids in time order; ``details`` is detector-specific."""

    model_config = ConfigDict(frozen=True)

    id: str
    rule: str = Field(description="detector id")
    name: str = Field(description="rule instance name in the ruleset")
    severity: Severity
    ts: datetime = Field(description="the moment the condition became true")
    employee_id: str | None = None
    customer_id: str | None = None
    message: str
    evidence: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    tenant: str | None = None
    suppressed_by: str | None = Field(default=None, description="the exception's reason when suppressed")

    def sort_key(self) -> tuple[datetime, str]:
        return (self.ts, self.id)

    def to_json_dict(self) -> dict[str, Any]:
        d = self.model_dump(mode="json", exclude_none=False)
        if d.get("suppressed_by") is None:
            d.pop("suppressed_by", None)
        return d
