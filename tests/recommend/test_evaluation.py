"""Reading interactions from the store, training, and the time-split evaluation."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from siyu.core.errors import InvalidInputError
from siyu.core.eventstore import EVENT_SCHEMA, DuckDBEventStore
from siyu.recommend import interactions
from siyu.recommend.evaluation import evaluate
from siyu.recommend.interactions import Interactions, Kind
from siyu.recommend.models import RecommendSettings
from tests.recommend.synthetic import NOW, SPLIT, events

SINCE = NOW - timedelta(days=400)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Interactions, pa.Table]:
    store = DuckDBEventStore(tmp_path_factory.mktemp("events"))
    store.append(pa.Table.from_pylist(events("ws"), schema=EVENT_SCHEMA))
    table = interactions.read_rows(store, workspace_id="ws", since=SINCE, until=NOW)
    return interactions.from_rows(table, {}), table


def test_rows_are_views_adds_and_each_order_line(shop: tuple[Interactions, pa.Table]) -> None:
    rows, table = shop
    source = events("ws")
    lines = sum(
        len(json.loads(e["properties"])["products"])
        for e in source
        if e["event"] == "Order Completed"
    )
    counts = np.bincount(rows.kind, minlength=3)
    assert counts[Kind.PURCHASE] == lines
    assert counts[Kind.VIEW] == sum(e["event"] == "Product Viewed" for e in source)
    assert counts[Kind.ADD] == sum(e["event"] == "Product Added" for e in source)
    assert set(rows.order[rows.kind == Kind.PURCHASE]) <= {e["message_id"] for e in source}
    assert set(rows.order[rows.kind != Kind.PURCHASE]) == {""}
    catalogue = interactions.catalogue_of(table)
    assert catalogue["a0"].name == "商品a0" and catalogue["a0"].price_fen == 1200
    assert catalogue["b3"].category == "奶茶"


def test_merged_persons_map_to_the_survivor(shop: tuple[Interactions, pa.Table]) -> None:
    _, table = shop
    mapped = interactions.from_rows(table, {"p001": "p003"})
    assert "p001" not in set(mapped.person)
    before = interactions.from_rows(table, {})
    assert (mapped.person == "p003").sum() == (
        (before.person == "p003") | (before.person == "p001")
    ).sum()


def test_als_beats_popularity_on_two_taste_groups(shop: tuple[Interactions, pa.Table]) -> None:
    rows, _ = shop
    found = evaluate(
        workspace_id="ws", rows=rows, split_at=SPLIT, until=NOW, k=3, settings=RecommendSettings()
    )
    score = {m.method: m for m in found.methods}
    assert found.test_persons > 50 and found.products == 12
    # Popularity shows group A's favourites to everyone; ALS knows who is in group B.
    assert score["als"].precision > score["popular"].precision + 0.05
    assert score["als"].recall > score["popular"].recall
    assert score["als"].ndcg > score["popular"].ndcg
    assert score["popular"].coverage == pytest.approx(3 / 12)
    assert score["als"].coverage > 0.5
    assert score["bought_together"].precision > score["popular"].precision


def _rows(data: list[tuple[str, str, int, int, str]]) -> Interactions:
    person, product, kind, day, order = zip(*data, strict=True)
    at = [int((NOW - timedelta(days=100 - d)).timestamp() * 1_000_000) for d in day]
    return Interactions(
        np.array(person, dtype=object),
        np.array(product, dtype=object),
        np.array(kind, dtype=np.int8),
        np.array(at, dtype=np.int64),
        np.array(order, dtype=object),
    )


def test_metrics_have_the_known_values_for_popularity() -> None:
    # Before the split x is bought 3 times, y twice, z once; after it u buys x, v buys z.
    buy = int(Kind.PURCHASE)
    rows = _rows(
        [
            ("u", "x", buy, 1, "o1"),
            ("v", "x", buy, 2, "o2"),
            ("w", "x", buy, 3, "o3"),
            ("u", "y", buy, 4, "o4"),
            ("v", "y", buy, 5, "o5"),
            ("w", "z", buy, 6, "o6"),
            ("u", "x", buy, 90, "o7"),
            ("v", "z", buy, 91, "o8"),
        ]
    )
    split = NOW - timedelta(days=50)
    found = evaluate(
        workspace_id="ws", rows=rows, split_at=split, until=NOW, k=1, settings=RecommendSettings()
    )
    popular = next(m for m in found.methods if m.method == "popular")
    assert found.test_persons == 2
    assert (popular.precision, popular.recall, popular.map, popular.ndcg) == (0.5, 0.5, 0.5, 0.5)
    assert popular.coverage == pytest.approx(1 / 3)
    at_two = evaluate(
        workspace_id="ws", rows=rows, split_at=split, until=NOW, k=2, settings=RecommendSettings()
    )
    popular = next(m for m in at_two.methods if m.method == "popular")
    # u: [x, y] hits x at 1 → P 1/2, AP 1; v: [x, y] misses z → 0.
    assert (popular.precision, popular.recall, popular.map) == (0.25, 0.5, 0.5)


@pytest.mark.parametrize(
    ("k", "split_days", "field"),
    [(0, 20, "k"), (101, 20, "k"), (3, -1, "split_at"), (3, 500, "split_at")],
)
def test_bad_evaluation_input_names_the_field(
    shop: tuple[Interactions, pa.Table], k: int, split_days: int, field: str
) -> None:
    rows, _ = shop
    with pytest.raises(InvalidInputError) as caught:
        evaluate(
            workspace_id="ws",
            rows=rows,
            split_at=NOW - timedelta(days=split_days),
            until=NOW,
            k=k,
            settings=RecommendSettings(),
        )
    assert caught.value.field == field


def test_person_filter_reads_only_those_persons(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path)
    store.append(pa.Table.from_pylist(events("ws"), schema=EVENT_SCHEMA))
    table = interactions.read_rows(
        store, workspace_id="ws", since=SINCE, until=NOW, person_ids=["p002", "p007"]
    )
    assert set(table.column("person_id").to_pylist()) == {"p002", "p007"}
