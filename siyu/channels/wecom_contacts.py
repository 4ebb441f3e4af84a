"""WeCom external contacts in the operational store: follows, owners, add/remove history.

The customer's owner (归属导购) is the staff member who added them first and still has them
as a contact; when that staff member is removed, the next earliest follow takes over.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from siyu.channels.wechat_tables import wecom_contact_history, wecom_contacts, wecom_follows
from siyu.channels.wechat_xml import ContactChange, WecomContactEvent
from siyu.channels.wecom import WecomClient
from siyu.channels.wecom_models import (
    ContactChangeResult,
    ContactRecord,
    ExternalContact,
    FollowUser,
    SyncReport,
)
from siyu.core.errors import NotFoundError
from siyu.core.ids import new_id

BATCH_USERS = 100  # batch/get_by_user takes at most 100 userids per call
_ADDS = frozenset({ContactChange.ADD, ContactChange.ADD_HALF, ContactChange.EDIT})
_REMOVES = frozenset({ContactChange.DEL_EXTERNAL, ContactChange.DEL_FOLLOW})


def _follows(session: Session, workspace_id: str, external_userid: str) -> list[Any]:
    f = wecom_follows.c
    return list(
        session.execute(
            select(wecom_follows)
            .where(f.workspace_id == workspace_id, f.external_userid == external_userid)
            .order_by(f.added_at, f.userid)
        ).all()
    )


def get_contact(*, session: Session, workspace_id: str, external_userid: str) -> ContactRecord:
    """A stored contact. Raises NotFoundError."""
    c = wecom_contacts.c
    row = session.execute(
        select(wecom_contacts).where(
            c.workspace_id == workspace_id, c.external_userid == external_userid
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no WeCom contact {external_userid}", field="external_userid")
    live = [r.userid for r in _follows(session, workspace_id, external_userid) if not r.removed_at]
    return ContactRecord(
        external_userid=row.external_userid,
        unionid=row.unionid,
        name=row.name,
        owner_userid=row.owner_userid,
        first_state=row.first_state,
        first_added_at=row.first_added_at,
        active=row.status == "active",
        follow_userids=live,
    )


def owner_of(*, session: Session, workspace_id: str, external_userid: str) -> str | None:
    """The owning staff userid of a contact, if any (None when unknown or removed)."""
    c = wecom_contacts.c
    return session.execute(
        select(c.owner_userid).where(
            c.workspace_id == workspace_id, c.external_userid == external_userid
        )
    ).scalar()


def _refresh_owner(
    session: Session, workspace_id: str, external_userid: str, now: datetime
) -> None:
    live = [r for r in _follows(session, workspace_id, external_userid) if not r.removed_at]
    c = wecom_contacts.c
    session.execute(
        update(wecom_contacts)
        .where(c.workspace_id == workspace_id, c.external_userid == external_userid)
        .values(
            owner_userid=live[0].userid if live else None,
            status="active" if live else "removed",
            updated_at=now,
        )
    )


def _ensure_contact(
    session: Session,
    workspace_id: str,
    contact: ExternalContact,
    state: str | None,
    added_at: datetime | None,
    now: datetime,
) -> bool:
    """Insert or refresh the contact row; True when it is new."""
    c = wecom_contacts.c
    where = (c.workspace_id == workspace_id, c.external_userid == contact.external_userid)
    known = session.execute(select(c.first_state, c.unionid, c.name).where(*where)).first()
    if known is None:
        session.execute(
            insert(wecom_contacts).values(
                workspace_id=workspace_id,
                external_userid=contact.external_userid,
                name=contact.name,
                unionid=contact.unionid,
                type=contact.type,
                first_state=state,
                first_added_at=added_at,
                status="active",
                updated_at=now,
            )
        )
        return True
    session.execute(
        update(wecom_contacts)
        .where(*where)
        .values(
            name=contact.name or known.name,
            unionid=contact.unionid or known.unionid,
            first_state=known.first_state or state,
            updated_at=now,
        )
    )
    return False


def _upsert_follow(
    session: Session, workspace_id: str, external_userid: str, follow: FollowUser
) -> bool:
    """Record that ``follow.userid`` has the contact; True when the follow is new or back."""
    f = wecom_follows.c
    where = (
        f.workspace_id == workspace_id,
        f.external_userid == external_userid,
        f.userid == follow.userid,
    )
    row = session.execute(select(f.removed_at, f.added_at).where(*where)).first()
    if row is None:
        session.execute(
            insert(wecom_follows).values(
                workspace_id=workspace_id,
                external_userid=external_userid,
                userid=follow.userid,
                state=follow.state,
                remark=follow.remark,
                added_at=follow.added_at,
            )
        )
        return True
    values: dict[str, Any] = {"removed_at": None}
    if follow.remark:
        values["remark"] = follow.remark
    if row.removed_at is not None:  # re-added: a new add time and state
        values.update(added_at=follow.added_at, state=follow.state)
    session.execute(update(wecom_follows).where(*where).values(**values))
    return row.removed_at is not None


def _remove_follow(
    session: Session, workspace_id: str, external_userid: str, userid: str, now: datetime
) -> bool:
    f = wecom_follows.c
    done = session.execute(
        update(wecom_follows)
        .where(
            f.workspace_id == workspace_id,
            f.external_userid == external_userid,
            f.userid == userid,
            f.removed_at.is_(None),
        )
        .values(removed_at=now)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def _history(
    session: Session, workspace_id: str, event: WecomContactEvent, source: str, key: str
) -> bool:
    """Record the change once per ``key``; False when it was recorded before."""
    h = wecom_contact_history.c
    seen = session.execute(
        select(h.id).where(h.workspace_id == workspace_id, h.dedupe_key == key)
    ).first()
    if seen is not None:
        return False
    session.execute(
        insert(wecom_contact_history).values(
            id=new_id("wch"),
            workspace_id=workspace_id,
            external_userid=event.external_userid,
            userid=event.userid,
            change=event.change.value,
            state=event.state,
            source=source,
            dedupe_key=key,
            at=event.at,
        )
    )
    return True


def event_key(event: WecomContactEvent) -> str:
    """The identity of a callback: WeCom retries send the same change at the same time."""
    stamp = int(event.at.timestamp())
    return f"{event.change.value}:{event.userid}:{event.external_userid}:{stamp}"


def apply_contact_event(
    *, session: Session, workspace_id: str, event: WecomContactEvent, now: datetime
) -> ContactChangeResult:
    """Apply a contact callback: add or remove the follow, re-pick the owner, log history.

    A retried callback (same change, staff, contact and time) changes nothing.
    """
    if not _history(session, workspace_id, event, "callback", event_key(event)):
        record = get_contact(
            session=session, workspace_id=workspace_id, external_userid=event.external_userid
        )
        return ContactChangeResult(contact=record, new_contact=False, duplicate=True)
    new_contact = False
    if event.change in _ADDS:
        contact = ExternalContact(external_userid=event.external_userid)
        new_contact = _ensure_contact(session, workspace_id, contact, event.state, event.at, now)
        follow = FollowUser(userid=event.userid, added_at=event.at, state=event.state)
        if event.change != ContactChange.EDIT:
            _upsert_follow(session, workspace_id, event.external_userid, follow)
    elif event.change in _REMOVES:
        _ensure_contact(
            session,
            workspace_id,
            ExternalContact(external_userid=event.external_userid),
            None,
            None,
            now,
        )
        _remove_follow(session, workspace_id, event.external_userid, event.userid, event.at)
    _refresh_owner(session, workspace_id, event.external_userid, now)
    record = get_contact(
        session=session, workspace_id=workspace_id, external_userid=event.external_userid
    )
    return ContactChangeResult(contact=record, new_contact=new_contact)


def merge_follows(rows: Iterable[ExternalContact]) -> list[ExternalContact]:
    """Contacts from batch/get_by_user pages (one row per follow) merged per customer."""
    merged: dict[str, ExternalContact] = {}
    for row in rows:
        known = merged.get(row.external_userid)
        if known is None:
            merged[row.external_userid] = row.model_copy(deep=True)
        else:
            known.follow_users.extend(row.follow_users)
    return list(merged.values())


def _sync_one(
    session: Session,
    workspace_id: str,
    contact: ExternalContact,
    staff: set[str] | None,
    now: datetime,
) -> tuple[int, int]:
    follows = sorted(contact.follow_users, key=lambda f: (f.added_at or now, f.userid))
    first = follows[0] if follows else None
    _ensure_contact(
        session,
        workspace_id,
        contact,
        first.state if first else None,
        first.added_at if first else None,
        now,
    )
    added = sum(_upsert_follow(session, workspace_id, contact.external_userid, f) for f in follows)
    current = {f.userid for f in follows}
    stale = [
        r.userid
        for r in _follows(session, workspace_id, contact.external_userid)
        if (staff is None or r.userid in staff) and r.userid not in current and not r.removed_at
    ]
    removed = sum(
        _remove_follow(session, workspace_id, contact.external_userid, u, now) for u in stale
    )
    _refresh_owner(session, workspace_id, contact.external_userid, now)
    return added, removed


def _vanished(session: Session, workspace_id: str, listed: set[str], now: datetime) -> int:
    """Contacts a full sync no longer lists: every follow of theirs is removed."""
    c = wecom_contacts.c
    active = session.execute(
        select(c.external_userid).where(c.workspace_id == workspace_id, c.status == "active")
    ).scalars()
    removed = 0
    for external_userid in [e for e in active if e not in listed]:
        for row in _follows(session, workspace_id, external_userid):
            removed += _remove_follow(session, workspace_id, external_userid, row.userid, now)
        _refresh_owner(session, workspace_id, external_userid, now)
    return removed


def store_contacts(
    *,
    session: Session,
    workspace_id: str,
    contacts: Sequence[ExternalContact],
    synced_staff: Sequence[str] | None,
    now: datetime,
) -> SyncReport:
    """Write a sync: new follows added, owners re-picked, and follows WeCom no longer lists
    marked removed — of ``synced_staff`` only, or of everyone when it is None (a full sync,
    where contacts missing from the listing are removed too)."""
    staff = set(synced_staff) if synced_staff is not None else None
    merged = merge_follows(contacts)
    added = removed = 0
    for contact in merged:
        a, r = _sync_one(session, workspace_id, contact, staff, now)
        added, removed = added + a, removed + r
    if staff is None:
        removed += _vanished(session, workspace_id, {c.external_userid for c in merged}, now)
    records = [
        get_contact(session=session, workspace_id=workspace_id, external_userid=c.external_userid)
        for c in merged
    ]
    return SyncReport(contacts=records, follows_added=added, follows_removed=removed)


def sync_contacts(
    *, session: Session, client: WecomClient, workspace_id: str, now: datetime
) -> SyncReport:
    """Fetch every follow user's contacts from WeCom and store them as a full sync.

    The report's contacts carry what identify needs: external_userid, unionid, the owner
    and the first add's state (the channel).
    """
    staff = client.follow_users()
    contacts = [
        contact
        for i in range(0, len(staff), BATCH_USERS)
        for contact in client.contacts_by_user(userids=staff[i : i + BATCH_USERS])
    ]
    return store_contacts(
        session=session, workspace_id=workspace_id, contacts=contacts, synced_staff=None, now=now
    )


def enrich_contact(
    *, session: Session, client: WecomClient, workspace_id: str, external_userid: str, now: datetime
) -> ContactRecord:
    """Fetch one contact from WeCom (name, unionid, every follow) and store it; callbacks
    carry neither name nor unionid, and the unionid is what joins WeCom to the official
    account and mini program. Follows WeCom no longer lists are left for the full sync."""
    contact = client.get_contact(external_userid=external_userid)
    report = store_contacts(
        session=session, workspace_id=workspace_id, contacts=[contact], synced_staff=[], now=now
    )
    return report.contacts[0]
