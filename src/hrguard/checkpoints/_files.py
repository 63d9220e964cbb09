"""Checkpoints as plain files in one directory, for hosts without SQLite.

One checkpoint is one file ``{key}.{seq:012d}.ckpt``::

    hrguard-checkpoint 1\\n                      the format version, alone on the first line
    {"key": ..., "seq": ..., "fingerprint": ..., "sha256": ..., "size": ..., "created_at": ...}\\n
    <payload: the dumps_state bytes>

It is written to a temporary file in the same directory, fsynced, renamed over its name with
``os.replace`` (atomic on POSIX and Windows) and the directory fsynced: a reader sees the whole
file or none of it, and a process killed mid-save leaves the previous checkpoint and, at worst, a
``.tmp`` file that the next save of the key removes. Older checkpoints are deleted after the rename
(deleting them first could leave none), so a process killed between the two leaves one checkpoint more
than ``keep`` until the key's next save.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError, MissingFileError, StateError
from ._common import (
    FORMAT_VERSION,
    KEY_PATTERN,
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

_NAME = re.compile(rf"({KEY_PATTERN})\.(\d{{12}})\.ckpt\Z")
_TEMP = re.compile(rf"\.({KEY_PATTERN})\.\d{{12}}\.[0-9a-f]{{32}}\.tmp\Z")
_MAGIC = b"hrguard-checkpoint "
_MAX_HEADER = 4096


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":  # pragma: no cover - Windows cannot open a directory; os.replace is durable there
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileCheckpoints(Closable):
    """The :class:`SqliteCheckpoints` API on plain files in ``directory`` (which must exist).

    Keys are compared ignoring case when saving (``Acme`` is refused while ``acme`` has checkpoints), so a
    directory moves safely to a case-insensitive file system. One writer per key; threads share one object
    safely.
    """

    def __init__(self, directory: Any, *, keep: int = 2) -> None:
        where = check_path(directory, "directory")
        self._keep = check_keep(keep)
        if not where.exists():
            raise MissingFileError(f"checkpoint directory {where} does not exist")
        if not where.is_dir():
            raise InvalidArgumentError("directory", f"{where} is not a directory")
        self.directory = where
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FileCheckpoints({str(self.directory)!r})"

    def _files(self, temps: list[tuple[str, Path]] | None = None) -> dict[str, dict[int, Path]]:
        """``{key: {seq: path}}`` of every checkpoint file in the directory (and its temporary files in ``temps``)."""
        out: dict[str, dict[int, Path]] = {}
        for entry in os.scandir(self.directory):
            m = _NAME.match(entry.name)
            if m and entry.is_file():
                out.setdefault(m.group(1), {})[int(m.group(2))] = Path(entry.path)
            elif temps is not None and (t := _TEMP.match(entry.name)):
                temps.append((t.group(1), Path(entry.path)))
        return out

    def save(self, key: str, state: Mapping[str, Any], *, fingerprint: str) -> int:
        """Save ``state`` as the newest checkpoint of ``key``; returns its sequence number (1, 2, ... per key)."""
        self._check_open()
        key = check_key(key)
        fingerprint = check_fingerprint(fingerprint)
        payload, sha256 = encode(key, state)
        with self._lock:
            self._check_open()
            temps: list[tuple[str, Path]] = []
            files = self._files(temps)
            for other in files:
                if other != key and other.casefold() == key.casefold():
                    raise InvalidArgumentError("key", f"{key!r} differs only by case from {other!r}, which has "
                                                      f"checkpoints in {self.directory}: on a case-insensitive file "
                                                      "system they would be one file")
            mine = files.get(key, {})
            seq = max(mine, default=0) + 1
            header = json.dumps({"key": key, "seq": seq, "fingerprint": fingerprint, "sha256": sha256,
                                 "size": len(payload), "created_at": now()}, sort_keys=True).encode()
            for owner, stale in temps:  # left by a save of this key that was killed
                if owner == key:
                    stale.unlink(missing_ok=True)
            final = self.directory / f"{key}.{seq:012d}.ckpt"
            temp = self.directory / f".{key}.{seq:012d}.{uuid.uuid4().hex}.tmp"
            try:
                with open(temp, "xb") as fh:
                    fh.write(_MAGIC + str(FORMAT_VERSION).encode() + b"\n" + header + b"\n")
                    fh.write(payload)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(temp, final)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
            _fsync_directory(self.directory)
            for old, path in mine.items():
                if old <= seq - self._keep:
                    path.unlink(missing_ok=True)
        return seq

    def load(self, key: str, *, fingerprint: str, seq: int | None = None) -> tuple[int, dict[str, Any]] | None:
        """``(seq, state)`` of the newest checkpoint of ``key`` (or of checkpoint ``seq``), or None when there is
        none; the checks and errors of :meth:`SqliteCheckpoints.load`."""
        self._check_open()
        key = check_key(key)
        fingerprint = check_fingerprint(fingerprint)
        seq = check_seq(seq)
        with self._lock:
            mine = self._files().get(key, {})
            found = max(mine, default=None) if seq is None else (seq if seq in mine else None)
            if found is None:
                return None
            try:
                data = mine[found].read_bytes()
            except FileNotFoundError:  # pragma: no cover - deleted by another process just now
                return None
        where = str(mine[found])
        version, header, payload = self._parse(key, found, data, where)
        if version == FORMAT_VERSION and (header.get("key") != key or header.get("seq") != found):
            raise StateError(f"corrupt checkpoint: {where} says it is key {header.get('key')!r} "
                             f"#{header.get('seq')!r}, not {key!r} #{found}")
        if version == FORMAT_VERSION and header.get("size") != len(payload):
            raise StateError(f"corrupt checkpoint: key {key!r} #{found} in {where}: {len(payload):,} bytes of "
                             f"payload, {header.get('size')!r} expected (truncated?)")
        return found, verify(key, found, version, header.get("fingerprint"), header.get("sha256"), payload,
                             fingerprint, where)

    @staticmethod
    def _parse(key: str, seq: int, data: bytes, where: str) -> tuple[Any, dict[str, Any], bytes]:
        """(format version, header, payload) of a checkpoint file's bytes."""
        first, _, rest = data.partition(b"\n")
        if not first.startswith(_MAGIC):
            raise StateError(f"corrupt checkpoint: key {key!r} #{seq}: {where} is not an hrguard checkpoint file")
        try:
            version: Any = int(first[len(_MAGIC):])
        except ValueError:
            version = first[len(_MAGIC):].decode("utf-8", "replace")
        if version != FORMAT_VERSION:
            return version, {"fingerprint": None}, b""  # verify() refuses it, naming the version
        line, newline, payload = rest.partition(b"\n")
        unreadable = f"corrupt checkpoint: key {key!r} #{seq} in {where}: unreadable header"
        if not newline or len(line) > _MAX_HEADER:
            raise StateError(f"{unreadable} (no header line)")
        try:
            header = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            raise StateError(f"{unreadable} ({exc})") from exc
        if not isinstance(header, dict):
            raise StateError(f"{unreadable} (not a JSON object)")
        return version, header, payload

    def seqs(self, key: str) -> list[int]:
        """The sequence numbers of the checkpoints kept for ``key``, oldest first."""
        self._check_open()
        key = check_key(key)
        with self._lock:
            return sorted(self._files().get(key, {}))

    def keys(self) -> list[str]:
        """Every key with a checkpoint, sorted."""
        self._check_open()
        with self._lock:
            return sorted(self._files())

    def delete(self, key: str) -> int:
        """Delete every checkpoint of ``key``; returns how many there were (0 for an unknown key)."""
        self._check_open()
        key = check_key(key)
        with self._lock:
            mine = self._files().get(key, {})
            for path in mine.values():
                path.unlink(missing_ok=True)
            if mine:
                _fsync_directory(self.directory)
            return len(mine)

    def close(self) -> None:
        """Nothing stays open between calls; closing only refuses further use (idempotent)."""
        self._closed = True
