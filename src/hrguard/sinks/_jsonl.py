"""Findings appended to a JSON Lines file, one object per finding, synced to disk on every write."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from ..errors import HrguardError
from ..findings import Finding, Severity
from ._base import Sink, check_file


def finding_line(finding: Finding) -> bytes:
    """One finding as one line: ``Finding.model_dump(mode="json")``, keys sorted, UTF-8, ``\\n``."""
    return json.dumps(finding.model_dump(mode="json"), sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"


class JsonlSink(Sink):
    """Appends each kept finding to ``path`` as one JSON object per line: exactly
    ``Finding.model_dump(mode="json")`` with keys sorted, UTF-8, ending in ``\\n``.

    - The file is opened (created if missing, appended to if not) when the sink is made; its directory
      must exist (a missing one is a :class:`~hrguard.errors.MissingFileError`, never created).
    - Every :meth:`write` is one ``write`` of all its lines, then ``flush`` and ``os.fsync``: when
      :meth:`write` returns, the findings are on disk. A crash can cut only the last line of a write; if
      the file does not end with ``\\n`` when it is opened again, a ``\\n`` is added first, so the cut
      line stays alone and every later line is whole.
    - Threads may share one sink (a lock keeps each write's lines together). The file is append-only, so
      a finding written twice (a re-run, a restarted stream) is two lines: de-duplicate by ``id`` when
      reading, or use :class:`SqliteSink`, which upserts.
    """

    def __init__(self, path: Any, *, min_severity: Severity | str = "info") -> None:
        super().__init__(min_severity=min_severity)
        where = check_file(path, "a JSON Lines file")
        self.path = str(where)
        self._lock = threading.Lock()
        self._fh = open(where, "ab")  # noqa: SIM115 - held until close()
        try:
            if self._fh.tell() > 0:
                with open(where, "rb") as fh:
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        self._fh.write(b"\n")
                        self._sync()
        except BaseException:
            self._fh.close()
            raise

    def __repr__(self) -> str:
        return f"JsonlSink({self.path!r}, min_severity={self._min.value!r})"

    def _sync(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def emit(self, findings: list[Finding]) -> None:
        data = b"".join(finding_line(f) for f in findings)
        with self._lock:
            if self._closed:  # closed by another thread since write() looked
                raise HrguardError(f"{self!r} is closed")
            self._fh.write(data)
            self._sync()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                super().close()
                self._fh.close()
