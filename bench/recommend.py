"""Recommendations at scale: fit time, serving latency and quality against popularity.

A synthetic shop with taste (the demo brand draws products uniformly, so nothing there can
beat popularity): ``--persons`` customers, ``--products`` products in 25 categories; each
customer prefers one or two categories and takes 80% of their products from them (Zipf
within a category), the rest from the global mix. Every touch is a view; 30% also an add;
35% an order, which holds a second product of the same category 40% of the time. Times are
spread over 180 days; the last 30 are the test window.

Writes ``bench/results/recommend.json``: seconds to train (ALS + BPR + popularity +
bought-together), per-person serving latency (median and p95 of ``ranking.recommend``), and
precision/recall/MAP/NDCG/coverage @10 per method.

    python -m bench.recommend [--persons 50000] [--products 500]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from siyu.recommend import evaluation, ranking, training
from siyu.recommend.interactions import Interactions, Kind
from siyu.recommend.models import Filters, RecommendSettings

NOW = datetime(2026, 11, 28, tzinfo=UTC)
DAYS = 180
CATEGORIES = 25


def shop(persons: int, products: int, seed: int = 11) -> Interactions:
    """The synthetic interactions described above."""
    rng = np.random.default_rng(seed)
    category = np.arange(products) % CATEGORIES
    members = [np.flatnonzero(category == c) for c in range(CATEGORIES)]
    zipf = [1.0 / np.arange(1, len(m) + 1) ** 1.1 for m in members]
    zipf = [z / z.sum() for z in zipf]
    touches = rng.poisson(6, persons) + 1
    who = np.repeat(np.arange(persons), touches)
    liked = rng.integers(0, CATEGORIES, (persons, 2))
    second = rng.random(persons) < 0.5
    pick = np.where(second[who] & (rng.random(len(who)) < 0.5), liked[who, 1], liked[who, 0])
    own = rng.random(len(who)) < 0.8
    pick = np.where(own, pick, rng.integers(0, CATEGORIES, len(who)))
    product = np.array([members[c][rng.choice(len(members[c]), p=zipf[c])] for c in pick])
    at = NOW - (rng.random(len(who)) * DAYS * 86_400).astype("timedelta64[s]").astype(object)
    return _rows(rng, who, product, category, members, zipf, at)


def _rows(
    rng: np.random.Generator,
    who: np.ndarray,
    product: np.ndarray,
    category: np.ndarray,
    members: list[np.ndarray],
    zipf: list[np.ndarray],
    at: np.ndarray,
) -> Interactions:
    micros = np.array([int(t.timestamp() * 1_000_000) for t in at], dtype=np.int64)
    parts = [(who, product, np.full(len(who), Kind.VIEW), micros, np.full(len(who), ""))]
    added = rng.random(len(who)) < 0.3
    parts.append((who[added], product[added], np.full(added.sum(), Kind.ADD), micros[added],
                  np.full(added.sum(), "")))  # fmt: skip
    ordered = np.flatnonzero(rng.random(len(who)) < 0.35)
    orders = np.array([f"o{i}" for i in ordered], dtype=object)
    parts.append((who[ordered], product[ordered], np.full(len(ordered), Kind.PURCHASE),
                  micros[ordered], orders))  # fmt: skip
    pair = ordered[rng.random(len(ordered)) < 0.4]
    extra = np.array(
        [
            members[category[p]][rng.choice(len(members[category[p]]), p=zipf[category[p]])]
            for p in product[pair]
        ]
    )
    parts.append((who[pair], extra, np.full(len(pair), Kind.PURCHASE), micros[pair],
                  np.array([f"o{i}" for i in pair], dtype=object)))  # fmt: skip
    return Interactions(
        person=np.concatenate([p[0] for p in parts]).astype(str).astype(object),
        product=np.char.add("sku-", np.concatenate([p[1] for p in parts]).astype(str)).astype(
            object
        ),
        kind=np.concatenate([p[2] for p in parts]).astype(np.int8),
        at_us=np.concatenate([p[3] for p in parts]),
        order=np.concatenate([p[4] for p in parts]).astype(object),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=50_000)
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("bench/results/recommend.json"))
    args = parser.parse_args()
    rows = shop(args.persons, args.products)
    settings = RecommendSettings()
    started = time.perf_counter()
    trained = training.train(rows, settings)
    train_seconds = time.perf_counter() - started
    latencies = []
    for row in range(0, len(trained.persons), max(1, len(trained.persons) // 300)):
        began = time.perf_counter()
        ranking.recommend(trained=trained, person_rows=[row], history=ranking.History(),
                          catalogue={}, filters=Filters(), settings=settings, k=10)  # fmt: skip
        latencies.append(time.perf_counter() - began)
    started = time.perf_counter()
    found = evaluation.evaluate(workspace_id="bench", rows=rows, split_at=NOW - timedelta(days=30),
                                until=NOW, k=10, settings=settings)  # fmt: skip
    result = {
        "persons": args.persons,
        "products": args.products,
        "interactions": len(rows),
        "cells": int(trained.user_items.nnz),
        "train_seconds": round(train_seconds, 2),
        "serve_ms_median": round(1000 * float(np.median(latencies)), 2),
        "serve_ms_p95": round(1000 * float(np.percentile(latencies, 95)), 2),
        "evaluate_seconds": round(time.perf_counter() - started, 2),
        "test_persons": found.test_persons,
        "at_10": {m.method: m.model_dump(exclude={"method"}) for m in found.methods},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
