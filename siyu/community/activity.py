"""Group activity: every join, leave and message of a customer group (or of a 微信客服
conversation the assistant answers), recorded once per event key whichever feed brings it,
with what the assistant and moderation did with it, and counted per group."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from siyu.community.groups import (
    current_members,
    ensure_group,
    join_member,
    leave_member,
    person_of,
    recount,
    touch,
)
from siyu.community.tables import community_activity, community_groups
from siyu.core.errors import InvalidInputError

_a = community_activity.c
_g = community_groups.c
CONVERSATION_PREFIX = "kf:"  # a 微信客服 conversation: activity only, no group or members


def message_key(chat_id: str, msg_id: str) -> str:
    """The event key of a group message: WeCom's msg id, whichever callback brought it."""
    return f"m:{chat_id}:{msg_id}"[:200]


def event_key(message_id: str) -> str:
    """The event key of a join or leave that arrived as a collect message (its messageId)."""
    return f"e:{message_id}"[:200]


def is_conversation(chat_id: str) -> bool:
    """A 1:1 微信客服 conversation rather than a customer group."""
    return chat_id.startswith(CONVERSATION_PREFIX)


def insert_activity(
    session: Session,
    workspace_id: str,
    event_key: str,
    chat_id: str,
    kind: str,
    member_id: str,
    at: datetime,
    person_id: str | None,
) -> bool:
    """Insert one activity row; False when its key was seen before."""
    seen = session.execute(
        select(_a.event_key).where(_a.workspace_id == workspace_id, _a.event_key == event_key)
    ).first()
    if seen is not None:
        return False
    session.execute(
        insert(community_activity).values(
            workspace_id=workspace_id,
            event_key=event_key[:200],
            chat_id=chat_id,
            kind=kind,
            member_id=member_id,
            person_id=person_id,
            at=at,
        )
    )
    return True


def record_activity(
    session: Session,
    workspace_id: str,
    *,
    event_key: str,
    chat_id: str,
    kind: str,
    member_id: str,
    at: datetime,
    person_id: str | None = None,
) -> bool:
    """Note a join, leave or message once per ``event_key`` and keep the group's member rows,
    seats and last-activity times; False when it was seen before (or, for a join or leave,
    when membership already says so: a sync and a callback bring the same join). A
    conversation (``kf:…``) keeps activity only."""
    person_id = person_id or person_of(session, workspace_id, member_id)
    if is_conversation(chat_id):
        return insert_activity(
            session, workspace_id, event_key, chat_id, kind, member_id, at, person_id
        )
    ensure_group(session, workspace_id, chat_id)
    if kind in ("joined", "left"):
        inside = member_id in current_members(session, workspace_id, chat_id)
        if inside == (kind == "joined"):
            if inside and person_id:
                join_member(session, workspace_id, chat_id, member_id, person_id, None, None)
            _fill_persons(session, workspace_id, {event_key: person_id} if person_id else {})
            return False
    if not insert_activity(
        session, workspace_id, event_key, chat_id, kind, member_id, at, person_id
    ):
        _fill_persons(session, workspace_id, {event_key: person_id} if person_id else {})
        return False
    if kind == "message":
        touch(session, workspace_id, chat_id, "last_message_at", at)
        return True
    freed = 0
    if kind == "joined":
        join_member(session, workspace_id, chat_id, member_id, person_id, at, None)
        touch(session, workspace_id, chat_id, "last_join_at", at)
    else:
        freed = int(leave_member(session, workspace_id, chat_id, member_id, at))
    recount(session, workspace_id, chat_id, freed)
    return True


def _fill_persons(session: Session, workspace_id: str, persons: dict[str, str]) -> None:
    """Rows recorded before their customer was known to OneID (the assistant records a
    message before it is ingested) take the person resolved at ingest."""
    for key, person in persons.items():
        session.execute(
            update(community_activity)
            .where(_a.workspace_id == workspace_id, _a.event_key == key, _a.person_id.is_(None))
            .values(person_id=person)
        )


def record_messages(
    session: Session,
    workspace_id: str,
    messages: Sequence[tuple[str, str, str, datetime, str | None]],
) -> int:
    """Count group messages (event key, chat_id, member, time, person) in bulk, each once per
    key; how many were new. The groups' last-message times move forward."""
    keys = {m[0][:200]: m for m in messages}
    if not keys:
        return 0
    seen = set(
        session.execute(
            select(_a.event_key).where(_a.workspace_id == workspace_id, _a.event_key.in_(keys))
        ).scalars()
    )
    _fill_persons(session, workspace_id, {k: p for k in seen if (p := keys[k][4])})
    rows = [
        {
            "workspace_id": workspace_id,
            "event_key": key,
            "chat_id": chat_id,
            "kind": "message",
            "member_id": member,
            "person_id": person,
            "at": at,
        }
        for key, (_, chat_id, member, at, person) in keys.items()
        if key not in seen
    ]
    if not rows:
        return 0
    session.execute(insert(community_activity), rows)
    latest: dict[str, datetime] = {}
    for key, (_, chat_id, _, at, _) in keys.items():
        if key not in seen and not is_conversation(chat_id):
            latest[chat_id] = max(latest.get(chat_id, at), at)
    for chat_id, at in latest.items():
        ensure_group(session, workspace_id, chat_id)
        touch(session, workspace_id, chat_id, "last_message_at", at)
    return len(rows)


