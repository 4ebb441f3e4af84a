"""Lifecycle stage and activity status from behaviour, and the transitions between runs.

Pure: per-person facts and settings in, states and transitions out; ``now`` is an input.

**Stage** (tag group 生命周期) — the furthest step a person has reached, checked from the top:

=============== ======== =====================================================
advocate        推荐官   referred at least one person who then ordered
member          会员     holds a member number (``member_id``)
repeat          复购客户 two or more orders
first_purchase  首购客户 exactly one order
potential       种草潜客 engaged (any track event, or ``engaged_views`` page/screen
                         views) but never ordered
stranger        陌生人   known, not engaged
=============== ======== =====================================================

**Activity** (tag group 活跃度) — days since the person's latest event of any kind: at most
``active_days`` is active; beyond ``churned_days`` churned; in between at-risk. An active
person whose return came after a silence longer than ``churned_days`` is *won back* (召回)
until they next fall out of the active window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator


class Stage(StrEnum):
    """Lifecycle stages, from furthest to nearest."""

    ADVOCATE = "advocate"
    MEMBER = "member"
    REPEAT = "repeat"
    FIRST_PURCHASE = "first_purchase"
    POTENTIAL = "potential"
    STRANGER = "stranger"


class Activity(StrEnum):
    """Activity status from days since the latest event."""

    ACTIVE = "active"
    WON_BACK = "won_back"
    AT_RISK = "at_risk"
    CHURNED = "churned"


STAGE_TAGS: dict[Stage, str] = {
    Stage.ADVOCATE: "推荐官",
    Stage.MEMBER: "会员",
    Stage.REPEAT: "复购客户",
    Stage.FIRST_PURCHASE: "首购客户",
    Stage.POTENTIAL: "种草潜客",
    Stage.STRANGER: "陌生人",
}
"""The tag each stage writes in the group 生命周期."""

ACTIVITY_TAGS: dict[Activity, str] = {
    Activity.ACTIVE: "活跃",
    Activity.WON_BACK: "召回",
    Activity.AT_RISK: "预流失",
    Activity.CHURNED: "流失",
}
"""The tag each activity status writes in the group 活跃度."""

STAGE_GROUP = "生命周期"
ACTIVITY_GROUP = "活跃度"


class LifecycleSettings(BaseModel):
    """A workspace's lifecycle thresholds."""

    active_days: int = Field(default=30, ge=1, le=3650, description="Active within this.")
    churned_days: int = Field(
        default=90, ge=2, le=3650, description="Churned beyond this; at-risk in between."
    )
    engaged_views: int = Field(
        default=3, ge=1, le=1000, description="Page/screen views that make a person engaged."
    )

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleSettings:
        if self.churned_days <= self.active_days:
            raise ValueError("churned_days must be greater than active_days")
        return self


class PersonFacts(BaseModel):
    """What lifecycle reads about one person (as of ``now``)."""

    person_id: str
    last_seen: datetime = Field(description="Latest event of any kind.")
    views: int = Field(default=0, description="Page and screen events.")
    interactions: int = Field(default=0, description="Track events other than orders.")
    orders: int = 0
    member: bool = False
    referred_buyers: int = Field(default=0, description="People they referred who ordered.")
    returned_at: datetime | None = Field(
        default=None, description="First event inside the active window."
    )
    before_return_at: datetime | None = Field(
        default=None, description="Latest event before the active window."
    )


class LifecycleState(BaseModel):
    """One person's stage and activity after a run."""

    person_id: str
    stage: Stage
    activity: Activity
    days_inactive: int


class Transition(BaseModel):
    """A change of stage or activity found by a run."""

    person_id: str
    dimension: str = Field(description="stage | activity")
    from_value: str | None = Field(description="Null the first time a person is placed.")
    to_value: str
    at: datetime


def stage_of(facts: PersonFacts, settings: LifecycleSettings) -> Stage:
    """The furthest stage ``facts`` reach."""
    if facts.referred_buyers > 0:
        return Stage.ADVOCATE
    if facts.member:
        return Stage.MEMBER
    if facts.orders >= 2:
        return Stage.REPEAT
    if facts.orders == 1:
        return Stage.FIRST_PURCHASE
    if facts.interactions > 0 or facts.views >= settings.engaged_views:
        return Stage.POTENTIAL
    return Stage.STRANGER


def activity_of(facts: PersonFacts, settings: LifecycleSettings, now: datetime) -> Activity:
    """Active, won back, at risk or churned, from days since the latest event."""
    idle = now - facts.last_seen
    if idle > timedelta(days=settings.churned_days):
        return Activity.CHURNED
    if idle > timedelta(days=settings.active_days):
        return Activity.AT_RISK
    if (
        facts.returned_at is not None
        and facts.before_return_at is not None
        and facts.returned_at - facts.before_return_at > timedelta(days=settings.churned_days)
    ):
        return Activity.WON_BACK
    return Activity.ACTIVE


def classify(
    facts: Sequence[PersonFacts], *, settings: LifecycleSettings, now: datetime
) -> list[LifecycleState]:
    """Every person's stage and activity."""
    return [
        LifecycleState(
            person_id=f.person_id,
            stage=stage_of(f, settings),
            activity=activity_of(f, settings, now),
            days_inactive=max((now - f.last_seen).days, 0),
        )
        for f in facts
    ]


def transitions(
    previous: Mapping[str, tuple[str, str]], current: Sequence[LifecycleState], *, now: datetime
) -> list[Transition]:
    """Changes from ``previous`` (person → (stage, activity)) to ``current``."""
    found: list[Transition] = []
    for state in current:
        before_stage, before_activity = previous.get(state.person_id, (None, None))
        if before_stage != state.stage.value:
            found.append(
                Transition(
                    person_id=state.person_id,
                    dimension="stage",
                    from_value=before_stage,
                    to_value=state.stage.value,
                    at=now,
                )
            )
        if before_activity != state.activity.value:
            found.append(
                Transition(
                    person_id=state.person_id,
                    dimension="activity",
                    from_value=before_activity,
                    to_value=state.activity.value,
                    at=now,
                )
            )
    return found
