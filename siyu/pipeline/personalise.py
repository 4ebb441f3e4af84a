"""Recommendations as personalisation for journey messages: ``rec_1`` … ``rec_3`` per person.

A journey's message template (channels renders it) may say ``为你推荐 {{ rec_1 }}``; the
values are the person's top products from the workspace's trained recommender, added to
the message's params when a journey step sends it. Without a trained model nothing is
added, and a template that needs the values is held by the outbox's strict rendering.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from siyu.core.errors import NotFoundError, SiyuError
from siyu.core.runtime import Runtime
from siyu.recommend import offers
from siyu.recommend import service as recommend
from siyu.recommend.models import Filters

Personaliser = Callable[[str], dict[str, str]]

SLOTS = 3


def recommendation_values(
    *, runtime: Runtime, workspace_id: str, now: datetime
) -> Personaliser | None:
    """A function giving a person's ``rec_*`` values, or None when no model is trained."""
    # Loaded here, before the journey batch's write transaction: the per-person answers
    # below read only the model and the event store, never the (locked) operational store.
    try:
        answer = recommend.recommender(
            runtime=runtime, workspace_id=workspace_id, filters=Filters(), now=now
        )
    except NotFoundError:
        return None

    def values(person_id: str) -> dict[str, str]:
        try:
            found = answer(person_id, SLOTS)
        except SiyuError:  # a person the recommender cannot answer gets no values
            return {}
        return offers.message_values(found.items, limit=SLOTS)

    return values
