"""Persons: one view over identity, profiles and events; splits and identity rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from siyu.collect import normalize
from siyu.collect import service as collect
from siyu.collect.models import IdType
from siyu.core.errors import NotFoundError
from siyu.core.eventstore import EventStore
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.identity.models import (
    ConflictsPage,
    IdentifierView,
    IdentityRule,
    IdentityRules,
    SplitResult,
)
from siyu.pipeline.ingest import flush
from siyu.profiles import service as profiles
from siyu.profiles.models import Profile


class PersonView(BaseModel):
    """A person as the management API shows it: profile, identifiers, merged ids."""

    person_id: str
    merged_person_ids: list[str] = Field(description="Persons this one absorbed (history).")
    identifiers: list[IdentifierView]
    profile: Profile | None = Field(description="Traits and computed traits, if any event.")


def get_person(*, runtime: Runtime, workspace_id: str, person_id: str) -> PersonView:
    """The person ``person_id`` (an absorbed id answers with its survivor)."""
    with runtime.sessions() as session:
        current = identity.current_person_id(
            session=session, workspace_id=workspace_id, person_id=person_id
        )
        members = identity.person_ids_of(
            session=session, workspace_id=workspace_id, person_id=current
        )
        ids = identity.identifiers_of(session=session, workspace_id=workspace_id, person_id=current)
        try:
            profile: Profile | None = profiles.get_profile(
                session=session,
                workspace_id=workspace_id,
                person_id=current,
                member_person_ids=members,
            )
        except NotFoundError:
            profile = None
    return PersonView(
        person_id=current,
        merged_person_ids=[p for p in members if p != current],
        identifiers=ids,
        profile=profile,
    )


def find_person(
    *, runtime: Runtime, workspace_id: str, identifier_type: str, identifier: str
) -> PersonView:
    """The person holding an identifier given in clear (phone/email are hashed to look up)."""
    try:
        kind = IdType(identifier_type)
    except ValueError:
        allowed = ", ".join(t.value for t in IdType)
        raise normalize.FieldError("identifier_type", f"one of {allowed}") from None
    key = normalize.make_identifier(runtime.vault, kind, identifier, "identifier")
    with runtime.sessions() as session:
        person_id = identity.find_person(session=session, workspace_id=workspace_id, identifier=key)
    if person_id is None:
        raise NotFoundError(f"no person with {kind.value} {identifier!r}", field="identifier")
    return get_person(runtime=runtime, workspace_id=workspace_id, person_id=person_id)


def person_events(
    *, runtime: Runtime, workspace_id: str, person_id: str, limit: int, before: datetime | None
) -> list[dict[str, Any]]:
    """A person's events, newest first, across every person it absorbed (inbox included)."""
    with runtime.sessions() as session:
        current = identity.current_person_id(
            session=session, workspace_id=workspace_id, person_id=person_id
        )
        members = identity.person_ids_of(
            session=session, workspace_id=workspace_id, person_id=current
        )
        pending = collect.pending_events(
            session=session, workspace_id=workspace_id, person_ids=members
        )
    stored = stored_events_of(runtime.events, workspace_id, members, limit=limit, before=before)
    return merge_event_lists(stored, pending, limit=limit, before=before)


_EVENTS_OF_SQL = {
    "duckdb": "SELECT * FROM events WHERE person_id IN (SELECT unnest($members)) "
    "AND ($before IS NULL OR timestamp < $before) ORDER BY timestamp DESC LIMIT $limit",
    "clickhouse": "SELECT * FROM events WHERE has({members:Array(String)}, person_id) "
    "AND ({before:Nullable(DateTime64(6, 'UTC'))} IS NULL "
    "OR timestamp < {before:Nullable(DateTime64(6, 'UTC'))}) "
    "ORDER BY timestamp DESC LIMIT {limit:UInt32}",
}


def stored_events_of(
    events: EventStore,
    workspace_id: str,
    members: Sequence[str],
    *,
    limit: int,
    before: datetime | None,
) -> list[dict[str, Any]]:
    """The newest ``limit`` stored events of these persons before ``before``."""
    rows: list[dict[str, Any]] = events.query(
        workspace_id,
        _EVENTS_OF_SQL[events.dialect],
        {"members": list(members), "before": before, "limit": limit},
    ).to_pylist()
    return rows


def merge_event_lists(
    stored: list[dict[str, Any]],
    pending: list[dict[str, Any]],
    *,
    limit: int,
    before: datetime | None,
) -> list[dict[str, Any]]:
    """Stored and still-pending rows as one newest-first list without duplicates."""
    seen = {row["message_id"] for row in stored}
    rows = stored + [row for row in pending if row["message_id"] not in seen]
    if before is not None:
        rows = [row for row in rows if row["timestamp"] < before]
    rows.sort(key=lambda row: row["timestamp"], reverse=True)
    return rows[:limit]


def split_person(
    *, runtime: Runtime, workspace_id: str, person_id: str, absorbed_person_id: str, now: datetime
) -> SplitResult:
    """Undo a wrong merge and give the split-off person back its events."""
    flush(runtime=runtime)
    with runtime.sessions() as session, session.begin():
        result = identity.split_person(
            session=session,
            workspace_id=workspace_id,
            person_id=person_id,
            absorbed_person_id=absorbed_person_id,
            now=now,
            reason="operator split",
        )
        rules = identity.get_rules(session=session, workspace_id=workspace_id)
    moves = {f"{ref.type.value}:{ref.key}": result.restored_person_id for ref in result.moved}
    ranks = {rule.id_type.value: rule.priority for rule in rules.rules}
    runtime.events.reattribute(workspace_id, result.person_id, moves, ranks)
    return result


def list_conflicts(
    *, runtime: Runtime, workspace_id: str, limit: int, offset: int
) -> ConflictsPage:
    """Merges refused by the workspace's rules, newest first."""
    with runtime.sessions() as session:
        return identity.list_conflicts(
            session=session, workspace_id=workspace_id, limit=limit, offset=offset
        )


def identity_rules(*, runtime: Runtime, workspace_id: str) -> IdentityRules:
    """The workspace's merge rules, strongest type first."""
    with runtime.sessions() as session:
        return identity.get_rules(session=session, workspace_id=workspace_id)


def change_identity_rules(
    *, runtime: Runtime, workspace_id: str, rules: Sequence[IdentityRule], now: datetime
) -> IdentityRules:
    """Change some types' merge rules (later batches use them; a rebuild applies them back)."""
    with runtime.sessions() as session, session.begin():
        return identity.set_rules(session=session, workspace_id=workspace_id, rules=rules, now=now)
