"""The ingest stage of community: group joins, leaves and messages that reach the collect
path (the assistant's group callbacks, the WeCom contact callback, imports) are counted per
group, with the person resolved at ingest. Those the assistant already recorded at its
callback share their key and count once (their person is filled in)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from siyu.collect.models import CollectedEvent, IdType
from siyu.community import service as community

KINDS = {
    "group_message": "message",
    "group_member_joined": "joined",
    "group_member_left": "left",
}


def _member(event: CollectedEvent) -> str | None:
    for identifier in event.identifiers:
        if identifier.type is IdType.WECOM_EXTERNAL_USERID:
            return identifier.key
    anon = event.anonymous_id or ""
    return anon.removeprefix("wecom:") if anon.startswith("wecom:") else None


def _key(event: CollectedEvent, kind: str, chat_id: str) -> str:
    # A message's key holds WeCom's msg id, as the assistant and moderation write it, and a
    # join's or leave's holds the track's messageId, as the assistant writes it: an event
    # recorded at a callback and ingested after counts once.
    if kind == "message" and event.message_id.startswith("wecom-group:"):
        return community.message_key(chat_id, event.message_id.rsplit(":", 1)[1])
    return community.event_key(event.message_id)


def apply_community(
    *,
    session: Session,
    workspace_id: str,
    events: Sequence[CollectedEvent],
    person_ids: Sequence[str],
    now: datetime,
) -> int:
    """Record the group events among ``events`` (new ones, in the ingest transaction); how
    many were recorded."""
    messages = []
    recorded = 0
    for event, person_id in zip(events, person_ids, strict=True):
        kind = KINDS.get(event.event or "")
        chat_id = event.properties.get("chat_id") if kind else None
        member = _member(event) if kind else None
        if not kind or not isinstance(chat_id, str) or not chat_id or not member:
            continue
        person = person_id if community.is_customer(member) else None
        key = _key(event, kind, chat_id)
        if kind == "message":
            messages.append((key, chat_id, member, event.timestamp, person))
            continue
        recorded += community.record_activity(
            session,
            workspace_id,
            event_key=key,
            chat_id=chat_id,
            kind=kind,
            member_id=member,
            at=event.timestamp,
            person_id=person,
        )
    return recorded + community.record_messages(session, workspace_id, messages)
