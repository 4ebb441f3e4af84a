"""A journey message's next-best-offer coupon, issued to the recipient with the send.

When a ``send_message`` step's template names the next-best offer (``{{ offer_title }}``,
any ``offer`` / ``offer_*`` placeholder) and the offer the personaliser picked is a coupon,
the step (``offer: issue``, the default) issues that coupon to the person in the journey
batch's transaction, together with the outbox message, and the message's params carry the
coupon (``offer_coupon_id``, ``offer_coupon_expires``). ``offer: show`` only names it.

Once per step: the coupon is issued through loyalty's idempotent issue with the key
``<action key>:offer``, and a retried round finds it there. The coupon goes only with a
message the outbox takes (queued): a held message (no consent, a cap, quiet hours) is
recorded without the offer and nothing is issued. A refused issue (the person's
``per_person_limit`` reached, out of stock, the template gone) still sends the message, with
the offer's values empty. Every send of an ``offer: issue`` step whose template names the
offer carries ``offer_coupon_id`` and ``offer_coupon_expires`` — empty when no coupon went —
so ``{% if offer_coupon_id %}…{% else %}…{% endif %}`` always renders (the outbox renders
strictly: a name that is not set at all fails the message).

A queued offer message that a later higher-priority send bumps (held ``lower_priority``, so
never sent) takes its coupon with it: every enqueue of the pipeline and the messages API
goes through :func:`enqueue` / :func:`enqueue_many`, which void (loyalty's idempotent void,
reason ``bumped:<message id>``) the ``offer_coupon_id`` a bumped message carried, in the same
transaction. Loyalty's void does not return stock: the coupon stays counted as issued.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from siyu.channels import service as channels
from siyu.channels.models import Channel, EnqueueResult, MessageRequest, MessageStatus
from siyu.core.errors import ConflictError, NotFoundError, SiyuError
from siyu.journeys.actions import SendMessage
from siyu.loyalty import coupon_service as coupons
from siyu.loyalty.coupon_models import Coupon
from siyu.workspaces import service as workspaces

COUPON_KIND = "coupon"
EXPIRY_FORMAT = "%Y-%m-%d %H:%M"  # in the workspace's zone
NO_COUPON = {"offer_coupon_id": "", "offer_coupon_expires": ""}  # none issued with the send


def is_offer_value(name: str) -> bool:
    """Whether ``name`` is one of the next-best offer's params (``offer``, ``offer_*``)."""
    return name == "offer" or name.startswith("offer_")


def offer_key(action: SendMessage) -> str:
    """The idempotency key of the coupon a send issues (one per step and entry)."""
    return f"{action.key}:offer"


class OfferSends:
    """Per apply batch: which templates name the offer, and the workspace's zone."""

    def __init__(self, session: Session, workspace_id: str) -> None:
        self.session, self.workspace_id = session, workspace_id
        self._names: dict[tuple[Channel, str], bool] = {}
        self._zone: ZoneInfo | None = None

    def names_offer(self, request: MessageRequest) -> bool:
        """Whether the request's stored template (body or subject) uses an offer value."""
        key = (request.channel, request.template)
        if key not in self._names:
            found = channels.find_template(
                session=self.session, workspace_id=self.workspace_id,
                channel=request.channel, name=request.template,
            )  # fmt: skip
            bodies = [] if found is None else [found.body, found.subject or ""]
            self._names[key] = any(
                is_offer_value(name) for body in bodies for name in channels.placeholders(body)
            )
        return self._names[key]

    def zone(self) -> ZoneInfo:
        """The workspace's zone (read once)."""
        if self._zone is None:
            found = workspaces.get_workspace(session=self.session, workspace_id=self.workspace_id)
            self._zone = ZoneInfo(found.timezone)
        return self._zone

    def wants_coupon(self, action: SendMessage, values: dict[str, str]) -> bool:
        """Whether this send issues the coupon the personaliser offered in ``values``."""
        return (
            action.offer == "issue"
            and values.get("offer_kind") == COUPON_KIND
            and bool(values.get("offer_coupon_template"))
            and self.names_offer(action.request)
        )


def personalised(
    sends: OfferSends, action: SendMessage, request: MessageRequest, values: dict[str, str]
) -> MessageRequest:
    """A send that issues no coupon: the personaliser's ``values`` under the step's own
    params, and — when it would issue one (``offer: issue``, its template names the offer) —
    empty ``offer_coupon_id`` / ``offer_coupon_expires``, so the template can test them."""
    params = {**values, **request.params}
    if action.offer == "issue" and sends.names_offer(action.request):
        params = {**values, **NO_COUPON, **request.params}
    return request.model_copy(update={"params": params})


def without_offer(request: MessageRequest, values: dict[str, str]) -> MessageRequest:
    """``request`` with the personaliser's values, its offer ones emptied (no coupon went)."""
    emptied = {k: "" if is_offer_value(k) else v for k, v in values.items()}
    return request.model_copy(update={"params": {**emptied, **NO_COUPON, **request.params}})


