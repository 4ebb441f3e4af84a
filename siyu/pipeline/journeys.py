"""Journeys wired to the rest: their actions applied, their hooks fed, their work scheduled.

The engine (:mod:`siyu.journeys.engine`) steps people and hands each batch's actions, as
data, to :func:`actions_applier`'s function *inside the batch's transaction*: messages go to
the channels outbox, tags to profiles, points and coupons to loyalty. So a state change and
what it did commit together, every write is keyed by the action's idempotency key, and a
rerun after a crash repeats nothing. One person's bad action (an unknown tag, a coupon out
of stock) comes back as an :class:`ActionFailure` — the engine counts it, the batch goes on.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime

from pydantic import Field
from sqlalchemy.orm import Session

from siyu.channels import service as channels
from siyu.channels.models import Channel, MessageRequest, Purpose
from siyu.channels.outbox_models import TemplatePut
from siyu.channels.restraint import CapsForecast
from siyu.channels.restraint import PlannedSend as RestraintSend
from siyu.collect.models import CollectedEvent
from siyu.core.errors import SiyuError
from siyu.core.runtime import Runtime
from siyu.journeys import dryrun, reactions
from siyu.journeys import service as journeys_service
from siyu.journeys.actions import (
    Action,
    ActionFailure,
    AddTag,
    ApplyActions,
    AwardPoints,
    CallWebhook,
    IssueCoupon,
    RemoveTag,
    SendMessage,
    StaffTask,
)
from siyu.journeys.dryrun import DryRun
from siyu.journeys.models import SegmentEnteredTrigger, SegmentLeftTrigger
from siyu.journeys.service import JourneyStatus, list_journeys
from siyu.loyalty import coupon_service as coupons
from siyu.loyalty import points
from siyu.pipeline import content, journey_offers
from siyu.pipeline.personalise import Personaliser
from siyu.profiles import tags

log = logging.getLogger("siyu.journeys")

STAFF_TEMPLATE = "staff_task"  # the WeCom template a staff task without its own one uses
SUBSCRIBE_EVENT = "mp_subscribe_accepted"  # mini program: the user accepted subscriptions


def actions_applier(
    *, workspace_id: str, now: datetime, personalise: Personaliser | None = None
) -> ApplyActions:
    """The engine's ``apply_actions`` for one workspace and time."""

    def apply(session: Session, actions: Sequence[Action]) -> Sequence[ActionFailure]:
        return apply_actions(session=session, workspace_id=workspace_id, actions=actions,
                             now=now, personalise=personalise)  # fmt: skip

    return apply


def apply_actions(
    *,
    session: Session,
    workspace_id: str,
    actions: Sequence[Action],
    now: datetime,
    personalise: Personaliser | None = None,
) -> list[ActionFailure]:
    """Apply a batch's actions in the caller's transaction; the ones that failed, with why.

    Messages (sends, webhook calls, staff tasks) go to the outbox in one ``enqueue_many``;
    if that batch is refused, each request is tried alone so only the bad one fails.
    ``personalise`` adds values (recommendations) to a send's params; the step's own win.
    A send whose template names a coupon offer issues it with the message
    (:mod:`siyu.pipeline.journey_offers`), after the batch's other messages.
    """
    failures: list[ActionFailure] = []
    requests: list[tuple[str, MessageRequest]] = []
    sends = journey_offers.OfferSends(session, workspace_id)
    offered: list[tuple[SendMessage, MessageRequest, dict[str, str]]] = []
    for action in actions:
        try:
            with session.begin_nested():
                request = _apply_one(session, workspace_id, action, now)
        except SiyuError as exc:
            failures.append(ActionFailure(key=action.key, reason=_why(exc)))
            continue
        except Exception as exc:  # a fault, not bad input: logged, and this person alone fails
            log.exception("journey action %s failed", action.key)
            failures.append(ActionFailure(key=action.key, reason=f"{type(exc).__name__}"))
            continue
        if request is not None and isinstance(action, SendMessage):
            extra = personalise(action.person_id) if personalise is not None else {}
            if sends.wants_coupon(action, extra):  # issued with its message, below
                offered.append((action, request, extra))
                continue
            request = journey_offers.personalised(sends, action, request, extra)
        if request is not None:
            requests.append((action.key, request))
    failures.extend(_enqueue(session, workspace_id, requests, now))
    failures.extend(_send_offers(session, sends, offered, now))
    return failures


def _send_offers(
    session: Session,
    sends: journey_offers.OfferSends,
    offered: list[tuple[SendMessage, MessageRequest, dict[str, str]]],
    now: datetime,
) -> list[ActionFailure]:
    """Sends whose coupon offer is issued with them, each alone (see journey_offers)."""
    failures = []
    for action, request, values in offered:
        try:
            journey_offers.send_with_coupon(session=session, sends=sends, action=action,
                                            request=request, values=values, now=now)  # fmt: skip
        except SiyuError as exc:
            failures.append(ActionFailure(key=action.key, reason=_why(exc)))
    return failures


