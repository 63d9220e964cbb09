"""Reading one value out of a source record: field paths, ``{path}`` templates, and times.

A *path* names a field by its keys, joined with dots: ``employee_id.0`` is the first item of
``employee_id`` (an Odoo many2one ``[7, "Marc Demo"]``), ``trace.Amount`` the ``Amount`` of the nested
``trace`` mapping. A *template* is text with paths in braces (``"odoo-att-{id}-in"``); ``{{`` and ``}}``
are literal braces. Nothing else is read from a template: no attribute access, no calls, no format
specs, so a template is data, never code.

Source systems write times in their own ways; :func:`to_timestamp` turns each into RFC 3339 with an
offset, as the event contract wants: a naive timestamp (Frappe, Odoo) is wall-clock time in the
source's zone, a number is an epoch count in the source's unit, a bare date is local midnight.
"""

from __future__ import annotations

import string
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import InvalidArgumentError

_EPOCH_US = {"s": 1_000_000, "ms": 1_000, "us": 1}
_MAX_TEMPLATE = 500


def split_path(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def lookup(record: Any, steps: tuple[str, ...]) -> tuple[bool, Any]:
    """``(found, value)`` of the field at ``steps`` (a list is indexed by a step that is a whole number)."""
    value = record
    for step in steps:
        if isinstance(value, dict):
            if step not in value:
                return False, None
            value = value[step]
        elif isinstance(value, (list, tuple)) and step.isdigit():
            k = int(step)
            if k >= len(value):
                return False, None
            value = value[k]
        else:
            return False, None
    return True, value


def parse_template(text: str) -> list[tuple[str, str | None]]:
    """``[(literal, path or None), ...]`` of a template; ``ValueError`` names what is not allowed."""
    if len(text) > _MAX_TEMPLATE:
        raise InvalidArgumentError(None, f"a template is at most {_MAX_TEMPLATE} characters")
    parts: list[tuple[str, str | None]] = []
    for literal, name, spec, conv in string.Formatter().parse(text):
        if name is not None:
            if conv or spec:
                raise InvalidArgumentError(None, f"{{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}: a template "
                                 "field is a path only (no '!' conversion, no ':' format)")
            if not name or any(c in name for c in "[]{}") or any(not s for s in name.split(".")):
                raise InvalidArgumentError(None, f"{{{name}}}: expected a field path such as {{name}} or {{employee_id.0}}")
        parts.append((literal, name))
    return parts


def is_template(text: str) -> bool:
    return "{" in text or "}" in text


def as_text(value: Any) -> str:
    """A value as it appears in an id or a string field: numbers without a trailing ``.0``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def same_value(a: Any, b: Any) -> bool:
    """Equality of a source value and a value written in a pipeline: strings ignore case and surrounding
    spaces, ``true`` is not ``1``, ``0`` equals ``0.0``."""
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().casefold() == b.strip().casefold()
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, (int, float, Decimal)) and isinstance(b, (int, float, Decimal)):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    return a == b


# -- times -------------------------------------------------------------------------------------------------
def to_timestamp(value: Any, zone: ZoneInfo | None, epoch: str, zone_hint: str) -> str:
    """RFC 3339 with an offset for a source's time value; ``ValueError`` says why it cannot be one."""
    if isinstance(value, bool):
        raise InvalidArgumentError(None, f"expected a timestamp, got {str(value).lower()}")
    if isinstance(value, (int, float, Decimal)):
        try:
            us = int(Decimal(str(value)) * _EPOCH_US[epoch])
            return datetime.fromtimestamp(us / 1_000_000, tz=timezone.utc).replace(
                microsecond=us % 1_000_000).isoformat()
        except (OverflowError, ValueError, OSError):
            raise InvalidArgumentError(None, f"{value} is not a time as a number of {epoch} since 1970 (epoch: {epoch})") from None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time())
    elif isinstance(value, str):
        text = value.strip()
        try:
            dt = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise InvalidArgumentError(None, f"{value!r} is not a timestamp (expected e.g. 2024-10-24 09:30:00 or "
                             "2024-10-24T09:30:00+05:30)") from None
    else:
        raise InvalidArgumentError(None, f"expected a timestamp, got {type(value).__name__}")
    if dt.tzinfo is None:
        if zone is None:
            raise InvalidArgumentError(None, f"{value!r} has no offset and the pipeline names no time zone for it: {zone_hint}")
        dt = dt.replace(tzinfo=zone)
    return dt.isoformat()


def to_date(value: Any) -> Any:
    """A date field's value: a date-time's date (as written: its wall clock), a date as is."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, str) and len(value.strip()) > 10:
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date().isoformat()
        except ValueError:
            return value  # the model says what is wrong with it
    return value
