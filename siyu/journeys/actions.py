"""What stepping a person produces: the actions (as data) and where the person rests next.

Journeys never execute an action. The engine hands the actions of a batch to the caller's
``apply_actions`` in the same transaction as the state change, so a crash loses or doubles
neither; every action carries an idempotency key derived from state id, node and entry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from siyu.channels.models import MessageRequest


class StateStatus(StrEnum):
    """Where a person's entry is in its life."""

    ACTIVE = "active"  # about to run node_id (due_at is when)
    WAITING = "waiting"  # node_id ran; waiting for time, an event or a staff member
    EXITED = "exited"  # reached an exit (or a goal's time ran out)
    CONVERTED = "converted"  # did the goal event
    FAILED = "failed"  # the definition no longer allows going on (never expected)


LIVE = (StateStatus.ACTIVE, StateStatus.WAITING)


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str = Field(description="Idempotency key: journey:<state>:<node>:<entry_no>.")
    journey_id: str
    node_id: str
    person_id: str


class SendMessage(_Action):
    """Ask channels to send a message (the outbox applies consent and caps)."""

    type: Literal["send_message"] = "send_message"
    request: MessageRequest
    offer: Literal["issue", "show"] = Field(
        default="issue", description="Issue a coupon next-best offer with the send, or show it."
    )


class AddTag(_Action):
    """Give the person a tag."""

    type: Literal["add_tag"] = "add_tag"
    tag: str


class RemoveTag(_Action):
    """Take a tag from the person."""

    type: Literal["remove_tag"] = "remove_tag"
    tag: str


class AwardPoints(_Action):
    """Award loyalty points (loyalty keys the ledger entry by ``key``)."""

    type: Literal["award_points"] = "award_points"
    points: int
    reason: str


class IssueCoupon(_Action):
    """Issue one coupon of a template."""

    type: Literal["issue_coupon"] = "issue_coupon"
    template_id: str


class CallWebhook(_Action):
    """Call a webhook (through the outbox, so it is retried and signed)."""

    type: Literal["call_webhook"] = "call_webhook"
    url: str
    payload: dict[str, str]


class StaffTask(_Action):
    """Ask the person's owner (their WeCom staff member) to act before ``due_at``."""

    type: Literal["staff_task"] = "staff_task"
    task: str
    template: str | None
    due_at: datetime


Action = Annotated[
    SendMessage | AddTag | RemoveTag | AwardPoints | IssueCoupon | CallWebhook | StaffTask,
    Field(discriminator="type"),
]


class ActionFailure(BaseModel):
    """An action the caller could not apply (counted as failed in stats; the person goes on)."""

    key: str
    reason: str


ApplyActions = Callable[[Session, Sequence[Action]], Sequence[ActionFailure]]
"""The caller's hook: apply a batch's actions in ``session`` (the engine's transaction)."""


def ignore_actions(_session: Session, _actions: Sequence[Action]) -> Sequence[ActionFailure]:
    """An ``apply_actions`` that applies nothing (dry runs, tests of the flow alone)."""
    return []


@dataclass(slots=True)
class StepState:
    """The part of a stored state that stepping reads."""

    id: str
    journey_id: str
    person_id: str
    entry_no: int
    node_id: str
    status: StateStatus
    variant: str | None = None


@dataclass(slots=True)
class Facts:
    """What branches and personalisation read about a person."""

    traits: dict[str, Any] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()  # tag ids and "group/name"
    segments: frozenset[str] = frozenset()
    event_counts: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Outcome:
    """Where a step leaves a person, and what it did on the way."""

    node_id: str
    status: StateStatus
    due_at: datetime | None
    wait_event: str | None = None
    variant: str | None = None
    visited: list[str] = field(default_factory=list)  # nodes run, in order
    actions: list[Any] = field(default_factory=list)  # Action models
