"""From raw records to valid events: readers that keep line numbers, validation, duplicate ids.

Every record in becomes exactly one of: a valid :class:`~hrguard.events.Event`, a duplicate
delivery (same id, same content: counted and ignored), or a :class:`Rejection` naming the record's
line (or position), its id when it has one, the field and the problem.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from pydantic import BaseModel, ValidationError

from .errors import InvalidEventError, LateEventError
from .events import Event, FieldError
from .timeutil import to_us

try:  # orjson is optional (the 'fast' extra); json is the fallback
    import orjson

    loads = orjson.loads
    JSONError: tuple[type[Exception], ...] = (orjson.JSONDecodeError,)
except ImportError:  # pragma: no cover - exercised when orjson is absent
    loads = json.loads
    JSONError = (json.JSONDecodeError,)


@dataclass(frozen=True)
class Rejection:
    """A record that is not a valid event: where it was, which id, which field, what is wrong.

    ``line`` is the file's line for JSON Lines and the line where the item starts for a JSON array
    (``item`` is then its 1-based position in the array); for events given as Python objects,
    ``line`` is the record's 1-based position and ``source`` is ``<input>`` (or ``<stream>``).
    """

    line: int | None
    id: str | None
    field: str | None
    message: str
    source: str = "<input>"
    item: int | None = None

    @property
    def where(self) -> str:
        """``file:12``, ``file:3 item 2`` (JSON array), or ``<input> record 5`` (Python objects)."""
        if self.line is None:
            return self.source
        if self.source.startswith("<") and self.source != "<stdin>":
            return f"{self.source} record {self.line}"
        item = f" item {self.item}" if self.item is not None else ""
        return f"{self.source}:{self.line}{item}"

    def __str__(self) -> str:
        ident = f" (id {self.id})" if self.id is not None else ""
        fld = f" field {self.field!r}:" if self.field else ""
        return f"{self.where}{ident}:{fld} {self.message}"

    def to_dict(self) -> dict[str, Any]:
        d = {"source": self.source, "line": self.line, "id": self.id, "field": self.field, "message": self.message}
        if self.item is not None:
            d["item"] = self.item
        return d


@dataclass
class IngestStats:
    """How many records came in and what became of them (``received == valid + duplicates + rejected``)."""

    received: int = 0
    valid: int = 0
    duplicates: int = 0
    rejected: int = 0
    late: int = 0  # rejected because they arrived behind a stream's watermark (included in rejected)
    after_as_of: int = 0  # valid events later than the scan's as-of time (ignored entirely)


@dataclass
class RawRecord:
    """One record as read: its source, line (or position), and the parsed object or a parse error.

    For a parse error, ``value`` is the record's id when it could be read off the text.
    """

    source: str
    line: int
    value: Any = None
    error: str | None = None
    item: int | None = None  # 1-based position in a JSON array


_ID_IN_TEXT = re.compile(rb'"id"\s*:\s*"((?:[^"\\]|\\.){1,200})"')


def salvage_id(raw: bytes) -> str | None:
    """The ``"id"`` of a line that is not valid JSON, when it can still be read off the text."""
    m = _ID_IN_TEXT.search(raw)
    if m is None:
        return None
    try:
        return json.loads(b'"' + m.group(1) + b'"')
    except ValueError:
        return None


def json_problem(exc: Exception) -> str:
    """``unexpected end of data at column 21`` from a json/orjson error (their own line numbers are
    relative to the parsed text, which only confuses when the text is one line of a file)."""
    msg = getattr(exc, "msg", None) or str(exc)
    col = getattr(exc, "colno", None)
    return f"{msg} at column {col}" if col else msg


def _lines(stream: IO[bytes], source: str) -> Iterator[RawRecord]:
    first = True
    for lineno, raw in enumerate(stream, start=1):
        if first:
            if raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte order mark
            stripped = raw.lstrip()
            if not stripped:
                continue
            first = False
            if stripped.startswith(b"["):  # a JSON array: read the whole thing
                rest = stream.read()
                yield from _array(raw + rest, source, lineno)
                return
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            continue
        try:
            yield RawRecord(source, lineno, loads(line))
        except JSONError as exc:
            yield RawRecord(source, lineno, error=f"malformed JSON: {json_problem(exc)}", value=salvage_id(line))


_WS = re.compile(r"[ \t\r\n]*")


def _array(data: bytes, source: str, first_line: int = 1) -> Iterator[RawRecord]:
    """Items of a JSON array, each with the line where it starts and its position in the array.

    A syntax error ends the array: it is reported once, at its own line and column.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield RawRecord(source, first_line, error=f"not UTF-8 text: {exc}")
        return
    decoder = json.JSONDecoder()
    line = first_line
    pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
    counted = 0  # text[:counted] has been scanned for newlines

    def line_at(p: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, p)
        counted = p
        return line

    def error(p: int, msg: str, item: int | None = None, start: int | None = None) -> RawRecord:
        ln = line_at(p)
        col = p - (text.rfind("\n", 0, p) + 1) + 1
        rid = salvage_id(text[start:p].encode()) if start is not None else None
        return RawRecord(source, ln, rid, error=f"malformed JSON array: {msg} at column {col}", item=item)

    pos += 1  # the "["
    n = 0
    while True:
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if pos < len(text) and text[pos] == "]" and n == 0:
            pos += 1
            break
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            msg = "the array is not closed with ']'" if not text[exc.pos:].strip() else exc.msg
            yield error(exc.pos, msg, n + 1, pos)
            return
        n += 1
        yield RawRecord(source, line_at(pos), value, item=n)
        pos = _WS.match(text, end).end()  # type: ignore[union-attr]
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        if pos < len(text) and text[pos] == "]":
            pos += 1
            break
        yield error(pos, "expected ',' or ']' after an item" if pos < len(text) else "the array is not closed with ']'")
        return
    pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
    if pos < len(text):
        yield error(pos, "unexpected text after the closing ']'")


