"""Keyword rules, spam signals and spammer handling in customer groups.

:func:`spam_signals` is pure: links, QR-code ads and flooding by a customer. A customer
flagged for spam in :data:`SPAM_GROUPS` or more groups within :data:`SPAM_WINDOW` is marked a
spammer: each group's owner gets a removal task (WeCom has no API to remove a customer from
a customer group — the owner removes them in the app) and group live codes refuse them.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from siyu.community.activity import claim_reply, message_key, record_activity
from siyu.community.groups import is_customer, person_of
from siyu.community.models import (
    CommunityTask,
    GroupMessageIn,
    Rule,
    RuleCreate,
    Spammer,
    Verdict,
)
from siyu.community.tables import (
    community_activity,
    community_flags,
    community_groups,
    community_rules,
    community_spammers,
    community_tasks,
)
from siyu.core.errors import NotFoundError
from siyu.core.ids import new_id

LINK = re.compile(r"(https?://|www\.|\b[\w-]+\.(com|cn|net|cc|top|xyz)\b)", re.IGNORECASE)
QR_AD = re.compile(
    r"(扫码|二维码|加微信|加我微信|vx|薇信|威信|私聊领|代理|兼职|刷单)", re.IGNORECASE
)
FLOOD_MESSAGES = 8  # a customer's messages in one group within FLOOD_WINDOW
FLOOD_WINDOW = timedelta(minutes=1)
SPAM_GROUPS = 2
SPAM_WINDOW = timedelta(hours=24)
SPAM_REASONS = frozenset({"link", "qr_ad", "flood"})
_r = community_rules.c
_f = community_flags.c
_sp = community_spammers.c
_k = community_tasks.c


def spam_signals(content: str, recent_messages: int) -> list[str]:
    """Spam signals in a customer's message: ``link``, ``qr_ad``, ``flood`` (``recent``
    counts their messages in the group within the flood window, this one included)."""
    found = []
    if LINK.search(content):
        found.append("link")
    if QR_AD.search(content):
        found.append("qr_ad")
    if recent_messages >= FLOOD_MESSAGES:
        found.append("flood")
    return found


# -- rules -------------------------------------------------------------------------------------


def create_rule(*, session: Session, workspace_id: str, rule: RuleCreate, now: datetime) -> Rule:
    """Add a keyword rule."""
    stored = Rule(id=new_id("grl"), created_at=now, **rule.model_dump())
    session.execute(
        insert(community_rules).values(workspace_id=workspace_id, **stored.model_dump())
    )
    return stored


def list_rules(*, session: Session, workspace_id: str) -> list[Rule]:
    """Every keyword rule, oldest first."""
    rows = session.execute(
        select(community_rules).where(_r.workspace_id == workspace_id).order_by(_r.created_at)
    )
    return [
        Rule(id=r.id, keyword=r.keyword, action=r.action, reply=r.reply, created_at=r.created_at)
        for r in rows
    ]


# -- messages ----------------------------------------------------------------------------------


def _recent(session: Session, workspace_id: str, chat_id: str, member: str, at: datetime) -> int:
    a = community_activity.c
    return int(
        session.execute(
            select(func.count()).where(
                a.workspace_id == workspace_id,
                a.chat_id == chat_id,
                a.member_id == member,
                a.kind == "message",
                a.at > at - FLOOD_WINDOW,
                a.at <= at,
            )
        ).scalar_one()
    )


def observe_message(
    *, session: Session, workspace_id: str, chat_id: str, message: GroupMessageIn, now: datetime
) -> Verdict:
    """Count a group message, match keyword rules and, for a customer, look for spam; a
    customer spamming across groups is marked. A repeated ``msg_id`` changes nothing. A
    reply rule's text is ``reply_due`` once per message, for the caller to post."""
    key = message_key(chat_id, message.msg_id)
    fresh = record_activity(
        session,
        workspace_id,
        event_key=key,
        chat_id=chat_id,
        kind="message",
        member_id=message.sender,
        at=message.at,
    )
    rules = list_rules(session=session, workspace_id=workspace_id)
    matched = [r for r in rules if r.keyword.lower() in message.content.lower()]
    reasons = [f"keyword:{r.keyword}" for r in matched if r.action == "flag"]
    reply = next((r.reply for r in matched if r.action == "reply"), None)
    due = reply is not None and claim_reply(session, workspace_id, key, now)
    if is_customer(message.sender):
        recent = _recent(session, workspace_id, chat_id, message.sender, message.at)
        reasons += spam_signals(message.content, recent)
    if not fresh:
        return Verdict(
            reasons=reasons,
            reply=reply,
            reply_due=due,
            duplicate=True,
            spammer=is_spammer(session, workspace_id, message.sender),
        )
    if reasons:
        session.execute(
            insert(community_flags).values(
                workspace_id=workspace_id,
                msg_key=key[:200],
                chat_id=chat_id,
                member_id=message.sender,
                reasons=reasons,
                excerpt=message.content[:200],
                at=message.at,
            )
        )
    spammer = False
    if SPAM_REASONS & set(reasons):
        spammer = _maybe_mark(session, workspace_id, message.sender, message.at, now)
    return Verdict(reasons=reasons, reply=reply, reply_due=due, spammer=spammer)


