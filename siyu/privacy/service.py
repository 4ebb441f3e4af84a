"""Privacy service: the audit log, erasure receipts and retention policies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from siyu.core.errors import InvalidInputError
from siyu.core.ids import new_id
from siyu.privacy import receipt
from siyu.privacy.models import (
    AuditAction,
    AuditEntry,
    AuditPage,
    ErasureReceipt,
    RetentionPolicy,
    RetentionUpdate,
)
from siyu.privacy.tables import (
    privacy_audit,
    privacy_erased_subjects,
    privacy_erasures,
    privacy_settings,
)

_aud = privacy_audit.c
_era = privacy_erasures.c
_set = privacy_settings.c
MAX_RETENTION_DAYS = 36_500
# Lowest and highest days per kind. Audit rows: China's Cybersecurity Law (art. 21) asks
# network logs be kept at least six months. Consent history: as long, so a complaint within
# the half year can still be answered. Outbox bodies: a week, past late delivery reports and
# the journeys' two-day settle window.
RETENTION_BOUNDS: dict[str, tuple[int, int]] = {
    "event_retention_days": (1, MAX_RETENTION_DAYS),
    "message_retention_days": (7, MAX_RETENTION_DAYS),
    "consent_history_retention_days": (180, MAX_RETENTION_DAYS),
    "audit_retention_days": (180, MAX_RETENTION_DAYS),
    "group_text_retention_days": (1, MAX_RETENTION_DAYS),
}


def record_access(
    *,
    session: Session,
    workspace_id: str,
    actor: str,
    action: AuditAction,
    person_id: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one audit row: ``actor`` did ``action`` on ``person_id`` at ``now``."""
    session.execute(
        privacy_audit.insert().values(
            workspace_id=workspace_id,
            actor=actor[:200],
            action=action,
            subject=person_id,
            detail=detail or {},
            at=now,
        )
    )


def audit_instant(value: str | None, field: str, zone: str) -> datetime | None:
    """An aware ISO time as given, or a day (YYYY-MM-DD) in the workspace's zone: its start
    for ``since``, the start of the next day for ``until`` (so the day is included)."""
    if value is None:
        return None
    text = value.strip()
    try:
        if len(text) == len("2026-11-29"):
            day = date.fromisoformat(text) + timedelta(days=field == "until")
            return datetime.combine(day, time(), ZoneInfo(zone))
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            f"{field} must be a date (YYYY-MM-DD) or an ISO time with its offset", field=field
        ) from None
    if at.tzinfo is None:
        raise InvalidInputError(
            f"{field} needs an offset (Z or +08:00), or give a date in the workspace's zone",
            field=field,
        )
    return at


