"""Ranking: scores of every product for persons, filters, and the fallback chain.

Pure: a :class:`~siyu.recommend.training.Trained` model, the person's own history and the
catalogue in, recommendations out. The chain for one person:

1. a person the model was trained on gets the personal model's top products (``als`` or
   ``bpr``);
2. a person the model does not know (new since training) but who viewed, added or bought
   something gets the products most often **bought together** with those
   (Σ over their products i of weight(i) × orders(i, j) / orders(i));
3. whatever is still missing (an unknown person without history, or filters that removed
   candidates) is filled with the most **popular** products (the column sums of the
   weighted matrix).

Filters apply at every step: in stock, category, and already bought (every product when
``exclude_bought``, else only the non-consumable ones).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siyu.recommend.models import (
    Algorithm,
    Filters,
    Product,
    Reason,
    Recommendation,
    RecommendSettings,
)
from siyu.recommend.training import Floats, Trained

Ints = NDArray[np.int64]


@dataclass(frozen=True)
class History:
    """A person's own interactions: confidence per product, and what they bought."""

    weights: dict[str, float] = field(default_factory=dict)
    bought: frozenset[str] = frozenset()


def allowed_mask(
    trained: Trained,
    catalogue: Mapping[str, Product],
    filters: Filters,
    bought: Iterable[str],
    exclude_bought: bool,
) -> NDArray[np.bool_]:
    """Which of the model's products may be shown under ``filters``."""
    products = [catalogue.get(p) or Product(product_id=p) for p in trained.products]
    mask = np.ones(len(products), dtype=bool)
    if filters.in_stock_only:
        mask &= np.array([p.in_stock for p in products], dtype=bool)
    if filters.category is not None:
        mask &= np.array([p.category == filters.category for p in products], dtype=bool)
    index = trained.product_index()
    for product_id in bought:
        i = index.get(product_id)
        if i is not None and (exclude_bought or not products[i].consumable):
            mask[i] = False
    return mask


def personal_scores(trained: Trained, algorithm: Algorithm, rows: Ints) -> Floats:
    """Persons (model rows) × products scores of the personal model."""
    model = trained.bpr if algorithm is Algorithm.BPR and trained.bpr is not None else trained.als
    n = len(trained.products)
    ids, scores = model.recommend(
        rows, trained.user_items[rows], N=n, filter_already_liked_items=False
    )
    dense = np.full((len(rows), n), -np.inf)
    np.put_along_axis(dense, np.asarray(ids, dtype=np.int64), np.asarray(scores), axis=1)
    return dense


def together_scores(trained: Trained, history: sp.csr_matrix) -> Floats:
    """Persons × products bought-together scores from a persons × products history."""
    share = trained.together.multiply(1.0 / np.maximum(trained.item_orders, 1.0)[:, None])
    scores: Floats = np.asarray((history @ sp.csr_matrix(share)).todense(), dtype=np.float64)
    return scores


def top(scores: Floats, mask: NDArray[np.bool_], k: int, taken: set[int]) -> list[int]:
    """The best ``k`` allowed, untaken products with a positive or finite score."""
    order = np.argsort(-scores, kind="stable")
    found: list[int] = []
    for i in order.tolist():
        if len(found) == k:
            break
        if mask[i] and i not in taken and np.isfinite(scores[i]):
            found.append(i)
    return found


def history_row(trained: Trained, history: History) -> sp.csr_matrix:
    """The person's history as one row over the model's products."""
    index = trained.product_index()
    cols = [index[p] for p in history.weights if p in index]
    vals = [history.weights[trained.products[c]] for c in cols]
    shape = (1, len(trained.products))
    return sp.csr_matrix((vals, ([0] * len(cols), cols)), shape=shape, dtype=np.float32)


def recommend(
    *,
    trained: Trained,
    person_rows: list[int],
    history: History,
    catalogue: Mapping[str, Product],
    filters: Filters,
    settings: RecommendSettings,
    k: int,
) -> list[Recommendation]:
    """Up to ``k`` products for one person (model rows ``person_rows``, maybe empty)."""
    exclude = settings.exclude_bought if filters.exclude_bought is None else filters.exclude_bought
    mask = allowed_mask(trained, catalogue, filters, history.bought, exclude)
    picked: list[tuple[int, float, Reason]] = []
    taken: set[int] = set()

    def take(scores: Floats, reason: Reason, positive: bool) -> None:
        usable = np.where(scores > 0, scores, -np.inf) if positive else scores
        for i in top(usable, mask, k - len(picked), taken):
            picked.append((i, float(scores[i]), reason))
            taken.add(i)

    if person_rows:
        # A model trained while ALS was the setting has no BPR: it serves ALS until retrained.
        algorithm = settings.algorithm if trained.bpr is not None else Algorithm.ALS
        scores = personal_scores(trained, algorithm, np.array(person_rows[:1]))[0]
        take(scores, Reason(algorithm.value), positive=False)
    if len(picked) < k and history.weights and not person_rows:
        take(
            together_scores(trained, history_row(trained, history))[0], Reason.BOUGHT_TOGETHER, True
        )
    if len(picked) < k:
        take(trained.popularity, Reason.POPULAR, positive=True)
    return [_item(trained, catalogue, settings, i, s, r) for i, s, r in picked]


def _item(
    trained: Trained,
    catalogue: Mapping[str, Product],
    settings: RecommendSettings,
    i: int,
    score: float,
    reason: Reason,
) -> Recommendation:
    product_id = trained.products[i]
    product = catalogue.get(product_id) or Product(product_id=product_id)
    url = product.url or settings.product_url_template.replace("{product_id}", product_id)
    return Recommendation(
        product_id=product_id,
        name=product.name,
        category=product.category,
        price_fen=product.price_fen,
        url=url,
        score=round(score, 6),
        reason=reason,
    )
