"""Typed analytics queries and their results: what crosses the API, the CLI and the console."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from siyu.core.clock import ensure_utc

AwareUTC = Annotated[datetime, AfterValidator(ensure_utc)]
"""A datetime taken as UTC when naive and converted to UTC when aware."""

COLUMNS = ("revenue_fen", "channel", "campaign", "type")
"""Event columns a filter or breakdown can name directly; other names are JSON properties."""


class FilterOp(StrEnum):
    """How a property filter compares."""

    EQ = "eq"
    NEQ = "neq"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    CONTAINS = "contains"


Scalar = str | int | float | bool


class PropertyFilter(BaseModel):
    """A condition on an event: a column (``revenue_fen``, ``channel``, ``campaign``,
    ``type``) or a JSON property of ``properties``."""

    property: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z_][A-Za-z0-9_.$-]*$",
        description="Column name or JSON property (dots for nesting), e.g. revenue_fen, city.",
    )
    op: FilterOp = Field(default=FilterOp.EQ, description="eq, neq, gt, gte, lt, lte, in, contains")
    value: Scalar | list[Scalar] = Field(description="Compared value; a list for 'in'.")

    @model_validator(mode="after")
    def _value_fits_op(self) -> PropertyFilter:
        if (self.op is FilterOp.IN) != isinstance(self.value, list):
            raise ValueError("'in' takes a list value; other operators take one value")
        if self.op in (FilterOp.GT, FilterOp.GTE, FilterOp.LT, FilterOp.LTE) and not isinstance(
            self.value, int | float
        ):
            raise ValueError(f"'{self.op}' compares numbers")
        return self


class FunnelStep(BaseModel):
    """One step: an event name, optionally narrowed by property filters."""

    event: str = Field(
        min_length=1, max_length=200, description="Event name, e.g. Order Completed."
    )
    filters: list[PropertyFilter] = Field(default_factory=list, max_length=10)
    label: str | None = Field(default=None, description="Shown instead of the event name.")

    @property
    def name(self) -> str:
        """The label, or the event name."""
        return self.label or self.event


class FunnelOrder(StrEnum):
    """How steps must follow each other (ClickHouse ``windowFunnel`` modes)."""

    LOOSE = "loose"
    STRICT = "strict"


class BreakdownKind(StrEnum):
    """What splits a funnel."""

    FIRST_TOUCH_CHANNEL = "first_touch_channel"
    EVENT_CHANNEL = "event_channel"
    PROPERTY = "property"


class Breakdown(BaseModel):
    """Split persons by one value each.

    ``first_touch_channel``: the channel of the person's first event that has one (any
    event, up to the end of the range). ``event_channel`` / ``property``: the channel or a
    property of the person's first step-1 event in the range.
    """

    kind: BreakdownKind
    property: str | None = Field(
        default=None,
        max_length=100,
        pattern=r"^[A-Za-z_][A-Za-z0-9_.$-]*$",
        description="For kind=property: column or JSON property name.",
    )

    @model_validator(mode="after")
    def _property_when_needed(self) -> Breakdown:
        if (self.kind is BreakdownKind.PROPERTY) != (self.property is not None):
            raise ValueError("'property' is required for kind=property, and only then")
        return self


class FunnelQuery(BaseModel):
    """A conversion funnel: who did step 1, then step 2, … within ``window`` of step 1."""

    steps: list[FunnelStep] = Field(min_length=2, max_length=6)
    window: timedelta = Field(
        default=timedelta(days=7), description="Conversion window from step 1 (seconds or P7D)."
    )
    order: FunnelOrder = Field(
        default=FunnelOrder.LOOSE,
        description="loose: other events may come between steps; strict: an out-of-order "
        "funnel-step event ends the attempt (ClickHouse windowFunnel 'strict_order').",
    )
    start: AwareUTC = Field(description="Step 1 at or after this time.")
    end: AwareUTC = Field(description="Step 1 before this time; later steps until end + window.")
    breakdown: Breakdown | None = None

    @model_validator(mode="after")
    def _sane_range(self) -> FunnelQuery:
        if self.end <= self.start:
            raise ValueError("'end' must be after 'start'")
        if not timedelta(seconds=1) <= self.window <= timedelta(days=366):
            raise ValueError("'window' must be between 1 second and 366 days")
        return self


class FunnelStepResult(BaseModel):
    """Persons who reached a step and how they got there."""

    step: int = Field(description="1-based position.")
    name: str
    persons: int
    conversion_from_first: float = Field(description="persons / persons at step 1 (0..1).")
    conversion_from_previous: float = Field(description="persons / persons at the step before.")
    median_seconds_from_previous: float | None = Field(
        description="Median time from the previous step (None for step 1 or nobody)."
    )


class FunnelSeries(BaseModel):
    """Step results for all persons or for one breakdown value."""

    breakdown_value: str | None = Field(default=None, description="None: all persons / no value.")
    steps: list[FunnelStepResult]


class FunnelResult(BaseModel):
    """A funnel's totals, and one series per breakdown value (largest first)."""

    query: FunnelQuery
    total: FunnelSeries
    breakdown: list[FunnelSeries] = Field(default_factory=list)


