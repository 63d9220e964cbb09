"""From raw records to valid events: readers that keep line numbers, validation, duplicate ids.

Every record in becomes exactly one of: a valid :class:`~hrguard.events.Event`, a duplicate
delivery (same id, same content: counted and ignored), or a :class:`Rejection` naming the record's
line (or position), its id when it has one, the field and the problem.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ValidationError

from .errors import InvalidEventError, LateEventError
from .events import Event

try:  # orjson is optional (the 'fast' extra); json is the fallback
    import orjson

    _loads = orjson.loads
    _JSONError: tuple[type[Exception], ...] = (orjson.JSONDecodeError,)
except ImportError:  # pragma: no cover - exercised when orjson is absent
    _loads = json.loads
    _JSONError = (json.JSONDecodeError,)


@dataclass(frozen=True)
class Rejection:
    """A record that is not a valid event: where it was, which id, which field, what is wrong."""

    line: int | None
    id: str | None
    field: str | None
    message: str
    source: str = "<input>"

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        ident = f" (id {self.id})" if self.id is not None else ""
        fld = f" field {self.field!r}:" if self.field else ""
        return f"{where}{ident}:{fld} {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "id": self.id, "field": self.field, "message": self.message}


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
    """One record as read: its source, line (or position), and the parsed object or a parse error."""

    source: str
    line: int
    value: Any = None
    error: str | None = None


def _lines(stream: IO[bytes], source: str) -> Iterator[RawRecord]:
    first = True
    for lineno, raw in enumerate(stream, start=1):
        if first:
            stripped = raw.lstrip()
            if not stripped:
                continue
            first = False
            if stripped.startswith(b"\xef\xbb\xbf"):
                stripped = stripped[3:]
            if stripped.startswith(b"["):  # a JSON array: read the whole thing
                rest = stream.read()
                yield from _array(raw + rest, source)
                return
        if not raw.strip():
            continue
        try:
            yield RawRecord(source, lineno, _loads(raw))
        except _JSONError as exc:
            yield RawRecord(source, lineno, error=f"malformed JSON: {exc}")


def _array(data: bytes, source: str) -> Iterator[RawRecord]:
    try:
        items = _loads(data)
    except _JSONError as exc:
        yield RawRecord(source, 1, error=f"malformed JSON array: {exc}")
        return
    if not isinstance(items, list):
        yield RawRecord(source, 1, error="expected a JSON array of event objects")
        return
    for pos, item in enumerate(items, start=1):
        yield RawRecord(source, pos, item)


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


_FRIENDLY = {
    "timezone_aware": "timestamp without an offset: write it in RFC 3339 with one, e.g. 2026-03-30T09:12:00+08:00",
    "missing": "required field is missing",
}


def _describe(exc: ValidationError) -> tuple[str | None, str]:
    parts = []
    first = None
    errors = exc.errors(include_url=False)
    for err in errors:
        loc = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        first = first or loc or None
        msg = _FRIENDLY.get(err["type"], err["msg"])
        if err["type"] not in ("missing",) and "input" in err and not isinstance(err["input"], (dict, list)):
            msg += f" (got {err['input']!r})"
        parts.append(f"{loc}: {msg}" if loc and len(errors) > 1 else msg)
    return first, "; ".join(parts)


class EventValidator:
    """Turns raw records into events of the registered kinds, or rejections."""

    def __init__(self, kinds: dict[str, type[Event]]):
        self.kinds = kinds

    def validate(self, rec: RawRecord) -> Event | Rejection:
        if rec.error is not None:
            return Rejection(rec.line, None, None, rec.error, rec.source)
        value = rec.value
        if isinstance(value, Event):
            return value
        if isinstance(value, BaseModel):
            value = value.model_dump()
        if not isinstance(value, dict):
            return Rejection(rec.line, None, None, f"expected a JSON object, got {type(value).__name__}", rec.source)
        rid = value.get("id")
        rid = rid if isinstance(rid, str) else (str(rid) if rid is not None else None)
        kind = value.get("kind")
        if kind is None:
            return Rejection(rec.line, rid, "kind", "required field is missing", rec.source)
        model = self.kinds.get(kind) if isinstance(kind, str) else None
        if model is None:
            known = ", ".join(sorted(self.kinds))
            return Rejection(rec.line, rid, "kind", f"unknown kind {kind!r} (known kinds: {known})", rec.source)
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            fld, msg = _describe(exc)
            return Rejection(rec.line, rid, fld, msg, rec.source)


@dataclass
class Deduplicator:
    """Applies the spec's duplicate-id rule: same content is a duplicate, different content a rejection."""

    seen: dict[str, int] = field(default_factory=dict)

    def check(self, event: Event, rec: RawRecord) -> Rejection | bool:
        """``True`` for a new event, ``False`` for a duplicate delivery, a Rejection for a conflict."""
        digest = hash(event.model_dump_json())
        prior = self.seen.get(event.id)
        if prior is None:
            self.seen[event.id] = digest
            return True
        if prior == digest:
            return False
        return Rejection(
            rec.line, event.id, "id",
            "repeated id with different content (the first record received is kept)", rec.source,
        )


class Intake:
    """Validation + duplicate handling + counting; strict mode raises on the first bad record."""

    def __init__(self, kinds: dict[str, type[Event]], strict: bool = False):
        self.validator = EventValidator(kinds)
        self.dedupe = Deduplicator()
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
