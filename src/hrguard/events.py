"""The event vocabulary of ``spec/events.md`` as pydantic models, one per kind, keyed on ``kind``.

Unknown top-level fields are moved into ``attrs`` (never dropped, never an error). Plugins add kinds
by registering more subclasses of :class:`Event` through the ``hrguard_register_event_kinds`` hook.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

Money = Annotated[Decimal, Field(ge=0, allow_inf_nan=False, description="decimal money, never negative")]
Lat = Annotated[float, Field(ge=-90, le=90, description="WGS-84 latitude in decimal degrees")]
Lon = Annotated[float, Field(ge=-180, le=180, description="WGS-84 longitude in decimal degrees")]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Event(BaseModel):
    """The envelope every event has. Subclasses set ``kind`` to a ``Literal`` and add fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    KIND: ClassVar[str] = ""

    id: NonEmpty = Field(description="unique event id; findings cite it as evidence")
    kind: str
    ts: AwareDatetime = Field(description="when it happened (RFC 3339 with an offset)")
    employee_id: str | None = Field(default=None, description="the employee who acted")
    tenant: str | None = Field(default=None, description="tenant/company; tenants never meet in a finding")
    attrs: dict[str, Any] = Field(default_factory=dict, description="free-form extra data, preserved")

    @model_validator(mode="before")
    @classmethod
    def _unknown_fields_to_attrs(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = cls.model_fields
        extra = [k for k in data if k not in known]
        if not extra:
            return data
        data = dict(data)
        attrs = data.get("attrs")
        attrs = dict(attrs) if isinstance(attrs, dict) else ({} if attrs is None else attrs)
        if isinstance(attrs, dict):
            for k in extra:
                attrs.setdefault(k, data.pop(k))
            data["attrs"] = attrs
        return data

    @classmethod
    def __pydantic_init_subclass__(cls, **kw: Any) -> None:
        super().__pydantic_init_subclass__(**kw)
        args = getattr(cls.model_fields["kind"].annotation, "__args__", None)
        if args and len(args) == 1 and isinstance(args[0], str):
            cls.KIND = args[0]


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
    last_day: date | None = None
    reason: str | None = None


class PayrollSettled(Event):
    kind: Literal["payroll.settled"]
    employee_id: NonEmpty
    period_end: date | None = None
    amount: Money | None = None
    final: bool = False


class SiteRegistered(Event):
    kind: Literal["site.registered"]
    site_id: NonEmpty
    name: str | None = None
    lat: Lat
    lon: Lon
    radius_m: Annotated[float, Field(ge=0)] = 200


class CustomerRegistered(Event):
    kind: Literal["customer.registered"]
    customer_id: NonEmpty
    name: str | None = None
    owner_id: str | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    address: str | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> CustomerRegistered:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon must be given together (or both null)")
        return self


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


class Photo(_Strict):
    uri: str
    lat: Lat | None = None
    lon: Lon | None = None
    taken_at: AwareDatetime | None = None


class FollowupLogged(Event):
    kind: Literal["followup.logged"]
    customer_id: NonEmpty
    channel: Literal["visit", "phone", "wechat", "email", "meeting", "other"] | None = None
    summary: str | None = None
    next_step: str | None = None
    photos: list[Photo] = Field(default_factory=list)


class PlanItem(_Strict):
    customer_id: str | None = None
    site_id: str | None = None
    start: time
    end: time
    purpose: str | None = None


class PlanSubmitted(Event):
    kind: Literal["plan.submitted"]
    date: date
    items: list[PlanItem] = Field(default_factory=list)


class AttendancePunched(Event):
    kind: Literal["attendance.punched"]
    direction: Literal["in", "out"]
    lat: Lat | None = None
    lon: Lon | None = None
    accuracy_m: Annotated[float, Field(ge=0)] | None = None
    source: Literal["gps", "wifi", "beacon", "manual"] | None = None
    customer_id: str | None = None
    site_id: str | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> AttendancePunched:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("a punch needs both lat and lon, or neither")
        return self


class Claim(_Strict):
    customer_id: NonEmpty
    activity: Literal["visit", "call", "other"]
    note: str | None = None


class SummarySubmitted(Event):
    kind: Literal["summary.submitted"]
    date: date
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
    from pydantic import TypeAdapter
    from typing import Union

    union = Annotated[Union[tuple(kinds)], Field(discriminator="kind")]  # type: ignore[valid-type]
    schema = TypeAdapter(union).json_schema()
    schema["title"] = "hrguard event"
    schema["$comment"] = "Unknown top-level fields are accepted and kept in attrs."
    return schema
