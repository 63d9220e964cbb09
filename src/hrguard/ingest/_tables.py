"""Tables in: pandas and polars DataFrames, pyarrow Tables and Parquet files, read as records.

A table is recognised by its type's module and name (``pandas``/``DataFrame``, ``polars``/
``DataFrame``, ``pyarrow``/``Table`` or ``RecordBatch``; any other object with
``__arrow_c_stream__`` through pyarrow), so none of these libraries is imported unless the caller
already holds one of its objects; a Parquet file needs pyarrow (the ``tables`` extra).

Each row becomes one record, a dict, checked exactly as any other record (the fast path, then the
models): the same validation and the same located rejections, where the location is the row's
0-based position (``df.iloc[row]``, ``df.row(row)``, ``table.slice(row, 1)``). The conversion is
column by column, a block of rows at a time, with each library's own vectorised calls:

- a missing cell (``None``, NaN, NaT, ``pd.NA``, a null) is a missing field: the key is left out of
  the row's record, so a column that belongs to other kinds never reaches ``attrs``, and a field's
  default applies;
- a timezone-aware datetime column is the instant (written as RFC 3339 in UTC for the fast path);
- a naive datetime column is refused, naming the column (which zone's 09:00?), as hrguard refuses
  naive times everywhere (:mod:`hrguard.events`), unless the column is a *date* field of an event
  kind (``date``, ``last_day``, ``period_end``): pandas has no date type, so dates arrive as naive
  midnights, and a midnight is read as its date (any other time of day is rejected by the model as
  not a date, row by row);
- date and decimal columns are written as ``YYYY-MM-DD`` and decimal text; everything else is the
  library's own Python value (``int``, ``str``, ``list`` of ``dict`` for a list of structs), so a column of
  the wrong type is rejected row by row, naming the field, as a JSON record would be.

A pandas index is not read (reset it first to make it a column); pyarrow's ``__index_level_N__``
columns (a pandas index written to Parquet) are left out.
"""

from __future__ import annotations

import os
import sys
import typing
from collections.abc import Iterator, Mapping
from datetime import date
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, MissingExtraError, UnsupportedInputError

# (root module, type name) of the tables read, in any class of the object's MRO
_TABLES = {("pandas", "DataFrame"): "pandas", ("polars", "DataFrame"): "polars",
           ("pyarrow", "Table"): "arrow", ("pyarrow", "RecordBatch"): "arrow"}
# what to say about other objects of table libraries (their iteration is never records)
_HINTS = {
    ("polars", "LazyFrame"): "collect it first (lf.collect())",
    ("pandas", "Series"): "pass a DataFrame (series.to_frame().T for one event as a row, or the whole frame)",
    ("polars", "Series"): "pass a DataFrame",
    ("pyarrow", "ChunkedArray"): "pass a pyarrow Table",
    ("pyarrow", "Array"): "pass a pyarrow Table",
}
_TABLE_LIBRARIES = frozenset({"pandas", "polars", "pyarrow", "dask", "modin", "pyspark", "duckdb", "ibis", "cudf",
                              "vaex", "datatable"})
_SOURCE = {"pandas": "<pandas.DataFrame>", "polars": "<polars.DataFrame>", "arrow": "<pyarrow.Table>"}


def _type_key(t: type) -> tuple[str, str]:
    return t.__module__.split(".", 1)[0], t.__name__


def table_kind(obj: Any) -> str | None:
    """``"pandas"``, ``"polars"`` or ``"arrow"`` for a table read as rows (by its type's module and name,
    subclasses included), ``"arrow-stream"`` for another object exporting ``__arrow_c_stream__``, else
    ``None``."""
    for t in type(obj).__mro__:
        kind = _TABLES.get(_type_key(t))
        if kind is not None:
            return kind
    if hasattr(type(obj), "__arrow_c_stream__") and _type_key(type(obj))[0] not in _TABLE_LIBRARIES:
        return "arrow-stream"  # (a known library's other objects, a Series or an array, are no tables)
    return None


def is_parquet_path(obj: Any) -> bool:
    """Whether ``obj`` is a path (``str`` or ``os.PathLike``) whose name ends in ``.parquet``."""
    return isinstance(obj, (str, os.PathLike)) and os.fspath(obj).lower().endswith(".parquet")