def with_coupon(
    request: MessageRequest, values: dict[str, str], coupon: Coupon, zone: ZoneInfo
) -> MessageRequest:
    """``request`` with the personaliser's values and the issued coupon (own params win)."""
    params = {**values, **NO_COUPON, **coupon_values(coupon, zone), **request.params}
    return request.model_copy(update={"params": params})


def coupon_values(coupon: Coupon, zone: ZoneInfo) -> dict[str, str]:
    """The issued coupon as message params: its id and, when it expires, the local time."""
    values = {"offer_coupon_id": coupon.id}
    if coupon.valid_until is not None:
        values["offer_coupon_expires"] = coupon.valid_until.astimezone(zone).strftime(EXPIRY_FORMAT)
    return values


class _NotTaken(Exception):
    """The message with the coupon was held (or recorded before): undo the issue."""


def send_with_coupon(
    *,
    session: Session,
    sends: OfferSends,
    action: SendMessage,
    request: MessageRequest,
    values: dict[str, str],
    now: datetime,
) -> None:
    """Issue the offered coupon and record the message carrying it, in one savepoint.

    ``request`` is the step's (content rendered), ``values`` the personaliser's. A retry
    finds the coupon of the first round and records nothing new.

    Raises:
        SiyuError: the outbox refused the message (bad params, no such person).
    """
    workspace_id, key = sends.workspace_id, offer_key(action)
    earlier = coupons.issued_with_key(session=session, workspace_id=workspace_id,
                                      idempotency_key=key)  # fmt: skip
    if earlier is not None:  # a retried round: the first one issued it with this message
        _enqueue(session, workspace_id, with_coupon(request, values, earlier, sends.zone()), now)
        return
    try:
        with session.begin_nested():
            coupon = _issue(session, workspace_id, action, values, now)
            if coupon is None:
                _enqueue(session, workspace_id, without_offer(request, values), now)
                return
            done = _enqueue(
                session, workspace_id, with_coupon(request, values, coupon, sends.zone()), now
            )
            if done.duplicate or done.status is MessageStatus.HELD:
                raise _NotTaken
    except _NotTaken:
        with session.begin_nested():
            _enqueue(session, workspace_id, without_offer(request, values), now)


def _issue(
    session: Session, workspace_id: str, action: SendMessage, values: dict[str, str], now: datetime
) -> Coupon | None:
    """The offered coupon, or None when loyalty refuses it (limit, stock, no template)."""
    try:
        with session.begin_nested():
            return coupons.issue_coupon(
                session=session, workspace_id=workspace_id, person_id=action.person_id,
                template_id=values["offer_coupon_template"], now=now,
                idempotency_key=offer_key(action), source=f"journey:{action.journey_id}"[:40],
            )  # fmt: skip
    except SiyuError:
        return None


def _enqueue(
    session: Session, workspace_id: str, request: MessageRequest, now: datetime
) -> EnqueueResult:
    return enqueue(session=session, workspace_id=workspace_id, request=request, now=now)


def enqueue(
    *, session: Session, workspace_id: str, request: MessageRequest, now: datetime
) -> EnqueueResult:
    """:func:`siyu.channels.service.enqueue`, voiding the coupons of the offer messages it
    bumps (:func:`void_bumped`)."""
    return enqueue_many(session=session, workspace_id=workspace_id, requests=[request], now=now)[0]


def enqueue_many(
    *, session: Session, workspace_id: str, requests: Sequence[MessageRequest], now: datetime
) -> list[EnqueueResult]:
    """:func:`siyu.channels.service.enqueue_many`, voiding the coupons of the offer messages
    it bumps (:func:`void_bumped`)."""
    results = channels.enqueue_many(
        session=session, workspace_id=workspace_id, requests=requests, now=now
    )
    void_bumped(session=session, workspace_id=workspace_id,
                message_ids=[b for r in results for b in r.bumped], now=now)  # fmt: skip
    return results


def void_bumped(
    *, session: Session, workspace_id: str, message_ids: Sequence[str], now: datetime
) -> list[str]:
    """Void the offer coupon each bumped message carried (``offer_coupon_id``): the person
    never reads it, so it must not sit usable in their wallet. Idempotent (voiding a voided
    coupon changes nothing); a coupon already redeemed, or gone, is left alone. The voided
    coupon ids."""
    carried = channels.params_of(session=session, workspace_id=workspace_id,
                                 message_ids=sorted(set(message_ids)))  # fmt: skip
    voided = []
    for message_id, params in sorted(carried.items()):
        coupon_id = params.get("offer_coupon_id")
        if not coupon_id:
            continue
        try:
            with session.begin_nested():
                coupons.void_coupon(session=session, workspace_id=workspace_id,
                                    coupon_id=coupon_id, reason=f"bumped:{message_id}"[:200],
                                    now=now)  # fmt: skip
        except (ConflictError, NotFoundError):
            continue  # redeemed meanwhile (the person has it already), or no such coupon
        voided.append(coupon_id)
    return voided
