"""The event kind this plugin adds."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from hrguard import Event


class LeaveApproved(Event):
    """An employee's leave was approved (``employee_id``: whose leave; ``ts``: when it was approved)."""

    kind: Literal["leave.approved"]
    leave_id: str = Field(min_length=1, description="the leave request's id")
    first_day: date = Field(description="the first local date of the leave")
    last_day: date = Field(description="the last local date of the leave (inclusive)")
    approver_id: str | None = Field(default=None, description="who approved it")

    @model_validator(mode="after")
    def _in_order(self) -> LeaveApproved:
        if self.last_day < self.first_day:
            raise ValueError(f"last_day {self.last_day} is before first_day {self.first_day}")
        return self


KINDS = (LeaveApproved,)
