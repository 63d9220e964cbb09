"""Sinks: where findings go — a callback, a JSON Lines file, an SQLite table upserted by finding id.

Every sink takes ``min_severity`` (default ``"info"``: every finding is written) and is used the same
way: ``sink.write(findings)`` with what ``scan`` or ``Stream.push``/``advance_to`` gave, ``sink.close()``
at the end, or ``with sink: ...``. Subclass :class:`Sink` (implement ``emit``) for a sink of your own.
See docs/sinks-and-checkpoints.md.
"""

from __future__ import annotations

from ._base import CallbackSink, Sink
from ._jsonl import JsonlSink
from ._sqlite import TABLE_PATTERN, SqliteSink

__all__ = [
    "TABLE_PATTERN",
    "CallbackSink",
    "JsonlSink",
    "Sink",
    "SqliteSink",
]
