"""The ruleset format as pydantic models (also its JSON Schema), and the loaded form: :class:`Rule`, :class:`Ruleset`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import UnknownNameError
from ..events import Timestamp
from ..findings import Severity
from ..sdk import Duration

if TYPE_CHECKING:  # pragma: no cover
    from ..engine import Engine
    from ..sdk import Detector, DetectorParams

FORMAT_VERSION = 1


# -- the file format, as pydantic models (also the JSON Schema) --------------------------------------
class Scope(BaseModel):
    """Who a rule applies to: an employee matches when every non-empty list contains them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    roles: list[str] = Field(default_factory=list)
    departments: list[str] = Field(default_factory=list)
    employees: list[str] = Field(default_factory=list)


class RuleException(BaseModel):
    """Suppress matching findings (they are counted and listable, never silently dropped)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    employees: list[str] | None = None
    customers: list[str] | None = None
    until: date | None = Field(default=None, description="last local date the exception covers (inclusive)")
    reason: str = Field(min_length=1, description="why: shown on every suppressed finding")


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    use: str = Field(description="detector id, built in or from a plugin")
    name: str | None = Field(default=None, description="instance name, unique in the ruleset (default: the detector id)")
    severity: Severity | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    scope: Scope = Field(default_factory=Scope)
    exceptions: list[RuleException] = Field(default_factory=list)


DEFAULT_IDS_HORIZON = "400d"


class Horizons(BaseModel):
    """How long a stream remembers what a later event could still need (the rules' own horizons are
    their params: ``docs/streaming.md``, "Memory and horizons")."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ids: Duration | None = Field(
        default=DEFAULT_IDS_HORIZON, validate_default=True,
        description="a stream remembers the ids of released events this long after their time, to reject a repeated "
                    "id; a record repeating an id older than that is taken as a new event. null: forever")


class FindingMatch(BaseModel):
    """Findings a test forbids (``expect_not``): of rule ``rule``, and every other key given must match."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rule: str = Field(min_length=1, description="the rule's name in the ruleset (a finding's name; default the detector id)")
    employee_id: str | None = Field(default=None, description="the finding's employee")
    customer_id: str | None = Field(default=None, description="the finding's customer")
    severity: Severity | None = Field(default=None, description="the finding's severity")
    reason: str | None = Field(default=None, description="the finding's details.reason")
    evidence: list[str] | None = Field(default=None, description="event ids the finding cites (it may cite others too)")
    ts: Timestamp | None = Field(default=None, description="the finding's time (RFC 3339 with an offset)")


class ExpectedFinding(FindingMatch):
    """Findings a test requires (``expect``): at least one matches, or exactly ``count``."""

    count: int | None = Field(default=None, ge=1, description="exactly this many findings match (default: at least one)")


class RulesetTestSpec(BaseModel):
    """One test of a ruleset: events, and the findings the ruleset must and must not make of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, description="the test's name, unique among the ruleset's tests")
    description: str | None = None
    as_of: Timestamp | None = Field(default=None, description="scan as of this time (default: the latest event's ts)")
    events: list[dict[str, Any]] = Field(default_factory=list, description="the events, as in a JSON Lines file")
    expect: list[ExpectedFinding] = Field(default_factory=list, description="findings that must appear")
    expect_not: list[FindingMatch] = Field(default_factory=list, description="findings that must not appear")
    no_findings_of: list[str] = Field(default_factory=list, description="rule names that must make no finding at all")


class RulesetTestsFile(BaseModel):
    """A file of tests a ruleset names with ``tests: path``."""

    model_config = ConfigDict(extra="forbid", title="hrguard ruleset tests")
    tests: list[RulesetTestSpec] = Field(default_factory=list)