def refuse_unsupported(events: Any, what: str = "a scan") -> None:
    """Raise :class:`~hrguard.errors.UnsupportedInputError` for an object whose iteration is not records:
    a mapping (one event, not a list of them), bytes, an object of a table library that is not a table
    read here, anything not iterable."""
    if isinstance(events, Mapping):
        raise UnsupportedInputError(events, "one event is not a list of events: pass [event], or a list of dicts")
    if isinstance(events, (bytes, bytearray, memoryview)):
        raise UnsupportedInputError(events, "pass a path, a file object, or a list of records")
    for t in type(events).__mro__:
        key = _type_key(t)
        if key in _HINTS:
            raise UnsupportedInputError(events, _HINTS[key])
    root = _type_key(type(events))[0]
    if root in _TABLE_LIBRARIES:
        raise UnsupportedInputError(events, f"{what} reads pandas and polars DataFrames, pyarrow Tables and "
                                            f"Parquet files; convert it to one of them")
    try:
        iter(events)
    except TypeError:
        raise UnsupportedInputError(events, f"{what} reads a path, paths, a file, an iterable of records (dicts or "
                                            f"events), a DataFrame, a pyarrow Table or a Parquet file") from None


def date_fields(kinds: Mapping[str, type]) -> frozenset[str]:
    """The names of top-level fields that are dates (``YYYY-MM-DD``) in any of ``kinds``' models."""
    out = set()
    for model in kinds.values():
        for name, info in getattr(model, "model_fields", {}).items():
            if _is_date(info.annotation):
                out.add(name)
    return frozenset(out)


def _is_date(t: Any) -> bool:
    if t is date:
        return True
    origin = typing.get_origin(t)
    if origin is typing.Annotated:
        return _is_date(typing.get_args(t)[0])
    if origin is not None and origin not in (list, dict, tuple, set):
        args = [a for a in typing.get_args(t) if a is not type(None)]
        return len(args) == 1 and _is_date(args[0])
    return False


