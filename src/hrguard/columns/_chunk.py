"""Valid events as numpy columns: the one representation every detector reads.

:class:`ColumnBuilder` collects events of every kind as typed column buffers (from the fast path a
block of rows at a time, from a validated model one row at a time, never keeping the model: a
million models cost ~1.7 GB). :meth:`ColumnBuilder.freeze` sorts everything into the spec's one
order of events, ``(ts, id)``, giving a :class:`Frame`; detectors see time-ordered :class:`Chunk`
views of it.

Column types follow the model's annotations: strings (ids, enums) become ``int32`` codes of a shared
:class:`Interner` (``-1`` is null), numbers ``float64`` (``nan`` is null), timestamps ``int64``
microseconds and dates ``int64`` days (``NULL_INT`` is null), times of day ``int64`` seconds,
booleans ``int8`` (``-1`` null); ``attrs``, other objects and strings marked
:data:`~hrguard.events.Text` (mostly distinct values, such as photo URIs) stay Python objects.

A list of nested objects (plan ``items``, summary ``claims``, follow-up ``photos``) is a child table
of its own: one row per entry, typed columns of the entry's fields, each entry's event and its index
in the list. :meth:`Chunk.nested` gives a chunk's entries of one list field; the event's own column
of that field (:meth:`Chunk.col`) is its number of entries.
"""

from __future__ import annotations

import types
import typing
from array import array
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal, Union

import numpy as np
from pydantic import BaseModel

from ..events import UNINTERNED, Event, date_to_days, days_to_date, from_us, time_to_seconds, to_us

NULL_INT = np.iinfo(np.int64).min
NULL_CODE = -1

CODE, FLOAT, INSTANT, DATE, TIME, BOOL, OBJECT = "code", "float", "instant", "date", "time", "bool", "object"
NESTED = "nested"  # a list of nested objects: a child table (see Chunk.nested)
_ENVELOPE = ("id", "kind", "ts", "employee_id", "tenant")


class _Codes(dict):  # type: ignore[type-arg]
    """str -> code; a missing string is added (in order of first look-up) by ``__missing__``."""

    __slots__ = ("strings",)

    def __init__(self) -> None:
        super().__init__()
        self[None] = NULL_CODE  # None is in, so bulk look-ups need no test
        self.strings: list[str] = []

    def __missing__(self, s: str) -> int:
        c = self[s] = len(self.strings)
        self.strings.append(s)
        return c


class Interner:
    """Maps strings to dense ``int`` codes (``-1`` for ``None``) and back; shared by a whole scan."""

    __slots__ = ("_codes", "strings")

    def __init__(self) -> None:
        self._codes = _Codes()
        self.strings: list[str] = self._codes.strings

    def code(self, s: str | None) -> int:
        return self._codes[s]

    def codes(self, values: list[str | None]) -> np.ndarray:
        """The ``int32`` codes of many strings at once (``None`` is ``-1``), new ones added in order."""
        return np.fromiter(map(self._codes.__getitem__, values), dtype=np.int32, count=len(values))

    def find(self, s: str) -> int:
        """The code of ``s`` if it was ever seen, else ``-1`` (never adds)."""
        return self._codes.get(s, NULL_CODE)

    def text(self, code: int) -> str | None:
        return None if code < 0 else self.strings[code]

    def texts(self, codes: np.ndarray) -> list[str | None]:
        s = self.strings
        return [None if c < 0 else s[c] for c in codes.tolist()]

    def __len__(self) -> int:
        return len(self.strings)


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the value type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation


