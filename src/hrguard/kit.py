"""``hrguard.kit``: vectorised building blocks for detectors, now in :mod:`hrguard.sdk`.

This name is documented and stays, as an alias: it re-exports exactly what ``hrguard.kit`` held.
"""

from __future__ import annotations

from hrguard.sdk import (
    EARTH_RADIUS_M,
    Column,
    GrowBuf,
    Latest,
    Rows,
    asof_rows,
    dense_ranks,
    distinct,
    first_per_key,
    haversine_m,
    last_per_key,
    pack2,
    pos_after,
    rows_pos,
    unpack2,
)

__all__ = [
    "Column",
    "EARTH_RADIUS_M",
    "GrowBuf",
    "Latest",
    "Rows",
    "asof_rows",
    "dense_ranks",
    "distinct",
    "first_per_key",
    "haversine_m",
    "last_per_key",
    "pack2",
    "pos_after",
    "rows_pos",
    "unpack2",
]
