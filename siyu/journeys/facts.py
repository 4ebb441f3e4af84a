"""Read what branches and personalisation need about many persons at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.journeys.actions import Facts
from siyu.profiles import service as profiles
from siyu.profiles.tag_tables import person_tags, tag_groups, tags
from siyu.segments.tables import segment_members

_CHUNK = 500


def load_facts(
    *, session: Session, workspace_id: str, person_ids: Sequence[str]
) -> dict[str, Facts]:
    """Traits, event counts, tags (ids and ``group/name``) and segments of each person."""
    unique = sorted(set(person_ids))
    found = profiles.get_profiles(
        session=session, workspace_id=workspace_id, groups={p: [p] for p in unique}
    )
    held: dict[str, set[str]] = defaultdict(set)
    within: dict[str, set[str]] = defaultdict(set)
    pt, t, g, sm = person_tags.c, tags.c, tag_groups.c, segment_members.c
    for start in range(0, len(unique), _CHUNK):
        part = unique[start : start + _CHUNK]
        # Tags and memberships are read in bulk here; profiles and segments offer only
        # per-person or per-segment reads, which would cost a query per person per step.
        rows = session.execute(
            select(pt.person_id, pt.tag_id, g.name, t.name)
            .join(tags, t.id == pt.tag_id)
            .join(tag_groups, g.id == t.group_id)
            .where(pt.workspace_id == workspace_id, pt.person_id.in_(part))
        )
        for person_id, tag_id, group_name, tag_name in rows:
            held[person_id].update((tag_id, f"{group_name}/{tag_name}", tag_name))
        for person_id, segment_id in session.execute(
            select(sm.person_id, sm.segment_id).where(
                sm.workspace_id == workspace_id, sm.person_id.in_(part)
            )
        ):
            within[person_id].add(segment_id)
    result: dict[str, Facts] = {}
    for person_id in unique:
        profile = found.get(person_id)
        result[person_id] = Facts(
            traits=dict(profile.traits) if profile else {},
            tags=frozenset(held[person_id]),
            segments=frozenset(within[person_id]),
            event_counts=dict(profile.event_counts) if profile else {},
        )
    return result