def read_records(source: str | os.PathLike[str] | IO[bytes] | IO[str]) -> Iterator[RawRecord]:
    """Records of a JSON Lines or JSON array file (``"-"`` is stdin), with their line numbers.

    For JSON Lines the number is the file's line; for a JSON array, the item's position (1-based).
    """
    if isinstance(source, (str, os.PathLike)):
        name = str(source)
        if name == "-":
            yield from _lines(sys.stdin.buffer, "<stdin>")
            return
        with open(name, "rb") as fh:
            yield from _lines(fh, name)
        return
    name = getattr(source, "name", "<stream>")
    if isinstance(source, io.TextIOBase) or (hasattr(source, "encoding") and not hasattr(source, "buffer")):
        yield from _lines(io.BytesIO(source.read().encode()), str(name))  # type: ignore[union-attr]
    elif hasattr(source, "buffer"):
        yield from _lines(source.buffer, str(name))  # type: ignore[union-attr]
    else:
        yield from _lines(source, str(name))  # type: ignore[arg-type]


def iter_records(events: Any) -> Iterator[RawRecord]:
    """Records of anything ``scan`` accepts: a path, several paths, a file, or an iterable of dicts/models."""
    if isinstance(events, (str, os.PathLike)) or hasattr(events, "read"):
        yield from read_records(events)
        return
    if isinstance(events, (list, tuple)) and events and all(isinstance(e, (str, os.PathLike)) for e in events):
        for path in events:
            yield from read_records(path)
        return
    for pos, item in enumerate(events, start=1):
        yield RawRecord("<input>", pos, item)