# -- what was done with it ---------------------------------------------------------------------


def claim_outcome(session: Session, workspace_id: str, event_key: str, outcome: str) -> bool:
    """Claim a recorded event for the assistant with a first ``outcome``: True once per key
    (a retry, or the same event from a second callback, gets False), so it is answered once.
    A conditional UPDATE: on PostgreSQL a concurrent twin waits and then finds it claimed."""
    done = session.execute(
        update(community_activity)
        .where(_a.workspace_id == workspace_id, _a.event_key == event_key, _a.outcome.is_(None))
        .values(outcome=outcome)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def set_outcome(session: Session, workspace_id: str, event_key: str, outcome: str) -> None:
    """What the assistant finally did with a claimed message."""
    session.execute(
        update(community_activity)
        .where(_a.workspace_id == workspace_id, _a.event_key == event_key)
        .values(outcome=outcome)
    )


REPLY_LEASE = timedelta(minutes=5)
"""How long a keyword reply's claim holds without a recorded post: a process that died
between the claim and the robot leaves the message to be replied to by a later delivery."""


def claim_reply(session: Session, workspace_id: str, event_key: str, now: datetime) -> bool:
    """Claim a message for a keyword rule's reply: True for one caller at a time, until the
    reply is posted (:func:`reply_posted`). A failed post releases the claim
    (:func:`release_reply`) and a claim older than :data:`REPLY_LEASE` without a post may be
    taken again, so a later delivery of the message retries; once posted, never again."""
    done = session.execute(
        update(community_activity)
        .where(
            _a.workspace_id == workspace_id,
            _a.event_key == event_key,
            _a.reply_posted_at.is_(None),
            or_(_a.reply_claimed_at.is_(None), _a.reply_claimed_at < now - REPLY_LEASE),
        )
        .values(reply_claimed_at=now)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def reply_posted(session: Session, workspace_id: str, event_key: str, now: datetime) -> None:
    """The group robot took the message's keyword reply: it is never claimed again."""
    session.execute(
        update(community_activity)
        .where(_a.workspace_id == workspace_id, _a.event_key == event_key)
        .values(reply_posted_at=now)
    )


def release_reply(session: Session, workspace_id: str, event_key: str) -> None:
    """The post failed (a refusal, no robot, the network): the next delivery of the message
    may claim its reply again. A reply already posted stays posted."""
    session.execute(
        update(community_activity)
        .where(
            _a.workspace_id == workspace_id,
            _a.event_key == event_key,
            _a.reply_posted_at.is_(None),
        )
        .values(reply_claimed_at=None)
    )


def outcomes_by_group(
    *, session: Session, workspace_id: str, since: datetime, until: datetime
) -> dict[str, dict[str, int]]:
    """Per group (or conversation), how many messages between ``since`` and ``until`` had
    each outcome."""
    if until <= since:
        raise InvalidInputError("until must be after since", field="until")
    rows = session.execute(
        select(_a.chat_id, _a.outcome, func.count().label("n"))
        .where(
            _a.workspace_id == workspace_id,
            _a.at >= since,
            _a.at < until,
            _a.kind == "message",
            _a.outcome.is_not(None),
        )
        .group_by(_a.chat_id, _a.outcome)
    ).all()
    found: dict[str, dict[str, int]] = {}
    for r in rows:
        found.setdefault(r.chat_id, {})[r.outcome] = int(r.n)
    return found


def member_counts(
    *, session: Session, workspace_id: str, chat_ids: Sequence[str]
) -> dict[str, int]:
    """Members now per chat: a group's current members (syncs and callbacks); a
    conversation's joins minus leaves (customers who opened it)."""
    groups = session.execute(
        select(_g.chat_id, _g.members).where(
            _g.workspace_id == workspace_id, _g.chat_id.in_(chat_ids)
        )
    ).all()
    found = {r.chat_id: int(r.members) for r in groups}
    others = [c for c in chat_ids if c not in found]
    if others:
        net: Any = func.sum(case((_a.kind == "joined", 1), (_a.kind == "left", -1), else_=0))
        rows = session.execute(
            select(_a.chat_id, net.label("n"))
            .where(_a.workspace_id == workspace_id, _a.chat_id.in_(others))
            .group_by(_a.chat_id)
        ).all()
        found.update({r.chat_id: max(int(r.n or 0), 0) for r in rows})
    return found
