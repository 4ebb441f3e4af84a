"""What the next-best offer needs to know of a person from the segments domain: segment
memberships, the stored RFM segment and the lifecycle state (plus the profile's average
order, a first estimate of the basket).

Read from the tables :mod:`siyu.segments` writes (segments has no per-person read yet);
the person's absorbed ids are included, so a merged customer keeps their memberships.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.profiles import service as profiles
from siyu.recommend.offers import OfferContext
from siyu.segments.layer_tables import lifecycle_states, rfm_scores
from siyu.segments.tables import segment_members


def person_context(
    *, session: Session, workspace_id: str, person_ids: Sequence[str]
) -> OfferContext:
    """Segments, RFM segment, lifecycle and average order of the person (survivor first in
    ``person_ids``); the caller adds the predicted value."""
    survivor = person_ids[0]
    found = contexts_for(
        session=session, workspace_id=workspace_id, groups={survivor: list(person_ids)}
    )
    return found[survivor]


def _rows(session: Session, workspace_id: str, ids: list[str]) -> tuple[Sequence[Any], ...]:
    members = segment_members.c
    segments = session.execute(
        select(members.person_id, members.segment_id)
        .where(members.workspace_id == workspace_id, members.person_id.in_(ids))
        .distinct()
    ).all()
    rfm = session.execute(
        select(rfm_scores.c.person_id, rfm_scores.c.segment).where(
            rfm_scores.c.workspace_id == workspace_id, rfm_scores.c.person_id.in_(ids)
        )
    ).all()
    life = session.execute(
        select(
            lifecycle_states.c.person_id, lifecycle_states.c.stage, lifecycle_states.c.activity
        ).where(
            lifecycle_states.c.workspace_id == workspace_id, lifecycle_states.c.person_id.in_(ids)
        )
    ).all()
    return segments, rfm, life


def contexts_for(
    *, session: Session, workspace_id: str, groups: Mapping[str, Sequence[str]]
) -> dict[str, OfferContext]:
    """Offer contexts of many persons at once: ``groups`` maps each survivor to itself and
    every person it absorbed (survivor first; the survivor's own rows win)."""
    owner = {m: s for s, ids in groups.items() for m in ids}
    rank = {m: i for ids in groups.values() for i, m in enumerate(ids)}
    segments, rfm, life = _rows(session, workspace_id, list(owner))
    joined: dict[str, set[str]] = {s: set() for s in groups}
    for row in segments:
        joined[owner[row.person_id]].add(row.segment_id)
    best_rfm = _first_per_owner(rfm, owner, rank)
    best_life = _first_per_owner(life, owner, rank)
    found = profiles.get_profiles(session=session, workspace_id=workspace_id, groups=groups)
    return {
        s: OfferContext(
            segment_ids=sorted(joined[s]),
            rfm_segment=best_rfm[s].segment if s in best_rfm else None,
            stage=best_life[s].stage if s in best_life else None,
            activity=best_life[s].activity if s in best_life else None,
            expected_order_value_fen=found[s].avg_spend_fen if s in found else None,
        )
        for s in groups
    }


def _first_per_owner(
    rows: Sequence[Any], owner: Mapping[str, str], rank: Mapping[str, int]
) -> dict[str, Any]:
    best: dict[str, Any] = {}
    for row in sorted(rows, key=lambda r: rank[r.person_id]):
        best.setdefault(owner[row.person_id], row)
    return best
