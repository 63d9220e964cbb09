"""The sink interface: where findings go, with a severity filter; and the simplest sink, a callback."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ArgumentTypeError, HrguardError, InvalidArgumentError, MissingFileError
from ..findings import Finding, Severity

_SEVERITIES = ", ".join(s.value for s in Severity)


def check_severity(value: Any, argument: str = "min_severity") -> Severity:
    if isinstance(value, Severity):
        return value
    if not isinstance(value, str):
        raise ArgumentTypeError(argument, f"expected a Severity or one of {_SEVERITIES}, got {type(value).__name__}")
    try:
        return Severity(value.strip().lower())
    except ValueError:
        raise InvalidArgumentError(argument, f"{value!r} is not a severity: expected one of {_SEVERITIES}") from None


def check_file(path: Any, what: str) -> Path:
    """A path whose directory exists (the file itself may not): a missing directory is never created."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError("path", f"expected a str or os.PathLike path, got {type(path).__name__}")
    where = Path(path)
    if where.is_dir():
        raise InvalidArgumentError("path", f"{where} is a directory, not {what}")
    if not where.parent.is_dir():
        raise MissingFileError(f"{what} {where}: its directory {where.parent} does not exist (it is never created)")
    return where


class Sink(ABC):
    """Where findings go: :meth:`write` a batch, :meth:`close` at the end, or use ``with sink: ...``.

    ``min_severity`` (a :class:`~hrguard.Severity` or its name, default ``"info"``: every finding) drops
    findings below it before they are written. A sink of your own subclasses this and implements
    :meth:`emit`, which receives the kept findings of one :meth:`write` (never an empty list); override
    :meth:`close` to release what it holds (and call ``super().close()``).
    """

    def __init__(self, *, min_severity: Severity | str = "info") -> None:
        self._min = check_severity(min_severity)
        self._closed = False

    @property
    def min_severity(self) -> Severity:
        return self._min

    @property
    def closed(self) -> bool:
        return self._closed

    def keep(self, findings: Iterable[Finding]) -> list[Finding]:
        """The findings at or above ``min_severity``, in the order given (each checked to be a Finding)."""
        if isinstance(findings, (Finding, str, bytes, Mapping)) or not isinstance(findings, Iterable):
            raise ArgumentTypeError("findings", f"expected a sequence of Finding, got {type(findings).__name__}"
                                    + (" (write([finding]) for one)" if isinstance(findings, Finding) else ""))
        kept = []
        floor = self._min.rank
        for i, f in enumerate(findings):
            if not isinstance(f, Finding):
                raise ArgumentTypeError(f"findings[{i}]", f"expected a Finding, got {type(f).__name__}")
            if f.severity.rank >= floor:
                kept.append(f)
        return kept

    def write(self, findings: Iterable[Finding]) -> None:
        """Write ``findings`` (a list, a ``ScanResult.findings``, what ``Stream.push`` returned) at or above
        ``min_severity``; nothing happens when none is. Writing to a closed sink is an
        :class:`~hrguard.errors.HrguardError`."""
        if self._closed:
            raise HrguardError(f"{self!r} is closed")
        kept = self.keep(findings)
        if kept:
            self.emit(kept)

    @abstractmethod
    def emit(self, findings: list[Finding]) -> None:
        """Write the kept findings of one :meth:`write` (at least one)."""

    def close(self) -> None:
        """Release what the sink holds; idempotent. A closed sink refuses writes."""
        self._closed = True

    def __enter__(self):  # noqa: ANN204 - the sink itself
        if self._closed:
            raise HrguardError(f"{self!r} is closed")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CallbackSink(Sink):
    """Calls ``fn(findings)`` once per :meth:`write` with the kept findings, as a new list (not called when
    none is kept). Whatever ``fn`` raises reaches the caller of :meth:`write` unchanged."""

    def __init__(self, fn: Callable[[list[Finding]], Any], *, min_severity: Severity | str = "info") -> None:
        if not callable(fn):
            raise ArgumentTypeError("fn", f"expected a callable taking a list of findings, got {type(fn).__name__}")
        super().__init__(min_severity=min_severity)
        self.fn = fn

    def __repr__(self) -> str:
        return f"CallbackSink({getattr(self.fn, '__qualname__', self.fn)!r}, min_severity={self._min.value!r})"

    def emit(self, findings: list[Finding]) -> None:
        self.fn(findings)
