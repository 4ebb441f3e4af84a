"""A journey definition: an entry trigger, a graph of nodes, and settings (typed, validated data).

A definition is plain data (JSON or YAML, see :mod:`siyu.journeys.definition`); nodes and
triggers are pydantic discriminated unions on ``type``. The graph must be a DAG reachable
from ``start`` with no dangling edges, so stepping a person always ends.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from siyu.channels.models import Channel, Purpose
from siyu.segments.models import EventSpec, InSegment, Tag, Trait

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="A node id.")]


def _invalid(message: str, field: str | None = None) -> PydanticCustomError:
    # ``field`` (relative to the model that raises) lets the loader name the exact field.
    return PydanticCustomError("journey_definition", message, {"field": field} if field else None)


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


# ---- entry triggers ---------------------------------------------------------------------


class EventTrigger(_Data):
    """Enter when the person does an event (``Order Completed``), optionally filtered."""

    type: Literal["event"] = "event"
    spec: EventSpec


class SegmentEnteredTrigger(_Data):
    """Enter when a segment refresh adds the person."""

    type: Literal["segment_entered"] = "segment_entered"
    segment_id: str = Field(min_length=1, max_length=40)


class SegmentLeftTrigger(_Data):
    """Enter when a segment refresh drops the person."""

    type: Literal["segment_left"] = "segment_left"
    segment_id: str = Field(min_length=1, max_length=40)


class DateTraitTrigger(_Data):
    """Enter ``offset_days`` from a date trait (birthday, membership expiry, points expiring)."""

    type: Literal["date_trait"] = "date_trait"
    trait: str = Field(min_length=1, max_length=255, description="Trait holding an ISO date.")
    offset_days: int = Field(default=0, ge=-366, le=366, description="-7: a week before.")
    at: time = Field(default=time(10, 0), description="Local time of day to enter.")
    annual: bool = Field(default=False, description="Match month and day every year (birthday).")


class ScheduleTrigger(_Data):
    """Enter a segment's members once (``once_at``) or every day/week at a local time."""

    type: Literal["schedule"] = "schedule"
    segment_id: str = Field(min_length=1, max_length=40)
    once_at: datetime | None = Field(default=None, description="One-off run (aware).")
    every: Literal["day", "week"] | None = None
    weekday: int | None = Field(default=None, ge=0, le=6, description="0 = Monday (weekly).")
    at: time = Field(default=time(10, 0), description="Local time of day (recurring).")

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleTrigger:
        if (self.once_at is None) == (self.every is None):
            raise _invalid("a schedule has exactly one of once_at or every", "once_at")
        if self.once_at is not None and self.once_at.tzinfo is None:
            raise _invalid("once_at needs a time zone", "once_at")
        if self.every == "week" and self.weekday is None:
            raise _invalid("a weekly schedule needs weekday", "weekday")
        return self


Trigger = Annotated[
    EventTrigger | SegmentEnteredTrigger | SegmentLeftTrigger | DateTraitTrigger | ScheduleTrigger,
    Field(discriminator="type"),
]

# ---- branch conditions ------------------------------------------------------------------


class EventDone(_Data):
    """The person has done ``event`` at least ``min_count`` times (profile counts)."""

    type: Literal["event_done"] = "event_done"
    event: str = Field(min_length=1, max_length=255)
    min_count: int = Field(default=1, ge=1)


class AllOf(_Data):
    """Every condition holds."""

    type: Literal["all"] = "all"
    conditions: list[BranchCondition] = Field(min_length=1, max_length=50)


class AnyOf(_Data):
    """At least one condition holds."""

    type: Literal["any"] = "any"
    conditions: list[BranchCondition] = Field(min_length=1, max_length=50)


class NotOf(_Data):
    """The condition does not hold."""

    type: Literal["not"] = "not"
    condition: BranchCondition


BranchCondition = Annotated[
    Trait | Tag | InSegment | EventDone | AllOf | AnyOf | NotOf, Field(discriminator="type")
]

# ---- actions ----------------------------------------------------------------------------


