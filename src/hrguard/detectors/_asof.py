"""The latest update per key as of a position, all numpy: what registrations and plans need.

:class:`AsOfLatest` answers "the values of the latest update for key K strictly before position P",
where updates arrive chunk by chunk in the one order of events. It does what
:class:`hrguard.kit.Latest` does, but its carried state is a sorted ``int64`` key array pointing into
append-only value columns, so a chunk's look-ups are binary searches and its commit a merge of two
sorted arrays: no Python work per key, ever (``Latest`` rebuilds a sorted snapshot of its whole dict
after every chunk that updated it, which costs a Python pass over every key per chunk).

A stream's one-event chunks take a dict path instead: a commit of a few keys goes into a small
``recent`` dict (folded into the arrays once it holds :attr:`AsOfLatest.FOLD_AT` keys), so a push
never copies the whole state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..kit import GrowBuf


class AsOfLatest:
    """Per ``int64`` key, the latest update before a position; values kept in typed columns.

    ``fields`` maps each value name to ``(dtype, missing value)``. Use per chunk: :meth:`stage` the
    chunk's updates (in event order), :meth:`lookup` any number of times, then :meth:`commit`.
    Within the chunk a look-up sees the staged updates strictly before its position, and the
    committed state otherwise.
    """

    #: a commit of at most this many keys goes to the ``recent`` dict instead of a merge of the arrays
    SMALL = 8
    #: the ``recent`` dict is folded into the sorted arrays once it holds this many keys
    FOLD_AT = 256

    def __init__(self, **fields: tuple[Any, Any]) -> None:
        self.fields = fields
        self.log = {name: GrowBuf(dtype, missing) for name, (dtype, missing) in fields.items()}
        self._keys = np.zeros(0, dtype=np.int64)  # committed keys, sorted ...
        self._rows = np.zeros(0, dtype=np.int64)  # ... and the log row of each one's latest update
        self._recent: dict[int, int] = {}  # small commits not yet folded into the arrays
        self._staged: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # keys, positions, log rows

    def __len__(self) -> int:
        self._fold()
        return int(self._keys.size)

    # -- per chunk -----------------------------------------------------------------------------------
    def stage(self, keys: np.ndarray, pos: np.ndarray, values: dict[str, np.ndarray]) -> None:
        """The chunk's updates, in event order; ``values`` has one array per field."""
        keys = np.asarray(keys, dtype=np.int64)
        if keys.size == 0:
            self._staged = None
            return
        start = self.log_size
        for name, buf in self.log.items():
            buf.extend(values[name])
        self._staged = (keys, np.asarray(pos, dtype=np.int64), np.arange(start, start + keys.size, dtype=np.int64))

    @property
    def log_size(self) -> int:
        return next(iter(self.log.values())).n if self.log else 0

    def lookup_rows(self, q_key: np.ndarray, q_pos: np.ndarray) -> np.ndarray:
        """For each query, the log row of the latest update of its key before its position (``-1``: none)."""
        q_key = np.asarray(q_key, dtype=np.int64)
        rows = self._committed_rows(q_key)
        if self._staged is not None and q_key.size:
            own = self._staged_rows(q_key, np.asarray(q_pos, dtype=np.int64))
            rows = np.where(own >= 0, own, rows)
        return rows

    def lookup_one(self, key: int, pos: int) -> int:
        """:meth:`lookup_rows` for one query, in Python (for a stream's few events: no numpy call but one)."""
        if self._staged is not None:
            u_key, u_pos, u_row = self._staged
            best = -1
            for k, p, r in zip(u_key.tolist(), u_pos.tolist(), u_row.tolist()):  # in event order: the last wins
                if k == key and p < pos:
                    best = r
            if best >= 0:
                return best
        r = self._recent.get(key)
        if r is not None:
            return r
        keys = self._keys
        i = int(keys.searchsorted(key))
        return int(self._rows[i]) if i < keys.size and keys[i] == key else -1

    def value(self, name: str, row: int) -> Any:
        """One field at one log row (``row >= 0``) as a Python value."""
        v = self.log[name].values[row]
        return v.item() if isinstance(v, np.generic) else v

    def values(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """The fields at log ``rows``; each field's missing value where the row is ``-1``."""
        hit = rows >= 0
        out = {}
        for name, buf in self.log.items():
            vals = buf.values[np.where(hit, rows, 0)] if buf.n else np.empty(rows.size, dtype=buf.values.dtype)
            if not hit.all():
                vals[~hit] = self.fields[name][1]
            out[name] = vals
        return out

    def commit(self) -> None:
        """Fold the staged updates into the state: each key now points at its last staged update."""
        staged, self._staged = self._staged, None
        if staged is None:
            return
        keys, _, rows = staged
        if keys.size <= self.SMALL:
            recent = self._recent
            for k, r in zip(keys.tolist(), rows.tolist()):
                recent[k] = r
            if len(recent) >= self.FOLD_AT:
                self._fold()
            return
        self._fold()
        self._merge(keys, rows)

    # -- internals -----------------------------------------------------------------------------------
    def _committed_rows(self, q_key: np.ndarray) -> np.ndarray:
        recent = self._recent
        if recent and q_key.size > self.SMALL:
            self._fold()
            recent = self._recent
        keys = self._keys
        if keys.size:
            i = np.searchsorted(keys, q_key)
            ic = np.minimum(i, keys.size - 1)
            rows = np.where(keys[ic] == q_key, self._rows[ic], -1)
        else:
            rows = np.full(q_key.size, -1, dtype=np.int64)
        if recent:  # only a few queries here (a stream's event): a dict look-up each
            for j, k in enumerate(q_key.tolist()):
                r = recent.get(k)
                if r is not None:
                    rows[j] = r
        return rows

    def _staged_rows(self, q_key: np.ndarray, q_pos: np.ndarray) -> np.ndarray:
        """Per query, the log row of the chunk's own latest update of its key before its position."""
        u_key, u_pos, u_row = self._staged
        if u_key.size == 1:  # a stream's one update
            hit = (q_key == u_key[0]) & (u_pos[0] < q_pos)
            return np.where(hit, u_row[0], -1)
        # rank the staged keys, then one sorted (rank, position) array answers every query
        uk, rank = np.unique(u_key, return_inverse=True)
        lo = min(int(u_pos.min()), int(q_pos.min()))
        span = max(int(u_pos.max()), int(q_pos.max())) - lo + 2
        packed = rank.astype(np.int64) * span + (u_pos - lo)
        order = np.argsort(packed, kind="stable")
        packed = packed[order]
        qr = np.minimum(np.searchsorted(uk, q_key), uk.size - 1)
        known = uk[qr] == q_key
        j = np.searchsorted(packed, qr * span + (q_pos - lo), side="left") - 1
        jc = np.maximum(j, 0)
        hit = known & (j >= 0) & (packed[jc] // span == qr)
        return np.where(hit, u_row[order[jc]], -1)

    def _fold(self) -> None:
        if self._recent:
            keys = np.fromiter(self._recent.keys(), dtype=np.int64, count=len(self._recent))
            rows = np.fromiter(self._recent.values(), dtype=np.int64, count=len(self._recent))
            self._recent = {}
            self._merge(keys, rows)

    def _merge(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Point ``keys`` at ``rows``; of two updates of one key the later (larger row) wins."""
        if keys.size > 1:  # the last update of each key: the first in reverse order
            uniq, first_rev = np.unique(keys[::-1], return_index=True)
            keys, rows = uniq, rows[::-1][first_rev]
        i = np.searchsorted(self._keys, keys)
        if self._keys.size:
            ic = np.minimum(i, self._keys.size - 1)
            old = self._keys[ic] == keys
            self._rows[ic[old]] = rows[old]
            new = ~old
        else:
            new = np.ones(keys.size, dtype=bool)
        if new.any():
            self._keys = np.insert(self._keys, i[new], keys[new])
            self._rows = np.insert(self._rows, i[new], rows[new])
