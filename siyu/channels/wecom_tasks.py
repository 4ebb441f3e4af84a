"""Staff in the loop: WeCom mass sends that go out only when a staff member confirms them.

:class:`WecomStaffTransport` turns an outbox message into a mass-send task for the
customer's owner and answers ``AWAITING_STAFF``; :func:`poll_staff_confirmations` later marks
it confirmed, reminds the staff (at most 3 times in 24 h, WeCom's limit), or after the SLA
cancels it in WeCom and reports it lapsed so the journey can fall back to another channel.
The state is kept in ``wecom_tasks``, keyed by the outbox message id; settling a task settles
its outbox message in the same transaction (``channels.service.settle_awaiting``).
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from siyu.channels import service as outbox
from siyu.channels.models import (
    Channel,
    Delivery,
    HoldReason,
    MessageStatus,
    OutboundMessage,
    RetryableSendError,
    SendError,
)
from siyu.channels.wechat_tables import wecom_tasks
from siyu.channels.wecom import WecomClient
from siyu.channels.wecom_contacts import owner_of
from siyu.channels.wecom_models import (
    RecipientStatus,
    StaffLoopPolicy,
    StaffOutcome,
    StaffTaskState,
    StaffTaskView,
    TaskStatus,
)
from siyu.core.clock import utcnow
from siyu.core.errors import ConflictError, NotFoundError

log = logging.getLogger("siyu.channels.wecom")
WECHAT_ZONE = "Asia/Shanghai"  # WeCom counts months and days in Beijing time
_COUNTED = (StaffTaskState.AWAITING.value, StaffTaskState.CONFIRMED.value)


def _view(row: Any) -> StaffTaskView:
    return StaffTaskView(
        message_id=row.message_id,
        msgid=row.msgid,
        sender=row.sender,
        target=row.target,
        chat_type=row.chat_type,
        status=StaffTaskState(row.status),
        reason=row.reason,
        reminders=len(row.reminders or []),
        created_at=row.created_at,
        settled_at=row.settled_at,
    )


def get_task(*, session: Session, workspace_id: str, message_id: str) -> StaffTaskView:
    """The staff task of an outbox message. Raises NotFoundError."""
    t = wecom_tasks.c
    row = session.execute(
        select(wecom_tasks).where(t.workspace_id == workspace_id, t.message_id == message_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no WeCom staff task for message {message_id}", field="message_id")
    return _view(row)


def period_start(now: datetime, period: Literal["month", "week", "day"]) -> datetime:
    """The start of the cap period holding ``now``, in Beijing time."""
    local = now.astimezone(ZoneInfo(WECHAT_ZONE))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def cap_for(policy: StaffLoopPolicy, now: datetime) -> int:
    """The cap in force: the configured one, or the days in the current month."""
    if policy.cap is not None:
        return policy.cap
    local = now.astimezone(ZoneInfo(WECHAT_ZONE))
    return calendar.monthrange(local.year, local.month)[1]


def mass_sends_in_period(
    *, session: Session, workspace_id: str, target: str, now: datetime, policy: StaffLoopPolicy
) -> int:
    """Mass sends to ``target`` (customer or group) created this period and not given up."""
    t = wecom_tasks.c
    return int(
        session.execute(
            select(func.count()).where(
                t.workspace_id == workspace_id,
                t.target == target,
                t.status.in_(_COUNTED),
                t.created_at >= period_start(now, policy.cap_period),
            )
        ).scalar_one()
    )


class WecomStaffTransport:
    """Sends WeCom messages as mass-send tasks the customer's owner confirms in WeCom."""

    def __init__(
        self,
        *,
        client: WecomClient,
        sessions: sessionmaker[Session],
        channel: Channel = Channel.WECOM,
        policy: StaffLoopPolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if channel not in (Channel.WECOM, Channel.WECOM_GROUP):
            raise ValueError("a WeCom staff transport serves wecom or wecom_group")
        self.channel: Channel = channel
        self.client = client
        self.sessions = sessions
        self.policy = policy or StaffLoopPolicy()
        self.clock = clock

    def _chat_type(self) -> Literal["single", "group"]:
        return "group" if self.channel is Channel.WECOM_GROUP else "single"

    def _prepare(self, message: OutboundMessage, now: datetime) -> StaffTaskView | str:
        """The existing task of this message, or the sender to create one for."""
        with self.sessions() as session:
            try:
                return get_task(
                    session=session, workspace_id=message.workspace_id, message_id=message.id
                )
            except NotFoundError:
                pass
            sender = message.sender
            if sender is None and self.channel is Channel.WECOM:
                sender = owner_of(
                    session=session,
                    workspace_id=message.workspace_id,
                    external_userid=message.recipient,
                )
            if not sender:
                raise SendError("the customer has no owning staff member in WeCom", reason="owner")
            used = mass_sends_in_period(
                session=session,
                workspace_id=message.workspace_id,
                target=message.recipient,
                now=now,
                policy=self.policy,
            )
        if used >= cap_for(self.policy, now):
            raise SendError(
                f"{message.recipient} already has {used} WeCom mass sends this "
                f"{self.policy.cap_period}",
                reason=HoldReason.MONTHLY_CAP.value,
            )
        return sender

    def send(self, message: OutboundMessage) -> Delivery:
        """Create the mass-send task for the owner; AWAITING_STAFF until they confirm.

        A retry of a message whose task exists answers that task (no second task).
        """
        now = self.clock()
        prepared = self._prepare(message, now)
        if isinstance(prepared, StaffTaskView):
            if prepared.status in (StaffTaskState.LAPSED, StaffTaskState.FAILED):
                raise SendError(f"the staff task {prepared.status}: {prepared.reason}")
            return _delivery(prepared)
        if not message.content:
            raise SendError("a WeCom mass send needs rendered text content", reason="content")
        target = [message.recipient]
        task = self.client.add_msg_template(
            sender=prepared,
            text=message.content,
            chat_type=self._chat_type(),
            external_userids=target if self.channel is Channel.WECOM else (),
            chat_ids=target if self.channel is Channel.WECOM_GROUP else (),
        )
        if message.recipient in task.fail_list:
            raise SendError(f"WeCom refused {message.recipient} (not a contact of {prepared})")
        return _delivery(self._record(message, prepared, task.msgid, now))

    def _record(self, message: OutboundMessage, sender: str, msgid: str, now: datetime) -> Any:
        values = {
            "message_id": message.id,
            "workspace_id": message.workspace_id,
            "msgid": msgid,
            "sender": sender,
            "chat_type": self._chat_type(),
            "target": message.recipient,
            "person_id": message.person_id,
            "status": StaffTaskState.AWAITING.value,
            "reminders": [],
            "created_at": now,
        }
        try:
            with self.sessions.begin() as session:
                session.execute(insert(wecom_tasks).values(**values))
        except IntegrityError:  # a concurrent retry recorded it first: answer that one
            log.warning("duplicate WeCom task for message %s (msgid %s)", message.id, msgid)
        with self.sessions() as session:
            return get_task(
                session=session, workspace_id=message.workspace_id, message_id=message.id
            )


def _delivery(task: StaffTaskView) -> Delivery:
    status = (
        MessageStatus.SENT
        if task.status is StaffTaskState.CONFIRMED
        else MessageStatus.AWAITING_STAFF
    )
    return Delivery(provider_message_id=task.msgid, accepted_at=task.created_at, status=status)


# -- the poll ---------------------------------------------------------------------------------


def _reminder_times(task: Any) -> list[datetime]:
    return [datetime.fromisoformat(at) for at in task.reminders or []]


def reminder_due(
    *, created_at: datetime, reminders: list[datetime], now: datetime, policy: StaffLoopPolicy
) -> bool:
    """Whether to remind now: past ``remind_after``, ``remind_every`` since the last one,
    and fewer than ``reminders_per_day`` in the last 24 hours."""
    if now - created_at < policy.remind_after:
        return False
    if reminders and now - max(reminders) < policy.remind_every:
        return False
    recent = [at for at in reminders if now - at < timedelta(hours=24)]
    return len(recent) < policy.reminders_per_day


def _settle(
    session: Session, message_id: str, state: StaffTaskState, at: datetime, reason: str | None
) -> None:
    """Settle the task and, in the same transaction, its outbox message (SENT or FAILED)."""
    t = wecom_tasks.c
    row = session.execute(
        update(wecom_tasks)
        .where(t.message_id == message_id, t.status == StaffTaskState.AWAITING.value)
        .values(status=state.value, settled_at=at, reason=reason)
        .returning(t.workspace_id)
    ).first()
    if row is None:
        return
    try:
        outbox.settle_awaiting(
            session=session,
            workspace_id=row.workspace_id,
            message_id=message_id,
            sent=state is StaffTaskState.CONFIRMED,
            at=at,
            reason=reason,
        )
    except NotFoundError:  # a task made outside the outbox (a direct transport call)
        log.info("WeCom task %s has no outbox message to settle", message_id)


# The poll asks WeCom first and writes afterwards, so the caller's write transaction (on
# SQLite, the database's one write lock) is not held across network calls.


def _outcome(task: Any, state: StaffTaskState, at: datetime, reason: str | None) -> StaffOutcome:
    return StaffOutcome(
        message_id=task.message_id,
        status=state,
        reason=reason,
        fallback=state is not StaffTaskState.CONFIRMED,
        settled_at=at,
    )


def _confirmed(client: WecomClient, task: Any, sent_at: datetime) -> StaffOutcome:
    results = client.groupmsg_results(msgid=task.msgid, userid=task.sender)
    mine = [r for r in results if task.target in (r.external_userid, r.chat_id)]
    refused = {RecipientStatus.NOT_FRIEND: "not a contact any more", RecipientStatus.LIMITED: "cap"}
    if mine and mine[0].status in refused:
        reason = f"WeCom did not deliver: {refused[mine[0].status]}"
        return _outcome(task, StaffTaskState.FAILED, sent_at, reason)
    return _outcome(task, StaffTaskState.CONFIRMED, sent_at, None)


def _ask(
    client: WecomClient, task: Any, now: datetime, policy: StaffLoopPolicy
) -> StaffOutcome | None:
    """What became of one task, with WeCom's side effects (cancel, remind) done; no writes."""
    try:
        staff = [s for s in client.groupmsg_tasks(msgid=task.msgid) if s.userid == task.sender]
        if staff and staff[0].status is TaskStatus.SENT:
            return _confirmed(client, task, staff[0].sent_at or now)
        if now - task.created_at >= policy.sla:
            client.cancel(msgid=task.msgid)  # so a late confirmation cannot send it twice
            return _outcome(
                task, StaffTaskState.LAPSED, now, "staff did not confirm within the SLA"
            )
        times = _reminder_times(task)
        if reminder_due(created_at=task.created_at, reminders=times, now=now, policy=policy):
            client.remind(msgid=task.msgid)
            return StaffOutcome(
                message_id=task.message_id, status=StaffTaskState.AWAITING, reminded=True
            )
    except RetryableSendError:
        raise
    except SendError as exc:  # WeCom refuses this task for good (e.g. unknown msgid)
        return _outcome(task, StaffTaskState.FAILED, now, f"WeCom: {exc.message}")
    return None


def _record_reminder(session: Session, task: Any, now: datetime) -> None:
    t = wecom_tasks.c
    times = [*(task.reminders or []), now.isoformat()]
    session.execute(
        update(wecom_tasks).where(t.message_id == task.message_id).values(reminders=times)
    )


def _write(session: Session, task: Any, outcome: StaffOutcome, now: datetime) -> None:
    if outcome.reminded:
        _record_reminder(session, task, now)
    elif outcome.settled_at is not None:
        _settle(session, task.message_id, outcome.status, outcome.settled_at, outcome.reason)


def poll_staff_confirmations(
    *,
    session: Session,
    client: WecomClient,
    workspace_id: str,
    now: datetime,
    sla: timedelta | None = None,
    policy: StaffLoopPolicy | None = None,
    limit: int = 500,
) -> list[StaffOutcome]:
    """Advance the open staff tasks of a workspace: confirmed → CONFIRMED (outbox SENT);
    delivered to nobody or refused by WeCom → FAILED; past the SLA → cancelled in WeCom and
    LAPSED; otherwise remind when due (≤ 3 per 24 h). FAILED and LAPSED settle the outbox
    message as FAILED and carry ``fallback=True`` for the journey.

    WeCom is asked for every task first, then the changes are written in the caller's
    transaction. A task WeCom is busy for is left for the next poll.
    """
    policy = policy or StaffLoopPolicy()
    if sla is not None:
        policy = policy.model_copy(update={"sla": sla})
    t = wecom_tasks.c
    rows = session.execute(
        select(wecom_tasks)
        .where(t.workspace_id == workspace_id, t.status == StaffTaskState.AWAITING.value)
        .order_by(t.created_at, t.message_id)
        .limit(limit)
    ).all()
    asked: list[tuple[Any, StaffOutcome]] = []
    for task in rows:
        try:
            outcome = _ask(client, task, now, policy)
        except RetryableSendError as exc:
            log.warning("WeCom busy for task %s: %s", task.message_id, exc)
            continue
        if outcome is not None:
            asked.append((task, outcome))
    for task, outcome in asked:
        _write(session, task, outcome, now)
    return [outcome for _, outcome in asked]


def remind_task(
    *, session: Session, client: WecomClient, workspace_id: str, message_id: str, now: datetime
) -> StaffTaskView:
    """Remind the staff member of one task now (a console button).

    Raises:
        NotFoundError: no such task.
        ConflictError: the task is settled, or 3 reminders went out in the last 24 hours.
    """
    t = wecom_tasks.c
    task = session.execute(
        select(wecom_tasks).where(t.workspace_id == workspace_id, t.message_id == message_id)
    ).first()
    if task is None:
        raise NotFoundError(f"no WeCom staff task for message {message_id}", field="message_id")
    if task.status != StaffTaskState.AWAITING.value:
        raise ConflictError(f"the task is {task.status}", field="message_id")
    recent = [at for at in _reminder_times(task) if now - at < timedelta(hours=24)]
    if len(recent) >= StaffLoopPolicy().reminders_per_day:
        raise ConflictError("WeCom allows 3 reminders per task in 24 hours", field="message_id")
    client.remind(msgid=task.msgid)
    _record_reminder(session, task, now)
    return get_task(session=session, workspace_id=workspace_id, message_id=message_id)
