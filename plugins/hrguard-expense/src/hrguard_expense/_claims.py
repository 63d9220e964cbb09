"""What the claim detectors share: claim keys, the current version of each claim, and a day-window join.

Everything is vectorised with numpy and carried from chunk to chunk, so a batch of millions of
claims and a stream of one claim at a time give the same findings.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from hrguard import Chunk, DetectorParams, Duration
from hrguard.kit import GrowBuf, Latest, pack2, rows_pos
from hrguard.timeutil import DAY_US, days_to_date

CLAIM, PAID = "expense.claimed", "expense.paid"
_SPACES = re.compile(r"\s+")


def whole_days(window_us: int, what: str = "window") -> int:
    """A duration as whole days (claims are compared by the date they were incurred)."""
    if window_us % DAY_US:
        raise ValueError(f"{what} is compared with incurred_on dates, so it must be whole days, e.g. '3d' or '0d'")
    return window_us // DAY_US


class WindowParams(DetectorParams):
    """Params both claim detectors have."""

    window: Duration = Field("3d", validate_default=True,
                             description="how far apart (in whole days) the incurred_on dates of claims that belong "
                                         "together may be; 0d: the same date")

    @field_validator("window")
    @classmethod
    def _whole_days(cls, v: int) -> int:
        whole_days(v)
        return v


class Keys:
    """Dense integer keys for tuples of columns, stable for a whole run (one detector instance)."""

    def __init__(self) -> None:
        self._keys: dict[tuple[int, ...], int] = {}
        self._merchants: dict[int, int] = {}  # merchant string code -> normalised merchant id
        self._names: dict[str, int] = {}

    def merchant(self, codes: np.ndarray, strings: Any) -> np.ndarray:
        """Normalised merchant ids: case, runs of blanks and outer blanks do not tell merchants apart."""
        out = np.empty(codes.size, dtype=np.int64)
        uniq, inverse = np.unique(codes, return_inverse=True)
        ids = np.empty(uniq.size, dtype=np.int64)
        for i, code in enumerate(uniq.tolist()):
            norm = self._merchants.get(code)
            if norm is None:
                name = _SPACES.sub(" ", (strings.text(code) or "").strip()).casefold()
                norm = self._merchants[code] = self._names.setdefault(name, len(self._names))
            ids[i] = norm
        out[:] = ids[inverse]
        return out

    def of(self, *cols: np.ndarray) -> np.ndarray:
        """One int key per row for the tuple of the given int columns."""
        n = cols[0].size if cols else 0
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        stacked = np.stack([np.asarray(c, dtype=np.int64) for c in cols], axis=1)
        order = np.lexsort(stacked.T[::-1])
        rows = stacked[order]
        first = np.r_[True, (rows[1:] != rows[:-1]).any(axis=1)]
        table = self._keys
        ids = np.fromiter((table.setdefault(tuple(r), len(table)) for r in rows[first].tolist()), dtype=np.int64,
                          count=int(first.sum()))
        out = np.empty(n, dtype=np.int64)
        out[order] = ids[np.cumsum(first) - 1]
        return out


def money_units(amount: np.ndarray) -> np.ndarray:
    """Money as integer ten-thousandths, so equal amounts compare equal whatever their spelling."""
    return np.round(np.asarray(amount, dtype=np.float64) * 10_000).astype(np.int64)


class Claims:
    """The chunk's claims as columns, plus which version of each claim is current as of a position."""

    def __init__(self) -> None:
        self.latest = Latest(pos=-1)  # by claim code: the position of the claim's latest record

    def read(self, chunk: Chunk) -> dict[str, np.ndarray]:
        rows = chunk.rows(CLAIM)
        f = chunk.frame
        if rows.size == 0:
            return {}
        return {
            "row": rows, "pos": rows_pos(chunk, rows), "ts": f.ts[rows], "id": f.ids[rows],
            "employee": f.employee[rows].astype(np.int64),
            "claim": chunk.col(CLAIM, "claim_id").astype(np.int64),
            "amount": chunk.col(CLAIM, "amount").astype(np.float64),
            "currency": chunk.col(CLAIM, "currency").astype(np.int64),
            "merchant": chunk.col(CLAIM, "merchant").astype(np.int64),
            "day": chunk.col(CLAIM, "incurred_on").astype(np.int64),
            "receipt": chunk.col(CLAIM, "receipt_uri").astype(np.int64),
        }

    def current(self, claim: np.ndarray, pos: np.ndarray, at: np.ndarray, chunk_claims: dict[str, np.ndarray]) -> np.ndarray:
        """For records (``claim`` codes at ``pos``), whether each is its claim's latest record as of ``at``."""
        if claim.size == 0:
            return np.zeros(0, dtype=bool)
        u = self._updates(chunk_claims)
        found, vals = self.latest.lookup(claim, at, *u)
        return found & (vals["pos"].astype(np.int64) == pos)

    @staticmethod
    def _updates(c: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        if not c:
            z = np.zeros(0, dtype=np.int64)
            return z, z, {}
        return c["claim"], c["pos"], {"pos": c["pos"]}

    def commit(self, chunk_claims: dict[str, np.ndarray]) -> None:
        claim, _, vals = self._updates(chunk_claims)
        self.latest.commit(claim, vals)


class DayWindow:
    """Every earlier record under an integer key, found by a range of days: the join the claim detectors need.

    :meth:`pairs` returns, for each query ``(key, day, pos)``, every record (committed in earlier
    chunks, or among the chunk's own) with the same key, a day within ``width`` days, and a position
    before the query's. It costs a sort of the matches, never of everything kept: committed records
    are looked up per key (a few queries) or through a sorted snapshot (many).
    """

    FIELDS = ("pos", "ts", "claim", "receipt", "amount", "day")

    def __init__(self) -> None:
        self.cols = {f: GrowBuf(np.float64 if f == "amount" else np.int64) for f in self.FIELDS}
        self.keys = GrowBuf(np.int64)
        self.ids: list[str] = []
        self.by_key: dict[int, list[int]] = {}  # built lazily, only when few queries search it
        self._by_key_upto = 0
        self._snap: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.keys.n

    def values(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        out = {f: self.cols[f].values[idx] for f in self.FIELDS}
        out["id"] = np.asarray(self.ids, dtype=object)[idx] if len(idx) else np.zeros(0, dtype=object)
        return out

    def commit(self, key: np.ndarray, rec: dict[str, np.ndarray]) -> None:
        if key.size == 0:
            return
        self.keys.extend(key)
        for f in self.FIELDS:
            self.cols[f].extend(rec[f])
        self.ids.extend(rec["id"].tolist())
        self._snap = None

    def _index_keys(self) -> None:
        """Bring the per-key lists up to date (a stream adds a claim or two at a time: cheap)."""
        start, keys = self._by_key_upto, self.keys.values
        for i, k in enumerate(keys[start:].tolist(), start):
            self.by_key.setdefault(k, []).append(i)
        self._by_key_upto = keys.size

    #: from this many queries on, search a sorted snapshot of everything kept instead of per-key lists
    SNAPSHOT_MIN = 64

    def _committed(self, q_key: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(self) == 0 or q_key.size == 0:
            z = np.zeros(0, dtype=np.int64)
            return z, z
        if q_key.size < self.SNAPSHOT_MIN:
            self._index_keys()
            qs, es = [], []
            day = self.cols["day"].values
            for q, (k, a, b) in enumerate(zip(q_key.tolist(), lo.tolist(), hi.tolist())):
                idx = self.by_key.get(k)
                if idx:
                    arr = np.asarray(idx, dtype=np.int64)
                    arr = arr[(day[arr] >= a) & (day[arr] <= b)]
                    qs.append(np.full(arr.size, q, dtype=np.int64))
                    es.append(arr)
            if not qs:
                z = np.zeros(0, dtype=np.int64)
                return z, z
            return np.concatenate(qs), np.concatenate(es)
        if self._snap is None:
            packed = pack2(self.keys.values, self.cols["day"].values)
            order = np.argsort(packed, kind="stable")
            self._snap = (packed[order], order)
        return _ranges(*self._snap, pack2(q_key, lo), pack2(q_key, hi))

    def pairs(self, q_key: np.ndarray, q_day: np.ndarray, q_pos: np.ndarray, width: int,
              new_key: np.ndarray, new: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(query index, record values)`` of every match, committed ones first, then the chunk's ``new``."""
        lo, hi = q_day - width, q_day + width
        qi_old, ei_old = self._committed(q_key, lo, hi)
        old = self.values(ei_old)
        if new_key.size:
            packed = pack2(new_key, new["day"])
            order = np.argsort(packed, kind="stable")
            qi_new, ei = _ranges(packed[order], order, pack2(q_key, lo), pack2(q_key, hi))
            keep = new["pos"][ei] < q_pos[qi_new]
            qi_new, ei = qi_new[keep], ei[keep]
            fresh = {f: new[f][ei] for f in (*self.FIELDS, "id")}
        else:
            qi_new = np.zeros(0, dtype=np.int64)
            fresh = {f: old[f][:0] for f in old}
        qi = np.concatenate([qi_old, qi_new])
        return qi, {f: np.concatenate([old[f], fresh[f]]) for f in old}


def _ranges(sorted_keys: np.ndarray, order: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query, every index (through ``order``) whose sorted key lies in ``[lo, hi]``."""
    a = np.searchsorted(sorted_keys, lo, side="left")
    b = np.searchsorted(sorted_keys, hi, side="right")
    counts = np.maximum(b - a, 0)
    total = int(counts.sum())
    qi = np.repeat(np.arange(lo.size, dtype=np.int64), counts)
    if total == 0:
        return qi, np.zeros(0, dtype=np.int64)
    starts = np.repeat(a - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return qi, order[np.arange(total, dtype=np.int64) + starts]


def iso_day(days: int) -> str:
    return days_to_date(int(days)).isoformat()


def merchant_name(strings: Any, code: int) -> str | None:
    """A merchant as written, with runs of blanks made one space (for messages)."""
    name = strings.text(int(code))
    return None if name is None else " ".join(name.split())


def text(strings: Any, code: int) -> str | None:
    return strings.text(int(code))
