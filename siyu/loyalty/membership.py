"""Membership: tier ladders, enrolment bound to the OneID person, growth, paid terms, tier
history and the distribution board.

A member's tier is replayed by :func:`siyu.loyalty.tiers.replay` from growth entries, paid
terms and ``now``; the stored tier is a cache the period-end job (:func:`refresh_members`)
and every growth write bring up to date. Reaching a tier issues its upgrade coupons once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, insert, select
from sqlalchemy.orm import Session

from siyu.collect.models import Identifier, IdType
from siyu.core.errors import ConflictError, InvalidInputError, NotFoundError
from siyu.core.ids import new_id
from siyu.identity import service as identity
from siyu.loyalty import coupon_service as coupons
from siyu.loyalty import points
from siyu.loyalty.tier_evaluate import _evaluate, _paid_terms, evaluate, refresh_members
from siyu.loyalty.tier_ladder import get_tiers, set_tiers
from siyu.loyalty.tier_models import (
    BirthdayGift,
    GrowthCreate,
    Member,
    MemberEnrol,
    PaidMembership,
    PaidMembershipCreate,
    TierBenefits,
    TierCount,
    TierDistribution,
    TierHistoryEntry,
)
from siyu.loyalty.tier_tables import (
    loyalty_tiers,
    member_growth,
    member_tier_history,
    members,
    paid_memberships,
)

__all__ = [
    "add_growth",
    "buy_membership",
    "distribution",
    "enrol_many",
    "enrol_member",
    "evaluate",
    "get_member",
    "get_tiers",
    "grant_birthday_gift",
    "points_multiplier_pct",
    "refresh_members",
    "set_tiers",
    "tier_history",
]

# -- members ---------------------------------------------------------------------------------


def _person(session: Session, workspace_id: str, enrol: MemberEnrol) -> str:
    if enrol.person_id:
        return identity.current_person_id(
            session=session, workspace_id=workspace_id, person_id=enrol.person_id
        )
    key = (enrol.member_id or "").strip()
    found = identity.find_person(
        session=session, workspace_id=workspace_id, identifier=Identifier(IdType.MEMBER_ID, key)
    )
    if found is None:
        raise NotFoundError(
            f"no person with member_id {key!r} (send identify first)", field="member_id"
        )
    return identity.current_person_id(session=session, workspace_id=workspace_id, person_id=found)


def _member_row(session: Session, workspace_id: str, person_id: str) -> Row[Any] | None:
    ids = identity.person_ids_of(session=session, workspace_id=workspace_id, person_id=person_id)
    m = members.c
    return session.execute(
        select(members)
        .where(m.workspace_id == workspace_id, m.person_id.in_(ids))
        .order_by(m.enrolled_at)
    ).first()


def enrol_member(
    *, session: Session, workspace_id: str, enrol: MemberEnrol, now: datetime, source: str = "api"
) -> Member:
    """Enrol a person (by person id or member number) at the tier its growth earns.

    Enrolling a member again answers the member unchanged.

    Raises:
        NotFoundError: no such person, no person with that member_id, or no tiers defined.
        ConflictError: the member number belongs to another member.
    """
    ladder = get_tiers(session=session, workspace_id=workspace_id)
    person_id = _person(session, workspace_id, enrol)
    if _member_row(session, workspace_id, person_id) is not None:
        return get_member(session=session, workspace_id=workspace_id, person_id=person_id, now=now)
    member_no = (enrol.member_id or "").strip() or None
    m = members.c
    if (
        member_no
        and session.execute(
            select(m.person_id).where(m.workspace_id == workspace_id, m.member_no == member_no)
        ).first()
    ):
        raise ConflictError(
            f"member number {member_no!r} belongs to another member", field="member_id"
        )
    session.execute(
        insert(members).values(
            workspace_id=workspace_id,
            person_id=person_id,
            member_no=member_no,
            source=source,
            enrolled_at=now,
            tier=ladder.tiers[0].code,
            tier_since=now,
            growth=0,
            downgrade_at=None,
            evaluated_at=now,
        )
    )
    _evaluate(session, workspace_id, person_id, ladder, now)
    return get_member(session=session, workspace_id=workspace_id, person_id=person_id, now=now)


def enrol_many(
    *,
    session: Session,
    workspace_id: str,
    rows: Sequence[MemberEnrol],
    now: datetime,
    source: str = "import",
) -> dict[str, int]:
    """Enrol many (an import); unknown persons are counted, not fatal."""
    counts = {"enrolled": 0, "already": 0, "unknown": 0, "conflict": 0}
    for row in rows:
        try:
            person_id = _person(session, workspace_id, row)
        except NotFoundError:
            counts["unknown"] += 1
            continue
        if _member_row(session, workspace_id, person_id) is not None:
            counts["already"] += 1
            continue
        try:
            enrol_member(
                session=session, workspace_id=workspace_id, enrol=row, now=now, source=source
            )
        except ConflictError:
            counts["conflict"] += 1
            continue
        counts["enrolled"] += 1
    return counts


def _required_member(session: Session, workspace_id: str, person_id: str) -> Row[Any]:
    current = identity.current_person_id(
        session=session, workspace_id=workspace_id, person_id=person_id
    )
    row = _member_row(session, workspace_id, current)
    if row is None:
        raise NotFoundError(f"person {person_id} is not a member", field="person_id")
    return row


def get_member(*, session: Session, workspace_id: str, person_id: str, now: datetime) -> Member:
    """A member, its tier, growth and benefits.

    Raises:
        NotFoundError: the person is not a member.
    """
    row = _required_member(session, workspace_id, person_id)
    ladder = get_tiers(session=session, workspace_id=workspace_id)
    tier = next((t for t in ladder.tiers if t.code == row.tier), None)
    benefits = TierBenefits.model_validate(tier.model_dump()) if tier else None
    paid = _paid_terms(session, workspace_id, row.person_id)
    paid_until = max((p.ends_at for p in paid if p.ends_at > now), default=None)
    return Member.model_validate({**row._mapping, "benefits": benefits, "paid_until": paid_until})


def tier_history(*, session: Session, workspace_id: str, person_id: str) -> list[TierHistoryEntry]:
    """Every move of the member's tier, oldest first."""
    row = _required_member(session, workspace_id, person_id)
    h = member_tier_history.c
    rows = session.execute(
        select(h.at, h.from_tier, h.to_tier, h.change, h.growth)
        .where(h.workspace_id == workspace_id, h.person_id == row.person_id)
        .order_by(h.at, h.id)
    )
    return [TierHistoryEntry.model_validate(dict(r._mapping)) for r in rows]


