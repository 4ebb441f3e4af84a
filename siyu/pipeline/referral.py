"""Referral and acquisition: live-code scans, invitations and their rewards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.collect import normalize
from siyu.collect.models import IdType
from siyu.core.errors import ConflictError, NotFoundError, SiyuError
from siyu.core.eventstore import EventStore
from siyu.core.ids import new_id
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.pipeline.ingest import flush, ingest
from siyu.pipeline.rewards import grant_reward
from siyu.referral import livecodes
from siyu.referral import service as referral
from siyu.referral.models import (
    ReferralCreate,
    ReferralResult,
    Refusal,
    RewardAction,
    RewardFailure,
    RewardPayout,
    ScanCreate,
    ScanResult,
)
from siyu.workspaces import service as workspaces

# -- referral and acquisition (issue 4) -----------------------------------------------------


def _person_by_identifier(
    runtime: Runtime,
    workspace_id: str,
    identifier_type: str,
    identifier: str,
    *,
    now: datetime,
    event: str,
    context: dict[str, Any],
    properties: dict[str, Any],
    message_id: str,
) -> str:
    """Ingest one track event carrying the identifier, then the person holding it now.

    Going through the collect path makes a new person, and sets their first-touch channel
    from ``context.campaign`` like any other event; a retry with the same message id is
    deduplicated.
    """
    try:
        kind = IdType(identifier_type)
    except ValueError:
        allowed = ", ".join(t.value for t in IdType)
        raise normalize.FieldError("identifier_type", f"one of {allowed}") from None
    key = normalize.make_identifier(runtime.vault, kind, identifier, "identifier")
    external: dict[str, Any] = {"type": kind.value, "id": identifier}
    if kind in normalize.PER_APP_TYPES:
        appid, _, value = identifier.partition(":")
        if not value:
            raise normalize.FieldError("identifier", "give it as appid:openid")
        external = {"type": kind.value, "id": value, "collection": appid}
    message = {
        "type": "track",
        "event": event,
        "messageId": message_id,
        "anonymousId": f"idk_{key.key[:40]}",
        "timestamp": now.isoformat(),
        "context": {**context, "externalIds": [external]},
        "properties": properties,
    }
    result = ingest(runtime=runtime, workspace_id=workspace_id, messages=[message], received_at=now)
    if result.rejected:
        bad = result.rejected[0]
        raise normalize.FieldError("identifier", bad.reason)
    with runtime.sessions() as session:
        person_id = identity.find_person(session=session, workspace_id=workspace_id, identifier=key)
        if person_id is None:  # pragma: no cover - the event above made the person
            raise NotFoundError(f"no person with {kind.value}", field="identifier")
        return identity.current_person_id(
            session=session, workspace_id=workspace_id, person_id=person_id
        )


T = TypeVar("T")
_RACE_TRIES = 4


def _once_more_on_race(write: Callable[[], T]) -> T:
    """Run a keyed write; a concurrent twin that won on a unique key (same scan key, same
    invitee, same owner) makes the next try read the winner's row instead of failing. Each
    lost race commits a row the next try sees, so a few tries suffice."""
    for _ in range(_RACE_TRIES - 1):
        try:
            return write()
        except IntegrityError:
            continue  # the winner's row is committed now: the next try reads it
    return write()


def record_live_code_scan(
    *,
    runtime: Runtime,
    workspace_id: str,
    code_id: str,
    scan: ScanCreate,
    now: datetime,
    idempotency_key: str | None = None,
) -> ScanResult:
    """A scan of, or contact add through, a live code: ingest the event (first-touch channel
    and campaign from the code), then rotate to a staff member and credit the customer."""
    with runtime.sessions() as session:
        code = livecodes.get_live_code(session=session, workspace_id=workspace_id, code_id=code_id)
        zone = workspaces.get_workspace(session=session, workspace_id=workspace_id).timezone
    key = idempotency_key or new_id("lck")
    person_id = _person_by_identifier(
        runtime,
        workspace_id,
        scan.identifier_type,
        scan.identifier,
        now=now,
        event="Live Code Scanned" if scan.action == "scan" else "Live Code Contact Added",
        context={
            "campaign": {
                "source": code.channel,
                "medium": "live_code",
                "name": code.name,
                "content": code.scene,
            }
        },
        properties={"live_code_id": code.id, "scene": code.scene, "kind": code.kind.value},
        message_id=f"lc:{code.id}:{key}",
    )

    def write() -> ScanResult:
        with runtime.sessions() as session, session.begin():
            return livecodes.record_scan(
                session=session,
                workspace_id=workspace_id,
                code_id=code.id,
                person_id=person_id,
                action=scan.action,
                now=now,
                zone=zone,
                idempotency_key=key,
            )

    return _once_more_on_race(write)


def refer_person(
    *, runtime: Runtime, workspace_id: str, request: ReferralCreate, now: datetime
) -> ReferralResult:
    """An invitee arrives through an invite code: ingest a signup event, then record the
    referral (and its registration rewards) or store the refusal and raise ConflictError."""
    inviter_code = request.code.strip().upper()
    invitee = _person_by_identifier(
        runtime,
        workspace_id,
        request.identifier_type,
        request.identifier,
        now=now,
        event="Referral Accepted",
        context={"campaign": {"source": "referral", "medium": "invite", "content": inviter_code}},
        properties={"ref": inviter_code},
        message_id=f"ref:{inviter_code}:{request.identifier_type}:{request.identifier}",
    )

    def write() -> ReferralResult | Refusal:
        with runtime.sessions() as session, session.begin():
            return referral.refer(
                session=session,
                workspace_id=workspace_id,
                code=inviter_code,
                invitee_id=invitee,
                now=now,
            )

    outcome = _once_more_on_race(write)
    if isinstance(outcome, Refusal):
        raise ConflictError(
            f"referral refused: {outcome.detail}",
            field="identifier",
            reason=outcome.reason,
            refusal_id=outcome.id,
        )
    return outcome


def pending_referral_rewards(
    *, runtime: Runtime, workspace_id: str, now: datetime
) -> list[RewardAction]:
    """Settle first-order milestones from profiles, then the rewards still to hand to loyalty."""
    with runtime.sessions() as session, session.begin():
        referral.settle_first_orders(session=session, workspace_id=workspace_id, now=now)
        return referral.pending_rewards(session=session, workspace_id=workspace_id)


def _pay_reward(session: Session, workspace_id: str, reward: RewardAction, now: datetime) -> None:
    """One reward through loyalty; its idempotency key makes a retry pay nothing twice."""
    grant_reward(
        session=session,
        workspace_id=workspace_id,
        person_id=reward.person_id,
        points_amount=reward.amount if reward.kind == "points" else None,
        coupon_template=None if reward.kind == "points" else reward.template,
        idempotency_key=reward.idempotency_key,
        reason="referral",
        source=f"referral:{reward.milestone.value}:{reward.role}",
        now=now,
    )
    referral.mark_paid(
        session=session, workspace_id=workspace_id, idempotency_key=reward.idempotency_key, now=now
    )


def pay_referral_rewards(*, runtime: Runtime, workspace_id: str, now: datetime) -> RewardPayout:
    """Hand every pending referral reward to loyalty (points ledger or coupons), one
    transaction each; a reward loyalty refuses (no such template, out of stock…) stays
    pending and is reported."""
    payout = RewardPayout()
    for reward in pending_referral_rewards(runtime=runtime, workspace_id=workspace_id, now=now):
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


LIVE_CODE_EVENTS = ("Live Code Scanned", "Live Code Contact Added")
_SCENE_EVENTS_SQL = {
    "duckdb": "SELECT message_id, event, person_id, timestamp, "
    "coalesce(json_extract_string(context, '$.campaign.content'), "
    "json_extract_string(properties, '$.scene')) AS scene FROM events "
    "WHERE list_contains($events, event) AND timestamp >= $start AND timestamp < $end "
    "AND NOT starts_with(message_id, 'lc:') ORDER BY timestamp, message_id",
    # JSONExtractString gives '' for a missing key where DuckDB gives NULL.
    "clickhouse": "SELECT message_id, event, person_id, timestamp, "
    "coalesce(nullIf(JSONExtractString(ifNull(context, ''), 'campaign', 'content'), ''), "
    "nullIf(JSONExtractString(ifNull(properties, ''), 'scene'), '')) AS scene FROM events "
    "WHERE has({events:Array(String)}, event) AND timestamp >= {start:DateTime64(6, 'UTC')} "
    "AND timestamp < {end:DateTime64(6, 'UTC')} AND NOT startsWith(message_id, 'lc:') "
    "ORDER BY timestamp, message_id",
}
"""Live-code scans and adds that arrived as track events, with their scene, per dialect."""


def live_code_event_rows(
    events: EventStore, workspace_id: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The stored live-code events in [start, end), oldest first, with their scene."""
    params = {"events": list(LIVE_CODE_EVENTS), "start": start, "end": end}
    rows: list[dict[str, Any]] = events.query(
        workspace_id, _SCENE_EVENTS_SQL[events.dialect], params
    ).to_pylist()
    return rows


