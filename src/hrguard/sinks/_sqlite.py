"""Findings upserted by id into one SQLite table (standard library ``sqlite3``)."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from datetime import datetime, timezone
from typing import Any

from ..errors import ArgumentTypeError, HrguardError, InvalidArgumentError
from ..findings import Finding, Severity
from ._base import Sink, check_file

TABLE_PATTERN = r"[A-Za-z_][A-Za-z0-9_]{0,62}"
"""A table name: 1 to 63 of ``A-Z a-z 0-9 _``, not starting with a digit, and not ``sqlite_...`` (SQLite's own)."""

_TABLE = re.compile(TABLE_PATTERN + r"\Z")

COLUMNS = ("id", "rule", "name", "severity", "ts", "employee_id", "customer_id", "tenant", "message", "evidence",
           "details", "suppressed_by", "written_at")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS "{table}" (
    id            TEXT PRIMARY KEY,   -- the finding's id: a finding written again updates its row
    rule          TEXT NOT NULL,      -- detector id
    name          TEXT NOT NULL,      -- rule name in the ruleset
    severity      TEXT NOT NULL,      -- info | low | medium | high | critical
    ts            TEXT NOT NULL,      -- RFC 3339 with the ruleset's offset, as in the finding's JSON
    employee_id   TEXT,
    customer_id   TEXT,
    tenant        TEXT,
    message       TEXT NOT NULL,
    evidence      TEXT NOT NULL,      -- JSON array of event ids
    details       TEXT NOT NULL,      -- JSON object
    suppressed_by TEXT,
    written_at    TEXT NOT NULL       -- RFC 3339 UTC: when the row was first written (kept by upserts)
)
"""


def check_table(table: Any) -> str:
    if not isinstance(table, str):
        raise ArgumentTypeError("table", f"expected a str, got {type(table).__name__}")
    if not _TABLE.match(table) or table.lower().startswith("sqlite_"):
        raise InvalidArgumentError("table", f"{table!r} is not a table name this sink uses: 1 to 63 of "
                                            "A-Z a-z 0-9 _, not starting with a digit nor with sqlite_")
    return table


def _row(f: Finding, written_at: str) -> tuple[Any, ...]:
    d = f.model_dump(mode="json")
    return (d["id"], d["rule"], d["name"], d["severity"], d["ts"], d["employee_id"], d["customer_id"], d["tenant"],
            d["message"], json.dumps(d["evidence"], ensure_ascii=False),
            json.dumps(d["details"], sort_keys=True, ensure_ascii=False), d["suppressed_by"], written_at)


class SqliteSink(Sink):
    """Upserts each kept finding into ``table`` (default ``findings``) of the SQLite database at ``path``.

    - The database file is created if missing (its directory must exist) and the table if it is not
      there; a table of that name with other columns is an :class:`~hrguard.errors.InvalidArgumentError`.
    - Every :meth:`write` is one transaction that inserts each finding or, when its id is already there,
      updates the row (``written_at`` keeps the first write's time): writing the same findings again — a
      re-run nightly scan, a stream restarted from a checkpoint that replays events — leaves one row per
      finding. WAL mode, ``synchronous=FULL``: when :meth:`write` returns, the rows are on disk.
    - Threads may share one sink (``check_same_thread=False`` and a lock); other connections (your
      application, another process) may read the table while it is written, and writers wait up to
      ``timeout`` seconds for each other.
    - ``table`` is checked against :data:`TABLE_PATTERN` and quoted; it is never interpolated unchecked.
    """

    def __init__(self, path: Any, table: str = "findings", *, min_severity: Severity | str = "info",
                 timeout: float = 30.0) -> None:
        super().__init__(min_severity=min_severity)
        self.table = check_table(table)
        self.path = str(path) if path == ":memory:" else str(check_file(path, "an SQLite database"))
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA.format(table=self.table))
            have = {row[1] for row in self._db.execute(f'PRAGMA table_info("{self.table}")')}
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise InvalidArgumentError("path", f"{self.path} cannot hold findings: {exc}") from exc
        missing = [c for c in COLUMNS if c not in have]
        if missing:
            self._db.close()
            raise InvalidArgumentError("table", f"table {self.table!r} of {self.path} already exists without the "
                                                f"columns {', '.join(missing)}: name another table")
        cols = ", ".join(COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c not in ("id", "written_at"))
        self._upsert = (f'INSERT INTO "{self.table}" ({cols}) VALUES ({", ".join("?" * len(COLUMNS))}) '
                        f"ON CONFLICT(id) DO UPDATE SET {updates}")

    def __repr__(self) -> str:
        return f"SqliteSink({self.path!r}, {self.table!r}, min_severity={self._min.value!r})"

    def emit(self, findings: list[Finding]) -> None:
        written_at = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
        rows = [_row(f, written_at) for f in findings]
        with self._lock:
            if self._closed:  # closed by another thread since write() looked
                raise HrguardError(f"{self!r} is closed")
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(self._upsert, rows)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                super().close()
                self._db.close()
