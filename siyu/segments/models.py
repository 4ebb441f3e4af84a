"""Segment definitions (a typed rule tree) and the shapes segments cross boundaries in.

A definition is a pydantic discriminated union on ``type``; :mod:`siyu.segments.compile`
turns it into SQL with one ``match`` arm per node.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator
from pydantic_core import PydanticCustomError

from siyu.collect.models import IdType

Scalar = Annotated[str, Field(max_length=1000)] | bool | int | float
_PATH_PART = re.compile(r"^[\w$-]+$")
EVENT_COLUMNS = ("revenue_fen", "channel", "campaign")
JSON_COLUMNS = ("properties", "context", "traits")


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Op(StrEnum):
    """Comparison operators of trait and property conditions."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    EXISTS = "exists"


class CountOp(StrEnum):
    """Comparisons of a count or a sum."""

    EQ = "eq"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"


def _invalid(message: str) -> PydanticCustomError:
    # A custom error rather than ValueError: its details serialise to JSON as they are.
    return PydanticCustomError("segment_definition", message)


def check_value(op: Op, value: Scalar | list[Scalar] | None) -> None:
    """Raise a validation error when ``value`` does not fit ``op``."""
    if op is Op.EXISTS:
        if value is not None:
            raise _invalid("exists takes no value")
    elif op in (Op.IN, Op.NOT_IN):
        if not isinstance(value, list) or not value:
            raise _invalid(f"{op.value} needs a non-empty list")
        if len({type(v) for v in value}) > 1:
            raise _invalid(f"{op.value} needs values of one type")
    elif value is None or isinstance(value, list):
        raise _invalid(f"{op.value} needs one value")
    elif op is Op.CONTAINS and not isinstance(value, str):
        raise _invalid("contains needs a string")
    elif op in (Op.GT, Op.GTE, Op.LT, Op.LTE) and isinstance(value, bool):
        raise _invalid(f"{op.value} needs a number or a string")


class Comparison(_Node):
    """An operator and its value."""

    op: Op
    value: Scalar | list[Scalar] | None = Field(
        default=None, description="One value; a list for in/not_in; none for exists."
    )

    @model_validator(mode="after")
    def _value_fits(self) -> Comparison:
        check_value(self.op, self.value)
        return self


class Trait(Comparison):
    """A profile trait (latest value) compared with a value: ``city eq 杭州``."""

    type: Literal["trait"] = "trait"
    name: str = Field(min_length=1, max_length=255, description="Trait name.")


class ComputedName(StrEnum):
    """Computed traits kept on every profile."""

    EVENT_COUNT = "event_count"
    ORDER_COUNT = "order_count"
    TOTAL_SPEND_FEN = "total_spend_fen"
    AVG_SPEND_FEN = "avg_spend_fen"
    DAYS_SINCE_FIRST_SEEN = "days_since_first_seen"
    DAYS_SINCE_LAST_SEEN = "days_since_last_seen"
    DAYS_SINCE_LAST_ORDER = "days_since_last_order"


class ComputedTrait(_Node):
    """A computed trait compared with a number: ``order_count gte 2``, ``days_since_last_order
    gt 90``. Counts and spend of a person with no profile are 0; averages and day counts are
    unknown (never match)."""

    type: Literal["computed"] = "computed"
    name: ComputedName
    op: CountOp
    value: float = Field(description="Fen for spend; days for days_since_*.")

    @model_validator(mode="after")
    def _days_need_order(self) -> ComputedTrait:
        if self.name.value.startswith("days_since") and self.op is CountOp.EQ:
            raise _invalid("days_since_* compares with gt/gte/lt/lte")
        return self


class Tag(_Node):
    """Holds a tag."""

    type: Literal["tag"] = "tag"
    tag: str = Field(min_length=1, max_length=200, description="Tag id (or group/name on input).")


class InSegment(_Node):
    """Is a member of another saved segment (as of its last refresh)."""

    type: Literal["segment"] = "segment"
    segment_id: str = Field(min_length=1, max_length=40)


class Channel(_Node):
    """First-touch acquisition channel (utm_source) or campaign is one of ``values``."""

    type: Literal["channel"] = "channel"
    field: Literal["channel", "campaign"] = "channel"
    values: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(min_length=1)


class HasIdentifier(_Node):
    """Holds an identifier of a type: ``wecom_external_userid`` = has a WeCom contact."""

    type: Literal["identifier"] = "identifier"
    id_type: IdType


