"""The demo brand's customers have taste, so a personal model beats popularity on it: the
drawn brand's views, adds and baskets (no build, no store) evaluated on a 30-day split."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from siyu.demo.brand import MENU, Brand, Kind, draw_brand
from siyu.recommend.evaluation import evaluate
from siyu.recommend.interactions import Interactions
from siyu.recommend.interactions import Kind as Did
from siyu.recommend.models import RecommendSettings

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
IDS = np.array([product_id for product_id, _, _ in MENU], dtype=object)


def _interactions(brand: Brand) -> Interactions:
    e = brand.events
    seen = (e.kind == Kind.VIEWED) | (e.kind == Kind.ADDED)
    orders = np.flatnonzero(e.kind == Kind.ORDER)
    lines = brand.basket[e.aux[orders]]  # (orders, 3), -1 for no item
    line_order, line_slot = np.nonzero(lines >= 0)
    where = orders[line_order]
    did = np.where(e.kind[seen] == Kind.ADDED, Did.ADD, Did.VIEW).astype(np.int8)
    return Interactions(
        person=np.concatenate([e.customer[seen], e.customer[where]]).astype(str).astype(object),
        product=np.concatenate([IDS[e.aux[seen]], IDS[lines[line_order, line_slot]]]),
        kind=np.concatenate([did, np.full(len(where), Did.PURCHASE, dtype=np.int8)]),
        at_us=np.concatenate([e.at[seen], e.at[where]]) * 1_000_000,
        order=np.concatenate(
            [np.full(int(seen.sum()), "", dtype=object), (e.aux[where]).astype(str).astype(object)]
        ),
    )


def test_als_and_bought_together_beat_popularity_on_the_demo() -> None:
    brand = draw_brand(users=3_000, seed=42, now=NOW)
    split = NOW - timedelta(days=30)
    found = evaluate(workspace_id="demo", rows=_interactions(brand), split_at=split, until=NOW,
                     k=3, settings=RecommendSettings())  # fmt: skip
    score = {m.method: m for m in found.methods}
    assert found.test_persons > 100
    assert score["als"].precision > 1.3 * score["popular"].precision
    assert score["als"].recall > 1.3 * score["popular"].recall
    assert score["bought_together"].precision > score["popular"].precision