_RFC3339 = "an RFC 3339 timestamp with an offset, e.g. 2026-03-30T09:12:00+08:00"
_FRIENDLY = {
    "missing": "required field is missing",
    "timezone_aware": f"timestamp without an offset: expected {_RFC3339}",
    "datetime_parsing": f"not a valid timestamp: expected {_RFC3339}",
    "datetime_from_date_parsing": f"not a valid timestamp: expected {_RFC3339}",
    "datetime_type": f"expected {_RFC3339}",
    "date_parsing": "not a valid date: expected YYYY-MM-DD, e.g. 2026-03-30",
    "date_from_datetime_parsing": "not a valid date: expected YYYY-MM-DD, e.g. 2026-03-30",
    "date_from_datetime_inexact": "not a valid date: expected YYYY-MM-DD, e.g. 2026-03-30",
    "date_type": "expected a date YYYY-MM-DD, e.g. 2026-03-30",
    "time_parsing": "not a valid time of day: expected HH:MM (local time), e.g. 09:30",
    "time_type": "expected a time of day HH:MM (local time), e.g. 09:30",
    "string_type": "expected a string",
    "string_too_short": "must not be empty",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "int_type": "expected a whole number",
    "bool_type": "expected true or false",
    "decimal_type": "expected a decimal number (a JSON number or a string such as \"1250.00\")",
    "decimal_parsing": "expected a decimal number (a JSON number or a string such as \"1250.00\")",
    "finite_number": "expected a finite number",
    "dict_type": "expected a JSON object",
    "model_type": "expected a JSON object",
    "list_type": "expected a JSON array",
    "extra_forbidden": "unknown field (not allowed inside this object)",
}
_RANGE = {"lat": "latitude must be within [-90, 90] (WGS-84 decimal degrees)",
          "lon": "longitude must be within [-180, 180] (WGS-84 decimal degrees)"}
_MONEY = ("amount",)


def _one(err: Any) -> tuple[str, str]:
    """``(field path, message)`` of one pydantic error, in words for the person fixing the record."""
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    etype = err["type"]
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):  # a model-level check that knows the field at fault
        path = ".".join(str(p) for p in loc + [cause.field])
        return path, str(cause)
    path = ".".join(str(p) for p in loc)
    last = loc[-1] if loc else None
    if etype in ("less_than_equal", "greater_than_equal", "less_than", "greater_than") and last in _RANGE:
        msg = _RANGE[last]
    elif etype == "greater_than_equal" and last in _MONEY and (err.get("ctx") or {}).get("ge") == 0:
        msg = "money is never negative"
    elif etype == "greater_than_equal" and (err.get("ctx") or {}).get("ge") == 0:
        msg = "must not be negative"
    elif etype == "literal_error" and "expected" in (err.get("ctx") or {}):
        msg = f"expected {err['ctx']['expected']}"
    elif etype == "value_error":
        msg = str(cause) if cause is not None else err["msg"].removeprefix("Value error, ")
    else:
        msg = _FRIENDLY.get(etype, err["msg"])
    shown = err.get("input")
    if etype not in ("missing", "extra_forbidden") and "input" in err and not isinstance(shown, (dict, list)) \
            and etype != "value_error":
        msg += f" (got {_shown(shown)})"
    return path, msg