# -- one column: Python values, and which cells are missing ---------------------------------------------
def _instants(v: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """UTC ``datetime64`` values as RFC 3339 text (``...Z``), NaT as missing."""
    v = v.astype("datetime64[us]")
    text = np.datetime_as_string(v, unit="us", timezone="UTC").astype(object)
    missing = np.isnat(v)
    text[missing] = None
    return text.tolist(), missing


def _dates(v: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Wall-clock ``datetime64`` values of a date field: a midnight as its date, any other time as itself
    (without an offset: the model rejects it as not a date), NaT as missing."""
    v = v.astype("datetime64[us]")
    days = v.astype("datetime64[D]")
    text = np.where(days == v, np.datetime_as_string(days), np.datetime_as_string(v, unit="s")).astype(object)
    missing = np.isnat(v)
    text[missing] = None
    return text.tolist(), missing


def _naive(name: str, lib: str) -> InvalidArgumentError:
    fix = {"pandas": f"df[{name!r}] = df[{name!r}].dt.tz_localize('Asia/Shanghai')",
           "polars": f"df.with_columns(pl.col({name!r}).dt.replace_time_zone('Asia/Shanghai'))",
           "arrow": "cast it to pa.timestamp('us', tz='Asia/Shanghai')"}.get(lib, "give it a time zone")
    return InvalidArgumentError(
        f"events column {name!r}",
        "holds datetimes without a time zone: which zone's clock are they? Give the column its zone "
        f"(e.g. {fix}, with the zone the source system writes in); hrguard reads a timezone-aware column as "
        "instants. Only a date field (date, last_day, period_end) may hold naive midnights")


class _Source:
    """A table's columns, a slice of rows at a time, as Python values with their missing cells."""

    lib = ""
    fresh = True  # the values made here are nobody else's (pandas' object cells are the caller's)

    def __init__(self, obj: Any, source: str, dates: frozenset[str]):
        self.obj = obj
        self.source = source
        self.dates = dates
        self.names: list[str] = []
        self.how: list[str] = []  # per column: "instant", "date", "float", "plain", "skip"

    def check_names(self, names: list[Any]) -> None:
        bad = [n for n in names if not isinstance(n, str)]
        if bad:
            raise InvalidArgumentError("events", f"column names must be strings (field names), got {bad[0]!r}"
                                                 f"{f' and {len(bad) - 1} more' if len(bad) > 1 else ''}: rename them, "
                                                 "or reset a MultiIndex of columns")
        seen: set[str] = set()
        for n in names:
            if n in seen:
                raise InvalidArgumentError(f"events column {n!r}", "appears twice: a field has one column")
            seen.add(n)

    def __len__(self) -> int:
        raise NotImplementedError

    def column(self, j: int, start: int, stop: int) -> tuple[list[Any], np.ndarray | None]:
        raise NotImplementedError


class _Pandas(_Source):
    lib = "pandas"
    fresh = False

    def __init__(self, obj: Any, source: str, dates: frozenset[str]):
        super().__init__(obj, source, dates)
        names = list(obj.columns)
        self.check_names(names)
        self.names = names
        for name, dtype in zip(names, obj.dtypes):
            kind = getattr(dtype, "kind", "O")
            if kind == "M":  # datetime64, naive or with a zone
                if name in dates:
                    self.how.append("date")
                elif getattr(dtype, "tz", None) is not None:
                    self.how.append("instant")
                elif obj[name].notna().any():
                    raise _naive(name, "pandas")
                else:
                    self.how.append("skip")
            else:
                self.how.append("plain")

    def __len__(self) -> int:
        return len(self.obj)

    def column(self, j: int, start: int, stop: int) -> tuple[list[Any], np.ndarray | None]:
        s = self.obj.iloc[start:stop, j]
        how = self.how[j]
        if how == "instant":
            return _instants(s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy())
        if how == "date":
            if getattr(s.dtype, "tz", None) is not None:
                s = s.dt.tz_localize(None)  # the wall clock of its own zone
            return _dates(s.to_numpy())
        missing = s.isna().to_numpy()
        values = s.to_numpy(dtype=object, na_value=None).tolist()
        if s.dtype.kind == "O" and any(type(v) is np.ndarray for v in values):
            # lists as pandas holds them after read_parquet or from_arrow: numpy arrays (of dicts)
            values = [v.tolist() if type(v) is np.ndarray else v for v in values]
        return values, missing


class _Polars(_Source):
    lib = "polars"

    def __init__(self, obj: Any, source: str, dates: frozenset[str]):
        super().__init__(obj, source, dates)
        self.pl = sys.modules["polars"]
        pl = self.pl
        self.names = list(obj.columns)
        self.check_names(self.names)
        for name, dtype in obj.schema.items():
            if isinstance(dtype, pl.Datetime):
                if name in dates:
                    self.how.append("date")
                elif dtype.time_zone is not None:
                    self.how.append("instant")
                elif obj[name].null_count() < len(obj):
                    raise _naive(name, "polars")
                else:
                    self.how.append("skip")
            elif isinstance(dtype, (pl.Date, pl.Decimal)):
                self.how.append("text")
            elif dtype.is_float():
                self.how.append("float")
            else:
                self.how.append("plain")

    def __len__(self) -> int:
        return self.obj.height

    def column(self, j: int, start: int, stop: int) -> tuple[list[Any], np.ndarray | None]:
        pl = self.pl
        s = self.obj.to_series(j).slice(start, stop - start)
        how = self.how[j]
        if how == "instant":
            s = s.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            return _instants(s.cast(pl.Datetime("us")).to_numpy())
        if how == "date":
            if s.dtype.time_zone is not None:
                s = s.dt.replace_time_zone(None)
            return _dates(s.cast(pl.Datetime("us")).to_numpy())
        if how == "text":
            s = s.cast(pl.String)
        elif how == "float":
            s = s.fill_nan(None)
        return s.to_list(), s.is_null().to_numpy()


class _Arrow(_Source):
    lib = "arrow"

    def __init__(self, obj: Any, source: str, dates: frozenset[str], schema: Any = None):
        super().__init__(obj, source, dates)
        self.pa = pa = sys.modules["pyarrow"]
        schema = schema if schema is not None else obj.schema
        names = list(schema.names)
        self.check_names(names)
        self.names = names
        types = pa.types
        for name in names:
            t = schema.field(name).type
            if name.startswith("__index_level_") and name.endswith("__"):
                self.how.append("skip")  # a pandas index written by pyarrow
            elif types.is_timestamp(t):
                if name in dates:
                    self.how.append("date")
                elif t.tz is not None:
                    self.how.append("instant")
                elif obj is not None and obj.column(name).null_count < len(obj):
                    raise _naive(name, "arrow")  # (a Parquet file's are checked before: all null here)
                else:
                    self.how.append("skip")
            elif types.is_date(t) or types.is_decimal(t):
                self.how.append("text")
            elif types.is_floating(t):
                self.how.append("float")
            else:
                self.how.append("plain")

    def __len__(self) -> int:
        return len(self.obj)

    def column(self, j: int, start: int, stop: int) -> tuple[list[Any], np.ndarray | None]:
        pa = self.pa
        c = self.obj.column(j).slice(start, stop - start)
        how = self.how[j]
        if how == "instant":
            return _instants(c.cast(pa.timestamp("us", tz="UTC")).to_numpy(zero_copy_only=False))
        if how == "date":
            t = c.type
            if t.tz is not None:  # the wall clock of its own zone
                c = pa.compute.local_timestamp(c)
            return _dates(c.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False))
        if how == "text":
            c = c.cast(pa.string())
        elif how == "float":
            c = pa.compute.if_else(pa.compute.is_nan(c), pa.scalar(None, c.type), c)
        missing = c.is_null().to_numpy(zero_copy_only=False) if c.null_count else None
        t = c.type
        types = pa.types
        if types.is_string(t) or types.is_large_string(t) or types.is_string_view(t):
            return c.to_numpy(zero_copy_only=False).tolist(), missing  # str objects, None for nulls
        if types.is_floating(t) or types.is_integer(t) or types.is_boolean(t):  # numpy's tolist: Python values
            if missing is None:
                return c.to_numpy(zero_copy_only=False).tolist(), None
            values = c.fill_null(False if types.is_boolean(t) else 0).to_numpy(zero_copy_only=False).astype(object)
            values[missing] = None
            return values.tolist(), missing
        return c.to_pylist(), missing  # nested (lists of structs: dicts), and the rest


# -- rows ---------------------------------------------------------------------------------------------------
def _rows(names: list[str], cols: list[list[Any]], missing: list[np.ndarray | None], n: int) -> list[dict[str, Any]]:
    """One dict per row of the present cells, in column order: rows with the same missing cells are made
    together (a table of several kinds has a few such patterns per block, one per kind or so)."""
    dense = [j for j, m in enumerate(missing) if m is None or not m.any()]
    sparse = [j for j, m in enumerate(missing) if m is not None and m.any() and not m.all()]
    if not sparse:
        return _dicts([names[j] for j in dense], [cols[j] for j in dense], n)
    present = np.stack([~missing[j] for j in sparse])  # type: ignore[operator]
    if len(sparse) <= 62:
        weights = (np.int64(1) << np.arange(len(sparse), dtype=np.int64))
        codes = weights @ present.astype(np.int64)
        patterns, inverse = np.unique(codes, return_inverse=True)
    else:  # many sparse columns: the patterns as rows of the mask
        patterns, inverse = np.unique(present.T, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    if len(patterns) == 1:  # one kind, or every row missing the same cells
        take = sorted(dense + [j for j, on in zip(sparse, present[:, 0].tolist()) if on])
        return _dicts([names[j] for j in take], [cols[j] for j in take], n)
    out: list[Any] = [None] * n
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(patterns) + 1))
    for p in range(len(patterns)):
        idx = order[bounds[p]:bounds[p + 1]]
        mask = present[:, idx[0]]
        take = sorted(dense + [j for j, on in zip(sparse, mask.tolist()) if on])
        keys = [names[j] for j in take]
        rows = idx.tolist()
        if len(rows) == 1:
            r = rows[0]
            out[r] = {k: cols[j][r] for k, j in zip(keys, take)}
            continue
        pick = itemgetter(*rows)
        for r, d in zip(rows, _dicts(keys, [pick(cols[j]) for j in take], len(rows))):
            out[r] = d
    return out


