"""The one exception tree of hrguard; every error carries the context a user needs to fix it.

    HrguardError
    ├── RulesetError            a ruleset that cannot be loaded (carries every located problem)
    ├── InvalidEventError       a rejected input record in strict mode (carries the Rejection)
    ├── LateEventError          (subclass of InvalidEventError) a streamed event behind the watermark
    ├── PluginError             a plugin that failed to load or broke a registration rule
    ├── DetectorError           a detector that raised while judging events
    └── MissingExtraError       an optional dependency is not installed (names the extra)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .ingest import Rejection


class HrguardError(Exception):
    """Base class of every error hrguard raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One located problem in a ruleset file: ``file:line:col: message``."""

    file: str
    line: int | None
    column: int | None
    message: str
    rule: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        rule = f" [rule {self.rule}]" if self.rule else ""
        return f"{where}:{rule} {self.message}"


class RulesetError(HrguardError):
    """A ruleset failed to load; ``problems`` lists every located problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class InvalidEventError(HrguardError):
    """A record was rejected while strict mode was on."""

    def __init__(self, rejection: Rejection):
        self.rejection = rejection
        super().__init__(str(rejection))


class LateEventError(InvalidEventError):
    """A streamed event arrived behind the stream's watermark (strict mode)."""


class PluginError(HrguardError):
    """A plugin failed to import, raised inside a hook, or broke a registration rule."""


class DetectorError(HrguardError):
    """A detector raised while judging events; carries the rule instance name."""

    def __init__(self, rule: str, detector: str, cause: BaseException):
        self.rule = rule
        self.detector = detector
        self.cause = cause
        super().__init__(f"rule {rule!r} (detector {detector}) raised {type(cause).__name__}: {cause}")


class MissingExtraError(HrguardError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str):
        super().__init__(f"{package} is not installed: pip install 'hrguard[{extra}]'")
