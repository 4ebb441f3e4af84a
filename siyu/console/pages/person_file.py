"""Everything the 360° view shows about one person, read in one blocking call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from siyu import pipeline
from siyu.analytics import layers_service as layers
from siyu.channels import service as channels
from siyu.channels.outbox_models import Message
from siyu.core.errors import NotFoundError
from siyu.core.runtime import Runtime
from siyu.loyalty import coupon_service as coupons
from siyu.loyalty import membership, points
from siyu.loyalty.coupon_models import Coupon
from siyu.loyalty.points_models import PointsEntry
from siyu.loyalty.tier_models import Member
from siyu.profiles import notes, tags
from siyu.profiles.tag_models import Note, PersonTag
from siyu.referral import service as referral
from siyu.referral.models import TreeNode
from siyu.segments.lifecycle import Transition

TIMELINE = 50


class PersonFile(BaseModel):
    """A person's 360° view."""

    person: pipeline.PersonView
    tags: list[PersonTag]
    notes: list[Note]
    transitions: list[Transition]
    member: Member | None = Field(description="None: not a loyalty member.")
    tier_name: str | None = Field(default=None, description="The member's tier, by name.")
    balance: int | None
    ledger: list[PointsEntry]
    coupons: list[Coupon]
    ancestors: list[TreeNode]
    subtree: list[TreeNode]
    events: list[dict[str, Any]]
    messages: list[Message] = Field(description="Outbox messages to the person, newest first.")


def _loyalty(
    runtime: Runtime, workspace_id: str, person_id: str, now: datetime
) -> tuple[Member | None, int | None, list[PointsEntry], list[Coupon]]:
    with runtime.sessions() as session:
        try:
            member: Member | None = membership.get_member(
                session=session, workspace_id=workspace_id, person_id=person_id, now=now
            )
        except NotFoundError:
            member = None
        account = points.get_account(
            session=session, workspace_id=workspace_id, person_id=person_id
        )
        ledger = points.list_entries(
            session=session, workspace_id=workspace_id, person_id=person_id, limit=50
        ).entries
        held = coupons.list_coupons(
            session=session, workspace_id=workspace_id, now=now, person_id=person_id, limit=50
        )
    return member, account.balance, ledger, held


def _tier_name(runtime: Runtime, workspace_id: str, code: str) -> str:
    with runtime.sessions() as session:
        try:
            ladder = membership.get_tiers(session=session, workspace_id=workspace_id)
        except NotFoundError:
            return code
    return next((tier.name for tier in ladder.tiers if tier.code == code), code)


def load_person(
    *, runtime: Runtime, workspace_id: str, person_id: str, now: datetime
) -> PersonFile:
    """The person ``person_id`` (or its survivor) with its tags, loyalty, referrals, events."""
    person = pipeline.get_person(runtime=runtime, workspace_id=workspace_id, person_id=person_id)
    current = person.person_id
    with runtime.sessions() as session:
        held_tags = tags.tags_of(session=session, workspace_id=workspace_id, person_id=current)
        written = notes.notes_of(session=session, workspace_id=workspace_id, person_id=current)
        above = referral.ancestors(session=session, workspace_id=workspace_id, person_id=current)
        below = referral.subtree(
            session=session, workspace_id=workspace_id, person_id=current, max_depth=3
        )
        sent = channels.list_messages(
            session=session, workspace_id=workspace_id, person_id=current, limit=TIMELINE
        )
    member, balance, ledger, held = _loyalty(runtime, workspace_id, current, now)
    tier_name = _tier_name(runtime, workspace_id, member.tier) if member else None
    return PersonFile(
        person=person,
        tags=held_tags,
        notes=written,
        transitions=layers.person_transitions(
            runtime=runtime, workspace_id=workspace_id, person_id=current, limit=20
        ),
        member=member,
        tier_name=tier_name,
        balance=balance,
        ledger=ledger,
        coupons=held,
        ancestors=above,
        subtree=below,
        messages=sent,
        events=pipeline.person_events(
            runtime=runtime,
            workspace_id=workspace_id,
            person_id=current,
            limit=TIMELINE,
            before=None,
        ),
    )


def add_note(
    *, runtime: Runtime, workspace_id: str, person_id: str, text: str, now: datetime
) -> Note:
    """Attach an operator's note to the person."""
    with runtime.sessions() as session, session.begin():
        return notes.add_note(
            session=session,
            workspace_id=workspace_id,
            person_id=person_id,
            text=text,
            now=now,
            author="console",
        )