def _dicts(keys: list[str], cols: list[Any], n: int) -> list[dict[str, Any]]:
    """``n`` dicts of ``keys`` from the aligned value sequences ``cols`` (the fastest spelling, measured)."""
    if not keys:
        return [{} for _ in range(n)]
    return list(map(dict, map(zip, repeat(keys, n), zip(*cols))))


def table_rows(src: _Source, start: int, stop: int) -> list[dict[str, Any]]:
    """The records of rows ``start:stop`` of a table."""
    names, cols, missing = [], [], []
    for j, name in enumerate(src.names):
        if src.how[j] == "skip":
            continue
        values, m = src.column(j, start, stop)
        names.append(name)
        cols.append(values)
        missing.append(m)
    return _rows(names, cols, missing, stop - start)


def open_table(obj: Any, kinds: Mapping[str, type]) -> _Source:
    """The reader of a table (checked up front: names, naive datetime columns)."""
    dates = date_fields(kinds)
    kind = table_kind(obj)
    if kind == "pandas":
        return _Pandas(obj, _SOURCE["pandas"], dates)
    if kind == "polars":
        return _Polars(obj, _SOURCE["polars"], dates)
    if kind == "arrow":
        return _Arrow(obj, _SOURCE["arrow"], dates)
    if kind == "arrow-stream":
        pa = _pyarrow(type(obj).__name__)
        return _Arrow(pa.table(obj), f"<{type(obj).__module__.split('.')[0]}.{type(obj).__name__}>", dates)
    raise UnsupportedInputError(obj, "not a table")  # pragma: no cover - callers check table_kind first