# -- growth and paid terms -------------------------------------------------------------------


def add_growth(
    *,
    session: Session,
    workspace_id: str,
    person_id: str,
    growth: GrowthCreate,
    now: datetime,
    idempotency_key: str | None = None,
) -> Member:
    """Add growth value (成长值) and re-evaluate; an upgrade applies at once.

    A retry with the same key adds nothing again.
    """
    row = _required_member(session, workspace_id, person_id)
    g = member_growth.c
    seen = (
        idempotency_key
        and session.execute(
            select(g.id).where(g.workspace_id == workspace_id, g.idempotency_key == idempotency_key)
        ).first()
    )
    if not seen:
        at = growth.at or now
        if at > now:
            raise InvalidInputError("growth cannot be earned in the future", field="at")
        session.execute(
            insert(member_growth).values(
                workspace_id=workspace_id,
                person_id=row.person_id,
                amount=growth.amount,
                reason=growth.reason,
                at=at,
                idempotency_key=idempotency_key,
            )
        )
        _evaluate(
            session,
            workspace_id,
            row.person_id,
            get_tiers(session=session, workspace_id=workspace_id),
            now,
        )
    return get_member(session=session, workspace_id=workspace_id, person_id=row.person_id, now=now)


def buy_membership(
    *,
    session: Session,
    workspace_id: str,
    person_id: str,
    purchase: PaidMembershipCreate,
    now: datetime,
    idempotency_key: str | None = None,
) -> PaidMembership:
    """Buy or renew a paid tier: a renewal starts when the current term ends.

    Raises:
        InvalidInputError: the tier is not a paid tier.
    """
    scope = "member.buy"
    earlier = coupons.recall(
        session=session,
        workspace_id=workspace_id,
        scope=scope,
        key=idempotency_key,
        model=PaidMembership,
    )
    if earlier is not None:
        return earlier
    row = _required_member(session, workspace_id, person_id)
    ladder = get_tiers(session=session, workspace_id=workspace_id)
    tier = next((t for t in ladder.tiers if t.code == purchase.tier), None)
    if tier is None or tier.fee_fen is None or tier.term_days is None:
        raise InvalidInputError(f"{purchase.tier!r} is not a paid tier", field="tier")
    current_end = max(
        (
            p.ends_at
            for p in _paid_terms(session, workspace_id, row.person_id)
            if p.tier == tier.code and p.ends_at > now
        ),
        default=now,
    )
    term = PaidMembership(
        id=new_id("pm"),
        person_id=row.person_id,
        tier=tier.code,
        fee_fen=tier.fee_fen,
        order_id=purchase.order_id,
        starts_at=current_end,
        ends_at=current_end + timedelta(days=tier.term_days),
    )
    session.execute(
        insert(paid_memberships).values(
            workspace_id=workspace_id, created_at=now, **term.model_dump()
        )
    )
    coupons.remember(
        session=session,
        workspace_id=workspace_id,
        scope=scope,
        key=idempotency_key,
        result=term,
        now=now,
    )
    _evaluate(session, workspace_id, row.person_id, ladder, now)
    return term


