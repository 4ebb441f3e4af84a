"""Settings, groups, opt-outs, unanswered questions and group activity of the assistant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, distinct, func, insert, select, update
from sqlalchemy.orm import Session

from siyu.assistant import secrets
from siyu.assistant.models import (
    AssistantSettings,
    Group,
    GroupSet,
    GroupStats,
    Outcome,
    Unanswered,
)
from siyu.assistant.tables import (
    assistant_activity,
    assistant_groups,
    assistant_optouts,
    assistant_settings,
    assistant_unanswered,
)
from siyu.core.crypto import Vault
from siyu.core.errors import InvalidInputError, NotFoundError

# -- settings ------------------------------------------------------------------------------


def _settings_row(session: Session, workspace_id: str) -> Any:
    t = assistant_settings.c
    return session.execute(select(assistant_settings).where(t.workspace_id == workspace_id)).first()


def get_settings(
    *, session: Session, workspace_id: str, vault: Vault | None = None
) -> AssistantSettings:
    """The workspace's settings (defaults until set); the robot webhook masked."""
    row = _settings_row(session, workspace_id)
    if row is None:
        return AssistantSettings()
    return AssistantSettings(
        threshold=row.threshold,
        min_margin=row.min_margin,
        handover_text=row.handover_text,
        welcome_text=row.welcome_text,
        robot_webhook_url=secrets.masked_stored(vault, row.robot_webhook_url),
    )


def set_settings(
    *,
    session: Session,
    workspace_id: str,
    settings: AssistantSettings,
    now: datetime,
    vault: Vault | None = None,
) -> AssistantSettings:
    """Replace the workspace's settings; the webhook URL is sealed with ``vault`` (sending
    back the masked URL read keeps the stored one).

    Raises:
        InvalidInputError: the webhook URL is not http(s).
    """
    row = _settings_row(session, workspace_id)
    stored = secrets.seal(vault, settings.robot_webhook_url,
                          row.robot_webhook_url if row else None, "robot_webhook_url")  # fmt: skip
    t = assistant_settings.c
    session.execute(delete(assistant_settings).where(t.workspace_id == workspace_id))
    values = {**settings.model_dump(), "robot_webhook_url": stored}
    session.execute(
        insert(assistant_settings).values(workspace_id=workspace_id, updated_at=now, **values)
    )
    return settings.model_copy(update={"robot_webhook_url": secrets.masked_stored(vault, stored)})


# -- groups --------------------------------------------------------------------------------


def _group_row(session: Session, workspace_id: str, chat_id: str) -> Any:
    t = assistant_groups.c
    return session.execute(
        select(assistant_groups).where(t.workspace_id == workspace_id, t.chat_id == chat_id)
    ).first()


def _group(row: Any, vault: Vault | None) -> Group:
    url = secrets.masked_stored(vault, row.robot_webhook_url)
    return Group(chat_id=row.chat_id, name=row.name, robot_webhook_url=url, muted=row.muted)


def set_group(
    *,
    session: Session,
    workspace_id: str,
    chat_id: str,
    group: GroupSet,
    now: datetime,
    vault: Vault | None = None,
) -> Group:
    """Create or replace a group's name, robot webhook (sealed with ``vault``) and mute
    switch.

    Raises:
        InvalidInputError: the webhook URL is not http(s).
    """
    row = _group_row(session, workspace_id, chat_id)
    stored = secrets.seal(vault, group.robot_webhook_url,
                          row.robot_webhook_url if row else None, "robot_webhook_url")  # fmt: skip
    values = {**group.model_dump(), "robot_webhook_url": stored}
    t = assistant_groups.c
    where = (t.workspace_id == workspace_id, t.chat_id == chat_id)
    if row is None:
        session.execute(
            insert(assistant_groups).values(
                workspace_id=workspace_id, chat_id=chat_id, created_at=now, **values
            )
        )
    else:
        session.execute(update(assistant_groups).where(*where).values(**values))
    url = secrets.masked_stored(vault, stored)
    return Group(chat_id=chat_id, **{**group.model_dump(), "robot_webhook_url": url})


def find_group(
    *, session: Session, workspace_id: str, chat_id: str, vault: Vault | None = None
) -> Group | None:
    """A configured group (its webhook masked), or None."""
    row = _group_row(session, workspace_id, chat_id)
    return None if row is None else _group(row, vault)


def list_groups(*, session: Session, workspace_id: str, vault: Vault | None = None) -> list[Group]:
    """Every configured group (webhooks masked)."""
    t = assistant_groups.c
    rows = session.execute(
        select(assistant_groups).where(t.workspace_id == workspace_id).order_by(t.chat_id)
    )
    return [_group(r, vault) for r in rows]


def webhook_for(*, session: Session, workspace_id: str, chat_id: str, vault: Vault) -> str | None:
    """The robot webhook that speaks in ``chat_id`` (opened): the group's own, else the
    default."""
    row = _group_row(session, workspace_id, chat_id)
    if row is not None and row.robot_webhook_url:
        return secrets.reveal(vault, row.robot_webhook_url)
    settings = _settings_row(session, workspace_id)
    return secrets.reveal(vault, settings.robot_webhook_url) if settings else None


# -- opt-outs ------------------------------------------------------------------------------


def opted_out(session: Session, workspace_id: str, member_id: str) -> bool:
    """Whether ``member_id`` asked not to be answered."""
    t = assistant_optouts.c
    found = session.execute(
        select(t.member_id).where(t.workspace_id == workspace_id, t.member_id == member_id)
    ).first()
    return found is not None


def opt_out(session: Session, workspace_id: str, member_id: str, now: datetime) -> None:
    """Stop answering ``member_id`` (idempotent)."""
    if not opted_out(session, workspace_id, member_id):
        session.execute(
            insert(assistant_optouts).values(workspace_id=workspace_id, member_id=member_id, at=now)
        )


