"""Keep profiles current on every ingest batch, and read them combined over merged persons.

Rows are stored per *original* person id and never rewritten by identity changes. The
identity domain keeps merges as history, and a profile is combined at read time over the
surviving person and every person it absorbed (traits: latest wins; counts and spend: sum;
first_seen and first touch: earliest; last_seen and last order: latest). That is why a merge
needs no profile copy and a split needs no profile rewrite: after a split each side is simply
read over its own members again.

Writes are bulk upserts that combine inside the database (:mod:`siyu.profiles.upserts`), so
concurrent writers for the same person never lose an update and no row is read first.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.collect.models import CollectedEvent
from siyu.core.errors import NotFoundError
from siyu.profiles import upserts
from siyu.profiles.models import Profile
from siyu.profiles.tables import profile_event_counts, profile_traits, profiles
from siyu.profiles.traits import (
    ProfileState,
    Touch,
    Trait,
    aggregate,
    average_spend_fen,
    combine_all,
)

# Rows per executemany call and ids per IN list: well under every backend's variable limit.
_CHUNK = 1000


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _profile_row(
    workspace_id: str, person_id: str, state: ProfileState, now: datetime
) -> dict[str, Any]:
    channel, campaign = state.first_channel, state.first_campaign
    return {
        "workspace_id": workspace_id,
        "person_id": person_id,
        "first_seen": state.first_seen,
        "last_seen": state.last_seen,
        "first_channel": channel.value if channel else None,
        "first_channel_at": channel.at if channel else None,
        "first_campaign": campaign.value if campaign else None,
        "first_campaign_at": campaign.at if campaign else None,
        "event_count": state.event_count,
        "order_count": state.order_count,
        "total_spend_fen": state.total_spend_fen,
        "last_order_at": state.last_order_at,
        "updated_at": now,
    }


def apply_events(
    *,
    session: Session,
    workspace_id: str,
    events: Sequence[CollectedEvent],
    person_ids: Sequence[str],
    now: datetime,
) -> None:
    """Fold one ingest batch into the stored profiles.

    The batch is aggregated in memory per person, then written with three bulk upserts
    (profiles, traits, event counts) in key order, so concurrent batches neither lose updates
    nor deadlock. Counting is additive: the caller hands each event over once (collect
    dedupes on ``message_id``). Traits named phone, mobile or email are not stored.

    Args:
        session: an open session; the caller commits.
        workspace_id: the workspace the events belong to.
        events: the batch's collected events.
        person_ids: ``person_ids[i]`` is the person ``events[i]`` resolved to.
        now: when the batch is applied (aware UTC), stored as ``updated_at``.

    Raises:
        ValueError: ``events`` and ``person_ids`` differ in length.
    """
    states = aggregate(events, person_ids)
    if not states:
        return
    profile_rows: list[dict[str, Any]] = []
    trait_rows: list[dict[str, Any]] = []
    count_rows: list[dict[str, Any]] = []
    for person_id in sorted(states):
        state = states[person_id]
        profile_rows.append(_profile_row(workspace_id, person_id, state, now))
        trait_rows.extend(
            {
                "workspace_id": workspace_id,
                "person_id": person_id,
                "name": name,
                "value": trait.value,
                "observed_at": trait.observed_at,
            }
            for name, trait in sorted(state.traits.items())
        )
        count_rows.extend(
            {"workspace_id": workspace_id, "person_id": person_id, "event": event, "count": n}
            for event, n in sorted(state.event_counts.items())
        )
    upserts.upsert_profiles(session, profile_rows)
    upserts.upsert_traits(session, trait_rows)
    upserts.upsert_event_counts(session, count_rows)


def _touch(value: str | None, at: datetime | None) -> Touch | None:
    if value is None or at is None:
        return None
    return Touch(at, value)


def _load_rows(session: Session, workspace_id: str, ids: Sequence[str]) -> dict[str, ProfileState]:
    p = profiles.c
    rows = session.execute(
        select(profiles).where(p.workspace_id == workspace_id, p.person_id.in_(ids))
    )
    return {
        row.person_id: ProfileState(
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            first_channel=_touch(row.first_channel, row.first_channel_at),
            first_campaign=_touch(row.first_campaign, row.first_campaign_at),
            order_count=row.order_count,
            total_spend_fen=row.total_spend_fen,
            last_order_at=row.last_order_at,
        )
        for row in rows
    }


def _load_details(
    session: Session, workspace_id: str, ids: Sequence[str], states: dict[str, ProfileState]
) -> None:
    t = profile_traits.c
    traits = session.execute(
        select(t.person_id, t.name, t.value, t.observed_at).where(
            t.workspace_id == workspace_id, t.person_id.in_(ids)
        )
    )
    for person_id, name, value, observed_at in traits:
        if person_id in states:
            states[person_id].traits[name] = Trait(observed_at, value)
    c = profile_event_counts.c
    counts = session.execute(
        select(c.person_id, c.event, c["count"]).where(
            c.workspace_id == workspace_id, c.person_id.in_(ids)
        )
    )
    for person_id, event, count in counts:
        if person_id in states:
            states[person_id].event_counts[event] = count


def _load_states(
    session: Session, workspace_id: str, person_ids: Iterable[str]
) -> dict[str, ProfileState]:
    states: dict[str, ProfileState] = {}
    for chunk in _chunks(sorted(set(person_ids))):
        found = _load_rows(session, workspace_id, chunk)
        _load_details(session, workspace_id, chunk, found)
        states.update(found)
    return states


def _to_profile(person_id: str, state: ProfileState) -> Profile:
    return Profile(
        person_id=person_id,
        # An explicit null is a cleared trait: it wins over older values, then is not shown.
        traits={
            name: trait.value
            for name, trait in sorted(state.traits.items())
            if trait.value is not None
        },
        first_seen=state.first_seen,
        last_seen=state.last_seen,
        first_channel=state.first_channel.value if state.first_channel else None,
        first_campaign=state.first_campaign.value if state.first_campaign else None,
        event_count=state.event_count,
        event_counts=dict(sorted(state.event_counts.items())),
        order_count=state.order_count,
        total_spend_fen=state.total_spend_fen,
        avg_spend_fen=average_spend_fen(state.total_spend_fen, state.order_count),
        last_order_at=state.last_order_at,
    )


def get_profiles(
    *, session: Session, workspace_id: str, groups: Mapping[str, Sequence[str]]
) -> dict[str, Profile]:
    """Many profiles at once, each combined over its merged persons.

    Args:
        session: an open session.
        workspace_id: the workspace to read.
        groups: surviving person id → that person plus every person it absorbed.

    Returns:
        Surviving person id → profile; a group none of whose persons has a profile is left out.
    """
    members = {person_id: {person_id, *ids} for person_id, ids in groups.items()}
    states = _load_states(session, workspace_id, (m for ids in members.values() for m in ids))
    result: dict[str, Profile] = {}
    for person_id, ids in members.items():
        combined = combine_all(states[m] for m in sorted(ids) if m in states)
        if combined is not None:
            result[person_id] = _to_profile(person_id, combined)
    return result


def get_profile(
    *, session: Session, workspace_id: str, person_id: str, member_person_ids: Sequence[str]
) -> Profile:
    """One person's profile, combined over every person merged into it.

    Args:
        session: an open session.
        workspace_id: the workspace to read.
        person_id: the surviving person.
        member_person_ids: ``person_id`` plus every person it absorbed (from identity).

    Raises:
        NotFoundError: none of the persons has a profile.
    """
    found = get_profiles(
        session=session, workspace_id=workspace_id, groups={person_id: member_person_ids}
    )
    if person_id not in found:
        raise NotFoundError(f"no profile for person {person_id}", field="person_id")
    return found[person_id]