def column_type(annotation: Any, metadata: Any = ()) -> str:
    """The column type of a field of type ``annotation`` (with pydantic's ``metadata`` of the field)."""
    if any(m is UNINTERNED for m in metadata) or _marked(annotation):
        return OBJECT
    t = _unwrap(annotation)
    if typing.get_origin(t) is Literal:
        return CODE if all(isinstance(a, str) for a in typing.get_args(t)) else OBJECT
    if typing.get_origin(t) is list and nested_model(annotation) is not None:
        return NESTED
    if t is str:
        return CODE
    if t is bool:
        return BOOL
    if t in (int, float, Decimal):
        return FLOAT
    if t is datetime:
        return INSTANT
    if t is date:
        return DATE
    if t is time:
        return TIME
    origin_name = getattr(t, "__name__", "")
    if origin_name == "AwareDatetime" or (isinstance(t, type) and issubclass(t, datetime)):
        return INSTANT
    return OBJECT


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model of the entries of ``list[Model]`` (a nested object, not an event), else ``None``."""
    t = _unwrap(annotation)
    args = typing.get_args(t) if typing.get_origin(t) is list else ()
    if len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], BaseModel) \
            and not issubclass(args[0], Event):
        return args[0]
    return None


def _marked(annotation: Any) -> bool:
    """Whether an ``Annotated`` (or ``X | None`` of one) carries :data:`~hrguard.events.UNINTERNED`."""
    for t in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(t) is typing.Annotated and any(m is UNINTERNED for m in typing.get_args(t)[1:]):
            return True
    return False


def _fields_of(model: type[BaseModel], skip: tuple[str, ...] = ()) -> tuple[tuple[str, str], ...]:
    return tuple((name, column_type(info.annotation, info.metadata)) for name, info in model.model_fields.items()
                 if name not in skip)


@dataclass(frozen=True)
class KindLayout:
    """Which columns a kind has and of what column type (derived from its model).

    ``fields`` are every field beside the envelope (``attrs`` included); a list of nested objects is
    a ``NESTED`` field whose entries' fields are in ``nested[name]`` (nested lists inside an entry
    stay Python objects).
    """

    kind: str
    model: type[Event]
    fields: tuple[tuple[str, str], ...]
    nested: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    @classmethod
    def of(cls, model: type[Event]) -> KindLayout:
        fields = _fields_of(model, _ENVELOPE)
        nested = tuple((name, tuple((f, t if t != NESTED else OBJECT)
                                    for f, t in _fields_of(nested_model(model.model_fields[name].annotation))))
                       for name, t in fields if t == NESTED)
        return cls(model.KIND, model, fields, nested)

    def entry_fields(self, name: str) -> tuple[tuple[str, str], ...]:
        """The fields of the entries of list field ``name`` (``KeyError`` if it is not one)."""
        return dict(self.nested)[name]


_NUMPY = {CODE: np.int32, FLOAT: np.float64, INSTANT: np.int64, DATE: np.int64, TIME: np.int64, BOOL: np.int8,
          NESTED: np.int32}
_TYPECODE = {CODE: "i", FLOAT: "d", INSTANT: "q", DATE: "q", TIME: "q", BOOL: "b", NESTED: "i"}  # 1-8 bytes a value


def converter(kind: str, strings: Interner) -> Any:
    """The function turning one field value into its column value (see the module docstring)."""
    if kind == CODE:
        return strings.code
    if kind == FLOAT:
        return lambda v: np.nan if v is None else float(v)
    if kind == INSTANT:
        return lambda v: NULL_INT if v is None else to_us(v)
    if kind == DATE:
        return lambda v: NULL_INT if v is None else date_to_days(v)
    if kind == TIME:
        return lambda v: NULL_INT if v is None else time_to_seconds(v)
    if kind == BOOL:
        return lambda v: -1 if v is None else (1 if v else 0)
    return lambda v: v


def _buffer(ctype: str) -> Any:
    return [] if ctype == OBJECT else array(_TYPECODE[ctype])


def _as_array(buf: Any, ctype: str) -> np.ndarray:
    """A column buffer as a numpy array (a copy for objects; a view of the buffer otherwise)."""
    if ctype == OBJECT:
        arr = np.empty(len(buf), dtype=object)
        arr[:] = buf
        return arr
    return _np(buf, _NUMPY[ctype])


def _put(buf: Any, values: Any, ctype: str) -> None:
    """Append a numpy array (or a list, for objects) of column values to a buffer."""
    if ctype == OBJECT:
        buf.extend(values)
    else:
        buf.frombytes(memoryview(np.ascontiguousarray(values, dtype=_NUMPY[ctype])).cast("B"))  # one copy


class _Entries:
    """The child table of one list field while it is built: entry columns, and each row's first entry."""

    __slots__ = ("fields", "cols", "starts", "plan")

    def __init__(self, fields: tuple[tuple[str, str], ...], strings: Interner):
        self.fields = fields
        self.cols = {f: _buffer(t) for f, t in fields}
        self.starts = array("q")  # per event row: where its entries begin
        self.plan = [(f, converter(t, strings), self.cols[f].append) for f, t in fields]

    def __len__(self) -> int:
        buf = next(iter(self.cols.values()), None)
        return len(buf) if buf is not None else 0

    def add(self, entries: list[Any]) -> int:
        self.starts.append(len(self))
        for name, conv, append in self.plan:
            for e in entries:
                append(conv(getattr(e, name)))
        return len(entries)

    def values(self, row: int, count: int) -> list[tuple[Any, ...]]:
        at = self.starts[row]
        return [tuple(self.cols[f][at + i] for f, _ in self.fields) for i in range(count)]

    def clear(self) -> None:
        del self.starts[:]
        for buf in self.cols.values():
            del buf[:]