def _shown(value: Any) -> str:
    """A value as it would be written in JSON (``true``, ``"31.2"``), for messages about JSON input."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _describe(exc: ValidationError) -> tuple[str | None, str]:
    """The first field at fault and one message naming every problem of the record."""
    found = [_one(err) for err in exc.errors(include_url=False)]
    first = found[0][0] or None
    if len(found) == 1:
        return first, found[0][1]
    return first, "; ".join(f"{path}: {msg}" if path else msg for path, msg in found)


class EventValidator:
    """Turns raw records into events of the registered kinds, or rejections."""

    def __init__(self, kinds: dict[str, type[Event]]):
        self.kinds = kinds

    def validate(self, rec: RawRecord) -> Event | Rejection:
        if rec.error is not None:
            rid = rec.value if isinstance(rec.value, str) else None
            return Rejection(rec.line, rid, None, rec.error, rec.source, rec.item)
        value = rec.value
        if isinstance(value, Event):
            return value
        if isinstance(value, BaseModel):
            value = value.model_dump()
        if not isinstance(value, dict):
            what = "null" if value is None else type(value).__name__
            return Rejection(rec.line, None, None, f"expected a JSON object (one event), got {what}", rec.source,
                             rec.item)
        rid = value.get("id")
        rid = rid if isinstance(rid, str) else (str(rid) if rid is not None else None)
        rid = rid or None  # an empty id is no id
        kind = value.get("kind")
        if kind is None:
            msg = "required field is missing" if "kind" not in value else "must not be null"
            return Rejection(rec.line, rid, "kind", msg + " (it names what happened, e.g. 'attendance.punched')",
                             rec.source, rec.item)
        model = self.kinds.get(kind) if isinstance(kind, str) else None
        if model is None:
            known = ", ".join(sorted(self.kinds))
            return Rejection(rec.line, rid, "kind", f"unknown kind {kind!r} (known kinds: {known})", rec.source,
                             rec.item)
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            fld, msg = _describe(exc)
            return Rejection(rec.line, rid, fld, msg, rec.source, rec.item)


def _content(event: Event) -> str:
    """The record's content for the duplicate rule, as a batch scan's RowDeduplicator sees it:
    field order, attrs key order, the offset a timestamp was written with and the spelling of money
    do not matter."""
    ts = str(to_us(event.ts))
    if not event.attrs:
        return event.model_dump_json(exclude={"ts"}) + ts
    try:
        attrs = json.dumps(event.attrs, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return event.model_dump_json(exclude={"ts"}) + ts
    return event.model_dump_json(exclude={"attrs", "ts"}) + ts + attrs


@dataclass
class Deduplicator:
    """Applies the spec's duplicate-id rule: same content is a duplicate, different content a rejection."""

    seen: dict[str, int] = field(default_factory=dict)

    def check(self, event: Event, rec: RawRecord) -> Rejection | bool:
        """``True`` for a new event, ``False`` for a duplicate delivery, a Rejection for a conflict."""
        digest = hash(_content(event))
        prior = self.seen.get(event.id)
        if prior is None:
            self.seen[event.id] = digest
            return True
        if prior == digest:
            return False
        return Rejection(
            rec.line, event.id, "id",
            "repeated id with different content: ids must be unique (the first record received with this id "
            "is kept; this one is rejected)", rec.source, rec.item,
        )


class RowDeduplicator:
    """The duplicate rule for a batch scan, at no cost per event beyond a dict insert.

    Remembers the builder row of each id; only when an id repeats are the two events compared,
    field by field, in their column form (so 600000 and "600000.00" are the same money).
    """

    def __init__(self, builder: Any):
        self.builder = builder
        self.seen: dict[str, int] = {}

    def check(self, event: Event, rec: RawRecord) -> Rejection | bool:
        row = self.seen.get(event.id)
        if row is None:
            self.seen[event.id] = len(self.builder)  # the row it gets once accepted
            return True
        if self.builder.same_as_row(row, event):
            return False
        return Rejection(
            rec.line, event.id, "id",
            "repeated id with different content: ids must be unique (the first record received with this id "
            "is kept; this one is rejected)", rec.source, rec.item,
        )


class Intake:
    """Validation + duplicate handling + counting; strict mode raises on the first bad record."""

    def __init__(self, kinds: dict[str, type[Event]], strict: bool = False, dedupe: Any = None):
        self.validator = EventValidator(kinds)
        self.dedupe = dedupe if dedupe is not None else Deduplicator()
        self.strict = strict
        self.stats = IngestStats()
        self.rejected: list[Rejection] = []

    def reject(self, rejection: Rejection, late: bool = False) -> None:
        self.stats.rejected += 1
        self.stats.late += late
        self.rejected.append(rejection)
        if self.strict:
            raise (LateEventError if late else InvalidEventError)(rejection)

    def take(self, rec: RawRecord, gate: Callable[[Event, RawRecord], Rejection | None] | None = None) -> Event | None:
        """The record's event if it is new and valid; ``None`` otherwise (counted either way).

        ``gate`` may reject a valid event as late before it counts as seen (used by streams).
        """
        self.stats.received += 1
        out = self.validator.validate(rec)
        if isinstance(out, Rejection):
            self.reject(out)
            return None
        if gate is not None:
            late = gate(out, rec)
            if late is not None:
                self.reject(late, late=True)
                return None
        verdict = self.dedupe.check(out, rec)
        if verdict is True:
            self.stats.valid += 1
            return out
        if verdict is False:
            self.stats.duplicates += 1
            return None
        self.reject(verdict)
        return None

    def take_all(self, records: Iterable[RawRecord]) -> Iterator[Event]:
        for rec in records:
            ev = self.take(rec)
            if ev is not None:
                yield ev
