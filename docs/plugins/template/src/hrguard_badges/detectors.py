"""``badge.after_hours``: a badge swipe outside working hours (in the ruleset's time zone)."""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from hrguard import Chunk, Detector, DetectorParams, Severity

SWIPE = "badge.swiped"
HOUR_US = 3_600_000_000


class AfterHoursParams(DetectorParams):
    """Every parameter has a default and a description (``hrguard detectors`` shows both)."""

    opens: int = Field(7, ge=0, le=23, description="the hour (local) working hours start")
    closes: int = Field(22, ge=1, le=24, description="the hour (local) working hours end")

    @model_validator(mode="after")
    def _opens_before_closes(self) -> AfterHoursParams:
        if self.opens >= self.closes:
            raise ValueError(f"opens ({self.opens}) must be before closes ({self.closes})")
        return self


class AfterHours(Detector):
    id = "badge.after_hours"
    title = "A badge swipe outside working hours"
    Params = AfterHoursParams
    default_severity = Severity.low
    kinds = frozenset({SWIPE})
    messages = {
        "en": {"default": "{employee_id} swiped into door {door} at {local_time}, outside working hours "
                          "({opens}:00-{closes}:00)"},
        "zh": {"default": "{employee_id} 于 {local_time} 刷卡进入门禁 {door}，不在工作时间（{opens}:00-{closes}:00）内"},
    }

    def process(self, chunk: Chunk) -> None:
        # Each event is judged on itself alone, so there is no state to carry between chunks and no
        # timer to fire: see hrguard.kit (Latest, GrowBuf...) for detectors that need the past.
        rows = chunk.rows(SWIPE)
        if rows.size == 0:
            return
        f = chunk.frame
        ts = f.ts[rows]
        hour = self.ctx.clock.local_us(ts) // HOUR_US % 24  # vectorised: every swipe of the chunk at once
        fire = np.flatnonzero((hour < self.params.opens) | (hour >= self.params.closes))
        if fire.size == 0:
            return
        strings = self.ctx.strings
        doors = chunk.col(SWIPE, "door")
        local = self.ctx.clock.local_us(ts[fire])
        for i, lt in zip(fire.tolist(), local.tolist()):
            row = int(rows[i])
            t = int(ts[i])
            details = {"door": strings.text(int(doors[i])), "local_time": f"{lt // HOUR_US % 24:02d}:{lt // 60_000_000 % 60:02d}",
                       "opens": self.params.opens, "closes": self.params.closes}
            self.emit(ts=t, subject=(f.ids[row],), employee_id=strings.text(int(f.employee[row])), customer_id=None,
                      evidence=[(t, f.ids[row])], details=details)


DETECTORS = (AfterHours,)
