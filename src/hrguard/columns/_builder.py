"""The :class:`ColumnBuilder`: events of every kind collected into typed column buffers, then frozen into a
:class:`Frame` in the order ``(ts, id)``."""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

from ..events import Event, to_us
from ._frame import Frame, KindTable, NestedTable, as_numpy, entry_rows, order_by_ts_id, positions
from ._types import (
    NESTED,
    NUMPY_DTYPES,
    OBJECT,
    TYPECODES,
    Interner,
    KindLayout,
    converter,
)


def _buffer(ctype: str) -> Any:
    return [] if ctype == OBJECT else array(TYPECODES[ctype])


def _as_array(buf: Any, ctype: str) -> np.ndarray:
    """A column buffer as a numpy array (a copy for objects; a view of the buffer otherwise)."""
    if ctype == OBJECT:
        arr = np.empty(len(buf), dtype=object)
        arr[:] = buf
        return arr
    return as_numpy(buf, NUMPY_DTYPES[ctype])


def _put(buf: Any, values: Any, ctype: str) -> None:
    """Append a numpy array (or a list, for objects) of column values to a buffer."""
    if ctype == OBJECT:
        buf.extend(values)
    else:
        buf.frombytes(memoryview(np.ascontiguousarray(values, dtype=NUMPY_DTYPES[ctype])).cast("B"))  # one copy


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
        return as_numpy(self.ts, np.int64)

    def tenant_array(self) -> np.ndarray:
        return as_numpy(self.tenant, np.int32)

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

    def freeze(self, as_of: int | None = None, base: int = 0, keep: np.ndarray | None = None) -> Frame:
        """Sort into the spec's order ``(ts, id)`` and drop events after ``as_of`` (and the rows where
        ``keep``, a mask of the rows, is false)."""
        ts = self.ts_array()
        ids = np.asarray(self.ids, dtype=object)
        order = order_by_ts_id(ts, ids)
        if as_of is not None:
            order = order[ts[order] <= as_of]
        if keep is not None:
            order = order[keep[order]]
        kind = as_numpy(self.kind, np.int32)[order]
        kind_row_orig = as_numpy(self.kind_row, np.int64)[order]
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
            employee=as_numpy(self.employee, np.int32)[order],
            tenant=as_numpy(self.tenant, np.int32)[order],
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
        nb.ts = array("q", as_numpy(self.ts, np.int64)[keep].tobytes())
        nb.ids = [self.ids[i] for i in kl]
        kind = as_numpy(self.kind, np.int32)[keep]
        nb.kind = array("i", kind.tobytes())
        nb.employee = array("i", as_numpy(self.employee, np.int32)[keep].tobytes())
        nb.tenant = array("i", as_numpy(self.tenant, np.int32)[keep].tobytes())
        old_kind_row = as_numpy(self.kind_row, np.int64)[keep]
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


def _owned(buf: Any, ctype: str) -> np.ndarray:
    """A column buffer as a numpy array of its own (a copy: the buffer is reused)."""
    if ctype == OBJECT:
        return _as_array(buf, OBJECT)
    return np.array(buf, dtype=NUMPY_DTYPES[ctype]) if len(buf) else np.zeros(0, dtype=NUMPY_DTYPES[ctype])


def _gather(kb: _KindBuffers, src: np.ndarray | None) -> dict[str, np.ndarray]:
    """Every column of a kind's rows ``src`` (all, in order, when None: copies), list fields' entries
    as ``"field.entry_field"`` columns laid out event after event."""
    out: dict[str, np.ndarray] = {}
    for fname, ctype in kb.layout.fields:
        raw = kb.attrs if fname == "attrs" else kb.cols[fname]
        t = OBJECT if fname == "attrs" else ctype
        out[fname] = _owned(raw, t) if src is None else _as_array(raw, t)[src]
    for name, child in kb.entries.items():
        sel = None if src is None else entry_rows(as_numpy(child.starts, np.int64)[src], out[name].astype(np.int64))
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
