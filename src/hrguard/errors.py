"""The one exception tree of hrguard; every error carries the context a user needs to fix it.

    HrguardError                    every error hrguard raises on purpose
    ├── InvalidArgumentError        (also ValueError) a value given to a function, a command-line option
    │   │                           or a parameter that hrguard cannot accept; names the argument
    │   ├── ArgumentTypeError       (also TypeError) ... because it is of a type that is never accepted
    │   │   └── UnsupportedInputError   events of a type a scan or stream cannot read (a dict, a LazyFrame);
    │   │                           names the type and what to pass instead
    │   └── UnknownNameError        (also KeyError) a name that is not there (a rule, a check, a parameter)
    ├── UnknownFieldError           (also AttributeError) a field an event's kind does not have (ev.nope)
    ├── MissingFileError            (also FileNotFoundError) a file hrguard was pointed at is not there
    ├── UsageError                  a command line that cannot run (exit 2): a bad option, a missing file
    ├── RulesetError                a ruleset that cannot be loaded (carries every located problem)
    │   └── PipelineError           a mapping pipeline that cannot be loaded (the same, for a pipeline)
    ├── RulesetMismatchError        a shipped ruleset this process would not run the same way (another
    │                               hrguard, plugin, numpy or scikit-learn version); names what differs
    ├── InvalidEventError           a rejected input record in strict mode (carries the Rejection)
    │   └── LateEventError          a streamed event behind the watermark
    ├── FieldError                  (also ValueError) one field of a record is invalid (inside validation;
    │                               becomes a Rejection naming the field)
    ├── PluginError                 a plugin that failed to load or broke a registration rule
    ├── DetectorError               a detector that raised while judging events
    ├── ModelFileError              (also ValueError) a saved outlier model that cannot be used
    ├── StateError                  (also ValueError) a detector state that cannot be saved, or a saved
    │                               state that does not fit the detector it is loaded into
    ├── ConformanceError            (also AssertionError) a detector failed the conformance kit
    └── MissingExtraError           (also ImportError) an optional dependency is not installed

Where an error is also a built-in exception (``ValueError``, ``TypeError``, ``KeyError``...), code that
catches the built-in one keeps working; ``except HrguardError`` catches every one of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .ingest import Rejection


class HrguardError(Exception):
    """Base class of every error hrguard raises on purpose."""


class InvalidArgumentError(HrguardError, ValueError):
    """A value hrguard cannot accept: ``argument`` names where it was given, ``reason`` says what is wrong.

    ``str(error)`` is ``"{argument}: {reason}"`` (just the reason when no argument is named).
    """

    def __init__(self, argument: str | None, reason: str):
        self.argument = argument
        self.reason = reason
        super().__init__(f"{argument}: {reason}" if argument else reason)


class ArgumentTypeError(InvalidArgumentError, TypeError):
    """A value of a type the argument never accepts (a list where a time is expected)."""


class UnsupportedInputError(ArgumentTypeError):
    """Events given as an object hrguard cannot read as records: a single dict, bytes, a table type it does
    not know (a polars ``LazyFrame``, a pandas ``Series``), something not iterable. The message names the
    object's type and what to pass instead; nothing was read."""

    def __init__(self, obj: object, hint: str, argument: str = "events"):
        t = type(obj)
        self.type_name = f"{t.__module__}.{t.__qualname__}"
        super().__init__(argument, f"cannot read a {t.__name__} ({self.type_name}) as events: {hint}")