def _why(exc: SiyuError) -> str:
    reason = exc.details.get("reason")
    text = f"{exc.field}: {exc.message}" if exc.field else exc.message
    return (f"{reason}: {text}" if reason else text)[:500]


def _apply_one(
    session: Session, workspace_id: str, action: Action, now: datetime
) -> MessageRequest | None:
    """Apply a non-message action now; a message action's outbox request (sent in bulk)."""
    match action:
        case SendMessage():
            return content.render_message(
                session=session, workspace_id=workspace_id, request=action.request, now=now
            )
        case StaffTask():
            return _staff_request(action)
        case CallWebhook():
            return _webhook_request(session, workspace_id, action, now)
        case AddTag():
            tags.apply_tag(session=session, workspace_id=workspace_id, tag=action.tag,
                           person_ids=[action.person_id], now=now, actor="journey",
                           reason=f"journey:{action.journey_id}:{action.node_id}")  # fmt: skip
        case RemoveTag():
            tags.remove_tag(session=session, workspace_id=workspace_id, tag=action.tag,
                            person_id=action.person_id, now=now, actor="journey",
                            reason=f"journey:{action.journey_id}:{action.node_id}")  # fmt: skip
        case AwardPoints():
            points.earn_points(session=session, workspace_id=workspace_id,
                               person_id=action.person_id, points=action.points,
                               reason=action.reason, idempotency_key=action.key, now=now,
                               source=f"journey:{action.journey_id}:{action.node_id}")  # fmt: skip
        case IssueCoupon():
            coupons.issue_coupon(session=session, workspace_id=workspace_id,
                                 template_id=action.template_id, person_id=action.person_id,
                                 now=now, idempotency_key=action.key,
                                 source=f"journey:{action.journey_id}")  # fmt: skip
    return None


def _staff_request(action: StaffTask) -> MessageRequest:
    """A staff task is a WeCom 1:1 message the customer's owner confirms (awaiting staff)."""
    return MessageRequest(
        person_id=action.person_id,
        channel=Channel.WECOM,
        template=action.template or STAFF_TEMPLATE,
        params={"task": action.task},
        source=f"journey:{action.journey_id}:{action.node_id}",
        idempotency_key=action.key,
    )


def webhook_template_name(url: str) -> str:
    """The name of the webhook template a journey's call to ``url`` goes through."""
    return "journey-webhook-" + hashlib.sha256(url.encode()).hexdigest()[:16]


def _webhook_request(
    session: Session, workspace_id: str, action: CallWebhook, now: datetime
) -> MessageRequest:
    # The outbox sends webhooks to their template's endpoint: one template per URL.
    name = webhook_template_name(action.url)
    found = channels.find_template(
        session=session, workspace_id=workspace_id, channel=Channel.WEBHOOK, name=name
    )
    if found is None or found.endpoint != action.url:
        channels.put_template(
            session=session,
            workspace_id=workspace_id,
            template=TemplatePut(channel=Channel.WEBHOOK, name=name, endpoint=action.url),
            now=now,
        )
    return MessageRequest(
        person_id=action.person_id,
        channel=Channel.WEBHOOK,
        template=name,
        params=dict(action.payload),
        purpose=Purpose.TRANSACTIONAL,  # a system call, not a message to the person
        source=f"journey:{action.journey_id}:{action.node_id}",
        idempotency_key=action.key,
    )


def _enqueue(
    session: Session, workspace_id: str, requests: list[tuple[str, MessageRequest]], now: datetime
) -> list[ActionFailure]:
    if not requests:
        return []
    try:
        with session.begin_nested():
            journey_offers.enqueue_many(
                session=session,
                workspace_id=workspace_id,
                requests=[r for _, r in requests],
                now=now,
            )
    except SiyuError:
        pass  # some request is bad: find it by trying them one at a time
    else:
        return []
    failures = []
    for key, request in requests:
        try:
            with session.begin_nested():
                journey_offers.enqueue(
                    session=session, workspace_id=workspace_id, request=request, now=now
                )
        except SiyuError as exc:
            failures.append(ActionFailure(key=key, reason=_why(exc)))
    return failures


# -- hooks ----------------------------------------------------------------------------------


