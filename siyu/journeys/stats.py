"""Journey statistics: per node (entered, waiting, passed, sent, failed, converted) and per
split variant (conversion with a Wilson interval, significance against the control)."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
from pydantic import BaseModel, Field
from scipy import stats as scipy_stats
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.journeys.actions import StateStatus
from siyu.journeys.models import JourneyDefinition, SplitNode
from siyu.journeys.service import get_journey
from siyu.journeys.tables import journey_events, journey_states


class NodeStats(BaseModel):
    """What happened at one node, over every version."""

    node_id: str
    type: str | None = Field(description="Node type in the current version (None: removed).")
    entered: int = Field(description="Times the node ran.")
    waiting: int = Field(description="People resting at the node now.")
    passed: int = Field(description="Went on to the next node.")
    sent: int = Field(description="Messages handed to channels.")
    failed: int = Field(description="Actions the caller could not apply.")
    converted: int = Field(description="Goal conversions credited to the node.")


class VariantStats(BaseModel):
    """Conversion of one split variant."""

    variant: str
    control: bool = Field(description="The variant others are compared with.")
    entered: int
    converted: int
    rate: float
    low: float = Field(description="Wilson interval, lower bound.")
    high: float = Field(description="Wilson interval, upper bound.")
    lift: float | None = Field(default=None, description="rate / control rate − 1.")
    p_value: float | None = Field(
        default=None, description="Two-sided, two-proportion z test against the control."
    )


class JourneyStats(BaseModel):
    """Statistics of a journey."""

    journey_id: str
    entries: int
    live: int
    converted: int
    nodes: list[NodeStats]
    variants: list[VariantStats]


def wilson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (0, 0 without trials)."""
    if trials == 0:
        return 0.0, 0.0
    z = float(scipy_stats.norm.ppf(0.5 + confidence / 2))
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials**2))
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_p(a: tuple[int, int], b: tuple[int, int]) -> float | None:
    """p-value that (successes, trials) ``a`` and ``b`` share one rate; None if untestable."""
    table = np.array([[a[0], a[1] - a[0]], [b[0], b[1] - b[0]]])
    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        return None
    # chi-square on the 2×2 table without continuity correction is the two-proportion z test
    result = scipy_stats.chi2_contingency(table, correction=False)
    return float(result.pvalue)


def _control(definition: JourneyDefinition, names: list[str]) -> str | None:
    for node in definition.nodes:
        if isinstance(node, SplitNode):
            held = [v.name for v in node.variants if v.holdout]
            return held[0] if held else node.variants[0].name
    return names[0] if names else None


def variant_stats(counts: dict[str, tuple[int, int]], control: str | None) -> list[VariantStats]:
    """Per-variant rows from variant → (converted, entered)."""
    base = counts.get(control) if control else None
    rows = []
    for name, (won, total) in sorted(counts.items()):
        low, high = wilson(won, total)
        rate = won / total if total else 0.0
        compare = base is not None and name != control
        base_rate = base[0] / base[1] if base and base[1] else 0.0
        rows.append(
            VariantStats(
                variant=name,
                control=name == control,
                entered=total,
                converted=won,
                rate=rate,
                low=low,
                high=high,
                lift=(rate / base_rate - 1) if compare and base_rate else None,
                p_value=two_proportion_p((won, total), base) if compare and base else None,
            )
        )
    return rows


def journey_stats(*, session: Session, workspace_id: str, journey_id: str) -> JourneyStats:
    """Node and variant statistics of a journey (every version together).

    Raises:
        NotFoundError: no such journey.
    """
    journey = get_journey(session=session, workspace_id=workspace_id, journey_id=journey_id)
    e, s = journey_events.c, journey_states.c
    kinds: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for node_id, kind, n in session.execute(
        select(e.node_id, e.kind, func.count())
        .where(e.journey_id == journey_id)
        .group_by(e.node_id, e.kind)
    ):
        kinds[node_id][kind] = n
    waiting: dict[str, int] = dict(
        session.execute(
            select(s.node_id, func.count())
            .where(
                s.workspace_id == workspace_id,
                s.journey_id == journey_id,
                s.status == StateStatus.WAITING.value,
            )
            .group_by(s.node_id)
        ).all()
    )
    variants: dict[str, tuple[int, int]] = {}
    by_status: dict[str, int] = defaultdict(int)
    for variant, status, n in session.execute(
        select(s.variant, s.status, func.count())
        .where(s.journey_id == journey_id)
        .group_by(s.variant, s.status)
    ):
        by_status[status] += n
        if variant is not None:
            won, total = variants.get(variant, (0, 0))
            variants[variant] = (won + (n if status == "converted" else 0), total + n)
    types = {n.id: n.type for n in journey.definition.nodes}
    order = [n.id for n in journey.definition.nodes] + sorted(set(kinds) - set(types))
    nodes = [_node_row(node_id, types.get(node_id), kinds[node_id], waiting) for node_id in order]
    return JourneyStats(
        journey_id=journey_id,
        entries=sum(by_status.values()),
        live=by_status["active"] + by_status["waiting"],
        converted=by_status["converted"],
        nodes=nodes,
        variants=variant_stats(variants, _control(journey.definition, sorted(variants))),
    )


def _node_row(
    node_id: str, node_type: str | None, kinds: dict[str, int], waiting: dict[str, int]
) -> NodeStats:
    here = waiting.get(node_id, 0)
    ended = kinds.get("ended", 0) + kinds.get("converted", 0)
    return NodeStats(
        node_id=node_id,
        type=node_type,
        entered=kinds.get("entered", 0),
        waiting=here,
        passed=max(0, kinds.get("entered", 0) - here - ended),
        sent=kinds.get("sent", 0),
        failed=kinds.get("failed", 0),
        converted=kinds.get("converted", 0),
    )