def _pyarrow(what: str) -> Any:
    try:
        import pyarrow
        import pyarrow.compute  # noqa: F401 - pa.compute used by the arrow reader
    except ImportError as exc:
        raise MissingExtraError(f"pyarrow (to read {what})", "tables") from exc
    return pyarrow


def table_chunks(obj: Any, kinds: Mapping[str, type], size: int) -> Iterator[tuple[_Source, int, list[dict[str, Any]]]]:
    """``(reader, first row, records)`` of a table or a Parquet file, ``size`` rows or so at a time; every
    column is checked before the first records are made."""
    if is_parquet_path(obj):
        yield from _parquet_chunks(os.fspath(obj), kinds, size)
        return
    src = open_table(obj, kinds)
    n = len(src)
    for start in range(0, n, size):
        stop = min(n, start + size)
        yield src, start, table_rows(src, start, stop)


def _parquet_chunks(path: str, kinds: Mapping[str, type], size: int) -> Iterator[tuple[_Source, int, list[dict[str, Any]]]]:
    pa = _pyarrow(f"the Parquet file {path}")
    pq = __import__("pyarrow.parquet", fromlist=["ParquetFile"])
    with pq.ParquetFile(path) as pf:
        schema = pf.schema_arrow
        dates = date_fields(kinds)
        naive = [name for name in schema.names if pa.types.is_timestamp(schema.field(name).type)
                 and schema.field(name).type.tz is None and name not in dates]
        if naive:  # refused before anything is read, unless the column holds nothing (its statistics say so)
            nulls = _null_counts(pf)
            for name in naive:
                if nulls.get(name, -1) < pf.metadata.num_rows:
                    raise _naive(name, "arrow")
        src = _Arrow(None, path, dates, schema)
        start = 0
        for batch in pf.iter_batches(batch_size=size):
            src.obj = batch
            n = len(batch)
            yield src, start, table_rows(src, 0, n)
            start += n


def _null_counts(pf: Any) -> dict[str, int]:
    """Null count per top-level column of a Parquet file, from its row groups' statistics (-1 unknown)."""
    meta = pf.metadata
    out: dict[str, int] = {}
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        for c in range(rg.num_columns):
            col = rg.column(c)
            name = col.path_in_schema
            st = col.statistics
            count = st.null_count if st is not None and st.has_null_count else None
            if count is None:
                out[name] = -10**18
            else:
                out[name] = out.get(name, 0) + count
    return out


def pushed_records(events: Any, kinds: Mapping[str, type], size: int = 8192) -> Iterator[tuple[Any, str | None, int | None]]:
    """``(record, source, row)`` of what ``Stream.push_many`` takes: a table or a Parquet file row by row
    (``source`` names it, ``row`` is 0-based), or an iterable of records (``None, None``: located by their
    position in the stream). Anything else is an :class:`~hrguard.errors.UnsupportedInputError`."""
    if is_parquet_path(events) or table_kind(events) is not None:
        for src, start, records in table_chunks(events, kinds, size):
            for k, record in enumerate(records):
                yield record, src.source, start + k
        return
    if isinstance(events, (str, os.PathLike)):
        raise UnsupportedInputError(events, "push_many takes records, a table or a Parquet file (a path ending in "
                                            ".parquet); scan a JSON Lines file with hrguard.scan, or push its records")
    if hasattr(events, "model_dump"):
        raise UnsupportedInputError(events, "one event is not a list of events: use push(event)")
    refuse_unsupported(events, "push_many")
    for record in events:
        yield record, None, None
