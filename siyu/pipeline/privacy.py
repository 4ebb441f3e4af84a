"""Data-subject requests and retention: export a person, erase a person everywhere (operational
store, event store and inbox, identity) with a signed receipt, the audit log, and applying a
workspace's retention periods (raw events here, operational rows in ``pipeline.retention``).

Erasure order, and why: the event store first (after a flush), so a crash before the database
commit leaves the person fully present and a retry does everything again; then one database
transaction removes or anonymises every row, scrubs the inbox and stores the receipt, so the
operational store is never half erased; then a second event-store pass removes events that
arrived for the old person ids while the first pass ran.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from siyu.collect import service as collect
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.core.eventstore import EventStore
from siyu.core.ids import new_id
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.pipeline import privacy_store, retention
from siyu.pipeline.ingest import flush
from siyu.pipeline.loyalty_jobs import Outcome
from siyu.pipeline.privacy_inbox import Subject
from siyu.privacy import service as privacy
from siyu.privacy.models import (
    AuditAction,
    AuditPage,
    ErasureReceipt,
    PersonExport,
    RetentionPolicy,
    RetentionRun,
    RetentionUpdate,
)

log = logging.getLogger("siyu.privacy")
RECOMMEND_DIR = "recommend"


def subject_digest(runtime: Runtime, workspace_id: str, person_id: str) -> str:
    """The keyed hash that names an erased person in receipts and the audit log."""
    return runtime.vault.lookup_hash("erasure", f"{workspace_id}:{person_id}")


def _subject(runtime: Runtime, workspace_id: str, person_id: str) -> Subject:
    with runtime.sessions() as session:
        current = identity.current_person_id(
            session=session, workspace_id=workspace_id, person_id=person_id
        )
        members = identity.person_ids_of(
            session=session, workspace_id=workspace_id, person_id=current
        )
        return privacy_store.subject_of(
            session=session, workspace_id=workspace_id, person_ids=members
        )


_SUBJECT_EVENTS_SQL = {
    "duckdb": "SELECT * FROM events WHERE list_contains($persons, person_id) "
    "OR len(list_intersect(ids, $keys)) > 0 ORDER BY timestamp, message_id",
    "clickhouse": "SELECT * FROM events WHERE has({persons:Array(String)}, person_id) "
    "OR hasAny(ids, {keys:Array(String)}) ORDER BY timestamp, message_id",
}


def subject_events(
    events: EventStore, workspace_id: str, person_ids: Sequence[str], keys: Sequence[str]
) -> list[dict[str, Any]]:
    """The stored events of these persons or carrying any of these ids (``type:key``)."""
    rows: list[dict[str, Any]] = events.query(
        workspace_id,
        _SUBJECT_EVENTS_SQL[events.dialect],
        {"persons": list(person_ids), "keys": list(keys)},
    ).to_pylist()
    return rows


def _events_of(runtime: Runtime, subject: Subject) -> list[dict[str, Any]]:
    stored = subject_events(
        runtime.events, subject.workspace_id, subject.person_ids, subject.event_keys
    )
    with runtime.sessions() as session:
        pending = collect.pending_events(
            session=session, workspace_id=subject.workspace_id, person_ids=subject.person_ids
        )
    seen = {row["message_id"] for row in stored}
    return stored + [row for row in pending if row["message_id"] not in seen]


def record_access(
    *,
    runtime: Runtime,
    workspace_id: str,
    actor: str,
    action: AuditAction,
    person_id: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write an audit row for an unmasked view (or export) before the data is shown."""
    with runtime.sessions() as session, session.begin():
        privacy.record_access(
            session=session,
            workspace_id=workspace_id,
            actor=actor,
            action=action,
            person_id=person_id,
            now=now,
            detail=detail,
        )


def export_person(
    *, runtime: Runtime, workspace_id: str, person_id: str, actor: str, now: datetime
) -> PersonExport:
    """Everything siyu holds about ``person_id`` and every person it absorbed, as one document.

    The export is audited (committed before the data is returned).

    Raises:
        NotFoundError: no such person.
    """
    subject = _subject(runtime, workspace_id, person_id)
    with runtime.sessions() as session:
        identities = privacy_store.export_identities(
            session=session, subject=subject, decrypt=runtime.vault.decrypt
        )
        tables = privacy_store.export_rows(session=session, subject=subject)
    events = _events_of(runtime, subject)
    record_access(
        runtime=runtime,
        workspace_id=workspace_id,
        actor=actor,
        action="export",
        person_id=subject.person_ids[0],
        now=now,
        detail={"requested": person_id, "events": len(events), "tables": len(tables)},
    )
    return PersonExport(
        workspace_id=workspace_id,
        person_id=subject.person_ids[0],
        person_ids=list(subject.person_ids),
        exported_at=now,
        identities=identities,
        tables=tables,
        events=events,
    )


