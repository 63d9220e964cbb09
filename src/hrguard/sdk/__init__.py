"""What a detector author writes against: :class:`EventDetector` (one event at a time) or :class:`Detector` (columnar chunks) and its params, parameter types, the saveable state store, and vectorised building blocks (keys, as-of look-ups, distance)."""

from __future__ import annotations

from . import state
from ._detector import (
    Detector,
    DetectorParams,
    RuleContext,
)
from ._kit import (
    EARTH_RADIUS_M,
    GrowBuf,
    asof_rows,
    dense_ranks,
    distinct,
    first_per_key,
    haversine_m,
    pack2,
    pos_after,
    rows_pos,
    unpack2,
)
from ._per_event import EventDetector, EventView, Ref
from ._params import (
    DURATION_FIELD_MARK,
    MICROSECONDS,
    Duration,
    LocalTime,
    Steps,
)
from .state import (
    Column,
    Latest,
    Rows,
    StateError,
    Stateful,
    Store,
    dumps_state,
    last_per_key,
    loads_state,
)

__all__ = [
    "Column",
    "DURATION_FIELD_MARK",
    "Detector",
    "DetectorParams",
    "Duration",
    "EARTH_RADIUS_M",
    "EventDetector",
    "EventView",
    "GrowBuf",
    "Latest",
    "LocalTime",
    "MICROSECONDS",
    "Ref",
    "Rows",
    "RuleContext",
    "StateError",
    "Stateful",
    "Steps",
    "Store",
    "asof_rows",
    "dense_ranks",
    "distinct",
    "dumps_state",
    "first_per_key",
    "haversine_m",
    "last_per_key",
    "loads_state",
    "pack2",
    "pos_after",
    "rows_pos",
    "state",
    "unpack2",
]
