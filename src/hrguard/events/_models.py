"""The event vocabulary of ``spec/events.md`` as pydantic models, one per kind, keyed on ``kind``.

Unknown top-level fields are moved into ``attrs`` (never dropped, never an error). Plugins add kinds
by registering more subclasses of :class:`Event` through the ``hrguard_register_event_kinds`` hook.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ..errors import FieldError


def _refuse_numbers(what: str, example: str) -> BeforeValidator:
    """A pre-check refusing JSON numbers and booleans where the spec wants a string form (pydantic would
    take epoch seconds)."""

    def check(v: Any) -> Any:
        if isinstance(v, (bool, int, float, Decimal)):
            raise ValueError(f"expected {what} as a string, e.g. {example}, got the number {v}")
        return v

    return BeforeValidator(check)


def _no_bool(v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError(f"expected a number, got {str(v).lower()}")
    return v


_timestamp_text = _refuse_numbers("an RFC 3339 timestamp", "'2026-03-30T09:12:00+08:00'")

MAX_DEPTH = 64
"""The deepest nesting of a value kept in ``attrs`` (an explicit ``attrs`` value or an unknown field):
``[[1]]`` is 2 levels. Deeper values are rejected, located at the field (see ``docs/events.md``, Limits)."""
MAX_MONEY = 10**15
"""Money is below this (one quadrillion): a larger amount is rejected, located at the field. Features made
of amounts stay finite in float32 (whose largest value is about 3.4e38) and every amount is exact in a
float64 column."""
_MIN_TS = datetime(1, 1, 2, tzinfo=timezone.utc)
_MAX_TS = datetime(9999, 12, 30, 23, 59, 59, 999_999, tzinfo=timezone.utc)


def _ts_in_range(v: datetime) -> datetime:
    """Timestamps are instants hrguard can represent: 0001-01-02 to 9999-12-30 UTC (a day of room for any
    offset; the fast path reads only years 1900-2199, so it never has to check this)."""
    if not _MIN_TS <= v <= _MAX_TS:
        raise ValueError(f"timestamp outside the instants hrguard can represent (0001-01-02 to 9999-12-30 UTC), "
                         f"got {v.isoformat()}")
    return v


_ts_range = AfterValidator(_ts_in_range)


def json_value_problem(value: Any, depth: int = 1) -> str | None:
    """Why ``value`` (kept as it is in ``attrs``) is not a JSON value the wire format can carry, or ``None``:
    nested deeper than :data:`MAX_DEPTH`, a NaN or an infinity, an integer beyond a double, a string (or
    key) with a lone surrogate. Iterative: a value nested 100,000 deep is refused, never a RecursionError.
    Other Python values (a datetime, a tuple) are kept as they are. ``depth``: the level of ``value`` itself
    (0 for an ``attrs`` object, whose values are the ones kept)."""
    stack = [(value, depth)]
    while stack:
        v, depth = stack.pop()
        t = type(v)
        if t is dict or t is list or t is tuple:
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels (the limit of a value kept in attrs)"
            if t is dict:
                for k in v:
                    if type(k) is str and not _utf8(k):
                        return "a key is not valid Unicode text (a lone surrogate)"
                items = v.values()
            else:
                items = v
            stack.extend((x, depth + 1) for x in items if type(x) is not str or not x.isascii())
        elif t is float:
            if v != v or v in (_INF, -_INF):
                return f"{v} is not a JSON number (NaN and infinities are not JSON)"
        elif t is int:
            if v.bit_length() > 1023 and not _fits_double(v):
                return "an integer beyond a double (about 1.8e308, the largest JSON number read)"
        elif t is str:
            if not _utf8(v):
                return "not valid Unicode text (a lone surrogate)"
    return None


_INF = float("inf")


def _fits_double(v: int) -> bool:
    try:
        float(v)
    except OverflowError:
        return False
    return True


def _utf8(s: str) -> bool:
    if s.isascii():
        return True
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
_date_text = _refuse_numbers("a date YYYY-MM-DD", "'2026-03-30'")
_time_text = _refuse_numbers("a local time HH:MM", "'09:30'")

PRECHECKS: frozenset[Any] = frozenset({_timestamp_text.func, _date_text.func, _time_text.func, _no_bool,
                                       _ts_in_range})
"""The pre-validators of the types below. Each only refuses inputs of a JSON type the field's plain form
never has (a number for a timestamp, a boolean for money), so a checker that accepts only the plain
form (:mod:`hrguard.ingest`) can rely on them without running them. ``_ts_in_range`` refuses only years
the fast path never reads (it takes 1900-2199)."""

Timestamp = Annotated[AwareDatetime, _timestamp_text, _ts_range]
Date = Annotated[date, _date_text]
TimeOfDay = Annotated[time, _time_text]


def _canonical_money(d: Decimal) -> str:
    """One spelling per amount (600000, 600000.0 and "600000.00" are the same money)."""
    return format(d.normalize(), "f")


Money = Annotated[
    Decimal, BeforeValidator(_no_bool), PlainSerializer(_canonical_money, return_type=str, when_used="json"),
    Field(ge=0, lt=MAX_MONEY, allow_inf_nan=False,
          description="decimal money (JSON number or string), never negative, below 10**15"),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0, "exclusiveMaximum": MAX_MONEY},
                              {"type": "string", "pattern": r"^\s*\+?[0-9]+(\.[0-9]+)?\s*$"}],
                    "description": "decimal money (JSON number or string), never negative, below 10**15"}),
]
class _Uninterned:
    """Marks a string field whose values are mostly distinct (URIs, free text of one event): its column
    holds the strings themselves, not codes of the scan's string table, which keeps every string it
    has seen for the whole scan (a bounded scan or a stream would grow with them)."""

    def __repr__(self) -> str:
        return "Uninterned"


UNINTERNED = _Uninterned()
Text = Annotated[str, UNINTERNED]
"""A string whose column holds the strings, not codes (see :data:`UNINTERNED`)."""

Lat = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-90, le=90, description="WGS-84 latitude in decimal degrees")]
Lon = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-180, le=180, description="WGS-84 longitude in decimal degrees")]
Number = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]
Flag = Annotated[bool, Field(strict=True)]
NonEmpty = Annotated[str, Field(min_length=1)]


def _no_location_at_zero(model: BaseModel, pairs: tuple[tuple[str, str], ...]) -> None:
    """Each declared ``(lat, lon)`` pair that is exactly ``(0, 0)`` becomes ``(None, None)``: no location."""
    for a, b in pairs:
        if getattr(model, a) == 0 and getattr(model, b) == 0:
            object.__setattr__(model, a, None)  # the model is frozen; this runs while it is being built
            object.__setattr__(model, b, None)


def _pair(lat: float | None, lon: float | None, what: str) -> None:
    """``lat`` and ``lon`` come together or not at all; the error names the one that is missing."""
    if lat is not None and lon is None:
        raise FieldError("lon", f"lat is given without lon: {what} needs both lat and lon, or neither")
    if lon is not None and lat is None:
        raise FieldError("lat", f"lon is given without lat: {what} needs both lat and lon, or neither")


class Nested(BaseModel):
    """The base of the objects in an event's lists (plan items, claims, photos): a fixed shape,
    unknown keys rejected. A ``list[SomeNested]`` field is a child table of flat columns
    (:meth:`hrguard.Chunk.nested`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)
    #: see :attr:`Event.BOTH_OR_NEITHER`
    BOTH_OR_NEITHER: ClassVar[tuple[tuple[str, str, str], ...]] = ()
    #: see :attr:`Event.LOCATIONS`
    LOCATIONS: ClassVar[tuple[tuple[str, str], ...]] = ()

    @model_validator(mode="after")
    def _both_or_neither(self) -> Nested:
        for a, b, what in self.BOTH_OR_NEITHER:
            _pair(getattr(self, a), getattr(self, b), what)
        _no_location_at_zero(self, self.LOCATIONS)
        return self


