"""What both checkpoint stores share: the format, the checks of their arguments, and verifying a loaded one."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import ArgumentTypeError, HrguardError, InvalidArgumentError, StateError
from ..sdk.state import MAX_STATE_BYTES, dumps_state, loads_state

FORMAT_VERSION = 1
"""The checkpoint format this hrguard writes: the :func:`~hrguard.sdk.state.dumps_state` bytes of the state,
with their sha256 and the fingerprint they were saved under."""

READABLE_VERSIONS = frozenset({1})
"""The checkpoint formats this hrguard reads."""

KEY_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
"""A checkpoint key: 1 to 128 of ``A-Z a-z 0-9 . _ -``, starting with a letter or digit (it is part of a file
name in :class:`FileCheckpoints`; ``tenant-acme.main`` is fine, ``../x`` or ``a/b`` are not)."""

_KEY = re.compile(KEY_PATTERN + r"\Z")
MAX_FINGERPRINT = 256


def check_key(key: Any, argument: str = "key") -> str:
    if not isinstance(key, str):
        raise ArgumentTypeError(argument, f"expected a str, got {type(key).__name__}")
    if not _KEY.match(key) or ".." in key:
        raise InvalidArgumentError(argument, f"{key!r} is not a checkpoint key: 1 to 128 of A-Z a-z 0-9 . _ -, "
                                             "starting with a letter or digit, without '..'")
    return key


def check_fingerprint(fingerprint: Any) -> str:
    if not isinstance(fingerprint, str):
        raise ArgumentTypeError("fingerprint", f"expected a str (hrguard.rules.fingerprint(ruleset)), "
                                               f"got {type(fingerprint).__name__}")
    if not fingerprint or len(fingerprint) > MAX_FINGERPRINT or not fingerprint.isprintable():
        raise InvalidArgumentError("fingerprint", f"expected 1 to {MAX_FINGERPRINT} printable characters "
                                                  f"(hrguard.rules.fingerprint(ruleset)), got {fingerprint!r}")
    return fingerprint


def check_keep(keep: Any) -> int:
    if isinstance(keep, bool) or not isinstance(keep, int):
        raise ArgumentTypeError("keep", f"expected an int, got {type(keep).__name__}")
    if keep < 1:
        raise InvalidArgumentError("keep", f"expected at least 1 checkpoint kept per key, got {keep}")
    return keep


def check_seq(seq: Any) -> int | None:
    if seq is None:
        return None
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise ArgumentTypeError("seq", f"expected an int or None, got {type(seq).__name__}")
    if seq < 1:
        raise InvalidArgumentError("seq", f"sequence numbers start at 1, got {seq}")
    return seq


def check_path(path: Any, argument: str) -> Path:
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(argument, f"expected a str or os.PathLike path, got {type(path).__name__}")
    return Path(path)


def encode(key: str, state: Any) -> tuple[bytes, str]:
    """The payload of a checkpoint (``dumps_state`` bytes) and its sha256."""
    if not isinstance(state, Mapping):
        raise ArgumentTypeError("state", f"expected a state dict (a Mapping of arrays and JSON values), "
                                         f"got {type(state).__name__}")
    try:
        payload = dumps_state(state)
    except StateError as exc:
        raise StateError(f"checkpoint {key!r} not saved: {exc}") from exc
    if len(payload) > MAX_STATE_BYTES:
        raise StateError(f"checkpoint {key!r} not saved: its state is {len(payload):,} bytes, over the limit of "
                         f"{MAX_STATE_BYTES:,} (hrguard.sdk.state.MAX_STATE_BYTES)")
    return payload, hashlib.sha256(payload).hexdigest()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def verify(key: str, seq: int, version: Any, saved_under: Any, sha256: Any, payload: Any,
           fingerprint: str, where: str) -> dict[str, Any]:
    """The state of a stored checkpoint, after every check: format, integrity, fingerprint, content."""
    if version not in READABLE_VERSIONS:
        readable = ", ".join(str(v) for v in sorted(READABLE_VERSIONS))
        raise StateError(f"checkpoint {key!r} #{seq} in {where} has format version {version!r}; this hrguard reads "
                         f"version {readable} (it was written by another hrguard: restore with that one, or replay)")
    if not isinstance(payload, bytes) or not isinstance(sha256, str) or hashlib.sha256(payload).hexdigest() != sha256:
        raise StateError(f"corrupt checkpoint: key {key!r} #{seq} in {where}: its payload does not match the sha256 "
                         f"saved with it (load an earlier one with seq=..., or delete the key and replay)")
    if saved_under != fingerprint:
        raise StateError(f"checkpoint {key!r} #{seq} in {where} was saved under fingerprint {saved_under!r}, "
                         f"not {fingerprint!r}: the ruleset or plugins changed since the checkpoint, and a state "
                         "built under other rules is never restored (replay the events into a fresh stream)")
    try:
        return loads_state(payload)
    except StateError as exc:
        raise StateError(f"corrupt checkpoint: key {key!r} #{seq} in {where}: {exc}") from exc


class Closable:
    """``with store: ...`` closes the store; using a closed store is an :class:`~hrguard.errors.HrguardError`."""

    _closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise HrguardError(f"{self!r} is closed")

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:  # pragma: no cover - every store overrides it
        self._closed = True

    def __enter__(self):  # noqa: ANN204 - returns the store itself
        self._check_open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
