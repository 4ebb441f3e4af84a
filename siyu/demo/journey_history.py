"""The demo journeys' last month of sends that carried library items, so the content page
shows their reach, the clicks on the recipients' own links and the orders that followed.

The journeys are seeded active today, so nothing they send has gone out yet (no transport is
configured). Their history is written as the outbox would have it: each message enqueued at
its time (a recipient who opted in and has the channel's address, inside the day's sending
hours), its content rendered with the recipient's own tracked link, then delivered at that
time by a stand-in for the month's provider. Some recipients click their link; some of the
month's buyers had clicked theirs shortly before ordering.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select

from siyu.channels import service as channels
from siyu.channels.addresses import ADDRESS_TYPE
from siyu.channels.dispatch import dispatch_due
from siyu.channels.models import (
    Channel,
    Delivery,
    MessageRequest,
    MessageStatus,
    OutboundMessage,
)
from siyu.channels.restraint import ConsentStatus
from siyu.content.performance import CLICKED
from siyu.core.runtime import Runtime
from siyu.identity.tables import identity_identifiers
from siyu.journeys import service as journeys
from siyu.journeys.models import ActionNode, SendMessageSpec
from siyu.journeys.stepping import render
from siyu.pipeline.content import render_message
from siyu.workspaces import service as workspaces

if TYPE_CHECKING:
    from siyu.demo.content_seed import History

SENDS = 150  # last month's journey messages carrying an item
BUYERS = 40  # of them, to buyers who clicked their own link before ordering
CLICK_SHARE = 0.4  # of the other recipients, who clicked
SEND_HOURS = (10, 20)  # local hours the month's sends went at (outside quiet hours)


class JourneySend(NamedTuple):
    """A journey step that sends a content item."""

    journey_id: str
    node_id: str
    spec: SendMessageSpec


class Sent(NamedTuple):
    """A history message the outbox queued, to deliver at its time."""

    channel: Channel
    at: datetime


class _Accepted:
    """The month's provider: it accepted each message at the time it went."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.at = datetime.min.replace(tzinfo=UTC)

    def send(self, message: OutboundMessage) -> Delivery:
        return Delivery(provider_message_id=f"demo-{message.id}", accepted_at=self.at)


def journey_sends(h: History) -> list[JourneySend]:
    """The seeded journeys' steps that send a content item."""
    found = []
    for journey in journeys.list_journeys(session=h.session, workspace_id=h.ws):
        for node in journey.definition.nodes:
            if not isinstance(node, ActionNode) or not isinstance(node.action, SendMessageSpec):
                continue
            if node.action.content_id is not None:
                found.append(JourneySend(journey.id, node.id, node.action))
    return found


def _reachable(h: History, channels_used: set[Channel]) -> dict[Channel, list[str]]:
    """Persons with an address on each channel, by channel (survivors, stable order)."""
    i = identity_identifiers.c
    kinds = {ADDRESS_TYPE[c].value: c for c in channels_used}
    rows = h.session.execute(
        select(i.id_type, i.person_id)
        .where(i.workspace_id == h.ws, i.id_type.in_(sorted(kinds)))
        .distinct()
        .order_by(i.id_type, i.person_id)
    ).all()
    found: dict[Channel, list[str]] = {c: [] for c in channels_used}
    for kind, person in rows:
        found[kinds[kind]].append(h.survivors.get(person, person))
    return {c: sorted(set(p)) for c, p in found.items()}


def _in_hours(at: datetime, zone: ZoneInfo, rng: random.Random) -> datetime:
    local = at.astimezone(zone)
    if not SEND_HOURS[0] <= local.hour < SEND_HOURS[1]:
        local = local.replace(hour=rng.randrange(*SEND_HOURS))
    return local.astimezone(UTC)


def _send(h: History, send: JourneySend, person: str, at: datetime, n: int) -> bool:
    """Enqueue one history message at ``at``; whether the outbox queued it."""
    spec = send.spec
    channels.set_consent(session=h.session, workspace_id=h.ws, person_id=person,
                         channel=spec.channel, status=ConsentStatus.GRANTED,
                         source="demo:signup", now=at - timedelta(days=1))  # fmt: skip
    request = MessageRequest(
        person_id=person,
        channel=spec.channel,
        template=spec.template,
        params={**render(spec.params, {}), **spec.content_params()},
        purpose=spec.purpose,
        source=f"journey:{send.journey_id}:{send.node_id}",
        idempotency_key=f"demo:journey-history:{n}",
    )
    request = render_message(session=h.session, workspace_id=h.ws, request=request, now=at,
                             base_url=h.runtime.settings.public_url)  # fmt: skip
    done = channels.enqueue(session=h.session, workspace_id=h.ws, request=request, now=at)
    return done.status is MessageStatus.QUEUED


def send_history(h: History, orders: list[tuple[str, datetime]], rng: random.Random) -> list[Sent]:
    """Enqueue the month's journey messages that carried items, and the clicks on the
    recipients' links (``orders``: recent (buyer, time) to precede); what to deliver."""
    sends = journey_sends(h)
    if not sends:
        return []
    zone = ZoneInfo(workspaces.get_workspace(session=h.session, workspace_id=h.ws).timezone)
    reachable = _reachable(h, {s.spec.channel for s in sends})
    buyers = [(p, at) for p, at in orders if at - timedelta(days=3) > h.now - timedelta(days=30)]
    members = {channel: set(people) for channel, people in reachable.items()}
    queued: list[Sent] = []
    for n in range(SENDS):
        send = sends[n % len(sends)]
        people = reachable[send.spec.channel]
        able = [b for b in buyers if b[0] in members[send.spec.channel]] if n < BUYERS else []
        if able:
            person, ordered = able[0]
            buyers.remove(able[0])
            at = _in_hours(ordered - timedelta(hours=rng.uniform(20, 60)), zone, rng)
            click: datetime | None = ordered - timedelta(minutes=rng.uniform(10, 50))
        elif people:
            person = rng.choice(people)
            at = _in_hours(h.now - timedelta(days=rng.uniform(1, 29)), zone, rng)
            click = (
                at + timedelta(hours=rng.uniform(0.1, 5)) if rng.random() < CLICK_SHARE else None
            )
        else:
            continue
        if not _send(h, send, person, at, n):
            continue
        queued.append(Sent(send.spec.channel, at))
        if click is not None:
            link = h.link(send.spec.content_id or "", send.spec.channel.value, person, None)
            h.touch(CLICKED, link, click, **h.person(person))
    return queued


def deliver(runtime: Runtime, sent: list[Sent]) -> int:
    """Deliver the history messages, each at its time; how many went."""
    providers = {channel: _Accepted(channel) for channel in {s.channel for s in sent}}
    went = 0
    for channel, at in sorted(sent, key=lambda s: s.at):
        provider = providers[channel]
        provider.at = at
        report = dispatch_due(session_factory=runtime.sessions, transports={channel: provider},
                              now=at, batch_size=10, vault=runtime.vault)  # fmt: skip
        went += report.sent
    return went