class Event(BaseModel):
    """The envelope every event has. Subclasses set ``kind`` to a ``Literal`` and add fields."""

    model_config = ConfigDict(extra="allow", frozen=True)
    KIND: ClassVar[str] = ""
    #: pairs of optional fields given together or not at all, with what they locate, e.g.
    #: ``(("lat", "lon", "a punch"),)``: the model rejects a record with only one of them, naming the
    #: missing one; being declared rather than coded, the rule is also read by the fast path
    BOTH_OR_NEITHER: ClassVar[tuple[tuple[str, str, str], ...]] = ()
    #: optional ``(lat, lon)`` pairs where exactly ``(0, 0)`` means "no location" (how Odoo and other HR
    #: systems store a missing fix): such a pair is read as both absent, never as a place in the Gulf of
    #: Guinea. Declared, like ``BOTH_OR_NEITHER``, so the fast path reads the same rule.
    LOCATIONS: ClassVar[tuple[tuple[str, str], ...]] = ()

    id: NonEmpty = Field(description="unique event id; findings cite it as evidence")
    kind: str
    ts: Timestamp = Field(description="when it happened (RFC 3339 with an offset)")
    employee_id: str | None = Field(default=None, description="the employee who acted")
    tenant: str | None = Field(default=None, description="tenant/company; tenants never meet in a finding "
                                                         "(null and \"\" are the same, default tenant)")
    attrs: dict[str, Any] = Field(default_factory=dict, description="free-form extra data, preserved")

    @field_validator("tenant", mode="after")
    @classmethod
    def _default_tenant(cls, v: str | None) -> str | None:
        # the spec: null and "" are the same (default) tenant; the fast path reads "" the same way
        return v or None

    @field_validator("attrs", mode="before")
    @classmethod
    def _null_attrs(cls, v: Any) -> Any:
        if v is None:
            return {}
        if isinstance(v, dict) and v:
            problem = json_value_problem(v, 0)
            if problem is not None:
                raise ValueError(problem)
        # nested values are copied so that no detector can ever reach (and change) the caller's objects;
        # anything but an object fails pydantic's dict check, located at attrs
        return copy.deepcopy(v) if isinstance(v, dict) and v else v

    @model_validator(mode="after")
    def _unknown_fields_to_attrs(self) -> Event:
        # extra="allow" collects unknown top-level fields natively (no Python work per record);
        # only a record that has some pays for moving them into attrs
        extra = self.__pydantic_extra__
        if extra:
            attrs = dict(self.attrs)
            for k, value in extra.items():
                problem = json_value_problem(value) if type(value) is not str or not value.isascii() else None
                if problem is not None:
                    raise FieldError(k, problem)
                if k in attrs and attrs[k] != value:
                    raise FieldError(k, f"unknown field {k!r} would be kept in attrs, but attrs.{k} is already set "
                                        f"to a different value ({attrs[k]!r}); keep only one of them")
                attrs[k] = copy.deepcopy(value) if isinstance(value, (dict, list)) else value
            object.__setattr__(self, "attrs", attrs)
            extra.clear()
        return self

    @model_validator(mode="after")
    def _both_or_neither(self) -> Event:
        for a, b, what in self.BOTH_OR_NEITHER:
            _pair(getattr(self, a), getattr(self, b), what)
        _no_location_at_zero(self, self.LOCATIONS)
        return self

    @classmethod
    def __pydantic_init_subclass__(cls, **kw: Any) -> None:
        super().__pydantic_init_subclass__(**kw)
        if not cls.__pydantic_complete__:
            # e.g. ``from __future__ import annotations`` in code whose globals pydantic cannot see
            # (exec'd snippets, notebooks): ``Literal`` is all a kind needs, and any other missing
            # name still fails later, with pydantic's own message
            try:
                cls.model_rebuild(raise_errors=False, _types_namespace={"Literal": Literal, **_TYPE_NAMES})
            except TypeError:  # pragma: no cover - a pydantic without _types_namespace
                pass
        args = getattr(cls.model_fields["kind"].annotation, "__args__", None)
        if args and len(args) == 1 and isinstance(args[0], str):
            cls.KIND = args[0]


