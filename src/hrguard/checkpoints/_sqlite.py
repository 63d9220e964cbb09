"""Checkpoints in one SQLite table (standard library ``sqlite3``): the default durable store."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidArgumentError, MissingFileError, StateError
from ._common import (
    FORMAT_VERSION,
    Closable,
    check_fingerprint,
    check_keep,
    check_key,
    check_path,
    check_seq,
    encode,
    now,
    verify,
)

TABLE = "hrguard_checkpoints"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    key         TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    format      INTEGER NOT NULL,
    fingerprint TEXT    NOT NULL,
    sha256      TEXT    NOT NULL,
    payload     BLOB    NOT NULL,
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (key, seq)
)
"""


class SqliteCheckpoints(Closable):
    """Checkpoints of state dicts in the SQLite database at ``path`` (created if missing; its directory must
    exist), table ``hrguard_checkpoints``.

    - :meth:`save` is one transaction: the new checkpoint is inserted and all but the last ``keep`` (default
      2) of its key are deleted, or nothing happens. The database is in WAL mode with ``synchronous=FULL``: a
      checkpoint :meth:`save` returned is on disk, and a process killed mid-save leaves the previous one.
    - :meth:`load` checks the format version, the sha256 of the payload and the fingerprint before it
      decodes anything; every failure is a :class:`~hrguard.errors.StateError`.
    - One object may be shared by threads (a lock serialises them); several processes may share the
      file (SQLite locks it; a writer waits up to ``timeout`` seconds), but one key should have one writer.
    """

    def __init__(self, path: Any, *, keep: int = 2, timeout: float = 30.0) -> None:
        where = check_path(path, "path")
        self._keep = check_keep(keep)
        self.path = str(where)
        if self.path != ":memory:":
            if where.is_dir():
                raise InvalidArgumentError("path", f"{self.path} is a directory, not an SQLite database file")
            if not where.parent.is_dir():
                raise MissingFileError(f"checkpoint database {self.path}: its directory {where.parent} does not exist")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise InvalidArgumentError("path", f"{self.path} cannot hold checkpoints: {exc}") from exc

    def __repr__(self) -> str:
        return f"SqliteCheckpoints({self.path!r})"

    def save(self, key: str, state: Mapping[str, Any], *, fingerprint: str) -> int:
        """Save ``state`` as the newest checkpoint of ``key``; returns its sequence number (1, 2, ... per key)."""
        self._check_open()
        key = check_key(key)
        fingerprint = check_fingerprint(fingerprint)
        payload, sha256 = encode(key, state)
        with self._lock:
            self._check_open()
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                (last,) = db.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {TABLE} WHERE key = ?", (key,)).fetchone()
                seq = last + 1
                db.execute(f"INSERT INTO {TABLE} (key, seq, format, fingerprint, sha256, payload, created_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)", (key, seq, FORMAT_VERSION, fingerprint, sha256, payload, now()))
                db.execute(f"DELETE FROM {TABLE} WHERE key = ? AND seq <= ?", (key, seq - self._keep))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        return seq

    def load(self, key: str, *, fingerprint: str, seq: int | None = None) -> tuple[int, dict[str, Any]] | None:
        """``(seq, state)`` of the newest checkpoint of ``key`` (or of checkpoint ``seq``), or None when there is
        none. A checkpoint of another format version, a corrupt one, or one saved under another fingerprint
        is a :class:`~hrguard.errors.StateError` (never silently skipped for an older one)."""
        self._check_open()
        key = check_key(key)
        fingerprint = check_fingerprint(fingerprint)
        seq = check_seq(seq)
        query = f"SELECT seq, format, fingerprint, sha256, payload FROM {TABLE} WHERE key = ?"
        with self._lock:
            self._check_open()
            try:
                if seq is None:
                    row = self._db.execute(query + " ORDER BY seq DESC LIMIT 1", (key,)).fetchone()
                else:
                    row = self._db.execute(query + " AND seq = ?", (key, seq)).fetchone()
            except sqlite3.DatabaseError as exc:
                raise StateError(f"corrupt checkpoint: key {key!r} in {self.path}: the database cannot be read: "
                                 f"{exc}") from exc
        if row is None:
            return None
        found, version, saved_under, sha256, payload = row
        return found, verify(key, found, version, saved_under, sha256, payload, fingerprint, self.path)

    def seqs(self, key: str) -> list[int]:
        """The sequence numbers of the checkpoints kept for ``key``, oldest first."""
        self._check_open()
        key = check_key(key)
        with self._lock:
            return [s for (s,) in self._db.execute(f"SELECT seq FROM {TABLE} WHERE key = ? ORDER BY seq", (key,))]

    def keys(self) -> list[str]:
        """Every key with a checkpoint, sorted."""
        self._check_open()
        with self._lock:
            return [k for (k,) in self._db.execute(f"SELECT DISTINCT key FROM {TABLE} ORDER BY key")]

    def delete(self, key: str) -> int:
        """Delete every checkpoint of ``key``; returns how many there were (0 for an unknown key). A later
        :meth:`save` of the key starts again at 1."""
        self._check_open()
        key = check_key(key)
        with self._lock:
            return self._db.execute(f"DELETE FROM {TABLE} WHERE key = ?", (key,)).rowcount

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()