class Period(StrEnum):
    """Cohort and retention period, in the workspace's zone (weeks start Monday)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class CohortBy(StrEnum):
    """What places a person in a cohort."""

    FIRST_VISIT = "first_visit"
    FIRST_ORDER = "first_order"


ORDER_EVENT = "Order Completed"


class RetentionQuery(BaseModel):
    """Cohorts by first visit or first order; who came back in each later period."""

    cohort_by: CohortBy = CohortBy.FIRST_VISIT
    period: Period = Period.WEEK
    periods: int = Field(default=8, ge=1, le=60, description="Periods after the cohort's.")
    returning_event: str | None = Field(
        default=None, max_length=200, description="Event that counts as a return; None: any."
    )
    order_event: str = Field(default=ORDER_EVENT, max_length=200)
    start: AwareUTC = Field(description="Cohorts whose first event is at or after this time.")
    end: AwareUTC = Field(description="… and before this time.")
    timezone: str = Field(default="Asia/Shanghai", description="Zone of periods (IANA name).")

    @model_validator(mode="after")
    def _sane_range(self) -> RetentionQuery:
        if self.end <= self.start:
            raise ValueError("'end' must be after 'start'")
        _check_zone(self.timezone)
        return self


def _check_zone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None


class Cohort(BaseModel):
    """One cohort's size and returning persons by period index (0 = the cohort's own)."""

    start: date = Field(description="First day of the cohort's period, in the zone.")
    persons: int
    returned: list[int] = Field(description="returned[k]: persons back in period k; [0]=size.")
    rates: list[float] = Field(description="returned[k] / persons.")


class RetentionResult(BaseModel):
    """Cohort rows, oldest first, and the persons-weighted average rate per period."""

    query: RetentionQuery
    cohorts: list[Cohort]
    average: list[float] = Field(
        description="Per period k: returned / persons over cohorts old enough to have k."
    )


class RepurchaseQuery(BaseModel):
    """Buyers in a range, how many bought again, and how long between orders."""

    start: AwareUTC
    end: AwareUTC
    within_days: int = Field(default=30, ge=1, le=3650, description="'Bought again within N days'.")
    order_event: str = Field(default=ORDER_EVENT, max_length=200)

    @model_validator(mode="after")
    def _sane_range(self) -> RepurchaseQuery:
        if self.end <= self.start:
            raise ValueError("'end' must be after 'start'")
        return self


class IntervalBucket(BaseModel):
    """Intervals between consecutive orders falling in [from_days, to_days)."""

    from_days: int
    to_days: int | None = Field(description="None: no upper bound.")
    intervals: int


class RepurchaseResult(BaseModel):
    """Repurchase rate and purchase interval distribution."""

    query: RepurchaseQuery
    buyers: int = Field(description="Persons with ≥1 order in the range.")
    repeat_buyers: int = Field(description="… of whom with ≥2 orders in the range.")
    repurchase_rate: float = Field(description="repeat_buyers / buyers.")
    repeat_within: int = Field(description="Buyers whose second order came within N days.")
    repurchase_rate_within: float = Field(description="repeat_within / buyers.")
    orders: int
    intervals: int = Field(description="Gaps between consecutive orders of one person.")
    interval_days_p25: float | None
    interval_days_median: float | None
    interval_days_p75: float | None
    distribution: list[IntervalBucket]


FUNNEL_PRESETS: dict[str, list[str]] = {
    "conversion": ["Product Viewed", "Product Added", "Order Completed"],
    "fission": ["Referral Sent", "Referral Accepted", "Signed Up", "Order Completed"],
}
"""Named per-person funnels (demo event names). ``fission`` here asks whether ONE person
shared, accepted, signed up and ordered; a referral's steps are done by different people,
so use :class:`FissionQuery` (``siyu analytics fission``) for the real 裂变 funnel."""

PresetName = Literal["conversion", "fission"]


REFERRAL_SENT = "Referral Sent"
REFERRAL_LINK_CLICKED = "Referral Link Clicked"
REFERRAL_ACCEPTED = "Referral Accepted"
SIGNED_UP = "Signed Up"
_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.$-]*$"
EventName = Annotated[str, Field(min_length=1, max_length=200)]


class FissionBreakdown(StrEnum):
    """What splits a fission funnel."""

    REFERRER_FIRST_TOUCH_CHANNEL = "referrer_first_touch_channel"


class FissionQuery(BaseModel):
    """A cross-person fission (裂变) funnel: referrers share, their invitees click, register
    and order (see :mod:`siyu.analytics.fission` for the exact semantics)."""

    start: AwareUTC = Field(description="Shares and invitation clicks at or after this time.")
    end: AwareUTC = Field(
        description="… and before this time; registrations and orders until end + window."
    )
    window: timedelta = Field(
        default=timedelta(days=7),
        description="From an invitee's first click to registering and to ordering, inclusive "
        "(seconds or P7D).",
    )
    share_event: str = Field(default=REFERRAL_SENT, min_length=1, max_length=200)
    click_events: list[EventName] = Field(
        default_factory=lambda: [REFERRAL_LINK_CLICKED, REFERRAL_ACCEPTED],
        min_length=1,
        max_length=10,
        description="Events of an invitee that carry the referrer (clicked or accepted).",
    )
    signup_event: str = Field(
        default=SIGNED_UP,
        min_length=1,
        max_length=200,
        description="A registration; so is an identify carrying a member identifier.",
    )
    order_event: str = Field(default=ORDER_EVENT, min_length=1, max_length=200)
    referrer_property: str = Field(
        default="referrer_member_id",
        max_length=100,
        pattern=_NAME_PATTERN,
        description="Property of a click event holding the referrer's member identifier.",
    )
    member_id_type: str = Field(
        default="member_id",
        max_length=50,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="Identifier type of a member: the referrer is the person holding the "
        "property's value as this type; an identify carrying one is a registration.",
    )
    breakdown: FissionBreakdown | None = Field(
        default=None, description="referrer_first_touch_channel, or none."
    )
    top: int = Field(default=10, ge=0, le=100, description="How many top referrers to list.")

    @model_validator(mode="after")
    def _sane_range(self) -> FissionQuery:
        if self.end <= self.start:
            raise ValueError("'end' must be after 'start'")
        if not timedelta(seconds=1) <= self.window <= timedelta(days=366):
            raise ValueError("'window' must be between 1 second and 366 days")
        return self


class FissionStepResult(BaseModel):
    """One step of a fission funnel."""

    step: int = Field(description="1 shared, 2 clicked, 3 registered, 4 ordered.")
    name: str
    persons: int = Field(description="Step 1: referrers who shared; steps 2–4: invitees.")
    conversion_from_previous: float = Field(
        description="Step 2: invitees per share; steps 3–4: invitees / invitees at the step "
        "before; step 1: 1 when anyone shared."
    )
    median_seconds_from_previous: float | None = Field(
        description="Step 3: click → registration; step 4: registration → first order."
    )


class FissionSeries(BaseModel):
    """Steps, shares, orders and K-factor for all referrers or one breakdown value."""

    breakdown_value: str | None = Field(default=None, description="None: all / no value.")
    steps: list[FissionStepResult]
    shares: int = Field(description="Share events in the range.")
    orders: int = Field(description="Orders of converted invitees within their window.")
    gmv_fen: int = Field(description="Revenue of those orders, in fen.")
    k_factor: float = Field(description="Invitees who ordered per referrer who shared.")


class FissionReferrer(BaseModel):
    """A referrer (KOC candidate) and what their invitations brought."""

    person_id: str
    member_id: str | None = Field(description="The member identifier invitees carried.")
    first_touch_channel: str | None
    shares: int
    invitees: int = Field(description="Invitees attributed to them (first click).")
    registered: int
    ordered: int
    orders: int
    gmv_fen: int


class FissionResult(BaseModel):
    """A fission funnel's totals, one series per breakdown value, and the top referrers."""

    query: FissionQuery
    total: FissionSeries
    breakdown: list[FissionSeries] = Field(default_factory=list)
    top_referrers: list[FissionReferrer] = Field(default_factory=list)