def is_spammer(session: Session, workspace_id: str, member_id: str) -> bool:
    """Whether the member is marked."""
    row = session.execute(
        select(_sp.member_id).where(_sp.workspace_id == workspace_id, _sp.member_id == member_id)
    ).first()
    return row is not None


def _spam_flags(session: Session, workspace_id: str, member_id: str, at: datetime) -> list[Any]:
    rows = session.execute(
        select(_f.chat_id, _f.reasons).where(
            _f.workspace_id == workspace_id,
            _f.member_id == member_id,
            _f.at > at - SPAM_WINDOW,
            _f.at <= at,
        )
    ).all()
    return [r for r in rows if SPAM_REASONS & set(r.reasons)]


def _maybe_mark(
    session: Session, workspace_id: str, member_id: str, at: datetime, now: datetime
) -> bool:
    """Mark the member when spam of theirs was seen in enough groups; True when marked."""
    if is_spammer(session, workspace_id, member_id):
        return True
    flags = _spam_flags(session, workspace_id, member_id, at)
    chat_ids = sorted({r.chat_id for r in flags})
    if len(chat_ids) < SPAM_GROUPS:
        return False
    reasons = sorted({x for r in flags for x in r.reasons if x in SPAM_REASONS})
    session.execute(
        insert(community_spammers).values(
            workspace_id=workspace_id,
            member_id=member_id,
            person_id=person_of(session, workspace_id, member_id),
            reasons=reasons,
            chat_ids=chat_ids,
            marked_at=now,
        )
    )
    for chat_id in chat_ids:
        add_task(
            session,
            workspace_id,
            kind="remove_member",
            chat_id=chat_id,
            member_id=member_id,
            key=f"remove:{chat_id}:{member_id}",
            now=now,
            detail=f"remove spammer {member_id} ({', '.join(reasons)}) from the group "
            "in WeCom: WeCom has no API to remove a customer",
        )
    return True


def list_spammers(*, session: Session, workspace_id: str) -> list[Spammer]:
    """Marked spammers, newest first."""
    rows = session.execute(
        select(community_spammers)
        .where(_sp.workspace_id == workspace_id)
        .order_by(_sp.marked_at.desc())
    )
    return [
        Spammer(
            member_id=r.member_id,
            person_id=r.person_id,
            reasons=list(r.reasons),
            chat_ids=list(r.chat_ids),
            marked_at=r.marked_at,
        )
        for r in rows
    ]


# -- owner tasks -------------------------------------------------------------------------------


def add_task(
    session: Session,
    workspace_id: str,
    *,
    kind: str,
    chat_id: str,
    key: str,
    detail: str,
    now: datetime,
    member_id: str | None = None,
) -> str | None:
    """Open a task for the group's owner once per ``key``; its id, or None if it exists."""
    seen = session.execute(
        select(_k.id).where(_k.workspace_id == workspace_id, _k.task_key == key)
    ).first()
    if seen is not None:
        return None
    g = community_groups.c
    owner = session.execute(
        select(g.owner_userid).where(g.workspace_id == workspace_id, g.chat_id == chat_id)
    ).scalar()
    task_id = new_id("gtk")
    session.execute(
        insert(community_tasks).values(
            workspace_id=workspace_id,
            id=task_id,
            task_key=key[:200],
            kind=kind,
            chat_id=chat_id,
            member_id=member_id,
            owner_userid=owner,
            detail=detail[:500],
            status="open",
            notified=False,
            created_at=now,
        )
    )
    return task_id


def _ctask(r: Any) -> CommunityTask:
    return CommunityTask(
        id=r.id,
        kind=r.kind,
        chat_id=r.chat_id,
        member_id=r.member_id,
        owner_userid=r.owner_userid,
        detail=r.detail,
        status=r.status,
        notified=r.notified,
        created_at=r.created_at,
    )


def list_tasks(
    *, session: Session, workspace_id: str, status: str | None = "open", kind: str | None = None
) -> list[CommunityTask]:
    """Owner tasks, newest first."""
    query = select(community_tasks).where(_k.workspace_id == workspace_id)
    if status:
        query = query.where(_k.status == status)
    if kind:
        query = query.where(_k.kind == kind)
    return [_ctask(r) for r in session.execute(query.order_by(_k.created_at.desc(), _k.id))]


def close_task(*, session: Session, workspace_id: str, task_id: str) -> CommunityTask:
    """Mark a task done. Raises NotFoundError."""
    done = session.execute(
        update(community_tasks)
        .where(_k.workspace_id == workspace_id, _k.id == task_id)
        .values(status="done")
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise NotFoundError(f"no task {task_id}", field="task_id")
    row = session.execute(
        select(community_tasks).where(_k.workspace_id == workspace_id, _k.id == task_id)
    ).one()
    return _ctask(row)


def mark_notified(session: Session, workspace_id: str, task_ids: list[str]) -> None:
    """The owners of these tasks were messaged."""
    if task_ids:
        session.execute(
            update(community_tasks)
            .where(_k.workspace_id == workspace_id, _k.id.in_(task_ids))
            .values(notified=True)
        )