def on_ingest(
    *,
    session: Session,
    workspace_id: str,
    events: Sequence[CollectedEvent],
    person_ids: Sequence[str],
    now: datetime,
) -> reactions.EventsOutcome:
    """What a fresh ingest batch does to journeys and subscriptions (the ingest transaction).

    Enters event journeys, wakes event waits, converts goals; a mini program
    ``mp_subscribe_accepted`` event grants its one-time subscriptions.
    """
    grant_subscriptions(session=session, workspace_id=workspace_id, events=events,
                        person_ids=person_ids, now=now)  # fmt: skip
    return reactions.on_events(
        session=session, workspace_id=workspace_id, events=events, person_ids=person_ids, now=now
    )


def _template_ids(event: CollectedEvent) -> list[str]:
    props = event.properties or {}
    found = props.get("template_ids") or props.get("template_id") or []
    values = [found] if isinstance(found, str) else found
    return [str(v) for v in values if isinstance(v, str | int) and str(v)][:20]


def grant_subscriptions(
    *,
    session: Session,
    workspace_id: str,
    events: Sequence[CollectedEvent],
    person_ids: Sequence[str],
    now: datetime,
) -> int:
    """Grant one send per accepted template of each ``mp_subscribe_accepted`` event.

    The event's ``template_ids`` (a list, or ``template_id``) are the templates the user
    accepted; the grant is keyed by the event's message id and template, so a replayed
    event grants nothing twice. Returns how many grants were recorded.
    """
    granted = 0
    for event, person_id in zip(events, person_ids, strict=True):
        if event.event != SUBSCRIBE_EVENT:
            continue
        for template_id in _template_ids(event):
            channels.grant_subscription(
                session=session,
                workspace_id=workspace_id,
                person_id=person_id,
                template_id=template_id,
                event_key=f"{event.message_id}:{template_id}"[:200],
                now=now,
            )
            granted += 1
    return granted


def wants_segment(*, session: Session, workspace_id: str, segment_id: str) -> bool:
    """Whether an active journey enters on ``segment_id`` changes (worth diffing members)."""
    return any(
        isinstance(j.definition.trigger, SegmentEnteredTrigger | SegmentLeftTrigger)
        and j.definition.trigger.segment_id == segment_id
        for j in list_journeys(
            session=session, workspace_id=workspace_id, status=JourneyStatus.ACTIVE
        )
    )


def on_segment_refresh(
    *,
    session: Session,
    workspace_id: str,
    segment_id: str,
    before: set[str],
    after: set[str],
    now: datetime,
) -> int:
    """Enter segment journeys for who entered (``after - before``) and left; how many."""
    return reactions.on_segment_changes(
        session=session,
        workspace_id=workspace_id,
        segment_id=segment_id,
        entered=sorted(after - before),
        left=sorted(before - after),
        now=now,
    )


def apply_journeys(
    *,
    session: Session,
    workspace_id: str,
    events: Sequence[CollectedEvent],
    person_ids: Sequence[str],
    now: datetime,
) -> None:
    """:func:`on_ingest` in a savepoint of the ingest transaction: a journey fault is logged
    and never costs the batch (accepted events must not be refused because of a journey)."""
    try:
        with session.begin_nested():
            on_ingest(session=session, workspace_id=workspace_id, events=events,
                      person_ids=person_ids, now=now)  # fmt: skip
    except Exception:
        log.exception("journeys could not react to an ingest batch of %s", workspace_id)


class JourneyDryRun(DryRun):
    """A dry run with the channels' caps forecast: how many sends would be held, and why."""

    held_by_reason: dict[str, int] = Field(default_factory=dict)


def dry_run_journey(
    *, runtime: Runtime, workspace_id: str, journey_id: str, since: datetime, until: datetime,
    now: datetime,
) -> JourneyDryRun:  # fmt: skip
    """What a saved journey's current version would do over [since, until), caps included.

    Raises:
        NotFoundError: no such journey. InvalidInputError: a bad range (``until``).
    """
    from siyu.pipeline.ingest import flush

    flush(runtime=runtime)  # event triggers read the event store
    forecast: list[CapsForecast] = []
    with runtime.sessions() as session:
        journey = journeys_service.get_journey(
            session=session, workspace_id=workspace_id, journey_id=journey_id
        )

        def caps(planned: Sequence[dryrun.PlannedSend]) -> int:
            sends = [
                RestraintSend(p.person_id, p.channel, p.at, priority=p.priority, purpose=p.purpose)
                for p in planned
            ]
            found = channels.forecast_holds(
                session=session, workspace_id=workspace_id, planned=sends, now=now
            )
            forecast.append(found)
            return found.held

        result = dryrun.dry_run(
            session=session, workspace_id=workspace_id, definition=journey.definition,
            since=since, until=until, journey_id=journey.id, events=runtime.events, caps=caps,
        )  # fmt: skip
    reasons = forecast[0].by_reason if forecast else {}
    return JourneyDryRun(**result.model_dump(), held_by_reason=reasons)