class _KindBuffers:
    """One kind's rows while they are built: a buffer per field, attrs, and a child table per list field."""

    __slots__ = ("layout", "cols", "attrs", "entries", "plan")

    def __init__(self, layout: KindLayout, strings: Interner):
        self.layout = layout
        self.cols = {f: _buffer(t) for f, t in layout.fields if f != "attrs"}
        self.attrs: list[Any] = []
        self.entries = {name: _Entries(fields, strings) for name, fields in layout.nested}
        # (field, converter, append) per scalar field; list fields go through their child table
        self.plan = [(f, converter(t, strings), self.cols[f].append) for f, t in layout.fields
                     if f != "attrs" and t != NESTED]

    def __len__(self) -> int:
        return len(self.attrs)

    def clear(self) -> None:
        for buf in self.cols.values():
            del buf[:]
        self.attrs.clear()
        for e in self.entries.values():
            e.clear()


class ColumnBuilder:
    """Accumulates valid events as column buffers; :meth:`freeze` sorts them into a Frame.

    Rows come from the fast path in bulk (:meth:`extend`) or from a validated model (:meth:`add`);
    both give the same column values for the same event.
    """

    def __init__(self, layouts: dict[str, KindLayout], strings: Interner):
        self.layouts = layouts
        self.strings = strings
        self.ts = array("q")
        self.ids: list[str] = []
        self.kind = array("i")
        self.employee = array("i")
        self.tenant = array("i")
        self.kind_row = array("q")
        # per kind, created when the kind first appears (a stream's builder sees few kinds)
        self._kinds: dict[str, _KindBuffers] = {}

    def _buffers(self, kind: str) -> _KindBuffers:
        kb = self._kinds.get(kind)
        if kb is None:
            kb = self._kinds[kind] = _KindBuffers(self.layouts[kind], self.strings)
        return kb

    def __len__(self) -> int:
        return len(self.ts)

    def ts_array(self) -> np.ndarray:
        return _np(self.ts, np.int64)

    def add(self, event: Event, ts: int | None = None) -> None:
        """Add one validated event (the model path); ``ts``: its instant, if known."""
        kind = event.kind
        code = self.strings.code
        kb = self._buffers(kind)
        d = event.__dict__
        self.kind_row.append(len(kb.attrs))
        self.ts.append(to_us(d["ts"]) if ts is None else ts)
        self.ids.append(d["id"])
        self.kind.append(code(kind))
        self.employee.append(code(d["employee_id"]))
        self.tenant.append(code(d["tenant"]))
        kb.attrs.append(d["attrs"] or None)
        for name, conv, append in kb.plan:
            append(conv(d[name]))
        for name, entries in kb.entries.items():
            kb.cols[name].append(entries.add(d[name]))

    def extend(self, kind: str, ids: list[str], cols: dict[str, Any], attrs: list[Any] | None,
               entries: dict[str, dict[str, Any]] | None = None) -> None:
        """Add many events of one kind at once, already in column form (the fast path).

        ``cols`` holds every field but ``id``, ``kind`` and ``attrs``: numpy arrays of the column's
        dtype (``ts``, ``employee_id`` and ``tenant`` included; a list field's column is its entry
        counts) and lists for object columns; ``attrs`` is one dict (or ``None``) a row, or ``None``
        for none at all; ``entries[field]`` the entry columns of a list field, entries of the first
        row first.
        """
        n = len(ids)
        if n == 0:
            return
        kb = self._buffers(kind)
        self.kind_row.frombytes(np.arange(len(kb), len(kb) + n, dtype=np.int64).tobytes())
        self.ts.frombytes(np.ascontiguousarray(cols["ts"], dtype=np.int64).tobytes())
        self.ids.extend(ids)
        self.kind.frombytes(np.full(n, self.strings.code(kind), dtype=np.int32).tobytes())
        self.employee.frombytes(np.ascontiguousarray(cols["employee_id"], dtype=np.int32).tobytes())
        self.tenant.frombytes(np.ascontiguousarray(cols["tenant"], dtype=np.int32).tobytes())
        kb.attrs.extend(attrs if attrs is not None else [None] * n)
        for fname, ctype in kb.layout.fields:
            if fname != "attrs":
                _put(kb.cols[fname], cols[fname], ctype)
        for name, child in kb.entries.items():
            counts = np.asarray(cols[name], dtype=np.int64)
            child.starts.frombytes((len(child) + np.cumsum(counts) - counts).tobytes())
            given = (entries or {}).get(name, {})
            for f, t in child.fields:
                _put(child.cols[f], given[f] if counts.size and counts.sum() else [], t)

    def same_as_row(self, row: int, event: Event) -> bool:
        """Whether ``event`` has exactly the content of the event added as ``row`` (the duplicate rule)."""
        d = event.__dict__
        kind = event.kind
        code = self.strings.code
        if (self.ids[row], self.ts[row], self.kind[row]) != (d["id"], to_us(d["ts"]), code(kind)):
            return False
        if (self.employee[row], self.tenant[row]) != (code(d["employee_id"]), code(d["tenant"])):
            return False
        kb = self._kinds[kind]
        k = self.kind_row[row]
        if (kb.attrs[k] or None) != (d["attrs"] or None):
            return False
        for name, conv, _ in kb.plan:
            if not _same(kb.cols[name][k], conv(d[name])):
                return False
        for name, child in kb.entries.items():
            mine = child.values(k, kb.cols[name][k])
            theirs = d[name]
            if len(mine) != len(theirs):
                return False
            convs = [conv for _, conv, _ in child.plan]
            for m, e in zip(mine, theirs):
                if not all(_same(a, conv(getattr(e, f))) for a, conv, (f, _) in zip(m, convs, child.fields)):
                    return False
        return True

    def freeze(self, as_of: int | None = None, base: int = 0) -> Frame:
        """Sort into the spec's order ``(ts, id)`` and drop events after ``as_of``."""
        ts = self.ts_array()
        ids = np.asarray(self.ids, dtype=object)
        order = order_by_ts_id(ts, ids)
        if as_of is not None:
            order = order[ts[order] <= as_of]
        kind = _np(self.kind, np.int32)[order]
        kind_row_orig = _np(self.kind_row, np.int64)[order]
        tables: dict[int, KindTable] = {}
        kind_index = np.zeros(order.size, dtype=np.int64)
        for kname, kb in self._kinds.items():  # only the kinds that occurred
            code = self.strings.find(kname)
            if code < 0:
                continue
            where = np.flatnonzero(kind == code)
            if where.size == 0:
                continue
            kind_index[where] = np.arange(where.size)
            tables[code] = _table(kb, kind_row_orig[where], where)  # original kind rows, in sorted order
        return Frame(
            strings=self.strings,
            ts=ts[order],
            ids=ids[order],
            kind=kind,
            employee=_np(self.employee, np.int32)[order],
            tenant=_np(self.tenant, np.int32)[order],
            kind_index=kind_index,
            tables=tables,
            base=base,
        )

    def freeze_in_order(self, base: int = 0) -> Frame:
        """:meth:`freeze` for rows added already in the order ``(ts, id)``: the same frame, unsorted.

        A stream releases a few events at a time, in that order; for them the general freeze (a sort,
        a mask and a gather per kind) is most of the cost of the frame. In order, a row's rank among
        its kind's rows is its ``kind_row``, so each column is copied as it is.
        """
        n = len(self.ts)
        ids = np.empty(n, dtype=object)
        ids[:] = self.ids
        kind = np.array(self.kind, dtype=np.int32)
        tables: dict[int, KindTable] = {}
        for kname, kb in self._kinds.items():
            if not kb.attrs:  # a kind of an earlier use of a cleared builder
                continue
            code = self.strings.find(kname)
            rows = positions(n) if len(kb) == n else np.flatnonzero(kind == code)
            tables[code] = _table(kb, None, rows)
        return Frame(
            strings=self.strings,
            ts=np.array(self.ts, dtype=np.int64),
            ids=ids,
            kind=kind,
            employee=np.array(self.employee, dtype=np.int32),
            tenant=np.array(self.tenant, dtype=np.int32),
            kind_index=positions(n) if len(tables) == 1 else np.array(self.kind_row, dtype=np.int64),
            tables=tables,
            base=base,
        )

    def split(self, upto: int, base: int = 0) -> tuple[Frame, list[str], ColumnBuilder]:
        """``(frame of the rows with ts <= upto, their ids, a builder of the other rows)``.

        The other rows keep their order of arrival: a window that holds events until they are final.
        """
        ts = self.ts_array()
        ready = ts <= upto
        if ready.all():  # everything is final (a stream in time order): no carry, no mask
            frame = self.freeze(base=base)
            done, rest = list(self.ids), ColumnBuilder(self.layouts, self.strings)
            return frame, done, rest
        frame = self.freeze(as_of=upto, base=base)
        done = [i for i, r in zip(self.ids, ready.tolist()) if r]
        return frame, done, self.subset(np.flatnonzero(~ready))

    def subset(self, keep: np.ndarray) -> ColumnBuilder:
        """A new builder of the rows ``keep`` (ascending), in the same order."""
        nb = ColumnBuilder(self.layouts, self.strings)
        if keep.size == 0:
            return nb
        kl = keep.tolist()
        nb.ts = array("q", _np(self.ts, np.int64)[keep].tobytes())
        nb.ids = [self.ids[i] for i in kl]
        kind = _np(self.kind, np.int32)[keep]
        nb.kind = array("i", kind.tobytes())
        nb.employee = array("i", _np(self.employee, np.int32)[keep].tobytes())
        nb.tenant = array("i", _np(self.tenant, np.int32)[keep].tobytes())
        old_kind_row = _np(self.kind_row, np.int64)[keep]
        new_kind_row = np.zeros(keep.size, dtype=np.int64)
        for kname, kb in self._kinds.items():
            where = np.flatnonzero(kind == self.strings.find(kname))
            if where.size == 0:
                continue
            src = old_kind_row[where]
            new_kind_row[where] = np.arange(where.size)
            dst = nb._buffers(kname)
            cols = _gather(kb, src)
            for fname, ctype in kb.layout.fields:
                if fname != "attrs":
                    _put(dst.cols[fname], cols[fname], ctype)
            dst.attrs.extend(cols["attrs"].tolist())
            for name, child in dst.entries.items():
                counts = cols[name].astype(np.int64)
                child.starts.frombytes((np.cumsum(counts) - counts).tobytes())
                for f, t in child.fields:
                    _put(child.cols[f], cols[f"{name}.{f}"] if t != OBJECT else cols[f"{name}.{f}"].tolist(), t)
        nb.kind_row = array("q", new_kind_row.tobytes())
        return nb

    def copy_rows(self, rows: list[int], into: ColumnBuilder) -> None:
        """Append the rows ``rows`` (in that order) to ``into``: one value at a time, for a few rows."""
        text = self.strings.text
        for r in rows:
            kind = text(self.kind[r])
            assert kind is not None
            kb, k = self._kinds[kind], self.kind_row[r]
            dst = into._buffers(kind)
            into.kind_row.append(len(dst))
            into.ts.append(self.ts[r])
            into.ids.append(self.ids[r])
            into.kind.append(self.kind[r])
            into.employee.append(self.employee[r])
            into.tenant.append(self.tenant[r])
            dst.attrs.append(kb.attrs[k])
            for name, buf in kb.cols.items():
                dst.cols[name].append(buf[k])
            for name, child in kb.entries.items():
                at, count = child.starts[k], kb.cols[name][k]
                target = dst.entries[name]
                target.starts.append(len(target))
                for f, buf in child.cols.items():
                    target.cols[f].extend(buf[at:at + count])

    def clear(self) -> None:
        """Forget every row but keep the kinds' buffers, so the builder can be used again at no setup cost."""
        for buf in (self.ts, self.kind, self.employee, self.tenant, self.kind_row):
            del buf[:]
        self.ids.clear()
        for kb in self._kinds.values():
            if kb.attrs:
                kb.clear()


