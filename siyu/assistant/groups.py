"""Settings, groups, opt-outs, unanswered questions and group statistics of the assistant
(group activity itself lives in community: ``siyu.community.service``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
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
    assistant_groups,
    assistant_optouts,
    assistant_settings,
    assistant_unanswered,
)
from siyu.community import service as community
from siyu.core.crypto import Vault
from siyu.core.errors import NotFoundError

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


# -- statistics ----------------------------------------------------------------------------


def group_stats(
    *, session: Session, workspace_id: str, since: datetime, until: datetime
) -> list[GroupStats]:
    """Per group (or 微信客服 conversation) with activity between ``since`` and ``until``:
    joins, leaves, speakers, messages, questions answered (by an entry or a rule) and handed
    over, from community's group activity; members now.

    Raises:
        InvalidInputError: ``until`` is not after ``since``.
    """
    activity = community.activity_by_group(
        session=session, workspace_id=workspace_id, since=since, until=until
    )
    outcomes = community.outcomes_by_group(
        session=session, workspace_id=workspace_id, since=since, until=until
    )
    chat_ids = sorted(activity)
    members = community.member_counts(session=session, workspace_id=workspace_id, chat_ids=chat_ids)
    # The assistant's name for a group wins; else the name WeCom gave it (synced).
    names = {
        g.chat_id: g.name for g in community.list_groups(session=session, workspace_id=workspace_id)
    }
    mine = list_groups(session=session, workspace_id=workspace_id)
    names.update({g.chat_id: g.name for g in mine if g.name})
    stats = []
    for chat_id in chat_ids:
        done = outcomes.get(chat_id, {})
        answered = done.get(Outcome.ANSWERED.value, 0) + done.get(Outcome.RULE.value, 0)
        handed_over = done.get(Outcome.HANDOVER.value, 0)
        stats.append(
            GroupStats(
                chat_id=chat_id,
                name=names.get(chat_id, ""),
                members=members.get(chat_id, 0),
                **activity[chat_id],
                questions=answered + handed_over,
                answered=answered,
                handed_over=handed_over,
            )
        )
    return stats


def require_group(*, session: Session, workspace_id: str, chat_id: str) -> Group:
    """A configured group.

    Raises:
        NotFoundError: no such group.
    """
    group = find_group(session=session, workspace_id=workspace_id, chat_id=chat_id)
    if group is None:
        raise NotFoundError(f"no group {chat_id}", field="chat_id")
    return group