def reveal_identifiers(
    *, runtime: Runtime, workspace_id: str, person_id: str, actor: str, now: datetime
) -> list[dict[str, Any]]:
    """The person's identifiers in clear (an unmasked view), audited before they are shown.

    Raises:
        NotFoundError: no such person.
    """
    subject = _subject(runtime, workspace_id, person_id)
    with runtime.sessions() as session:
        found = privacy_store.export_identities(
            session=session, subject=subject, decrypt=runtime.vault.decrypt
        )
    record_access(
        runtime=runtime,
        workspace_id=workspace_id,
        actor=actor,
        action="unmasked_view",
        person_id=subject.person_ids[0],
        now=now,
        detail={"identifiers": len(found)},
    )
    return found


def _replayed(
    runtime: Runtime, workspace_id: str, digest: str, idempotency_key: str | None
) -> ErasureReceipt | None:
    with runtime.sessions() as session:
        if idempotency_key is not None:
            found = privacy.find_receipt(
                session=session, workspace_id=workspace_id, idempotency_key=idempotency_key
            )
            if found is not None:
                return found
        return privacy.find_receipt(session=session, workspace_id=workspace_id, digest=digest)


def _drop_recommend_model(runtime: Runtime, workspace_id: str) -> int:
    # The trained recommender lists person ids; the hourly job retrains without the person.
    where = runtime.settings.data_dir / RECOMMEND_DIR / workspace_id
    if not where.exists():
        return 0
    shutil.rmtree(where)
    return 1


def erase_person(
    *,
    runtime: Runtime,
    workspace_id: str,
    person_id: str,
    actor: str,
    now: datetime,
    idempotency_key: str | None = None,
) -> ErasureReceipt:
    """Erase ``person_id`` and every person it absorbed, everywhere; returns the receipt.

    A retry (same idempotency key, or the same person id once erased) answers the stored
    receipt with ``replayed`` set and changes nothing.

    Raises:
        NotFoundError: no such person, and no erasure of it on record.
    """
    digest = subject_digest(runtime, workspace_id, person_id)
    try:
        subject = _subject(runtime, workspace_id, person_id)
    except NotFoundError:
        done = _replayed(runtime, workspace_id, digest, idempotency_key)
        if done is None:
            raise
        return done
    if idempotency_key is not None and (
        done := _replayed(runtime, workspace_id, digest, idempotency_key)
    ):
        return done
    flush(runtime=runtime)
    counts = {
        "events.store": runtime.events.rewrite_without(
            workspace_id, person_ids=subject.person_ids, id_keys=subject.event_keys
        ),
        "files.recommend_model": _drop_recommend_model(runtime, workspace_id),
    }
    try:
        receipt = _erase_operational(
            runtime, subject, digest, counts, actor=actor, key=idempotency_key, now=now
        )
    except IntegrityError:  # a concurrent call with the same key committed first
        done = _replayed(runtime, workspace_id, digest, idempotency_key)
        if done is None:
            raise
        return done
    late = runtime.events.rewrite_without(
        workspace_id, person_ids=subject.person_ids, id_keys=subject.event_keys
    )
    if late:
        log.warning("erasure %s: %d late events removed after the receipt", receipt.id, late)
    return receipt


