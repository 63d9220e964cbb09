"""A :class:`Frame` of events sorted in the order ``(ts, id)``, its per-kind tables and child tables, and the
time-ordered :class:`Chunk` views detectors read."""

from __future__ import annotations

import typing
from array import array
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..events import days_to_date, from_us
from ._types import BOOL, CODE, DATE, FLOAT, INSTANT, NESTED, NULL_INT, TIME, Interner, KindLayout


def entry_rows(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The child rows of events whose entries start at ``starts`` (``counts`` each), event after event."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    return np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)


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
    arrays of every id costs more than the rest of the sort, and ties are few. numpy's unicode strings
    drop trailing NULs (``"x"`` and ``"x\\x00"`` would tie, and input order would decide): tied ids
    holding a NUL are sorted by Python instead, so two different ids never tie.
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
    names = ids[sub].tolist()
    if "\x00" in "".join(names):
        tsl = ts[sub].tolist()
        order[tied] = sub[sorted(range(len(names)), key=lambda k: (tsl[k], names[k]))]
        return order
    key = np.asarray(names, dtype=str)
    order[tied] = sub[np.lexsort((key, ts[sub]))]
    return order


def as_numpy(buf: array, dtype: Any) -> np.ndarray:
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
