"""``badge.after_hours``: a badge swipe outside working hours (in the ruleset's time zone)."""

from __future__ import annotations

from pydantic import Field, model_validator

from hrguard import DetectorParams, EventDetector, Severity


class AfterHoursParams(DetectorParams):
    """Every parameter has a default and a description (``hrguard detectors`` shows both)."""

    opens: int = Field(7, ge=0, le=23, description="the hour (local) working hours start")
    closes: int = Field(22, ge=1, le=24, description="the hour (local) working hours end")

    @model_validator(mode="after")
    def _opens_before_closes(self) -> AfterHoursParams:
        if self.opens >= self.closes:
            raise ValueError(f"opens ({self.opens}) must be before closes ({self.closes})")
        return self


class AfterHours(EventDetector):
    id = "badge.after_hours"
    title = "A badge swipe outside working hours"
    Params = AfterHoursParams
    default_severity = Severity.low
    kinds = frozenset({"badge.swiped"})
    messages = {
        "en": "{employee_id} swiped into door {door} at {local_time}, outside working hours ({opens}:00-{closes}:00)",
        "zh": "{employee_id} 于 {local_time} 刷卡进入门禁 {door}，不在工作时间（{opens}:00-{closes}:00）内",
    }

    def on_event(self, ev):
        # Each swipe is judged on itself alone: no state to keep, no timer to set. ev.ts is in the
        # ruleset's time zone; report() takes the swipe as evidence, its id as subject, its employee.
        p = self.params
        if not p.opens <= ev.ts.hour < p.closes:
            self.report(ev, door=ev.door, local_time=f"{ev.ts:%H:%M}", opens=p.opens, closes=p.closes)


DETECTORS = (AfterHours,)