def list_audit(
    *,
    session: Session,
    workspace_id: str,
    limit: int,
    before_id: int | None = None,
    person_id: str | None = None,
    action: AuditAction | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditPage:
    """The workspace's audit log, newest first.

    Args:
        session: an open session.
        workspace_id: whose log.
        limit: entries per page, 1..1000.
        before_id: the page before this entry id (``next_before_id`` of the previous page).
        person_id: only entries about this subject (a person id, ``user:…`` or a digest).
        action: only this action.
        since: only entries at or after this instant (aware).
        until: only entries before this instant (aware).
    """
    if not 1 <= limit <= 1000:
        raise InvalidInputError("limit must be 1..1000", field="limit")
    if since is not None and until is not None and until <= since:
        raise InvalidInputError("until must be after since", field="until")
    query = select(privacy_audit).where(_aud.workspace_id == workspace_id)
    if before_id is not None:
        query = query.where(_aud.id < before_id)
    if person_id is not None:
        query = query.where(_aud.subject == person_id)
    if action is not None:
        query = query.where(_aud.action == action)
    if since is not None:
        query = query.where(_aud.at >= since)
    if until is not None:
        query = query.where(_aud.at < until)
    # One row more than the page tells whether another page exists (a full last page then
    # has no next cursor, rather than one pointing at an empty page).
    fetched = session.execute(query.order_by(_aud.id.desc()).limit(limit + 1)).all()
    rows = fetched[:limit]
    entries = [
        AuditEntry(
            id=int(r.id),
            actor=r.actor,
            action=r.action,
            subject=r.subject,
            detail=r.detail or {},
            at=r.at,
        )
        for r in rows
    ]
    more = len(fetched) > limit
    return AuditPage(entries=entries, next_before_id=entries[-1].id if more and entries else None)


def pseudonymise_audit(
    *, session: Session, workspace_id: str, person_ids: Sequence[str], digest: str
) -> int:
    """Replace the person ids in the audit log with the erasure's subject digest."""
    result = session.execute(
        update(privacy_audit)
        .where(_aud.workspace_id == workspace_id, _aud.subject.in_(list(person_ids)))
        .values(subject=digest)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _receipt_fields(
    *, receipt_id: str, workspace_id: str, digest: str, counts: dict[str, int], at: datetime
) -> dict[str, Any]:
    return {
        "id": receipt_id,
        "workspace_id": workspace_id,
        "subject_digest": digest,
        "counts": counts,
        "erased_at": at,
    }


def store_receipt(
    *,
    session: Session,
    key: bytes,
    workspace_id: str,
    digest: str,
    counts: dict[str, int],
    actor: str,
    idempotency_key: str | None,
    now: datetime,
    covered: Sequence[str] = (),
) -> ErasureReceipt:
    """Hash, sign and keep an erasure receipt; returns it.

    ``covered`` are the digests of every other person id the erasure removed, so a request
    naming any of them later answers this receipt.
    """
    receipt_id = new_id("era")
    fields = _receipt_fields(
        receipt_id=receipt_id, workspace_id=workspace_id, digest=digest, counts=counts, at=now
    )
    digest_hex = receipt.receipt_hash(fields)
    signature = receipt.sign(key, digest_hex)
    session.execute(
        privacy_erasures.insert().values(
            id=receipt_id,
            workspace_id=workspace_id,
            subject_digest=digest,
            idempotency_key=idempotency_key,
            actor=actor[:200],
            counts=counts,
            receipt_hash=digest_hex,
            signature=signature,
            erased_at=now,
        )
    )
    session.execute(
        privacy_erased_subjects.insert(),
        [
            {"workspace_id": workspace_id, "digest": d, "erasure_id": receipt_id}
            for d in dict.fromkeys([digest, *covered])
        ],
    )
    return ErasureReceipt(**fields, receipt_hash=digest_hex, signature=signature)


def _to_receipt(row: Any) -> ErasureReceipt:
    return ErasureReceipt(
        id=row.id,
        workspace_id=row.workspace_id,
        subject_digest=row.subject_digest,
        counts={str(k): int(v) for k, v in (row.counts or {}).items()},
        erased_at=row.erased_at,
        receipt_hash=row.receipt_hash,
        signature=row.signature,
        replayed=True,
    )


def find_receipt(
    *,
    session: Session,
    workspace_id: str,
    idempotency_key: str | None = None,
    digest: str | None = None,
) -> ErasureReceipt | None:
    """The stored receipt for an idempotency key, or the latest for a subject digest."""
    query = select(privacy_erasures).where(_era.workspace_id == workspace_id)
    if idempotency_key is not None:
        query = query.where(_era.idempotency_key == idempotency_key)
    elif digest is not None:
        covered = select(privacy_erased_subjects.c.erasure_id).where(
            privacy_erased_subjects.c.workspace_id == workspace_id,
            privacy_erased_subjects.c.digest == digest,
        )
        query = query.where(_era.id.in_(covered))
    else:
        return None
    row = session.execute(query.order_by(_era.erased_at.desc()).limit(1)).first()
    return _to_receipt(row) if row else None


def verify_receipt(*, key: bytes, receipt_model: ErasureReceipt) -> bool:
    """Whether a receipt's hash matches its fields and its signature is ours."""
    fields = _receipt_fields(
        receipt_id=receipt_model.id,
        workspace_id=receipt_model.workspace_id,
        digest=receipt_model.subject_digest,
        counts=receipt_model.counts,
        at=receipt_model.erased_at,
    )
    return receipt.verify(key, fields, receipt_model.receipt_hash, receipt_model.signature)


def get_retention(*, session: Session, workspace_id: str) -> RetentionPolicy:
    """The workspace's retention policy (the defaults when it never set one)."""
    row = session.execute(
        select(*(getattr(_set, name) for name in RETENTION_BOUNDS)).where(
            _set.workspace_id == workspace_id
        )
    ).first()
    if row is None:
        return RetentionPolicy(workspace_id=workspace_id, event_retention_days=None)
    return RetentionPolicy(workspace_id=workspace_id, **row._mapping)


def set_retention(
    *, session: Session, workspace_id: str, change: RetentionUpdate, now: datetime
) -> RetentionPolicy:
    """Change the fields of ``change`` that are set (None: keep that kind forever).

    Raises:
        InvalidInputError: a number of days outside its bounds (``RETENTION_BOUNDS``).
    """
    changes = change.changes()
    for name, days in changes.items():
        low, high = RETENTION_BOUNDS[name]
        if days is not None and not low <= days <= high:
            raise InvalidInputError(f"{name} must be {low}..{high} (or null: keep)", field=name)
    updated = session.execute(
        update(privacy_settings)
        .where(_set.workspace_id == workspace_id)
        .values(**changes, updated_at=now)
    )
    if not updated.rowcount:  # type: ignore[attr-defined]
        session.execute(
            privacy_settings.insert().values(workspace_id=workspace_id, updated_at=now, **changes)
        )
    return get_retention(session=session, workspace_id=workspace_id)


def prune_audit(*, session: Session, workspace_id: str, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` of the workspace's oldest audit rows written before ``before``;
    how many. Erasure receipts (``privacy_erasures``) are never touched."""
    ids = list(
        session.execute(
            select(_aud.id)
            .where(_aud.workspace_id == workspace_id, _aud.at < before)
            .order_by(_aud.id)
            .limit(limit)
        ).scalars()
    )
    if ids:
        session.execute(privacy_audit.delete().where(_aud.id.in_(ids)))
    return len(ids)