def opt_in(session: Session, workspace_id: str, member_id: str) -> None:
    """Answer ``member_id`` again."""
    t = assistant_optouts.c
    session.execute(
        delete(assistant_optouts).where(t.workspace_id == workspace_id, t.member_id == member_id)
    )


# -- unanswered ----------------------------------------------------------------------------


def record_unanswered(
    session: Session,
    workspace_id: str,
    question: str,
    chat_id: str | None,
    best: Any,
    now: datetime,
) -> None:
    """Count a handed-over question (the same text counts up one row)."""
    key = "".join(question.split()).lower()[:200]
    t = assistant_unanswered.c
    where = (t.workspace_id == workspace_id, t.question_key == key)
    values = {"best_entry_id": best.entry_id, "best_confidence": best.score, "chat_id": chat_id}
    if session.execute(select(t.count).where(*where)).first() is None:
        session.execute(
            insert(assistant_unanswered).values(
                workspace_id=workspace_id,
                question_key=key,
                question=question[:500],
                count=1,
                first_at=now,
                last_at=now,
                **values,
            )
        )
    else:
        session.execute(
            update(assistant_unanswered)
            .where(*where)
            .values(count=t.count + 1, last_at=now, **values)
        )


def list_unanswered(*, session: Session, workspace_id: str, limit: int = 100) -> list[Unanswered]:
    """Handed-over questions, most asked first, for operators to turn into entries."""
    t = assistant_unanswered.c
    rows = session.execute(
        select(assistant_unanswered)
        .where(t.workspace_id == workspace_id)
        .order_by(t.count.desc(), t.last_at.desc())
        .limit(limit)
    )
    return [
        Unanswered(
            question=r.question,
            count=r.count,
            best_entry_id=r.best_entry_id,
            best_confidence=r.best_confidence,
            chat_id=r.chat_id,
            first_at=r.first_at,
            last_at=r.last_at,
        )
        for r in rows
    ]


# -- activity and statistics ---------------------------------------------------------------


def record_activity(
    session: Session,
    workspace_id: str,
    *,
    event_key: str,
    chat_id: str,
    kind: str,
    member_id: str,
    at: datetime,
) -> bool:
    """Note one callback event; False when it was seen before (a WeCom retry)."""
    t = assistant_activity.c
    seen = session.execute(
        select(t.event_key).where(t.workspace_id == workspace_id, t.event_key == event_key)
    ).first()
    if seen is not None:
        return False
    session.execute(
        insert(assistant_activity).values(
            workspace_id=workspace_id,
            event_key=event_key[:200],
            chat_id=chat_id,
            kind=kind,
            member_id=member_id,
            at=at,
        )
    )
    return True


def set_outcome(session: Session, workspace_id: str, event_key: str, outcome: Outcome) -> None:
    """What the assistant did with a recorded message."""
    t = assistant_activity.c
    session.execute(
        update(assistant_activity)
        .where(t.workspace_id == workspace_id, t.event_key == event_key)
        .values(outcome=outcome.value)
    )


def _count(kind: str, outcome: Outcome | None = None) -> Any:
    t = assistant_activity.c
    test = t.kind == kind if outcome is None else (t.kind == kind) & (t.outcome == outcome.value)
    return func.sum(case((test, 1), else_=0))


def group_stats(
    *, session: Session, workspace_id: str, since: datetime, until: datetime
) -> list[GroupStats]:
    """Per group seen between ``since`` and ``until``: joins, leaves, speakers, messages,
    questions answered (by an entry or a rule) and handed over; members are all-time joins
    minus leaves."""
    if until <= since:
        raise InvalidInputError("until must be after since", field="until")
    t = assistant_activity.c
    answered = func.sum(case((t.outcome.in_(["answered", "rule"]), 1), else_=0))
    window = (t.workspace_id == workspace_id, t.at >= since, t.at < until)
    rows = session.execute(
        select(
            t.chat_id,
            _count("joined").label("joins"),
            _count("left").label("leaves"),
            func.count(distinct(case((t.kind == "message", t.member_id)))).label("speakers"),
            _count("message").label("messages"),
            answered.label("answered"),
            _count("message", Outcome.HANDOVER).label("handed_over"),
        )
        .where(*window)
        .group_by(t.chat_id)
        .order_by(t.chat_id)
    ).all()
    names = {g.chat_id: g.name for g in list_groups(session=session, workspace_id=workspace_id)}
    return [
        GroupStats(
            chat_id=r.chat_id,
            name=names.get(r.chat_id, ""),
            members=_members(session, workspace_id, r.chat_id),
            joins=int(r.joins or 0),
            leaves=int(r.leaves or 0),
            active_speakers=int(r.speakers or 0),
            messages=int(r.messages or 0),
            questions=int(r.answered or 0) + int(r.handed_over or 0),
            answered=int(r.answered or 0),
            handed_over=int(r.handed_over or 0),
        )
        for r in rows
    ]


def _members(session: Session, workspace_id: str, chat_id: str) -> int:
    t = assistant_activity.c
    joined = session.execute(
        select(_count("joined"), _count("left")).where(
            t.workspace_id == workspace_id, t.chat_id == chat_id
        )
    ).one()
    return max(int(joined[0] or 0) - int(joined[1] or 0), 0)


def require_group(*, session: Session, workspace_id: str, chat_id: str) -> Group:
    """A configured group.

    Raises:
        NotFoundError: no such group.
    """
    group = find_group(session=session, workspace_id=workspace_id, chat_id=chat_id)
    if group is None:
        raise NotFoundError(f"no group {chat_id}", field="chat_id")
    return group