class PropertyFilter(Comparison):
    """A condition on one event: ``revenue_fen gte 10000``, ``properties.sku eq "A1"``."""

    path: str = Field(
        description="revenue_fen, channel, campaign, or a JSON path under properties / "
        "context / traits, e.g. properties.items.0.sku"
    )

    @field_validator("path")
    @classmethod
    def _path_ok(cls, path: str) -> str:
        if path in EVENT_COLUMNS:
            return path
        head, _, rest = path.partition(".")
        parts = rest.split(".") if rest else []
        if head not in JSON_COLUMNS or not parts or not all(_PATH_PART.match(p) for p in parts):
            raise _invalid(
                "a path is revenue_fen, channel, campaign or properties.<key>[.<key>…] "
                "(also context., traits.)"
            )
        return path


class CountRule(_Node):
    """How many (or how much) is enough."""

    op: CountOp = CountOp.GTE
    value: float = Field(default=1, ge=0)


class EventSpec(_Node):
    """Which events: a name (``$page``, ``$identify`` … for the other calls) and filters."""

    event: str = Field(min_length=1, max_length=255)
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)


class TimeWindow(_Node):
    """Relative (last ``days`` before now) or absolute [since, until)."""

    days: int | None = Field(default=None, ge=1, le=3650)
    since: datetime | None = None
    until: datetime | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> TimeWindow:
        if self.days is not None and (self.since or self.until):
            raise _invalid("give days, or since/until, not both")
        for value in (self.since, self.until):
            if value is not None and value.tzinfo is None:
                raise _invalid("since/until need a time zone")
        if self.since and self.until and self.since >= self.until:
            raise _invalid("since must be before until")
        return self


class Event(EventSpec):
    """Did an event ``count`` times (or for ``metric`` revenue: spent that much) in a window:
    "order_paid at least 2 times in the last 30 days where revenue_fen ≥ 10000"."""

    type: Literal["event"] = "event"
    count: CountRule = Field(default_factory=CountRule)
    metric: Literal["count", "revenue_fen"] = "count"
    window: TimeWindow = Field(default_factory=TimeWindow)


class Sequence(_Node):
    """Did ``first`` and then (``followed``) or not (``followed=false``) ``then`` within
    ``within_days`` after it: "added to cart but did not order within 7 days"."""

    type: Literal["sequence"] = "sequence"
    first: EventSpec
    then: EventSpec
    within_days: int = Field(ge=1, le=3650)
    followed: bool = Field(default=False, description="true: did then; false: did not.")
    window: TimeWindow = Field(
        default_factory=TimeWindow, description="When the first event happened."
    )


class All(_Node):
    """Every condition holds."""

    type: Literal["all"] = "all"
    of: list[Condition] = Field(min_length=1, max_length=50)


class Any(_Node):
    """At least one condition holds."""

    type: Literal["any"] = "any"
    of: list[Condition] = Field(min_length=1, max_length=50)


class Not(_Node):
    """The condition does not hold."""

    type: Literal["not"] = "not"
    condition: Condition


Condition = Annotated[
    All
    | Any
    | Not
    | Trait
    | ComputedTrait
    | Tag
    | Event
    | Sequence
    | InSegment
    | Channel
    | HasIdentifier,
    Field(discriminator="type"),
]
All.model_rebuild()
Any.model_rebuild()
Not.model_rebuild()

CONDITION: TypeAdapter[Condition] = TypeAdapter(Condition)


class SegmentCreate(BaseModel):
    """A new saved segment."""

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    definition: Condition
    refresh_minutes: int | None = Field(
        default=60, ge=5, le=10_080, description="Scheduled refresh interval; null = on demand."
    )


class SegmentUpdate(BaseModel):
    """Changes to a segment; absent fields stay."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    definition: Condition | None = None
    refresh_minutes: int | None = Field(default=None, ge=5, le=10_080)


class Segment(BaseModel):
    """A saved segment."""

    id: str
    name: str
    description: str | None = None
    definition: Condition
    refresh_minutes: int | None
    members: int = Field(description="Members at the last refresh.")
    created_at: datetime
    updated_at: datetime
    refreshed_at: datetime | None = None


class Preview(BaseModel):
    """Size of a definition now, before saving."""

    count: int
    sample: list[str] = Field(description="Some member person ids.")


class RefreshResult(BaseModel):
    """What a refresh changed."""

    segment_id: str
    members: int
    entered: int
    left: int
    refreshed_at: datetime


class Change(StrEnum):
    """Whether a person entered or left."""

    ENTERED = "entered"
    LEFT = "left"


class MemberChange(BaseModel):
    """A person entered or left a segment (journeys trigger on these)."""

    id: int = Field(description="Increasing; pass as ?after= to read on.")
    segment_id: str
    person_id: str
    change: Change
    at: datetime


class MemberChangesPage(BaseModel):
    """Changes in id order."""

    items: list[MemberChange]
    next_after: int | None = Field(description="Pass as ?after= for the next page.")


class MembersPage(BaseModel):
    """A page of members in person id order."""

    items: list[str]
    total: int
    next_after: str | None = Field(description="Pass as ?after= for the next page.")