class SendMessageSpec(_Data):
    """Send a template on a channel; ``{{trait}}`` in params is filled from the profile."""

    type: Literal["send_message"] = "send_message"
    channel: Channel
    template: str = Field(min_length=1, max_length=200)
    params: dict[str, str] = Field(default_factory=dict)
    purpose: Purpose = Purpose.MARKETING
    content_id: str | None = Field(
        default=None, min_length=1, max_length=40,
        description="A content item whose variant (and the person's tracked link) the "
        "message carries as content_* params.",
    )  # fmt: skip
    content_variant: Channel | None = Field(
        default=None, description="Which variant of the item; default the message's channel."
    )
    offer: Literal["issue", "show"] = Field(
        default="issue",
        description="When the template names the next-best offer (offer_*) and it is a coupon: "
        "issue: the person receives that coupon with the send (once per step); show: the "
        "message only names it.",
    )

    def content_params(self) -> dict[str, str]:
        """The params naming the item, for the pipeline to render (empty without one)."""
        if self.content_id is None:
            return {}
        variant = (self.content_variant or self.channel).value
        return {"content_id": self.content_id, "content_variant": variant}


class TagSpec(_Data):
    """Add or remove a tag (id, or group/name)."""

    type: Literal["add_tag", "remove_tag"]
    tag: str = Field(min_length=1, max_length=200)


class AwardPointsSpec(_Data):
    """Award loyalty points."""

    type: Literal["award_points"] = "award_points"
    points: int = Field(gt=0, le=10_000_000)
    reason: str = Field(default="journey", max_length=200)


class IssueCouponSpec(_Data):
    """Issue a coupon of a template."""

    type: Literal["issue_coupon"] = "issue_coupon"
    template_id: str = Field(min_length=1, max_length=40)


class CallWebhookSpec(_Data):
    """POST the person and these fields to a URL (signed by channels.webhook)."""

    type: Literal["call_webhook"] = "call_webhook"
    url: str = Field(pattern=r"^https?://", max_length=2000)
    payload: dict[str, str] = Field(default_factory=dict)


ActionSpec = Annotated[
    SendMessageSpec | TagSpec | AwardPointsSpec | IssueCouponSpec | CallWebhookSpec,
    Field(discriminator="type"),
]

# ---- nodes ------------------------------------------------------------------------------


class WaitNode(_Data):
    """Wait a duration, until a local time of day, or until an event (with a timeout)."""

    type: Literal["wait"] = "wait"
    id: NodeId
    duration: timedelta | None = Field(default=None, description="ISO 8601 (P1D) or seconds.")
    until_time: time | None = Field(default=None, description="Next local time of day.")
    until_event: EventSpec | None = None
    timeout: timedelta | None = Field(default=None, description="With until_event.")
    next: NodeId
    timeout_next: NodeId | None = Field(default=None, description="Edge taken on timeout.")

    @model_validator(mode="after")
    def _one_kind(self) -> WaitNode:
        kinds = [self.duration, self.until_time, self.until_event]
        if sum(k is not None for k in kinds) != 1:
            raise _invalid(
                "a wait has exactly one of duration, until_time, until_event", "duration"
            )
        if self.duration is not None and self.duration <= timedelta(0):
            raise _invalid("duration must be positive", "duration")
        if self.until_event is not None and (self.timeout is None or self.timeout_next is None):
            raise _invalid("until_event needs timeout and timeout_next", "timeout")
        if self.timeout is not None and self.timeout <= timedelta(0):
            raise _invalid("timeout must be positive", "timeout")
        return self


class BranchArm(_Data):
    """One arm of a branch: taken when ``when`` holds (arms are tried in order)."""

    when: BranchCondition
    next: NodeId


class BranchNode(_Data):
    """Go down the first arm whose condition holds, else ``else_next``."""

    type: Literal["branch"] = "branch"
    id: NodeId
    arms: list[BranchArm] = Field(min_length=1, max_length=20)
    else_next: NodeId


class Variant(_Data):
    """One arm of a random split; a holdout arm is the control group (usually to exit)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    weight: int = Field(ge=1, le=10_000)
    next: NodeId
    holdout: bool = False


class SplitNode(_Data):
    """A/B/n split by weights; a person always gets the same variant of a journey."""

    type: Literal["split"] = "split"
    id: NodeId
    variants: list[Variant] = Field(min_length=2, max_length=10)

    @model_validator(mode="after")
    def _names(self) -> SplitNode:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise _invalid("variant names must be unique", "variants")
        if sum(v.holdout for v in self.variants) > 1:
            raise _invalid("at most one holdout variant", "variants")
        return self


class ActionNode(_Data):
    """Do one thing (send, tag, points, coupon, webhook), then go on."""

    type: Literal["action"] = "action"
    id: NodeId
    action: ActionSpec
    next: NodeId


class StaffTaskNode(_Data):
    """Ask the customer's owner (staff) to do something; fall back when the SLA lapses."""

    type: Literal["staff_task"] = "staff_task"
    id: NodeId
    task: str = Field(min_length=1, max_length=1000, description="What the staff should do.")
    template: str | None = Field(default=None, max_length=200, description="WeCom message.")
    sla: timedelta = Field(description="Time the staff member has.")
    next: NodeId
    fallback: NodeId

    @field_validator("sla")
    @classmethod
    def _positive(cls, sla: timedelta) -> timedelta:
        if sla <= timedelta(0):
            raise _invalid("sla must be positive")
        return sla