def attribute_live_code_events(
    *, runtime: Runtime, workspace_id: str, start: datetime, end: datetime
) -> list[ScanResult]:
    """Credit scans and contact adds that arrived as track events (an SDK or a WeCom
    callback): ``Live Code Scanned`` / ``Live Code Contact Added`` whose scene is in
    ``context.campaign.content`` (or ``properties.scene``), in [start, end).

    The event itself already set the first-touch channel (``context.campaign.source``); this
    rotates to staff and sets the owner as :func:`record_live_code_scan` does. Each event is
    keyed by its message id, so running a range twice credits nothing twice; events with an
    unknown scene are skipped.
    """
    flush(runtime=runtime)
    rows = live_code_event_rows(runtime.events, workspace_id, start, end)
    results: list[ScanResult] = []
    with runtime.sessions() as session, session.begin():
        zone = workspaces.get_workspace(session=session, workspace_id=workspace_id).timezone
        for row in rows:
            scene = row["scene"]
            code = scene and livecodes.find_live_code_by_scene(
                session=session, workspace_id=workspace_id, scene=scene
            )
            if not code:
                continue
            person = identity.current_person_id(
                session=session, workspace_id=workspace_id, person_id=row["person_id"]
            )
            results.append(
                livecodes.record_scan(
                    session=session,
                    workspace_id=workspace_id,
                    code_id=code.id,
                    person_id=person,
                    action="scan" if row["event"] == LIVE_CODE_EVENTS[0] else "add",
                    now=row["timestamp"],
                    zone=zone,
                    idempotency_key=f"ev:{row['message_id']}",
                )
            )
    return results
