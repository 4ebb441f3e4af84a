"""The bodies of the scheduled loyalty and referral jobs (``pipeline.jobs`` claims and runs
them): expiry of points and coupons, paid terms ending, referral payouts, tier period ends,
expiry reminders and birthday gifts. Each takes ``now`` and is idempotent on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from siyu.collect.models import CollectedEvent, Identifier, MessageType
from siyu.core.errors import ConflictError, NotFoundError
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.loyalty import coupon_service, membership, points_audit
from siyu.loyalty.points_models import ExpiringPoints
from siyu.loyalty.tier_tables import members, paid_memberships
from siyu.pipeline import referral as referral_flow
from siyu.pipeline.ingest import ingest_events
from siyu.profiles.tables import profile_traits

REMIND_DAYS = 7  # remind a week before points expire
_MAX_ROUNDS = 10_000  # expiry batches per run (500 lots each): a bound, never reached in practice
_REMIND_BATCH = 500
_EVALUATE_CHUNK = 200


@dataclass
class Outcome:
    """What a job did: one line for people and the numbers behind it."""

    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


def expire_points(runtime: Runtime, workspace_id: str, zone: str, now: datetime) -> Outcome:
    """Expire every points lot due by ``now`` (a batch per transaction; keyed per lot)."""
    lots = total = 0
    for _ in range(_MAX_ROUNDS):
        with runtime.sessions() as session, session.begin():
            batch = points_audit.expire_due(session=session, now=now, workspace_id=workspace_id)
        lots, total = lots + batch.lots, total + batch.points
        if batch.lots == 0:
            break
    return Outcome(f"expired {total} points in {lots} lots", {"lots": lots, "points": total})


def expire_coupons(runtime: Runtime, workspace_id: str, zone: str, now: datetime) -> Outcome:
    """Mark issued coupons past their window expired."""
    with runtime.sessions() as session, session.begin():
        result = coupon_service.expire_coupons(session=session, workspace_id=workspace_id, now=now)
    return Outcome(f"expired {result.expired} coupons", {"expired": result.expired})


def _has_ladder(session: Session, workspace_id: str) -> bool:
    try:
        membership.get_tiers(session=session, workspace_id=workspace_id)
    except NotFoundError:
        return False
    return True


def _evaluate_in_chunks(
    runtime: Runtime, workspace_id: str, person_ids: list[str], now: datetime
) -> dict[str, int]:
    """Re-evaluate members a chunk per transaction (never one transaction holding every
    member row, or SQLite's single writer, for the whole job)."""
    moved = {"evaluated": 0, "upgraded": 0, "downgraded": 0}
    for start in range(0, len(person_ids), _EVALUATE_CHUNK):
        with runtime.sessions() as session, session.begin():
            ladder = membership.get_tiers(session=session, workspace_id=workspace_id)
            for person_id in person_ids[start : start + _EVALUATE_CHUNK]:
                change = membership.evaluate(
                    session=session,
                    workspace_id=workspace_id,
                    person_id=person_id,
                    ladder=ladder,
                    now=now,
                )
                moved["evaluated"] += 1
                moved["upgraded"] += change == "up"
                moved["downgraded"] += change == "down"
    return moved


def refresh_tiers(runtime: Runtime, workspace_id: str, zone: str, now: datetime) -> Outcome:
    """The tier period end: re-evaluate every member, so downgrades past grace apply."""
    with runtime.sessions() as session:
        if not _has_ladder(session, workspace_id):
            return Outcome("no tier ladder")
        m = members.c
        ids = list(
            session.execute(
                select(m.person_id).where(m.workspace_id == workspace_id).order_by(m.person_id)
            ).scalars()
        )
    moved = _evaluate_in_chunks(runtime, workspace_id, ids, now)
    return Outcome(
        f"evaluated {moved['evaluated']} members: {moved['upgraded']} up, "
        f"{moved['downgraded']} down",
        moved,
    )


def _lapsed_paid_members(session: Session, workspace_id: str, now: datetime) -> list[str]:
    """Members still holding a paid tier without a paid term running now."""
    ladder = membership.get_tiers(session=session, workspace_id=workspace_id)
    paid_tiers = [t.code for t in ladder.tiers if t.fee_fen is not None]
    if not paid_tiers:
        return []
    m, p = members.c, paid_memberships.c
    running = exists().where(
        and_(
            p.workspace_id == m.workspace_id,
            p.person_id == m.person_id,
            p.starts_at <= now,
            p.ends_at > now,
        )
    )
    query = select(m.person_id).where(
        m.workspace_id == workspace_id, m.tier.in_(paid_tiers), ~running
    )
    return list(session.execute(query.order_by(m.person_id)).scalars())


def end_paid_terms(runtime: Runtime, workspace_id: str, zone: str, now: datetime) -> Outcome:
    """Paid membership expiry: members whose paid term has ended are re-evaluated at once
    (the tier rules decide whether the tier it bought ends now or at its period end)."""
    with runtime.sessions() as session:
        if not _has_ladder(session, workspace_id):
            return Outcome("no tier ladder")
        lapsed = _lapsed_paid_members(session, workspace_id, now)
    if not lapsed:
        return Outcome("no paid term ended", {"lapsed": 0})
    moved = _evaluate_in_chunks(runtime, workspace_id, lapsed, now)
    return Outcome(
        f"{len(lapsed)} paid terms ended: {moved['downgraded']} members moved down",
        {"lapsed": len(lapsed), **moved},
    )


def pay_referral_rewards(runtime: Runtime, workspace_id: str, zone: str, now: datetime) -> Outcome:
    """Hand pending referral rewards to loyalty (each keyed: a rerun pays nothing twice)."""
    payout = referral_flow.pay_referral_rewards(runtime=runtime, workspace_id=workspace_id, now=now)
    detail = {"paid": len(payout.paid), "failed": len(payout.failed)}
    return Outcome(f"paid {len(payout.paid)} rewards, {len(payout.failed)} refused", detail)


# -- reminders and birthdays ----------------------------------------------------------------


def _reminder(
    session: Session, workspace_id: str, due: ExpiringPoints, zone: str, now: datetime
) -> CollectedEvent | None:
    held = identity.identifiers_of(
        session=session, workspace_id=workspace_id, person_id=due.person_id
    )
    if not held:
        return None
    today = now.astimezone(ZoneInfo(zone)).date()
    expires_on = due.first_expires_at.astimezone(ZoneInfo(zone)).date()
    return CollectedEvent(
        message_id=f"loyalty:points-expiring:{due.person_id}:{today.isoformat()}",
        type=MessageType.IDENTIFY,
        timestamp=now,
        received_at=now,
        identifiers=[Identifier(held[0].type, held[0].key)],
        traits={"points_expiring": due.points, "points_expiring_on": expires_on.isoformat()},
    )


def remind_expiring_points(
    runtime: Runtime, workspace_id: str, zone: str, now: datetime
) -> Outcome:
    """Points expiring within a week: set the member's ``points_expiring`` and
    ``points_expiring_on`` traits through the collect path (one identify per member and local
    day, deduplicated by message id), so a journey's date-trait trigger (e.g. 3 days before
    ``points_expiring_on``) or a segment can send the reminder; the event is in the store."""
    with runtime.sessions() as session, session.begin():
        due = points_audit.expiring_soon(
            session=session, workspace_id=workspace_id, now=now,
            within_days=REMIND_DAYS, limit=10_000,
        )  # fmt: skip
        events = [e for d in due if (e := _reminder(session, workspace_id, d, zone, now))]
        new = 0
        for start in range(0, len(events), _REMIND_BATCH):
            new += ingest_events(
                session=session,
                workspace_id=workspace_id,
                events=events[start : start + _REMIND_BATCH],
                now=now,
            )
    return Outcome(
        f"reminded {new} members of expiring points ({len(due)} due within {REMIND_DAYS} days)",
        {"due": len(due), "reminded": new},
    )


def _birthday_of(value: Any) -> tuple[int, int] | None:
    """(month, day) of a birthday trait: ``YYYY-MM-DD`` (or a datetime) or ``MM-DD``."""
    text = str(value or "").strip()
    try:
        if len(text) >= 10:
            found = date.fromisoformat(text[:10])
            return found.month, found.day
        month, day = (int(part) for part in text.split("-"))
        date(2000, month, day)  # a leap year: 02-29 is a birthday
    except ValueError:
        return None
    return month, day


def _celebrated_today(birthday: tuple[int, int], today: date) -> bool:
    if birthday == (2, 29) and not _leap(today.year):
        return (today.month, today.day) == (2, 28)
    return birthday == (today.month, today.day)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _birthday_persons(session: Session, workspace_id: str, today: date) -> Iterator[str]:
    t = profile_traits.c
    rows = session.execute(
        select(t.person_id, t.value).where(t.workspace_id == workspace_id, t.name == "birthday")
    )
    seen: set[str] = set()
    for person_id, value in rows:
        birthday = _birthday_of(value)
        if birthday is None or not _celebrated_today(birthday, today):
            continue
        current = identity.current_person_id(
            session=session, workspace_id=workspace_id, person_id=person_id
        )
        if current not in seen:
            seen.add(current)
            yield current


def give_birthday_gifts(runtime: Runtime, workspace_id: str, zone: str, now: datetime) -> Outcome:
    """Members whose ``birthday`` trait falls on today (local; 29 Feb on 28 Feb in other
    years) get their tier's gift — points and a coupon, once a year each (keyed by person and
    year). Non-members are passed over; a gift loyalty refuses (coupon out of stock) is
    counted."""
    today = now.astimezone(ZoneInfo(zone)).date()
    with runtime.sessions() as session:
        if not _has_ladder(session, workspace_id):
            return Outcome("no tier ladder")
        persons = list(_birthday_persons(session, workspace_id, today))
    given = refused = points = 0
    for person_id in persons:
        try:
            with runtime.sessions() as session, session.begin():
                gift = membership.grant_birthday_gift(
                    session=session, workspace_id=workspace_id, person_id=person_id, now=now
                )
        except NotFoundError:
            continue  # not a member
        except ConflictError:
            refused += 1
            continue
        given += 1
        points += gift.points
    return Outcome(
        f"{given} birthday gifts ({points} points), {refused} refused",
        {"birthdays": len(persons), "given": given, "points": points, "refused": refused},
    )