def _same(a: Any, b: Any) -> bool:
    return a == b or (a != a and b != b)  # nan == nan here


def entry_rows(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The child rows of events whose entries start at ``starts`` (``counts`` each), event after event."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    return np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)


def _owned(buf: Any, ctype: str) -> np.ndarray:
    """A column buffer as a numpy array of its own (a copy: the buffer is reused)."""
    if ctype == OBJECT:
        return _as_array(buf, OBJECT)
    return np.array(buf, dtype=_NUMPY[ctype]) if len(buf) else np.zeros(0, dtype=_NUMPY[ctype])


def _gather(kb: _KindBuffers, src: np.ndarray | None) -> dict[str, np.ndarray]:
    """Every column of a kind's rows ``src`` (all, in order, when None: copies), list fields' entries
    as ``"field.entry_field"`` columns laid out event after event."""
    out: dict[str, np.ndarray] = {}
    for fname, ctype in kb.layout.fields:
        raw = kb.attrs if fname == "attrs" else kb.cols[fname]
        t = OBJECT if fname == "attrs" else ctype
        out[fname] = _owned(raw, t) if src is None else _as_array(raw, t)[src]
    for name, child in kb.entries.items():
        sel = None if src is None else entry_rows(_np(child.starts, np.int64)[src], out[name].astype(np.int64))
        for f, t in child.fields:
            out[f"{name}.{f}"] = _owned(child.cols[f], t) if sel is None else _as_array(child.cols[f], t)[sel]
    return out


def _table(kb: _KindBuffers, src: np.ndarray | None, rows: np.ndarray) -> KindTable:
    """The frame table of a kind's rows ``src`` (original kind rows in frame order; all when None)."""
    cols = _gather(kb, src)
    nested: dict[str, NestedTable] = {}
    for name, child in kb.entries.items():
        counts = cols[name].astype(np.int64)
        nested[name] = NestedTable(counts.cumsum() - counts,
                                   {f: cols.pop(f"{name}.{f}") for f, _ in child.fields})
    return KindTable(kb.layout.kind, kb.layout, rows, cols, nested)


_POSITIONS: list[np.ndarray] = []


def positions(n: int) -> np.ndarray:
    """``np.arange(n)``, read-only and shared for small ``n``: a small frame's rows, kind rows and chunk.

    A stream builds a frame per push; these index arrays are the same every time. Nothing writes
    into a frame's index arrays (a batch scan's chunks share them too), and the flag makes sure.
    """
    if n >= 64:
        return np.arange(n)
    while len(_POSITIONS) <= n:
        a = np.arange(len(_POSITIONS))
        a.flags.writeable = False
        _POSITIONS.append(a)
    return _POSITIONS[n]


def order_by_ts_id(ts: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The permutation sorting events by ``(ts, id)``: by ``ts`` first, then only the tied events by id.

    Ids compare as plain strings (code points), which numpy's unicode sort does; building unicode
    arrays of every id costs more than the rest of the sort, and ties are few.
    """
    order = np.argsort(ts, kind="stable")
    if ts.size < 2:
        return order
    sts = ts[order]
    tie = sts[1:] == sts[:-1]
    if not tie.any():
        return order
    tied = np.zeros(ts.size, dtype=bool)
    tied[1:] |= tie
    tied[:-1] |= tie
    sub = order[tied]  # whole groups of equal ts, in ts order
    key = np.asarray(ids[sub].tolist(), dtype=str)
    order[tied] = sub[np.lexsort((key, ts[sub]))]
    return order


def _np(buf: array, dtype: Any) -> np.ndarray:
    return np.frombuffer(buf, dtype=dtype) if len(buf) else np.zeros(0, dtype=dtype)


@dataclass
class NestedTable:
    """The entries of one list field of a kind: entry columns, the entries of each event together and
    in list order, events in the kind table's order; ``starts[k]`` is where event ``k``'s entries begin
    (the kind table's column of the field holds their number)."""

    starts: np.ndarray
    cols: dict[str, np.ndarray]


@dataclass
class KindTable:
    """The columns of one kind, rows in the frame's order; ``rows`` are their frame rows."""

    kind: str
    layout: KindLayout
    rows: np.ndarray
    cols: dict[str, np.ndarray]
    nested: dict[str, NestedTable] = field(default_factory=dict)


@dataclass
class Frame:
    """Valid events sorted by ``(ts, id)``: envelope columns plus one :class:`KindTable` per kind."""

    strings: Interner
    ts: np.ndarray
    ids: np.ndarray
    kind: np.ndarray
    employee: np.ndarray
    tenant: np.ndarray
    kind_index: np.ndarray
    tables: dict[int, KindTable]
    base: int = 0
    _by_name: dict[str, KindTable] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.ts.size)

    def chunks(self, target: int, upto_last: int | None = None) -> typing.Iterator[Chunk]:
        """Contiguous time-ordered chunks of about ``target`` events, never splitting an instant.

        Each chunk's ``upto`` is its last ``ts`` (every event at or before it has been seen), except
        the last chunk, whose ``upto`` is ``upto_last`` when given.
        """
        n = len(self)
        start = 0
        while start < n:
            end = min(n, start + max(1, target))
            if end < n:
                end = int(np.searchsorted(self.ts, self.ts[end - 1], side="right"))
            upto = int(self.ts[end - 1])
            if end == n and upto_last is not None:
                upto = max(upto, upto_last)
            yield Chunk(self, np.arange(start, end), upto)
            start = end

    def tenants(self) -> list[int]:
        return sorted(set(np.unique(self.tenant).tolist()))

    def table(self, kind: str) -> KindTable | None:
        """The table of the ``kind`` events (``None``: the frame has none), found by name."""
        by_name = self._by_name
        if by_name is None:
            by_name = self._by_name = {t.kind: t for t in self.tables.values()}
        return by_name.get(kind)


_NO_ROWS = np.zeros(0, dtype=np.int64)  # rows of a kind a chunk has none of (shared: nothing to write in it)


@dataclass
class Chunk:
    """Time-ordered events of one frame (``idx`` are frame rows, ascending) that a detector judges.

    ``upto`` is the instant up to which the world is complete: every event with ``ts <= upto`` is
    in this chunk or an earlier one, so a detector may fire every timer due at or before it.
    """

    frame: Frame
    idx: np.ndarray
    upto: int
    _rows: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _nested: dict[tuple[str, str], Entries] = field(default_factory=dict, repr=False)

    @classmethod
    def empty(cls, frame: Frame, upto: int) -> Chunk:
        return cls(frame, np.zeros(0, dtype=np.int64), upto)

    def __len__(self) -> int:
        return int(self.idx.size)

    @property
    def strings(self) -> Interner:
        return self.frame.strings

    @property
    def ts(self) -> np.ndarray:
        return self.frame.ts[self.idx]

    @property
    def ids(self) -> np.ndarray:
        return self.frame.ids[self.idx]

    @property
    def pos(self) -> np.ndarray:
        """Positions in the one total order of events (comparable across chunks of one run)."""
        return self.frame.base + self.idx

    def select(self, mask_or_rows: np.ndarray) -> Chunk:
        """A sub-chunk of some of these events (e.g. one tenant's), same ``upto``."""
        return Chunk(self.frame, self.idx[mask_or_rows], self.upto)

    def rows(self, kind: str) -> np.ndarray:
        """Frame rows of the events of ``kind`` in this chunk, ascending (in event order)."""
        cached = self._rows.get(kind)  # by name: detectors ask a chunk tens of times (a stream's one event)
        if cached is None:
            table = self.frame.table(kind)
            if table is None or self.idx.size == 0:
                cached = _NO_ROWS
            elif self.idx.size == self.frame.ts.size:  # the whole frame (a stream's chunks): all its rows
                cached = table.rows
            else:
                lo, hi = self.idx[0], self.idx[-1]
                cand = table.rows[np.searchsorted(table.rows, lo) : np.searchsorted(table.rows, hi, side="right")]
                if cand.size and self.idx.size != hi - lo + 1:  # not contiguous: keep only ours
                    cand = cand[np.isin(cand, self.idx, assume_unique=True)]
                cached = cand
            self._rows[kind] = cached
        return cached

    def col(self, kind: str, name: str) -> np.ndarray:
        """Column ``name`` of the ``kind`` events of this chunk, aligned with :meth:`rows`.

        For a list of nested objects (``items``, ``claims``, ``photos``) this is each event's number
        of entries; the entries themselves are :meth:`nested`.
        """
        rows = self.rows(kind)
        if rows.size == 0:
            table = self.frame.table(kind)
            return np.zeros(0) if table is None else table.cols[name][:0].copy()
        table = self.frame.table(kind)
        if rows is table.rows:  # every row of the kind (a chunk of the whole frame): no gather needed
            return table.cols[name].copy()
        return table.cols[name][self.frame.kind_index[rows]]

    def nested(self, kind: str, name: str) -> Entries:
        """The entries of list field ``name`` (e.g. ``"items"``) of this chunk's ``kind`` events,
        as flat columns: see :class:`Entries`."""
        key = (kind, name)
        got = self._nested.get(key)
        if got is None:
            rows = self.rows(kind)
            table = self.frame.table(kind)
            if table is None or rows.size == 0:
                got = Entries.none(table.nested[name] if table is not None else None)
            else:
                k = positions(rows.size) if rows is table.rows else self.frame.kind_index[rows]
                got = Entries.of(table.nested[name], table.cols[name][k].astype(np.int64), k)
            self._nested[key] = got
        return got

    def has(self, kind: str) -> bool:
        return self.rows(kind).size > 0

    def event(self, row: int) -> dict[str, Any]:
        """Rebuild the event at frame row ``row`` as a plain dict of its fields (a list of nested
        objects as a list of dicts)."""
        return self.frame_event(self.frame, row)

    @staticmethod
    def frame_event(frame: Frame, row: int) -> dict[str, Any]:
        strings = frame.strings
        table = frame.tables[int(frame.kind[row])]
        k = int(frame.kind_index[row])
        out: dict[str, Any] = {
            "id": frame.ids[row],
            "kind": table.kind,
            "ts": from_us(int(frame.ts[row])),
            "employee_id": strings.text(int(frame.employee[row])),
            "tenant": strings.text(int(frame.tenant[row])),
        }
        for name, ctype in table.layout.fields:
            if name == "attrs":
                continue
            if ctype == NESTED:
                nt = table.nested[name]
                at, n = int(nt.starts[k]), int(table.cols[name][k])
                fields = table.layout.entry_fields(name)
                out[name] = [{f: value(t, nt.cols[f][at + i], strings) for f, t in fields} for i in range(n)]
            else:
                out[name] = value(ctype, table.cols[name][k], strings)
        out["attrs"] = table.cols["attrs"][k] or {}
        return out


def value(ctype: str, v: Any, strings: Interner) -> Any:
    """One column value as the Python value it stands for (codes as strings, ``nan`` as None,
    instants as UTC datetimes, dates as dates, times of day as seconds after midnight)."""
    if ctype == CODE:
        return strings.text(int(v))
    if ctype == FLOAT:
        return None if np.isnan(v) else float(v)
    if ctype in (INSTANT, DATE, TIME):
        if v == NULL_INT:
            return None
        if ctype == INSTANT:
            return from_us(int(v))
        return days_to_date(int(v)) if ctype == DATE else int(v)
    if ctype == BOOL:
        return None if v < 0 else bool(v)
    return v


class Entries:
    """The entries of one list field (plan ``items``, summary ``claims``, follow-up ``photos``) of a
    chunk's events of one kind, as flat columns.

    With ``rows = chunk.rows(kind)``: entry ``j`` belongs to event ``rows[owner[j]]`` and is entry
    ``index[j]`` of its list; ``counts[i]`` is the number of entries of event ``rows[i]``. Entries of
    one event are together and in list order, events in ``rows`` order. :meth:`col` is one field of
    every entry, typed as event columns are (string codes, ``float64`` with ``nan`` for null,
    ``int64`` instants and seconds of the day with ``NULL_INT`` for null)::

        items = chunk.nested("plan.submitted", "items")
        start = items.col("start")                  # seconds after local midnight
        plan_date = chunk.col("plan.submitted", "date")[items.owner]
    """

    __slots__ = ("counts", "_owner", "_index", "_table", "_sel")

    def __init__(self, table: NestedTable | None, counts: np.ndarray, sel: Any):
        self.counts = counts
        self._owner: np.ndarray | None = None
        self._index: np.ndarray | None = None
        self._table = table
        self._sel = sel

    @property
    def owner(self) -> np.ndarray:
        """Each entry's event: an index into ``chunk.rows(kind)``."""
        if self._owner is None:
            self._owner = np.repeat(np.arange(self.counts.size), self.counts)
        return self._owner

    @property
    def index(self) -> np.ndarray:
        """Each entry's place in its event's list."""
        if self._index is None:
            counts = self.counts
            self._index = np.arange(len(self)) - np.repeat(np.cumsum(counts) - counts, counts)
        return self._index

    @classmethod
    def of(cls, table: NestedTable, counts: np.ndarray, k: np.ndarray) -> Entries:
        starts = table.starts[k]
        if k[-1] - k[0] + 1 == k.size:  # consecutive events: their entries are one slice
            return cls(table, counts, slice(int(starts[0]), int(starts[0] + counts.sum())))
        return cls(table, counts, entry_rows(starts, counts))

    @classmethod
    def none(cls, table: NestedTable | None) -> Entries:
        return cls(table, np.zeros(0, dtype=np.int64), slice(0, 0))

    def __len__(self) -> int:
        return int(self.counts.sum())

    @property
    def fields(self) -> list[str]:
        return list(self._table.cols) if self._table is not None else []

    def col(self, name: str) -> np.ndarray:
        """Field ``name`` of every entry (a new array)."""
        if self._table is None:
            return np.zeros(0, dtype=np.int64)
        arr = self._table.cols[name][self._sel]
        return arr.copy() if isinstance(self._sel, slice) else arr
