"""What the next-best offer needs to know of a person from the segments domain: segment
memberships, the stored RFM segment and the lifecycle state (plus the profile's average
order, a first estimate of the basket).

Read from the tables :mod:`siyu.segments` writes (segments has no per-person read yet);
the person's absorbed ids are included, so a merged customer keeps their memberships.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.errors import NotFoundError
from siyu.profiles import service as profiles
from siyu.recommend.offers import OfferContext
from siyu.segments.layer_tables import lifecycle_states, rfm_scores
from siyu.segments.tables import segment_members


def person_context(
    *, session: Session, workspace_id: str, person_ids: Sequence[str]
) -> OfferContext:
    """Segments, RFM segment, lifecycle and average order of the person (survivor first in
    ``person_ids``); the caller adds the predicted value."""
    members = segment_members.c
    segment_ids = session.execute(
        select(members.segment_id)
        .where(members.workspace_id == workspace_id, members.person_id.in_(person_ids))
        .distinct()
        .order_by(members.segment_id)
    ).scalars()
    rfm = session.execute(
        select(rfm_scores.c.person_id, rfm_scores.c.segment).where(
            rfm_scores.c.workspace_id == workspace_id, rfm_scores.c.person_id.in_(person_ids)
        )
    ).all()
    life = session.execute(
        select(
            lifecycle_states.c.person_id, lifecycle_states.c.stage, lifecycle_states.c.activity
        ).where(
            lifecycle_states.c.workspace_id == workspace_id,
            lifecycle_states.c.person_id.in_(person_ids),
        )
    ).all()
    try:
        profile = profiles.get_profile(
            session=session,
            workspace_id=workspace_id,
            person_id=person_ids[0],
            member_person_ids=person_ids,
        )
        average = profile.avg_spend_fen
    except NotFoundError:
        average = None
    rank = {p: i for i, p in enumerate(person_ids)}
    rfm_row = min(rfm, key=lambda r: rank[r.person_id], default=None)
    life_row = min(life, key=lambda r: rank[r.person_id], default=None)
    return OfferContext(
        segment_ids=list(segment_ids),
        rfm_segment=rfm_row.segment if rfm_row else None,
        stage=life_row.stage if life_row else None,
        activity=life_row.activity if life_row else None,
        expected_order_value_fen=average,
    )
