"""Loyalty in the flow: enrolment, growth and points from the events as they arrive."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from siyu.collect.models import CollectedEvent, IdType, MessageType
from siyu.core.errors import NotFoundError, SiyuError
from siyu.identity.tables import identity_merges, identity_persons
from siyu.loyalty import membership, points, points_transfer, tier_bulk, tier_merge
from siyu.loyalty.points_tables import points_accounts
from siyu.loyalty.tier_models import GrowthCreate, MemberEnrol, TierLadder
from siyu.loyalty.tier_tables import members

# -- loyalty in the flow (issue 4) ----------------------------------------------------------

ORDER_COMPLETED = "Order Completed"
ORDER_REFUNDED = "Order Refunded"
_ORDER_EVENTS = frozenset((ORDER_COMPLETED, ORDER_REFUNDED))
_MEMBER_NO_MAX = 200  # MemberEnrol.member_id


def _member_no(event: CollectedEvent) -> str | None:
    for ident in event.identifiers:
        if ident.type == IdType.MEMBER_ID:
            return ident.key
    return None


def _fen(value: Any) -> int | None:
    try:
        return round(float(value) * 100)
    except (TypeError, ValueError):
        return None


def apply_loyalty(
    *,
    session: Session,
    workspace_id: str,
    events: Sequence[CollectedEvent],
    person_ids: Sequence[str],
    now: datetime,
    bulk: bool = True,
) -> int:
    """Hand the batch's loyalty actions to loyalty, in the caller's transaction.

    Only for a workspace with a tier ladder: an identify (or order) carrying a member_id
    enrols its person once; an ``Order Completed`` of a member earns points per yuan with the
    tier's multiplier and growth (成长值) per yuan; an ``Order Refunded`` reverses them (in
    proportion to ``revenue`` against the order's amount). Points are keyed by the order
    (``properties.order_id``, else the message id) and growth likewise, so a retried batch
    earns nothing twice. Returns how many actions were applied.

    With ``bulk`` (the default) enrolments and orders are applied for the whole batch at once
    (:mod:`siyu.loyalty.tier_bulk`); a person with a refund in the batch takes the event-by-
    event path, which ``bulk=False`` uses for everyone (same results, tested side by side).
    """
    relevant = [
        i
        for i, event in enumerate(events)
        if event.event in _ORDER_EVENTS
        or (event.type == MessageType.IDENTIFY and event.identifiers)
    ]
    if not relevant:
        return 0
    try:
        ladder = membership.get_tiers(session=session, workspace_id=workspace_id)
    except NotFoundError:
        return 0  # loyalty is not configured here: nothing to do, nothing spent
    tier_of = _tiers_of(session, workspace_id, {person_ids[i] for i in relevant})
    slow = relevant
    done = 0
    if bulk:
        refunding = {person_ids[i] for i in relevant if events[i].event == ORDER_REFUNDED}
        slow = [i for i in relevant if person_ids[i] in refunding]
        fast = [i for i in relevant if person_ids[i] not in refunding]
        done = _apply_bulk(session, workspace_id, ladder, events, person_ids, fast, tier_of, now)
    return done + _apply_each(session, workspace_id, ladder, events, person_ids, slow, tier_of, now)


def _tiers_of(session: Session, workspace_id: str, persons: set[str]) -> dict[str, str]:
    m = members.c
    return {
        row.person_id: row.tier
        for row in session.execute(
            select(m.person_id, m.tier).where(
                m.workspace_id == workspace_id, m.person_id.in_(persons)
            )
        )
    }


def _taken_numbers(session: Session, workspace_id: str, numbers: set[str]) -> set[str]:
    m = members.c
    return set(
        session.execute(
            select(m.member_no).where(m.workspace_id == workspace_id, m.member_no.in_(numbers))
        ).scalars()
    )


def _apply_bulk(
    session: Session,
    workspace_id: str,
    ladder: TierLadder,
    events: Sequence[CollectedEvent],
    person_ids: Sequence[str],
    indexes: Sequence[int],
    tier_of: dict[str, str],
    now: datetime,
) -> int:
    """Plan the batch as the event-by-event loop would take it, then apply it at once."""
    numbers = {n.strip() for i in indexes if (n := _member_no(events[i])) is not None}
    taken = _taken_numbers(session, workspace_id, numbers)
    is_member = set(tier_of)
    enrols: list[tuple[str, str | None]] = []
    orders: list[tier_bulk.OrderCredit] = []
    for i in indexes:
        event, person = events[i], person_ids[i]
        member_no = _member_no(event)
        if member_no is not None and person not in is_member:
            number = member_no.strip() or None
            if len(member_no) > _MEMBER_NO_MAX or (number is not None and number in taken):
                continue  # enrol_member would refuse it: the event is skipped, as event by event
            enrols.append((person, number))
            is_member.add(person)
            if number is not None:
                taken.add(number)
        if event.event == ORDER_COMPLETED and person in is_member:
            orders.append(
                tier_bulk.OrderCredit(
                    person_id=person,
                    order_id=_order_id(event),
                    amount_fen=abs(event.revenue_fen or 0),
                    reason=event.event or "order",
                    at=min(event.timestamp, now),
                )
            )
    if not enrols and not orders:
        return 0
    tier_bulk.apply_batch(
        session=session, workspace_id=workspace_id, ladder=ladder, enrols=enrols, orders=orders,
        now=now,
    )  # fmt: skip
    return len(enrols) + len(orders)


def _apply_each(
    session: Session,
    workspace_id: str,
    ladder: TierLadder,
    events: Sequence[CollectedEvent],
    person_ids: Sequence[str],
    indexes: Sequence[int],
    tier_of: dict[str, str],
    now: datetime,
) -> int:
    """The event-by-event path: enrol, then points and growth per order or refund."""
    multiplier = {t.code: t.points_multiplier_pct for t in ladder.tiers}
    member_of: dict[str, str] = {}  # batch person → member person, where they differ
    done = 0
    for i in indexes:
        event, person = events[i], person_ids[i]
        member_no = _member_no(event)
        try:
            if member_no is not None and person not in tier_of:
                enrolled = membership.enrol_member(
                    session=session,
                    workspace_id=workspace_id,
                    enrol=MemberEnrol(person_id=person, member_id=member_no),
                    now=now,
                    source="identify",
                )
                tier_of[person], member_of[person] = enrolled.tier, enrolled.person_id
                done += 1
            if event.event in _ORDER_EVENTS and person in tier_of:
                member = member_of.get(person, person)
                pct = multiplier.get(tier_of[person], 100)
                tier = _order_loyalty(session, workspace_id, event, member, pct, now)
                if tier is not None:
                    tier_of[person] = tier
                    done += 1
        except (SiyuError, ValueError):
            # a member number held by another member, a refund of no points, an order id too
            # long for a key: loyalty skips it, the event itself is still ingested
            continue
    return done


def _order_id(event: CollectedEvent) -> str:
    return str(event.properties.get("order_id") or event.message_id)


def _order_loyalty(
    session: Session,
    workspace_id: str,
    event: CollectedEvent,
    member: str,
    multiplier_pct: int,
    now: datetime,
) -> str | None:
    """Points and growth for one order or refund of a member; the tier after, or None when
    the order was handled before (a re-sent order under a new message id)."""
    order_id = _order_id(event)
    amount = abs(event.revenue_fen or 0)
    if event.event == ORDER_COMPLETED:
        if amount <= 0:
            return None
        earned = points.earn_for_order(
            session=session,
            workspace_id=workspace_id,
            person_id=member,
            order_id=order_id,
            amount_fen=amount,
            now=now,
            multiplier_pct=multiplier_pct,
        )
        growth = amount // 100
        key = f"order:{order_id}"
    else:
        refund_id = str(event.properties.get("refund_id") or event.message_id)
        earned = points.reverse_order(
            session=session,
            workspace_id=workspace_id,
            person_id=member,
            order_id=order_id,
            refund_id=refund_id,
            now=now,
            refund_fen=amount or None,
            order_fen=_fen(event.properties.get("order_total")),
        )
        growth = -(amount // 100)
        key = f"refund:{order_id}:{refund_id}"
    if earned.replayed:
        return None
    if not growth:
        return None
    after = membership.add_growth(
        session=session,
        workspace_id=workspace_id,
        person_id=member,
        growth=GrowthCreate(
            amount=growth, reason=event.event or "order", at=min(event.timestamp, now)
        ),
        now=now,
        idempotency_key=key,
    )
    return after.tier


# -- merges --------------------------------------------------------------------------------

_MERGE_CHUNK = 5000


def _absorbed_holders(session: Session, workspace_id: str, roots: list[str]) -> list[Any]:
    """Persons merged into one of ``roots`` that still hold points or a member record."""
    p, m, a = identity_persons.c, members.c, points_accounts.c
    holds = exists().where(m.workspace_id == p.workspace_id, m.person_id == p.id) | exists().where(
        a.workspace_id == p.workspace_id, a.person_id == p.id, a.balance > 0
    )
    found: list[Any] = []
    for start in range(0, len(roots), _MERGE_CHUNK):
        chunk = roots[start : start + _MERGE_CHUNK]
        found.extend(
            session.execute(
                select(p.id, p.survivor_id)
                .where(p.workspace_id == workspace_id, p.survivor_id.in_(chunk), holds)
                .order_by(p.rank)
            ).all()
        )
    return found


def _merge_key(session: Session, workspace_id: str, absorbed: str, survivor: str) -> str:
    mg = identity_merges.c
    merge_id = session.execute(
        select(func.max(mg.id)).where(
            mg.workspace_id == workspace_id, mg.absorbed_id == absorbed, mg.split_at.is_(None)
        )
    ).scalar_one_or_none()
    return f"merge:{merge_id}" if merge_id is not None else f"merge:{absorbed}>{survivor}"


def apply_merges(
    *, session: Session, workspace_id: str, person_ids: Sequence[str], now: datetime
) -> int:
    """Move the points, growth and membership of persons merged away into their survivor.

    Run after identity resolved the batch: every person now merged into one of the batch's
    persons that still holds points or a member record hands them over through ledger entries
    keyed by the merge (``merge:<id>``), so a re-sent batch moves nothing twice. Returns how
    many persons were moved.
    """
    holders = _absorbed_holders(session, workspace_id, sorted(set(person_ids)))
    for row in holders:
        key = _merge_key(session, workspace_id, row.id, row.survivor_id)
        common = {
            "session": session,
            "workspace_id": workspace_id,
            "from_person": row.id,
            "to_person": row.survivor_id,
            "merge_key": key,
            "now": now,
        }
        points_transfer.move_points(**common)
        tier_merge.move_membership(**common)
    return len(holders)