class UnknownNameError(InvalidArgumentError, KeyError):
    """A name that is not there: a rule of a ruleset, a conformance check, a detector's parameter."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0] if self.args else ""


class UnknownFieldError(HrguardError, AttributeError):
    """A field an event's kind does not have, read from an :class:`~hrguard.EventView` (``ev.nope``); an
    ``AttributeError``, so ``getattr(ev, name, default)`` and ``hasattr`` work."""


class MissingFileError(HrguardError, FileNotFoundError):
    """A file hrguard was pointed at (labels, a dataset's file) is not there; the message names it."""


class UsageError(HrguardError):
    """A command line that cannot run: reported on stderr, exit 2.

    ``usage`` is the usage text to print before it (argparse's own errors: a bad option or value), and
    ``prog`` the command it belongs to (``hrguard scan``); without ``usage`` the message is printed as
    ``hrguard: {message}`` (a missing events file, a folder that cannot be written).
    """

    def __init__(self, message: str, *, prog: str = "hrguard", usage: str | None = None):
        self.prog = prog
        self.usage = usage
        super().__init__(message)


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


class PipelineError(RulesetError):
    """A mapping pipeline failed to load; ``problems`` lists every located problem found. A kind of
    :class:`RulesetError` (pipelines are validated data like rulesets), so code that reports one reports both."""


class RulesetMismatchError(HrguardError):
    """A shipped ruleset (:func:`hrguard.ship_ruleset`) whose fingerprint differs from the one this process
    computes for it: another hrguard, plugin, numpy or scikit-learn version here than where it was shipped
    from. ``expected`` and ``found`` are the two fingerprints, ``differences`` lists each differing entry
    as ``"path: shipped value != value here"``; nothing was scanned."""

    def __init__(self, expected: str, found: str, differences: list[str]):
        self.expected = expected
        self.found = found
        self.differences = list(differences)
        shown = "; ".join(self.differences[:6]) + (f"; and {len(self.differences) - 6} more"
                                                   if len(self.differences) > 6 else "")
        super().__init__(f"the shipped ruleset (fingerprint {expected[:12]}) would not run the same here "
                         f"(fingerprint {found[:12]}): {shown or 'the content differs'}; install the same "
                         f"versions on every executor as on the driver")


class InvalidEventError(HrguardError):
    """A record was rejected while strict mode was on."""

    def __init__(self, rejection: Rejection):
        self.rejection = rejection
        super().__init__(str(rejection))


class LateEventError(InvalidEventError):
    """A streamed event arrived behind the stream's watermark (strict mode)."""


class FieldError(HrguardError, ValueError):
    """A validation problem of one named field, raised from a model-level check.

    Pydantic reports model-level checks at the record as a whole; ingest reads ``field`` from this
    error so the rejection still names the field at fault. A mapping pipeline raises it for the source
    field it cannot map (``field`` empty when no one field is at fault).
    """

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class PluginError(HrguardError):
    """A plugin failed to import, raised inside a hook, or broke a registration rule."""


class DetectorError(HrguardError):
    """A detector raised while judging events; carries the rule instance name."""

    def __init__(self, rule: str, detector: str, cause: BaseException):
        self.rule = rule
        self.detector = detector
        self.cause = cause
        super().__init__(f"rule {rule!r} (detector {detector}) raised {type(cause).__name__}: {cause}")


class ModelFileError(HrguardError, ValueError):
    """A saved model file that cannot be used: unreadable, not a model, changed after saving, or malformed."""

    def __init__(self, path: str | os.PathLike[str], problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class StateError(HrguardError, ValueError):
    """A detector's state that cannot be saved (an attribute holding something not saveable), or a saved
    state that does not fit what it is loaded into (missing, unknown or malformed entries)."""


class ConformanceError(HrguardError, AssertionError):
    """A detector failed conformance checks; ``failures`` maps each failed check's name to why."""

    def __init__(self, detector_id: str, failures: Mapping[str, str], ran: int):
        self.detector_id = detector_id
        self.failures = dict(failures)
        lines = [f"{detector_id} failed {len(self.failures)} of {ran} conformance checks:"]
        lines += [f"- {name}: {why}" for name, why in self.failures.items()]
        super().__init__("\n".join(lines))


class MissingExtraError(HrguardError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str):
        super().__init__(f"{package} is not installed: pip install 'hrguard[{extra}]'")