_TYPE_NAMES: dict[str, Any] = {"Any": Any, "Annotated": Annotated, "date": date, "time": time, "Decimal": Decimal}


class EmployeeHired(Event):
    kind: Literal["employee.hired"]
    employee_id: NonEmpty
    role: str | None = None
    department: str | None = None
    manager_id: str | None = None
    home_site_id: str | None = None


class EmployeeTerminated(Event):
    kind: Literal["employee.terminated"]
    employee_id: NonEmpty
    last_day: Date | None = None
    reason: str | None = None


class PayrollSettled(Event):
    kind: Literal["payroll.settled"]
    employee_id: NonEmpty
    period_end: Date | None = None
    amount: Money | None = None
    final: Flag = False


class SiteRegistered(Event):
    kind: Literal["site.registered"]
    site_id: NonEmpty
    name: str | None = None
    lat: Lat
    lon: Lon
    radius_m: Number = 200


class CustomerRegistered(Event):
    kind: Literal["customer.registered"]
    BOTH_OR_NEITHER = (("lat", "lon", "a customer's location"),)
    LOCATIONS = (("lat", "lon"),)
    customer_id: NonEmpty
    name: str | None = None
    owner_id: str | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    address: str | None = None


class CustomerAssigned(Event):
    kind: Literal["customer.assigned"]
    customer_id: NonEmpty
    owner_id: str | None = None
    previous_owner_id: str | None = None


