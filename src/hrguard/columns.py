"""Validated events as numpy columns: the one representation every detector reads.

Validation produces a pydantic model per record; :class:`ColumnBuilder` moves its fields into
per-kind column lists at once and lets the model go (keeping a million models costs ~1.7 GB).
:meth:`ColumnBuilder.freeze` sorts everything into the spec's one order of events, ``(ts, id)``,
giving a :class:`Frame`; detectors see time-ordered :class:`Chunk` views of it.

Column types follow the model's annotations: strings (ids, enums) become ``int32`` codes of a shared
:class:`Interner` (``-1`` is null), numbers ``float64`` (``nan`` is null), timestamps ``int64``
microseconds and dates ``int64`` days (``NULL_INT`` is null), times of day ``int64`` seconds,
booleans ``int8`` (``-1`` null), and lists, objects and ``attrs`` stay Python objects.
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

from .events import Event
from .timeutil import date_to_days, time_to_seconds, to_us

NULL_INT = np.iinfo(np.int64).min
NULL_CODE = -1

CODE, FLOAT, INSTANT, DATE, TIME, BOOL, OBJECT = "code", "float", "instant", "date", "time", "bool", "object"
_ENVELOPE = ("id", "kind", "ts", "employee_id", "tenant")


class Interner:
    """Maps strings to dense ``int`` codes (``-1`` for ``None``) and back; shared by a whole scan."""

    __slots__ = ("_codes", "strings")

    def __init__(self) -> None:
        self._codes: dict[str | None, int] = {None: NULL_CODE}  # None is in, so bulk lookups need no test
        self.strings: list[str] = []

    def code(self, s: str | None) -> int:
        if s is None:
            return NULL_CODE
        c = self._codes.get(s)
        if c is None:
            c = self._codes[s] = len(self.strings)
            self.strings.append(s)
        return c

    def codes(self, values: list[str | None]) -> np.ndarray:
        """The ``int32`` codes of many strings at once (``None`` is ``-1``), new ones added in order."""
        codes = self._codes
        for s in dict.fromkeys(values):
            if s not in codes:
                codes[s] = len(self.strings)
                self.strings.append(s)
        return np.fromiter(map(codes.__getitem__, values), dtype=np.int32, count=len(values))

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


def column_type(annotation: Any) -> str:
    t = _unwrap(annotation)
    if typing.get_origin(t) is Literal:
        return CODE if all(isinstance(a, str) for a in typing.get_args(t)) else OBJECT
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


@dataclass(frozen=True)
class KindLayout:
    """Which columns a kind has and of what column type (derived from its model)."""

    kind: str
    model: type[Event]
    fields: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, model: type[Event]) -> KindLayout:
        fields = tuple(
            (name, column_type(info.annotation))
            for name, info in model.model_fields.items()
            if name not in _ENVELOPE
        )
        return cls(model.KIND, model, fields)


_NUMPY = {CODE: np.int32, FLOAT: np.float64, INSTANT: np.int64, DATE: np.int64, TIME: np.int64, BOOL: np.int8}
_TYPECODE = {CODE: "i", FLOAT: "d", INSTANT: "q", DATE: "q", TIME: "q", BOOL: "b"}  # 1-8 bytes a value


def _converter(kind: str, strings: Interner) -> Any:
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


class ColumnBuilder:
    """Accumulates validated events as column lists; :meth:`freeze` sorts them into a Frame."""

    def __init__(self, layouts: dict[str, KindLayout], strings: Interner):
        self.layouts = layouts
        self.strings = strings
        self.ts = array("q")
        self.ids: list[str] = []
        self.kind = array("i")
        self.employee = array("i")
        self.tenant = array("i")
        self.kind_row = array("q")
        # per kind, created when the kind first appears (a stream builds one builder per event):
        # the column buffers, the attrs list, and the plan (field, converter, the column's append)
        self._cols: dict[str, dict[str, Any]] = {}
        self._attrs: dict[str, list[Any]] = {}
        self._plans: dict[str, list[tuple[str, Any, Any]]] = {}

    def _start_kind(self, kind: str) -> list[tuple[str, Any, Any]]:
        lay = self.layouts[kind]
        cols = self._cols[kind] = {f: ([] if t == OBJECT else array(_TYPECODE[t])) for f, t in lay.fields if f != "attrs"}
        self._attrs[kind] = []
        plan = self._plans[kind] = [(f, _converter(t, self.strings), cols[f].append) for f, t in lay.fields if f != "attrs"]
        return plan

    def __len__(self) -> int:
        return len(self.ts)

    def add(self, event: Event) -> None:
        kind = event.kind
        code = self.strings.code
        plan = self._plans.get(kind) or self._start_kind(kind)
        attrs = self._attrs[kind]
        d = event.__dict__
        self.kind_row.append(len(attrs))
        self.ts.append(to_us(d["ts"]))
        self.ids.append(d["id"])
        self.kind.append(code(kind))
        self.employee.append(code(d["employee_id"]))
        self.tenant.append(code(d["tenant"]))
        attrs.append(d["attrs"] or None)
        for name, conv, append in plan:
            append(conv(d[name]))

    def extend(self, kind: str, ids: list[str], cols: dict[str, Any], attrs: list[Any] | None) -> None:
        """Add many events of one kind at once, already in column form (see :mod:`hrguard.bulk`).

        ``cols`` holds every field but ``id``, ``kind`` and ``attrs``: numpy arrays of the column's
        dtype (``ts``, ``employee_id`` and ``tenant`` included) and lists for object columns;
        ``attrs`` is one dict (or ``None``) a row, or ``None`` for none at all.
        """
        n = len(ids)
        if n == 0:
            return
        self._plans.get(kind) or self._start_kind(kind)
        kattrs = self._attrs[kind]
        self.kind_row.frombytes(np.arange(len(kattrs), len(kattrs) + n, dtype=np.int64).tobytes())
        self.ts.frombytes(np.ascontiguousarray(cols["ts"], dtype=np.int64).tobytes())
        self.ids.extend(ids)
        self.kind.frombytes(np.full(n, self.strings.code(kind), dtype=np.int32).tobytes())
        self.employee.frombytes(np.ascontiguousarray(cols["employee_id"], dtype=np.int32).tobytes())
        self.tenant.frombytes(np.ascontiguousarray(cols["tenant"], dtype=np.int32).tobytes())
        kattrs.extend(attrs if attrs is not None else [None] * n)
        mine = self._cols[kind]
        for fname, ctype in self.layouts[kind].fields:
            if fname == "attrs":
                continue
            if ctype == OBJECT:
                mine[fname].extend(cols[fname])
            else:
                mine[fname].frombytes(np.ascontiguousarray(cols[fname], dtype=_NUMPY[ctype]).tobytes())

    def same_as_row(self, row: int, event: Event) -> bool:
        """Whether ``event`` has exactly the content of the event added as ``row`` (the duplicate rule)."""
        d = event.__dict__
        kind = event.kind
        code = self.strings.code
        if (self.ids[row], self.ts[row], self.kind[row]) != (d["id"], to_us(d["ts"]), code(kind)):
            return False
        if (self.employee[row], self.tenant[row]) != (code(d["employee_id"]), code(d["tenant"])):
            return False
        k = self.kind_row[row]
        if (self._attrs[kind][k] or None) != (d["attrs"] or None):
            return False
        cols = self._cols[kind]
        for name, conv, _ in self._plans[kind]:
            mine, theirs = cols[name][k], conv(d[name])
            if mine != theirs and not (mine != mine and theirs != theirs):  # nan == nan here
                return False
        return True

    def freeze(self, as_of: int | None = None, base: int = 0) -> Frame:
        """Sort into the spec's order ``(ts, id)`` and drop events after ``as_of``."""
        ts = np.frombuffer(self.ts, dtype=np.int64) if len(self.ts) else np.zeros(0, dtype=np.int64)
        ids = np.asarray(self.ids, dtype=object)
        order = order_by_ts_id(ts, ids)
        if as_of is not None:
            order = order[ts[order] <= as_of]
        kind = _np(self.kind, np.int32)[order]
        kind_row_orig = _np(self.kind_row, np.int64)[order]
        tables: dict[int, KindTable] = {}
        kind_index = np.zeros(order.size, dtype=np.int64)
        for kname in self._plans:  # only the kinds that occurred
            layout = self.layouts[kname]
            code = self.strings.find(kname)
            if code < 0:
                continue
            where = np.flatnonzero(kind == code)
            if where.size == 0:
                continue
            src = kind_row_orig[where]  # original kind rows, in sorted order
            kind_index[where] = np.arange(where.size)
            cols: dict[str, np.ndarray] = {}
            for fname, ctype in layout.fields:
                if fname == "attrs":
                    continue
                raw = self._cols[kname][fname]
                if ctype == OBJECT:
                    arr = np.empty(len(raw), dtype=object)
                    arr[:] = raw
                else:
                    arr = _np(raw, _NUMPY[ctype])
                cols[fname] = arr[src]
            attrs = np.empty(len(self._attrs[kname]), dtype=object)
            attrs[:] = self._attrs[kname]
            cols["attrs"] = attrs[src]
            tables[code] = KindTable(kname, layout, where, cols)
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

        A stream releases a few events at a time, taken off its heap in that order; for them the
        general freeze (a lexsort of the ids as unicode, a mask and a gather per kind) is most of the
        cost of the frame. In order, a row's rank among its kind's rows is its ``kind_row``, so each
        column is copied as it is.
        """
        n = len(self.ts)
        ids = np.empty(n, dtype=object)
        ids[:] = self.ids
        kind = np.array(self.kind, dtype=np.int32)
        tables: dict[int, KindTable] = {}
        for kname, attrs in self._attrs.items():
            if not attrs:  # a kind of an earlier use of a cleared builder
                continue
            layout = self.layouts[kname]
            code = self.strings.find(kname)
            raw_cols = self._cols[kname]
            cols: dict[str, np.ndarray] = {}
            for fname, ctype in layout.fields:
                if fname == "attrs":
                    continue
                raw = raw_cols[fname]
                if ctype == OBJECT:
                    arr = np.empty(len(raw), dtype=object)
                    arr[:] = raw
                else:
                    arr = np.array(raw, dtype=_NUMPY[ctype])
                cols[fname] = arr
            arr = np.empty(len(attrs), dtype=object)
            arr[:] = attrs
            cols["attrs"] = arr
            rows = positions(n) if len(attrs) == n else np.flatnonzero(kind == code)
            tables[code] = KindTable(kname, layout, rows, cols)
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

    def clear(self) -> None:
        """Forget every row but keep the kinds' plans, so the builder can be used again at no setup cost."""
        for buf in (self.ts, self.kind, self.employee, self.tenant, self.kind_row):
            del buf[:]
        self.ids.clear()
        for kname, attrs in self._attrs.items():
            if attrs:
                for col in self._cols[kname].values():
                    del col[:]  # in place: the plans hold the columns' appends
                attrs.clear()


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
class KindTable:
    """The columns of one kind, rows in the frame's order; ``rows`` are their frame rows."""

    kind: str
    layout: KindLayout
    rows: np.ndarray
    cols: dict[str, np.ndarray]


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
    _rows: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

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
        code = self.frame.strings.find(kind)
        cached = self._rows.get(code)
        if cached is None:
            table = self.frame.tables.get(code)
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
            self._rows[code] = cached
        return cached

    def col(self, kind: str, name: str) -> np.ndarray:
        """Column ``name`` of the ``kind`` events of this chunk, aligned with :meth:`rows`."""
        rows = self.rows(kind)
        table = self.frame.tables.get(self.frame.strings.find(kind))
        if table is None:
            if rows.size == 0:
                return np.zeros(0)
            raise AssertionError(f"rows of kind {kind!r} without a table")  # pragma: no cover - rows() is empty then
        if rows is table.rows:  # every row of the kind (a chunk of the whole frame): no gather needed
            return table.cols[name].copy()
        return table.cols[name][self.frame.kind_index[rows]]

    def has(self, kind: str) -> bool:
        return self.rows(kind).size > 0

    def event(self, row: int) -> dict[str, Any]:
        """Rebuild the event at frame row ``row`` as a plain dict of its fields."""
        return self.frame_event(self.frame, row)

    @staticmethod
    def frame_event(frame: Frame, row: int) -> dict[str, Any]:
        from .timeutil import days_to_date, from_us

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
            v = table.cols[name][k]
            if ctype == CODE:
                v = strings.text(int(v))
            elif ctype == FLOAT:
                v = None if np.isnan(v) else float(v)
            elif ctype in (INSTANT, DATE, TIME):
                v = None if v == NULL_INT else int(v)
                if v is not None and ctype == INSTANT:
                    v = from_us(v)
                elif v is not None and ctype == DATE:
                    v = days_to_date(v)
            elif ctype == BOOL:
                v = None if v < 0 else bool(v)
            out[name] = v
        out["attrs"] = table.cols["attrs"][k] or {}
        return out
