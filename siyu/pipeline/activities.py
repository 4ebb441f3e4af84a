"""Activities (活动运营): actions with their track events, rewards paid through loyalty,
team expiry, and each activity's funnel and ROI from the event store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.activities import service as activities
from siyu.activities import teams
from siyu.activities.models import (
    ActivityStats,
    FunnelStep,
    Participation,
    Refusal,
    RewardAction,
    RewardFailure,
    RewardPayout,
    Team,
)
from siyu.collect.models import CollectedEvent, Identifier, MessageType
from siyu.core.errors import ConflictError, SiyuError
from siyu.core.eventstore import EventStore
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.pipeline.ingest import flush, ingest_events
from siyu.pipeline.rewards import grant_reward

Action = Callable[..., Participation | Refusal]

FUNNEL = (
    ("view", "activity_viewed"),
    ("join", "activity_joined"),
    ("share", "activity_shared"),
    ("help", "activity_helped"),
    ("complete", "activity_completed"),
    ("order", "Order Completed"),
)
_JOINING = {"draw", "start", "join", "register", "checkin"}


def _event(
    session: Session, workspace_id: str, person: str, name: str, entry: Participation
) -> CollectedEvent | None:
    held = identity.identifiers_of(session=session, workspace_id=workspace_id, person_id=person)
    if not held:
        return None
    return CollectedEvent(
        message_id=f"act:{entry.id}:{name}:{person}",
        type=MessageType.TRACK,
        timestamp=entry.at,
        received_at=entry.at,
        identifiers=[Identifier(held[0].type, held[0].key)],
        event=name,
        properties={
            "activity_id": entry.activity_id,
            "action": entry.action,
            "team_id": entry.team_id,
        },
    )


def emit_events(*, runtime: Runtime, workspace_id: str, entries: Sequence[Participation]) -> int:
    """Track what actions did into the collect path (joined or helped, and completed for
    each person one completed), in one transaction; message ids are per entry, so a replay
    adds nothing. How many events were new."""
    with runtime.sessions() as session, session.begin():
        events: list[CollectedEvent] = []
        for entry in entries:
            name = "activity_helped" if entry.action == "help" else "activity_joined"
            wanted = [(entry.person_id, name)]
            wanted += [(p, "activity_completed") for p in entry.detail.get("completed", [])]
            events += [e for p, n in wanted if (e := _event(session, workspace_id, p, n, entry))]
        if not events:
            return 0
        at = max(e.received_at for e in events)
        return ingest_events(session=session, workspace_id=workspace_id, events=events, now=at)


def _pay_reward(session: Session, workspace_id: str, reward: RewardAction, now: datetime) -> None:
    """One reward through loyalty; its idempotency key makes a retry pay nothing twice."""
    grant_reward(
        session=session,
        workspace_id=workspace_id,
        person_id=reward.person_id,
        points_amount=reward.amount if reward.kind == "points" else None,
        coupon_template=None if reward.kind == "points" else reward.template,
        idempotency_key=reward.idempotency_key,
        reason="activity",
        source=f"activity:{reward.activity_id}",
        now=now,
    )
    activities.mark_paid(
        session=session, workspace_id=workspace_id, idempotency_key=reward.idempotency_key, now=now
    )


def pay_activity_rewards(*, runtime: Runtime, workspace_id: str, now: datetime) -> RewardPayout:
    """Hand every pending activity reward to loyalty (points ledger or coupons), one
    transaction each; one loyalty refuses stays pending and is reported."""
    with runtime.sessions() as session:
        pending = activities.pending_rewards(session=session, workspace_id=workspace_id)
    payout = RewardPayout()
    for reward in pending:
        try:
            with runtime.sessions() as session, session.begin():
                _pay_reward(session, workspace_id, reward, now)
        except SiyuError as exc:
            payout.failed.append(
                RewardFailure(idempotency_key=reward.idempotency_key, reason=exc.message)
            )
            continue
        payout.paid.append(reward.model_copy(update={"status": "paid"}))
    return payout


def _write(runtime: Runtime, call: Action, kwargs: dict[str, Any]) -> Participation | Refusal:
    # A racing twin of the same idempotency key loses on the unique key; the retry reads
    # the winner's entry.
    for attempt in range(2):
        try:
            with runtime.sessions() as session, session.begin():
                return call(session=session, **kwargs)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def take_part(
    *,
    runtime: Runtime,
    workspace_id: str,
    call: Action,
    now: datetime,
    pay: bool = True,
    emit: bool = True,
    **kwargs: Any,
) -> Participation:
    """Run one action (``service.draw``, ``teams.start``/``join``/``help_team``,
    ``checkins.register``/``check_in``) and commit it; then track its events and pay what it
    earned through loyalty (``emit``/``pay`` False leave that to one batched
    :func:`emit_events` / :func:`pay_activity_rewards` later). A refusal is committed, then
    raised as ConflictError naming the field and the reason."""
    outcome = _write(runtime, call, {"workspace_id": workspace_id, "now": now, **kwargs})
    if isinstance(outcome, Refusal):
        raise ConflictError(
            f"{outcome.action} refused: {outcome.detail}",
            field=outcome.field,
            reason=outcome.reason,
            refusal_id=outcome.id,
        )
    if emit and not outcome.replayed:
        emit_events(runtime=runtime, workspace_id=workspace_id, entries=[outcome])
    if pay and outcome.detail.get("completed"):
        pay_activity_rewards(runtime=runtime, workspace_id=workspace_id, now=now)
    return outcome


def expire_teams(*, runtime: Runtime, workspace_id: str, now: datetime) -> list[Team]:
    """Expire group-buy teams and assist runs past their deadline (refund/void actions)."""
    with runtime.sessions() as session, session.begin():
        return teams.expire_teams(session=session, workspace_id=workspace_id, now=now)


_FUNNEL_SQL = {
    "duckdb": "SELECT event, count(DISTINCT person_id) AS persons, count(*) AS events, "
    "coalesce(sum(revenue_fen), 0) AS gmv FROM events "
    "WHERE json_extract_string(properties, '$.activity_id') = $activity GROUP BY event",
    "clickhouse": "SELECT event, uniqExact(person_id) AS persons, count() AS events, "
    "coalesce(sum(revenue_fen), 0) AS gmv FROM events "
    "WHERE JSONExtractString(ifNull(properties, ''), 'activity_id') = {activity:String} "
    "GROUP BY event",
}
"""Per event: distinct persons, events and GMV carrying the activity's id, per dialect."""


