"""The event kinds this plugin adds: one pydantic model per kind, ``kind`` a one-value Literal."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hrguard import Event


class BadgeSwiped(Event):
    """An employee's badge opened a door (``employee_id``: whose badge)."""

    kind: Literal["badge.swiped"]
    door: str = Field(min_length=1, description="the door's id")
    site_id: str | None = Field(default=None, description="the site the door belongs to")


KINDS = (BadgeSwiped,)