class RulesetFile(BaseModel):
    model_config = ConfigDict(extra="forbid", title="hrguard ruleset")
    version: Literal[1] = Field(default=FORMAT_VERSION, description="ruleset format version")
    ruleset: str | None = Field(default=None, description="the ruleset's name")
    description: str | None = None
    language: Literal["en", "zh"] | None = Field(default=None, description="message language (default en)")
    timezone: str | None = Field(default=None, description="IANA zone for local dates and HH:MM times (default UTC)")
    extends: list[str] | str = Field(default_factory=list, description="other rulesets: relative paths or bundled names")
    horizons: Horizons | None = Field(default=None, description="how long a stream remembers ids (default: ids 400d)")
    rules: list[RuleSpec] = Field(default_factory=list)
    tests: list[RulesetTestSpec] | str = Field(
        default_factory=list, description="tests of this ruleset's rules, or the path of a YAML file holding them "
                                          "(relative to this file): docs/rulesets.md, Tests")


def ruleset_json_schema(engine: Engine | None = None) -> dict[str, Any]:
    """JSON Schema of the ruleset format; with an engine, ``use`` and ``params`` are checked per detector."""
    schema = RulesetFile.model_json_schema()
    if engine is not None:
        variants = []
        for det_id, reg in sorted(engine.registry.detectors.items()):
            pschema = reg.obj.Params.model_json_schema()
            variants.append({
                "if": {"properties": {"use": {"const": det_id}}},
                "then": {"properties": {"params": pschema}},
            })
        rule = schema["$defs"]["RuleSpec"]
        rule["properties"]["use"]["enum"] = sorted(engine.registry.detectors)
        rule["allOf"] = variants
    return schema


# -- the loaded form ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """One rule instance: a detector with validated params, severity, scope and exceptions."""

    name: str
    detector: type[Detector]
    params: DetectorParams
    severity: Severity
    scope: Scope = Scope()
    exceptions: tuple[RuleException, ...] = ()

    @property
    def use(self) -> str:
        return self.detector.id


@dataclass(frozen=True)
class RulesetTest:
    """A loaded test of a ruleset: its spec, its events (valid), where it is written, and whose it is."""

    spec: RulesetTestSpec
    ruleset: str  # the name of the ruleset that defines it
    file: str
    line: int | None
    column: int | None
    #: where each expectation is written: ``("expect", i)``, ``("expect_not", i)``, ``("no_findings_of", i)`` -> (line, col)
    places: dict[tuple[str, int], tuple[int | None, int | None]] = field(default_factory=dict, compare=False)
    inherited: bool = False  # defined by a ruleset this one extends

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def where(self) -> str:
        return ":".join(str(x) for x in (self.file, self.line, self.column) if x is not None)

    def place(self, key: str, i: int) -> str:
        """``file:line:col`` of expectation ``i`` of ``key`` (the test's own place when unknown)."""
        line, col = self.places.get((key, i), (self.line, self.column))
        return ":".join(str(x) for x in (self.file, line, col) if x is not None)


@dataclass(frozen=True)
class Ruleset:
    """A loaded, validated ruleset bound to the engine whose detectors it uses."""

    name: str
    language: str
    timezone: str
    rules: tuple[Rule, ...]
    source: str
    engine: Engine = field(repr=False, compare=False)
    horizons: Horizons = Horizons()
    #: the ruleset's tests: its own, then (``inherited``) those of the rulesets it extends; ``None`` when it was
    #: loaded without ``tests=True`` (a scan does not read them)
    tests: tuple[RulesetTest, ...] | None = field(default=None, repr=False, compare=False)

    def rule(self, name: str) -> Rule:
        for r in self.rules:
            if r.name == name:
                return r
        raise UnknownNameError("name", self._no_rule(name))

    def _no_rule(self, name: str) -> str:
        return f"no rule named {name!r} in ruleset {self.name!r} (its rules: {', '.join(r.name for r in self.rules)})"

    def with_params(self, name: str, **params: Any) -> Ruleset:
        """A copy with rule ``name``'s params changed (validated), e.g. for a parameter sweep."""
        from dataclasses import replace

        rules = []
        for r in self.rules:
            if r.name == name:
                merged = {**r.params.model_dump(mode="json"), **params}  # durations as "30m" again
                r = replace(r, params=r.detector.Params.model_validate(merged))
            rules.append(r)
        if not any(r.name == name for r in self.rules):
            raise UnknownNameError("name", self._no_rule(name))
        return replace(self, rules=tuple(rules))