class CustomerStageChanged(Event):
    kind: Literal["customer.stage_changed"]
    customer_id: NonEmpty
    stage: str | None = None
    previous_stage: str | None = None


class Photo(Nested):
    BOTH_OR_NEITHER = (("lat", "lon", "a photo's location"),)
    LOCATIONS = (("lat", "lon"),)

    uri: Text
    lat: Lat | None = None
    lon: Lon | None = None
    taken_at: Timestamp | None = None


class FollowupLogged(Event):
    kind: Literal["followup.logged"]
    customer_id: NonEmpty
    channel: Literal["visit", "phone", "wechat", "email", "meeting", "other"] | None = None
    summary: str | None = None
    next_step: str | None = None
    photos: list[Photo] = Field(default_factory=list)


class PlanItem(Nested):
    customer_id: str | None = None
    site_id: str | None = None
    start: TimeOfDay
    end: TimeOfDay
    purpose: str | None = None


class PlanSubmitted(Event):
    kind: Literal["plan.submitted"]
    date: Date
    items: list[PlanItem] = Field(default_factory=list)


class AttendancePunched(Event):
    kind: Literal["attendance.punched"]
    BOTH_OR_NEITHER = (("lat", "lon", "a punch"),)
    LOCATIONS = (("lat", "lon"),)
    direction: Literal["in", "out"]
    lat: Lat | None = None
    lon: Lon | None = None
    accuracy_m: Number | None = None
    source: Literal["gps", "wifi", "beacon", "manual"] | None = None
    customer_id: str | None = None
    site_id: str | None = None


class Claim(Nested):
    customer_id: NonEmpty
    activity: Literal["visit", "call", "other"]
    note: str | None = None


class SummarySubmitted(Event):
    kind: Literal["summary.submitted"]
    date: Date
    claims: list[Claim] = Field(default_factory=list)


class ApprovalRequested(Event):
    kind: Literal["approval.requested"]
    request_id: NonEmpty
    subject: str | None = None
    subject_id: str | None = None
    customer_id: str | None = None
    amount: Money | None = None


class ApprovalDecided(Event):
    kind: Literal["approval.decided"]
    request_id: NonEmpty
    step: NonEmpty
    decision: Literal["approved", "rejected"]


class OrderRecorded(Event):
    kind: Literal["order.recorded"]
    order_id: NonEmpty
    customer_id: NonEmpty
    amount: Money
    type: Literal["order", "contract"] = "order"
    approval_request_id: str | None = None


class InvoiceIssued(Event):
    kind: Literal["invoice.issued"]
    invoice_id: NonEmpty
    order_id: NonEmpty
    amount: Money | None = None


BUILTIN_KINDS: tuple[type[Event], ...] = (
    EmployeeHired,
    EmployeeTerminated,
    PayrollSettled,
    SiteRegistered,
    CustomerRegistered,
    CustomerAssigned,
    CustomerStageChanged,
    FollowupLogged,
    PlanSubmitted,
    AttendancePunched,
    SummarySubmitted,
    ApprovalRequested,
    ApprovalDecided,
    OrderRecorded,
    InvoiceIssued,
)


def events_json_schema(kinds: list[type[Event]] | tuple[type[Event], ...] = BUILTIN_KINDS) -> dict[str, Any]:
    """JSON Schema of one event: a union of every kind, discriminated on ``kind``."""
    from typing import Union

    from pydantic import TypeAdapter

    union = Annotated[Union[tuple(kinds)], Field(discriminator="kind")]  # type: ignore[valid-type]
    schema = TypeAdapter(union).json_schema()
    for k in kinds:  # unknown top-level fields are kept in attrs, so an event object is open
        sub = schema.get("$defs", {}).get(k.__name__)
        if sub is not None:
            sub.pop("additionalProperties", None)
    schema["title"] = "hrguard event"
    schema["$comment"] = "Unknown top-level fields are accepted and kept in attrs."
    return schema
