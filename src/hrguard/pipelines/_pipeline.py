"""A loaded pipeline: each source record in, its events (or the reason it cannot be mapped) out.

For one record, in this order: the first source whose ``where`` tests all pass takes it (none: the
record is rejected); a ``skip`` source counts it as skipped; ``sentinels`` and the pipeline's
``missing`` values make fields missing; ``require`` fields must then have a value; ``values`` maps
translate closed vocabularies (case-insensitively); each ``emit`` whose ``when`` tests pass makes one
event (one per row with ``each``): its id from a template, its fields read by path or template (times
converted to RFC 3339 in the source's zone), constants from the pipeline's and the event's ``set``,
and every source field no part of the source reads kept in ``attrs``. Any failure rejects the whole
record (no partial mapping), naming the source field at fault.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime

from ..errors import FieldError
from ..events import Event, get_zone
from ..ingest import Broken
from ._model import EmitSpec, Match, Scalar, SourceSpec, as_match
from ._values import (
    as_text,
    is_template,
    lookup,
    parse_template,
    same_value,
    split_path,
    to_date,
    to_timestamp,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..engine import Engine

SKIP = object()
"""What :meth:`Pipeline.map` returns for a record a ``skip`` source takes."""


def field_types(model: type[Event]) -> dict[str, str]:
    """``{field: "timestamp" | "date"}`` of a kind's fields holding instants or dates."""
    out = {}
    for name, info in model.model_fields.items():
        todo, seen = [info.annotation], 0
        while todo and seen < 50:
            t, seen = todo.pop(), seen + 1
            if t is AwareDatetime or (isinstance(t, type) and issubclass(t, datetime)):
                out[name] = "timestamp"
                break
            if isinstance(t, type) and issubclass(t, date):
                out[name] = "date"
                break
            todo.extend(typing.get_args(t))
    return out


# -- compiled parts ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Value:
    """How one event field is read: a path, or a template of paths."""

    text: str
    path: tuple[str, ...] | None
    parts: tuple[tuple[str, str | None], ...] = ()

    @staticmethod
    def of(text: str) -> _Value:
        if is_template(text):
            return _Value(text, None, tuple(parse_template(text)))
        return _Value(text, split_path(text))

    def paths(self) -> list[str]:
        return [".".join(self.path)] if self.path is not None else [p for _, p in self.parts if p]


@dataclass(frozen=True)
class Emit:
    spec: EmitSpec
    model: type[Event]
    id: _Value
    fields: tuple[tuple[str, _Value], ...]
    when: tuple[tuple[str, Match], ...]
    constants: dict[str, Any]
    types: dict[str, str]


@dataclass(frozen=True)
class Source:
    spec: SourceSpec
    where: tuple[tuple[str, Match], ...]
    emits: tuple[Emit, ...]
    zone: ZoneInfo | None
    zone_name: str | None
    read_keys: frozenset[str]  # top-level source fields some part of the source reads (not kept in attrs)

    @property
    def name(self) -> str:
        return self.spec.name


def compile_source(spec: SourceSpec, kinds: dict[str, type[Event]], pipeline_set: dict[str, Any],
                   zone_name: str | None) -> Source:
    """A validated source spec made ready to map (its kinds and fields were checked by the loader)."""
    emits = []
    paths: list[str] = list(spec.where) + list(spec.require) + list(spec.values)
    paths += [p for s in spec.sentinels for p in s.fields]
    for e in spec.emit:
        model = kinds[e.kind]
        fields = tuple((k, _Value.of(v)) for k, v in e.fields.items())
        ident = _Value.of(e.id)
        for _, v in fields + (("id", ident),):
            paths += v.paths()
        paths += list(e.when)
        if e.each:
            paths.append(e.each)
        consts = {k: v for k, v in pipeline_set.items() if k in model.model_fields}
        consts.update(e.set)
        emits.append(Emit(e, model, ident, fields, tuple((k, as_match(t)) for k, t in e.when.items()), consts,
                          field_types(model)))
    keys = frozenset(p.split(".")[0] for p in paths if not p.startswith("row."))
    zname = spec.timezone or zone_name
    return Source(spec, tuple((k, as_match(t)) for k, t in spec.where.items()), tuple(emits),
                  get_zone(zname) if zname else None, zname, keys)


