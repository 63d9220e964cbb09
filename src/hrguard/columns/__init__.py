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

Modules: column types, the interner and kind layouts (``_types``); the builder (``_builder``); frames,
tables and chunks (``_frame``).
"""

from __future__ import annotations

from ._builder import ColumnBuilder
from ._frame import Chunk, Entries, Frame, KindTable, NestedTable, entry_rows, order_by_ts_id, positions, value
from ._types import (
    BOOL,
    CODE,
    DATE,
    FLOAT,
    INSTANT,
    NESTED,
    NULL_CODE,
    NULL_INT,
    OBJECT,
    TIME,
    Interner,
    KindLayout,
    column_type,
    converter,
    nested_model,
)

__all__ = [
    "BOOL",
    "CODE",
    "Chunk",
    "ColumnBuilder",
    "DATE",
    "Entries",
    "FLOAT",
    "Frame",
    "INSTANT",
    "Interner",
    "KindLayout",
    "KindTable",
    "NESTED",
    "NULL_CODE",
    "NULL_INT",
    "NestedTable",
    "OBJECT",
    "TIME",
    "column_type",
    "converter",
    "entry_rows",
    "nested_model",
    "order_by_ts_id",
    "positions",
    "value",
]