def activity_event_counts(
    events: EventStore, workspace_id: str, activity_id: str
) -> list[dict[str, Any]]:
    """Rows (event, persons, events, gmv) of the stored events carrying ``activity_id``."""
    sql = _FUNNEL_SQL[events.dialect]
    rows: list[dict[str, Any]] = events.query(
        workspace_id, sql, {"activity": activity_id}
    ).to_pylist()
    return rows


def activity_stats(*, runtime: Runtime, workspace_id: str, activity_id: str) -> ActivityStats:
    """The activity's funnel (view → join → share → help → complete → order, distinct
    persons and events carrying its ``activity_id``), its cost and ROI = GMV of those
    orders / budget spent on prizes and rewards."""
    with runtime.sessions() as session:
        activity = activities.get_activity(
            session=session, workspace_id=workspace_id, activity_id=activity_id
        )
        refusals = activities.refusal_counts(
            session=session, workspace_id=workspace_id, activity_id=activity_id
        )
        taken = activities.participation_count(
            session=session, workspace_id=workspace_id, activity_id=activity_id
        )
    flush(runtime=runtime)
    rows = activity_event_counts(runtime.events, workspace_id, activity_id)
    by_event = {r["event"]: r for r in rows}
    funnel = [
        FunnelStep(
            step=step,
            persons=int(by_event.get(name, {}).get("persons", 0)),
            events=int(by_event.get(name, {}).get("events", 0)),
        )
        for step, name in FUNNEL
    ]
    orders = by_event.get("Order Completed", {})
    gmv = int(orders.get("gmv", 0))
    cost = activity.spent_fen
    return ActivityStats(
        activity_id=activity_id,
        funnel=funnel,
        participations=taken,
        refusals=refusals,
        orders=int(orders.get("events", 0)),
        gmv_fen=gmv,
        cost_fen=cost,
        roi=round(gmv / cost, 4) if cost else None,
    )


class Tracked(NamedTuple):
    """One event of a known person about an activity (for :func:`track`)."""

    person_id: str
    event: str
    activity_id: str
    at: datetime
    message_id: str
    properties: dict[str, Any] = {}  # noqa: RUF012 - never mutated


def _collected(session: Session, workspace_id: str, item: Tracked) -> CollectedEvent | None:
    held = identity.identifiers_of(
        session=session, workspace_id=workspace_id, person_id=item.person_id
    )
    if not held:
        return None
    collected = CollectedEvent(
        message_id=item.message_id,
        type=MessageType.TRACK,
        timestamp=item.at,
        received_at=item.at,
        identifiers=[Identifier(held[0].type, held[0].key)],
        event=item.event,
        properties={"activity_id": item.activity_id, **item.properties},
    )
    if item.event == "Order Completed":
        collected.revenue_fen = int(item.properties.get("revenue_fen", 0))
    return collected


def track(*, runtime: Runtime, workspace_id: str, events: Sequence[Tracked], now: datetime) -> int:
    """Track events of known persons about activities (views, shares, orders carrying
    ``activity_id``) through the collect path in one transaction; deduplicated by message id.
    How many were new."""
    with runtime.sessions() as session, session.begin():
        found = [c for e in events if (c := _collected(session, workspace_id, e))]
        return ingest_events(session=session, workspace_id=workspace_id, events=found, now=now)