class GoalNode(_Data):
    """Wait up to ``within`` for the conversion event; it converts the person anywhere."""

    type: Literal["goal"] = "goal"
    id: NodeId
    event: EventSpec
    within: timedelta = Field(default=timedelta(days=7))


class ExitNode(_Data):
    """Leave the journey."""

    type: Literal["exit"] = "exit"
    id: NodeId


Node = Annotated[
    WaitNode | BranchNode | SplitNode | ActionNode | StaffTaskNode | GoalNode | ExitNode,
    Field(discriminator="type"),
]


def edges_of(node: Node) -> list[str]:
    """The node ids a node can go to."""
    match node:
        case WaitNode():
            return [node.next] + ([node.timeout_next] if node.timeout_next else [])
        case BranchNode():
            return [arm.next for arm in node.arms] + [node.else_next]
        case SplitNode():
            return [v.next for v in node.variants]
        case ActionNode():
            return [node.next]
        case StaffTaskNode():
            return [node.next, node.fallback]
        case GoalNode() | ExitNode():
            return []


class Settings(_Data):
    """Who may enter and when."""

    reentry: bool = Field(default=False, description="May a person enter again?")
    reentry_after: timedelta | None = Field(
        default=None, description="Least time since the last entry before re-entering."
    )
    entry_limit: int | None = Field(default=None, ge=1, description="Entries per person.")
    max_entries: int | None = Field(default=None, ge=1, description="Entries in all.")
    start_at: datetime | None = Field(default=None, description="No entries before (aware).")
    end_at: datetime | None = Field(default=None, description="No entries from (aware).")
    priority: int = Field(default=0, description="Higher wins when frequency caps bite.")
    zone: str = Field(default="Asia/Shanghai", description="Zone of times of day.")

    @field_validator("zone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise _invalid("unknown time zone") from exc
        return zone

    @model_validator(mode="after")
    def _window(self) -> Settings:
        for value in (self.start_at, self.end_at):
            if value is not None and value.tzinfo is None:
                raise _invalid("start_at and end_at need a time zone", "start_at")
        if self.start_at and self.end_at and self.end_at <= self.start_at:
            raise _invalid("end_at must be after start_at", "end_at")
        return self


class JourneyDefinition(_Data):
    """A journey: how people enter, the node graph from ``start``, and settings."""

    name: str = Field(min_length=1, max_length=200)
    trigger: Trigger
    start: NodeId
    nodes: list[Node] = Field(min_length=1, max_length=200)
    settings: Settings = Field(default_factory=Settings)
    _nodes: dict[str, Node] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _graph(self) -> JourneyDefinition:
        ids = [n.id for n in self.nodes]
        seen: set[str] = set()
        for i, node_id in enumerate(ids):
            if node_id in seen:
                raise _invalid(f"duplicate node id {node_id!r}", f"nodes.{i}.id")
            seen.add(node_id)
        if self.start not in seen:
            raise _invalid(f"no node {self.start!r}", "start")
        for i, node in enumerate(self.nodes):
            for target in edges_of(node):
                if target not in seen:
                    raise _invalid(f"{node.id}: edge to unknown node {target!r}", f"nodes.{i}")
        _check_reachable_acyclic(self)
        return self

    def node_map(self) -> dict[str, Node]:
        """Nodes by id (built once: stepping asks for it per person)."""
        if not self._nodes:
            self._nodes.update((n.id, n) for n in self.nodes)
        return self._nodes


def _check_reachable_acyclic(definition: JourneyDefinition) -> None:
    nodes = definition.node_map()
    state: dict[str, int] = {}  # 1 = on the DFS stack, 2 = done

    index = {n.id: i for i, n in enumerate(definition.nodes)}

    def visit(node_id: str) -> None:
        state[node_id] = 1
        for target in edges_of(nodes[node_id]):
            if state.get(target) == 1:
                raise _invalid(
                    f"{node_id}: edge to {target!r} makes a cycle", f"nodes.{index[node_id]}"
                )
            if target not in state:
                visit(target)
        state[node_id] = 2

    visit(definition.start)
    for i, node in enumerate(definition.nodes):
        if node.id not in state:
            raise _invalid(f"{node.id}: not reachable from start", f"nodes.{i}")
