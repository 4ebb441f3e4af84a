"""Offline evaluation on a time split: train on interactions before T, test on purchases after.

Pure: interactions in, figures out. The test persons are those with at least one training
interaction and at least one purchase in [T, until); their truth is the set of products
they bought after T. Products bought before T stay allowed (a tea chain's customers buy the
same drink again), so no method filters them. Per method and person, with ``rec`` the top
``k`` and ``hit_i`` whether the i-th is in the truth:

* precision@k = |rec ∩ truth| / k; recall@k = |rec ∩ truth| / |truth|;
* MAP@k: Σ_i precision@i · hit_i / min(k, |truth|);
* NDCG@k: Σ_i hit_i / log2(i + 1), over the same sum for a perfect list;
* coverage: distinct products recommended to anyone / products in the model.

Methods: ``als`` and ``bpr`` (implicit, personal), ``bought_together`` (co-occurrence with
the person's training history, filled with popular products when it runs out) and
``popular`` (the same list for everyone: the baseline).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np

from siyu.core.errors import InvalidInputError
from siyu.recommend.interactions import Interactions, Kind
from siyu.recommend.models import Algorithm, Evaluation, MethodScore, RecommendSettings
from siyu.recommend.ranking import Ints, personal_scores, together_scores
from siyu.recommend.training import Floats, Trained, train

BATCH = 2_048


def _micros(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def _top_k(scores: Floats, k: int) -> Ints:
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    picked: Ints = np.take_along_axis(part, order, axis=1)
    return picked


def _fill_popular(scores: Floats, popularity: Floats) -> Floats:
    # Popularity scaled below every positive co-occurrence score: it only breaks ties at 0.
    scale = 1e-6 / max(float(popularity.max()), 1.0)
    filled: Floats = scores + popularity[None, :] * scale
    return filled


def _scores_for(trained: Trained, method: str) -> Callable[[Ints], Floats]:
    def score(rows: Ints) -> Floats:
        if method in (Algorithm.ALS, Algorithm.BPR):
            return personal_scores(trained, Algorithm(method), rows)
        if method == "bought_together":
            found = together_scores(trained, trained.user_items[rows])
            return _fill_popular(found, trained.popularity)
        return np.tile(trained.popularity, (len(rows), 1))

    return score


def _score_method(
    method: str, trained: Trained, rows: Ints, truth: list[set[int]], k: int
) -> MethodScore:
    score = _scores_for(trained, method)
    precision, recall, ap, ndcg = [], [], [], []
    shown: set[int] = set()
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    for start in range(0, len(rows), BATCH):
        picked = _top_k(score(rows[start : start + BATCH]), k)
        for j, items in enumerate(picked.tolist()):
            want = truth[start + j]
            hits = np.array([i in want for i in items], dtype=np.float64)
            shown.update(items)
            precision.append(hits.sum() / k)
            recall.append(hits.sum() / len(want))
            ap.append(
                float((np.cumsum(hits) / np.arange(1, len(hits) + 1) * hits).sum())
                / min(k, len(want))
            )
            ideal = discounts[: min(k, len(want))].sum()
            ndcg.append(float((hits * discounts[: len(hits)]).sum() / ideal))
    return MethodScore(
        method=method,
        precision=round(float(np.mean(precision)), 6) if precision else 0.0,
        recall=round(float(np.mean(recall)), 6) if recall else 0.0,
        map=round(float(np.mean(ap)), 6) if ap else 0.0,
        ndcg=round(float(np.mean(ndcg)), 6) if ndcg else 0.0,
        coverage=round(len(shown) / max(len(trained.products), 1), 6),
        persons=len(rows),
    )


def _truth(trained: Trained, test: Interactions) -> tuple[Ints, list[set[int]]]:
    persons, products = trained.person_index(), trained.product_index()
    wanted: dict[int, set[int]] = {}
    for person, product in zip(test.person.tolist(), test.product.tolist(), strict=True):
        row, col = persons.get(person), products.get(product)
        if row is not None and col is not None:
            wanted.setdefault(row, set()).add(col)
    rows = np.array(sorted(wanted), dtype=np.int64)
    return rows, [wanted[r] for r in rows.tolist()]


def evaluate(
    *,
    workspace_id: str,
    rows: Interactions,
    split_at: datetime,
    until: datetime,
    k: int,
    settings: RecommendSettings,
) -> Evaluation:
    """Train on ``rows`` before ``split_at``; score every method on purchases after it."""
    if not 1 <= k <= 100:
        raise InvalidInputError("k must be 1–100", field="k")
    if split_at >= until:
        raise InvalidInputError("split_at must be before until", field="split_at")
    before = rows.at_us < _micros(split_at)
    after = ~before & (rows.at_us < _micros(until)) & (rows.kind == Kind.PURCHASE)
    if not before.any():
        raise InvalidInputError("no interactions before split_at to train on", field="split_at")
    trained = train(rows.where(before), settings, with_bpr=True)
    test_rows, truth = _truth(trained, rows.where(after))
    methods = [Algorithm.ALS.value, Algorithm.BPR.value, "bought_together", "popular"]
    return Evaluation(
        workspace_id=workspace_id,
        split_at=split_at,
        until=until,
        k=k,
        train_interactions=int(trained.user_items.nnz),
        train_persons=len(trained.persons),
        products=len(trained.products),
        test_persons=len(test_rows),
        methods=[_score_method(m, trained, test_rows, truth, k) for m in methods],
    )
