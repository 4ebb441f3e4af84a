"""Consent per person and channel (PIPL): grants, revokes with their source, and unsubscribes.

The current answer is one row per (person, channel); every change is also appended to a
history. A revoke wins: across the persons merged into one, any revoke on a channel holds
every message on it. People unsubscribe through the API, an SMS reply (``TD``, ``退订``…)
or the signed link in each marketing email.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from siyu.channels.models import Channel
from siyu.channels.outbox_models import Consent, ConsentChange
from siyu.channels.restraint import ConsentStatus
from siyu.channels.tables import channel_consent_history, channel_consents
from siyu.collect.models import Identifier, IdType
from siyu.collect.normalize import normalize_phone
from siyu.core.crypto import Vault
from siyu.core.errors import AuthError, InvalidInputError
from siyu.identity import service as identity

# What people reply to a marketing SMS to stop it (运营商 conventions), compared upper-cased.
SMS_STOP_WORDS = frozenset({"TD", "T", "N", "退订", "退订回T", "取消", "STOP", "UNSUBSCRIBE"})


def set_consent(
    *,
    session: Session,
    workspace_id: str,
    person_id: str,
    channel: Channel,
    status: ConsentStatus,
    source: str,
    now: datetime,
) -> Consent:
    """Record a grant or revoke for the (surviving) person; history keeps every change.

    Raises:
        NotFoundError: no such person.
        InvalidInputError: empty source.
    """
    source = source.strip()
    if not source or len(source) > 200:
        raise InvalidInputError("source must be 1–200 characters", field="source")
    person = identity.current_person_id(
        session=session, workspace_id=workspace_id, person_id=person_id
    )
    c = channel_consents.c
    key = (c.workspace_id == workspace_id, c.person_id == person, c.channel == channel.value)
    values = {"status": status.value, "source": source, "updated_at": now}
    done = session.execute(update(channel_consents).where(*key).values(**values))
    if done.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(
            insert(channel_consents).values(
                workspace_id=workspace_id, person_id=person, channel=channel.value, **values
            )
        )
    session.execute(
        insert(channel_consent_history).values(
            workspace_id=workspace_id,
            person_id=person,
            channel=channel.value,
            status=status.value,
            source=source,
            at=now,
        )
    )
    return Consent(person_id=person, channel=channel, status=status, source=source, updated_at=now)


def consent_of(
    *, session: Session, workspace_id: str, person_ids: list[str], channel: Channel
) -> ConsentStatus | None:
    """The answer across ``person_ids`` (one person and those merged into it): revoke wins."""
    c = channel_consents.c
    answers = set(
        session.execute(
            select(c.status).where(
                c.workspace_id == workspace_id,
                c.person_id.in_(person_ids),
                c.channel == channel.value,
            )
        ).scalars()
    )
    if ConsentStatus.REVOKED.value in answers:
        return ConsentStatus.REVOKED
    return ConsentStatus.GRANTED if answers else None


def consents_of(*, session: Session, workspace_id: str, person_id: str) -> list[Consent]:
    """The person's current answers, per channel (merged persons included)."""
    lineage = identity.person_ids_of(
        session=session, workspace_id=workspace_id, person_id=person_id
    )
    c = channel_consents.c
    rows = session.execute(
        select(c.channel, c.status, c.source, c.updated_at)
        .where(c.workspace_id == workspace_id, c.person_id.in_(lineage))
        .order_by(c.channel, c.updated_at)
    ).all()
    by_channel: dict[str, Consent] = {}
    for r in rows:
        mine = Consent(
            person_id=lineage[0],
            channel=Channel(r.channel),
            status=ConsentStatus(r.status),
            source=r.source,
            updated_at=r.updated_at,
        )
        seen = by_channel.get(r.channel)
        if seen is None or seen.status is not ConsentStatus.REVOKED:
            by_channel[r.channel] = mine
    return list(by_channel.values())


def consent_history(*, session: Session, workspace_id: str, person_id: str) -> list[ConsentChange]:
    """Every consent change of the person (merged persons included), oldest first."""
    lineage = identity.person_ids_of(
        session=session, workspace_id=workspace_id, person_id=person_id
    )
    h = channel_consent_history.c
    rows = session.execute(
        select(h.channel, h.status, h.source, h.at)
        .where(h.workspace_id == workspace_id, h.person_id.in_(lineage))
        .order_by(h.at, h.id)
    ).all()
    return [
        ConsentChange(
            channel=Channel(r.channel), status=ConsentStatus(r.status), source=r.source, at=r.at
        )
        for r in rows
    ]


def unsubscribe_by_sms_reply(
    *, session: Session, workspace_id: str, vault: Vault, phone: str, text: str, now: datetime
) -> Consent | None:
    """Revoke SMS consent when an inbound reply is a stop word; None if it is not (or unknown).

    Raises:
        InvalidInputError: ``phone`` is not a phone number.
    """
    if text.strip().upper() not in SMS_STOP_WORDS:
        return None
    try:
        number = normalize_phone(phone)
    except ValueError as exc:
        raise InvalidInputError(str(exc), field="phone") from None
    key = vault.lookup_hash(IdType.PHONE.value, number)
    person = identity.find_person(
        session=session,
        workspace_id=workspace_id,
        identifier=Identifier(type=IdType.PHONE, key=key),
    )
    if person is None:
        return None
    return set_consent(
        session=session,
        workspace_id=workspace_id,
        person_id=person,
        channel=Channel.SMS,
        status=ConsentStatus.REVOKED,
        source="sms_reply",
        now=now,
    )


def unsubscribe_token(*, secret: bytes, workspace_id: str, person_id: str, channel: Channel) -> str:
    """A URL-safe token naming whom to unsubscribe from what, signed with HMAC-SHA256."""
    payload = f"{workspace_id}.{person_id}.{channel.value}"
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).digest()[:16]
    sig = base64.urlsafe_b64encode(mac).decode().rstrip("=")
    return f"{payload}.{sig}"


def unsubscribe_with_token(
    *, session: Session, secret: bytes, token: str, now: datetime
) -> Consent:
    """Revoke the consent a token from an unsubscribe link names.

    Raises:
        AuthError: the token is malformed or its signature does not match.
        NotFoundError: the person no longer exists.
    """
    parts = token.split(".")
    if len(parts) != 4:
        raise AuthError("malformed unsubscribe token")
    workspace_id, person_id, channel_name, _sig = parts
    try:
        channel = Channel(channel_name)
    except ValueError:
        raise AuthError("malformed unsubscribe token") from None
    expected = unsubscribe_token(
        secret=secret, workspace_id=workspace_id, person_id=person_id, channel=channel
    )
    if not hmac.compare_digest(expected, token):
        raise AuthError("unsubscribe token signature does not match")
    return set_consent(
        session=session,
        workspace_id=workspace_id,
        person_id=person_id,
        channel=channel,
        status=ConsentStatus.REVOKED,
        source="email_link" if channel is Channel.EMAIL else "unsubscribe_link",
        now=now,
    )
