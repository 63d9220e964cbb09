"""Checkpoints: durable, atomic, versioned, integrity-checked storage of a state dict.

A checkpoint is a state dict (nested dicts of numpy arrays and JSON values: what
:func:`hrguard.sdk.state.dumps_state` accepts, what ``state_dict()`` returns) saved under a *key* (one
per stream, or per tenant) with a *fingerprint* of the ruleset and plugins it was built under
(:func:`fingerprint`). Loading gives back the newest checkpoint of a key, after checking its format
version, its sha256 and its fingerprint; a checkpoint that fails any check is a
:class:`~hrguard.errors.StateError`, never a wrong state. Nothing is pickled.

- :class:`SqliteCheckpoints`: one SQLite table, each save one transaction (the default).
- :class:`FileCheckpoints`: one file per checkpoint, written to a temporary file and renamed.

Both keep the last ``keep`` checkpoints of each key (default 2). See docs/sinks-and-checkpoints.md.
"""

from __future__ import annotations

from ..rules import fingerprint
from ._common import FORMAT_VERSION, KEY_PATTERN, READABLE_VERSIONS
from ._files import FileCheckpoints
from ._sqlite import SqliteCheckpoints

__all__ = [
    "FORMAT_VERSION",
    "KEY_PATTERN",
    "READABLE_VERSIONS",
    "FileCheckpoints",
    "SqliteCheckpoints",
    "fingerprint",
]
