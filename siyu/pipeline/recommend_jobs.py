"""The recommendations job: retrain a workspace's model when it is missing or stale."""

from __future__ import annotations

from datetime import datetime

from siyu.core.errors import InvalidInputError
from siyu.core.runtime import Runtime
from siyu.pipeline.loyalty_jobs import Outcome
from siyu.recommend import service as recommend


def train_recommendations(runtime: Runtime, workspace_id: str, zone: str, now: datetime) -> Outcome:
    """Train the workspace's recommender when its model is older than ``retrain_hours``."""
    if not recommend.train_due(runtime=runtime, workspace_id=workspace_id, now=now):
        return Outcome("model is fresh", {"trained": 0})
    try:
        info = recommend.train(runtime=runtime, workspace_id=workspace_id, now=now)
    except InvalidInputError as error:  # events but no products yet: nothing to learn
        return Outcome(f"not trained: {error.message}", {"trained": 0})
    return Outcome(
        f"trained {info.algorithm} on {info.persons} persons × {info.products} products "
        f"in {info.seconds:.1f} s",
        {"trained": 1, "persons": info.persons, "products": info.products},
    )