# -- the pipeline ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pipeline:
    """A loaded, validated mapping pipeline bound to the engine whose kinds its events use.

    :meth:`map` maps one record; :meth:`records` wraps an input (what ``scan`` accepts, or an XES log
    for ``format: xes``) so that a scan reads the mapped events with each record's place kept.
    """

    name: str
    sources: tuple[Source, ...]
    format: str
    timezone: str | None
    epoch: str
    missing: tuple[Scalar, ...]
    record_id: str
    constants: dict[str, Any]
    source: str
    engine: Engine = field(repr=False, compare=False)

    def _missing(self, value: Any) -> bool:
        if value is None:
            return True
        return any(type(value) is type(m) and value == m for m in self.missing)

    def _record_id(self, record: dict[str, Any]) -> str | None:
        found, v = lookup(record, split_path(self.record_id))
        if not found or self._missing(v) or isinstance(v, (dict, list)):
            return None
        return as_text(v)

    def source_of(self, record: dict[str, Any]) -> Source | None:
        """The first source whose ``where`` tests all pass for ``record``."""
        for src in self.sources:
            if all(self._test(record, path, m) for path, m in src.where):
                return src
        return None

    def _test(self, record: Any, path: str, m: Match) -> bool:
        found, v = lookup(record, split_path(path))
        has = found and not self._missing(v)
        if m.present is not None and has != m.present:
            return False
        if m.equals is not None and not (found and any(same_value(v, w) for w in m.equals)):
            return False
        if m.prefix is not None and not (isinstance(v, str) and v.casefold().startswith(m.prefix.casefold())):
            return False
        return True

    def map(self, record: Any) -> list[dict[str, Any]] | Broken | object:
        """The events of one source record, a :class:`~hrguard.ingest.Broken` saying why it cannot be
        mapped (its id, the source field at fault), or :data:`SKIP`."""
        if isinstance(record, Broken):
            return record
        if not isinstance(record, dict):
            what = "null" if record is None else type(record).__name__
            return Broken(f"expected a record (a JSON object), got {what}")
        rid = self._record_id(record)
        src = self.source_of(record)
        if src is None:
            names = ", ".join(s.name for s in self.sources)
            return Broken(f"no source of pipeline {self.name!r} takes this record (sources, tried in order: "
                          f"{names}; each takes the records its 'where' matches)", rid)
        if src.spec.skip:
            return SKIP
        try:
            return self._events(record, src, rid)
        except FieldError as exc:  # a source field (a path) that cannot be mapped: the record is rejected
            return Broken(f"{exc} (pipeline {self.name!r}, source {src.name!r})", rid, exc.field or None)

    def _events(self, record: dict[str, Any], src: Source, rid: str | None) -> list[dict[str, Any]]:
        gone = set()
        for s in src.spec.sentinels:
            vals = [lookup(record, split_path(f)) for f in s.fields]
            if all(found and same_value(v, w) for (found, v), w in zip(vals, s.equals)):
                gone.update(s.fields)
        reader = _Reader(self, src, record, gone)
        for path in src.spec.require:
            if not reader.has(path):
                raise FieldError(path, "required field has no value")
        out: list[dict[str, Any]] = []
        for emit in src.emits:
            if not all(self._test(record, p, m) for p, m in emit.when if p not in gone):
                continue
            if any(p in gone and m.present for p, m in emit.when):
                continue
            rows: list[Any] = [None]
            if emit.spec.each:
                found, v = reader.get(emit.spec.each)
                if not found:
                    continue
                if not isinstance(v, list):
                    raise FieldError(emit.spec.each, f"'each' needs a list of rows, got {type(v).__name__}")
                rows = v
            for row in rows:
                out.append(self._event(reader, emit, row, src))
        if not out:
            raise FieldError("", "the record matches the source but none of its events applies (every "
                                   "'emit' has a 'when' that failed); add skip: true to a source for records "
                                   "dropped on purpose")
        return out

    def _event(self, reader: _Reader, emit: Emit, row: Any, src: Source) -> dict[str, Any]:
        reader.row = row
        ev: dict[str, Any] = {"kind": emit.spec.kind, "id": reader.render(emit.id)}
        for name, val in emit.fields:
            found, v = reader.value(val)
            if not found:
                continue
            kind = emit.types.get(name)
            if kind == "timestamp":
                try:
                    v = to_timestamp(v, src.zone, self.epoch, "set 'timezone:' in the pipeline (or the source)")
                except ValueError as exc:
                    raise FieldError(val.text, f"{name}: {exc}") from None
            elif kind == "date":
                v = to_date(v)
            ev[name] = v
        for k, v in emit.constants.items():
            ev.setdefault(k, v)
        if emit.spec.attrs == "rest":
            attrs = {k: v for k, v in reader.record.items() if k not in src.read_keys}
            if isinstance(row, dict):
                attrs.update({k: v for k, v in row.items() if f"row.{k}" not in reader.row_read})
                attrs.pop(emit.spec.each or "", None)
            if attrs:
                ev["attrs"] = attrs
        return ev


class _Reader:
    """Field values of one record as a source sees them: sentinels and missing values gone, value maps applied."""

    def __init__(self, pipeline: Pipeline, src: Source, record: dict[str, Any], gone: set[str]):
        self.pipeline = pipeline
        self.src = src
        self.record = record
        self.gone = gone
        self.row: Any = None
        self.row_read: set[str] = {p for e in src.emits for _, v in e.fields + (("id", e.id),) for p in v.paths()
                                   if p.startswith("row.")}

    def get(self, path: str) -> tuple[bool, Any]:
        if path in self.gone:
            return False, None
        steps = split_path(path)
        if steps[0] == "row" and self.row is not None:
            found, v = lookup(self.row, steps[1:])
        else:
            found, v = lookup(self.record, steps)
        if not found or self.pipeline._missing(v):
            return False, None
        vm = self.src.spec.values.get(path)
        if vm is not None:
            key = v.strip().casefold() if isinstance(v, str) else as_text(v).casefold()
            for k, out in vm.map.items():
                if k.strip().casefold() == key:
                    return True, out
            if vm.other == "reject":
                raise FieldError(path, f"{v!r} is not one of {', '.join(map(repr, vm.map))} (case does not matter)")
        return True, v

    def has(self, path: str) -> bool:
        return self.get(path)[0]

    def value(self, val: _Value) -> tuple[bool, Any]:
        """A field's value: a path's, or a template's text (no value when a path in it has none)."""
        if val.path is not None:
            return self.get(".".join(val.path))
        if not all(self.has(p) for _, p in val.parts if p is not None):
            return False, None
        return True, self.render(val)

    def render(self, val: _Value) -> str:
        if val.path is not None:
            found, v = self.get(".".join(val.path))
            if not found:
                raise FieldError(val.text, "no value (needed for the event's id)")
            return as_text(v)
        out = []
        for literal, path in val.parts:
            out.append(literal)
            if path is not None:
                found, v = self.get(path)
                if not found:
                    raise FieldError(path, f"no value (needed by the template {val.text!r})")
                if isinstance(v, (dict, list)):
                    raise FieldError(path, f"a template takes a single value, got a {type(v).__name__}")
                out.append(as_text(v))
        return "".join(out)