def distribution(*, session: Session, workspace_id: str, now: datetime) -> TierDistribution:
    """Members per tier (as last evaluated), in grace, and with an active paid term."""
    ladder = get_tiers(session=session, workspace_id=workspace_id)
    m = members.c
    counts: dict[str, int] = dict(
        session.execute(
            select(m.tier, func.count()).where(m.workspace_id == workspace_id).group_by(m.tier)
        ).all()
    )
    total = sum(counts.values())
    grace = session.execute(
        select(func.count()).where(m.workspace_id == workspace_id, m.downgrade_at.is_not(None))
    ).scalar_one()
    p = paid_memberships.c
    paid = session.execute(
        select(func.count(func.distinct(p.person_id))).where(
            p.workspace_id == workspace_id, p.starts_at <= now, p.ends_at > now
        )
    ).scalar_one()
    return TierDistribution(
        total=total,
        tiers=[
            TierCount(
                tier=t.code,
                name=t.name,
                members=counts.get(t.code, 0),
                share=counts.get(t.code, 0) / total if total else 0.0,
            )
            for t in ladder.tiers
        ],
        in_grace=grace,
        paid_active=paid,
    )


# -- benefits that act ----------------------------------------------------------------------


def points_multiplier_pct(*, session: Session, workspace_id: str, person_id: str) -> int:
    """The member's order-points multiplier in % (100 for a non-member or no ladder)."""
    current = identity.current_person_id(
        session=session, workspace_id=workspace_id, person_id=person_id
    )
    row = _member_row(session, workspace_id, current)
    if row is None:
        return 100
    t = loyalty_tiers.c
    pct = session.execute(
        select(t.points_multiplier_pct).where(t.workspace_id == workspace_id, t.code == row.tier)
    ).scalar_one_or_none()
    return int(pct) if pct is not None else 100


def grant_birthday_gift(
    *, session: Session, workspace_id: str, person_id: str, now: datetime
) -> BirthdayGift:
    """Give the member's tier birthday gift: points through the ledger and a coupon, once a
    year (keyed by person and year, so a rerun of the birthday job gives nothing twice)."""
    row = _required_member(session, workspace_id, person_id)
    ladder = get_tiers(session=session, workspace_id=workspace_id)
    tier = next((t for t in ladder.tiers if t.code == row.tier), None)
    gift = BirthdayGift(person_id=row.person_id, tier=row.tier, year=now.year, points=0)
    if tier is None:
        return gift
    key = f"birthday:{row.person_id}:{now.year}"
    if tier.birthday_points:
        points.earn_points(
            session=session,
            workspace_id=workspace_id,
            person_id=row.person_id,
            points=tier.birthday_points,
            reason="birthday",
            idempotency_key=key,
            now=now,
            source="membership",
        )
        gift.points = tier.birthday_points
    if tier.birthday_coupon_template_id:
        coupon = coupons.issue_coupon(
            session=session,
            workspace_id=workspace_id,
            template_id=tier.birthday_coupon_template_id,
            person_id=row.person_id,
            now=now,
            idempotency_key=key,
            source="birthday",
        )
        gift.coupon_id = coupon.id
    return gift