def _erase_operational(
    runtime: Runtime,
    subject: Subject,
    digest: str,
    counts: dict[str, int],
    *,
    actor: str,
    key: str | None,
    now: datetime,
) -> ErasureReceipt:
    anon = {person: new_id("anon") for person in subject.person_ids}
    with runtime.sessions() as session, session.begin():
        counts = counts | privacy_store.erase_rows(session=session, subject=subject, anon=anon)
        counts["operational.privacy_audit"] = privacy.pseudonymise_audit(
            session=session,
            workspace_id=subject.workspace_id,
            person_ids=subject.person_ids,
            digest=digest,
        )
        privacy.record_access(
            session=session,
            workspace_id=subject.workspace_id,
            actor=actor,
            action="erase",
            person_id=digest,
            now=now,
        )
        return privacy.store_receipt(
            session=session,
            key=runtime.vault.key,
            workspace_id=subject.workspace_id,
            digest=digest,
            counts={name: n for name, n in sorted(counts.items()) if n},
            actor=actor,
            idempotency_key=key,
            now=now,
            covered=[subject_digest(runtime, subject.workspace_id, p) for p in subject.person_ids],
        )


def verify_receipt(*, runtime: Runtime, receipt: ErasureReceipt) -> bool:
    """Whether the receipt is unaltered and signed with this installation's key."""
    return privacy.verify_receipt(key=runtime.vault.key, receipt_model=receipt)


def list_audit(
    *,
    runtime: Runtime,
    workspace_id: str,
    limit: int = 100,
    before_id: int | None = None,
    person_id: str | None = None,
    action: AuditAction | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditPage:
    """The workspace's audit log of unmasked views, exports, erasures and account changes,
    newest first (filters as ``siyu.privacy.service.list_audit``)."""
    with runtime.sessions() as session:
        return privacy.list_audit(
            session=session,
            workspace_id=workspace_id,
            limit=limit,
            before_id=before_id,
            person_id=person_id,
            action=action,
            since=since,
            until=until,
        )


def set_retention(
    *, runtime: Runtime, workspace_id: str, change: RetentionUpdate, now: datetime
) -> RetentionPolicy:
    """Change the workspace's retention periods (the fields of ``change`` that are set).

    Raises:
        InvalidInputError: a period outside its bounds.
    """
    with runtime.sessions() as session, session.begin():
        return privacy.set_retention(
            session=session, workspace_id=workspace_id, change=change, now=now
        )


def get_retention(*, runtime: Runtime, workspace_id: str) -> RetentionPolicy:
    """The workspace's retention periods (the defaults when it never set them)."""
    with runtime.sessions() as session:
        return privacy.get_retention(session=session, workspace_id=workspace_id)


def apply_retention(
    *,
    runtime: Runtime,
    workspace_id: str,
    now: datetime,
    days: int | None = None,
    batch_size: int = retention.BATCH_SIZE,
) -> RetentionRun:
    """Apply the workspace's retention policy: drop raw events older than its period (or
    ``days``), then redact or delete outbox bodies, superseded consent answers, audit rows and
    group texts past theirs (``siyu.pipeline.retention``), in batches.

    Aggregates in the operational store (profiles' counts and spend, RFM, lifecycle, the
    ledger) are not touched; only raw events leave the event store.

    Raises:
        InvalidInputError: ``days`` is below 1.
    """
    if days is not None and days < 1:
        raise InvalidInputError("days must be at least 1", field="days")
    policy = get_retention(runtime=runtime, workspace_id=workspace_id)
    days = policy.event_retention_days if days is None else days
    counts = retention.prune_operational(
        runtime=runtime, policy=policy, now=now, batch_size=batch_size
    )
    cutoff = None if days is None else now - timedelta(days=days)
    dropped = 0 if cutoff is None else runtime.events.rewrite_without(workspace_id, before=cutoff)
    return RetentionRun(
        workspace_id=workspace_id,
        event_retention_days=days,
        cutoff=cutoff,
        events_dropped=dropped,
        policy=policy,
        counts=counts,
    )


def drop_expired_events(runtime: Runtime, workspace_id: str, zone: str, now: datetime) -> Outcome:
    """The retention job: drop raw events and redact or delete the operational rows past the
    workspace's retention periods."""
    run = apply_retention(runtime=runtime, workspace_id=workspace_id, now=now)
    changed = {name: n for name, n in run.counts.items() if n}
    events = (
        "raw events kept"
        if run.event_retention_days is None
        else f"dropped {run.events_dropped} events older than {run.event_retention_days} days"
    )
    rows = ", ".join(f"{name} {n}" for name, n in sorted(changed.items())) or "no rows past"
    detail: dict[str, Any] = {"dropped": run.events_dropped, **run.counts}
    if run.event_retention_days is not None:
        detail["days"] = run.event_retention_days
    return Outcome(f"{events}; {rows}", detail)
