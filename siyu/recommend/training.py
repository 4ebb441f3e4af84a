"""Training: the weighted person × product matrix, implicit's ALS and BPR, popularity and the
bought-together (co-occurrence within orders) table.

Pure apart from the models' own threads: interactions and settings in, a :class:`Trained`
out. The confidence of a (person, product) cell is the sum of its interactions' weights
(purchase > add to cart > view, :class:`~siyu.recommend.models.RecommendSettings`), so a
product bought twice and viewed once counts 2 × 10 + 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from siyu.recommend.interactions import Interactions, Kind
from siyu.recommend.models import Algorithm, RecommendSettings

Floats = NDArray[np.float64]


@dataclass
class Trained:
    """Everything ranking needs: id maps, the two models, popularity and co-occurrence.

    ``user_items`` is the weighted matrix (persons × products); ``bought`` the purchase
    counts in the same shape; ``together`` the product × product order co-occurrence.
    """

    persons: list[str]
    products: list[str]
    user_items: sp.csr_matrix
    bought: sp.csr_matrix
    als: AlternatingLeastSquares
    bpr: BayesianPersonalizedRanking | None  # fitted only when served or evaluated
    popularity: Floats
    together: sp.csr_matrix
    item_orders: Floats
    orders: int

    def person_index(self) -> dict[str, int]:
        """Person id → row."""
        return {p: i for i, p in enumerate(self.persons)}

    def product_index(self) -> dict[str, int]:
        """Product id → column."""
        return {p: i for i, p in enumerate(self.products)}


def _codes(values: NDArray[np.object_]) -> tuple[list[str], NDArray[np.int64]]:
    labels, codes = np.unique(values.astype(str), return_inverse=True)
    return [str(x) for x in labels], codes.astype(np.int64)


def weights_of(rows: Interactions, settings: RecommendSettings) -> Floats:
    """The confidence weight of each interaction row."""
    table = np.array([settings.view_weight, settings.add_weight, settings.purchase_weight])
    weights: Floats = table[rows.kind.astype(np.int64)]
    return weights


def matrix(
    rows: Interactions,
    values: Floats,
    persons: dict[str, int],
    products: dict[str, int],
) -> sp.csr_matrix:
    """Sum ``values`` into a persons × products CSR (rows of unknown ids dropped)."""
    r = np.array([persons.get(p, -1) for p in rows.person], dtype=np.int64)
    c = np.array([products.get(p, -1) for p in rows.product], dtype=np.int64)
    ok = (r >= 0) & (c >= 0)
    shape = (len(persons), len(products))
    built = sp.coo_matrix((values[ok], (r[ok], c[ok])), shape=shape, dtype=np.float32).tocsr()
    built.sum_duplicates()
    return built


def co_occurrence(
    rows: Interactions, products: dict[str, int]
) -> tuple[sp.csr_matrix, Floats, int]:
    """Products × products: in how many orders both appear (diagonal zero); orders per
    product; and the number of orders."""
    bought = rows.where(rows.kind == Kind.PURCHASE)
    if len(bought) == 0:
        size = len(products)
        return sp.csr_matrix((size, size), dtype=np.float32), np.zeros(size), 0
    order_ids, order_codes = _codes(bought.order)
    cols = np.array([products.get(p, -1) for p in bought.product], dtype=np.int64)
    ok = cols >= 0
    baskets = sp.coo_matrix(
        (np.ones(int(ok.sum()), dtype=np.float32), (order_codes[ok], cols[ok])),
        shape=(len(order_ids), len(products)),
    ).tocsr()
    baskets.data[:] = 1.0  # an order holding a product twice still counts once
    together = (baskets.T @ baskets).tocsr()
    item_orders = np.asarray(together.diagonal(), dtype=np.float64)
    together.setdiag(0)
    together.eliminate_zeros()
    return together, item_orders, len(order_ids)


def fit_als(user_items: sp.csr_matrix, settings: RecommendSettings) -> AlternatingLeastSquares:
    """implicit's ALS on the confidence matrix."""
    # implicit runs its own threads; BLAS threads on top of them only fight (its advice,
    # checked when the model is built, hence the model is built inside the limit too).
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=settings.factors,
            iterations=settings.iterations,
            regularization=settings.regularization,
            random_state=settings.seed,
            num_threads=settings.threads,
        )
        model.fit(user_items, show_progress=False)
    return model


def fit_bpr(user_items: sp.csr_matrix, settings: RecommendSettings) -> BayesianPersonalizedRanking:
    """implicit's BPR on the same matrix (it samples positives, ignoring the weights)."""
    with threadpool_limits(1, "blas"):
        model = BayesianPersonalizedRanking(
            factors=settings.factors,
            iterations=settings.bpr_iterations,
            learning_rate=settings.bpr_learning_rate,
            regularization=settings.regularization,
            random_state=settings.seed,
            num_threads=settings.threads,
        )
        model.fit(user_items, show_progress=False)
    return model


def train(rows: Interactions, settings: RecommendSettings, *, with_bpr: bool = False) -> Trained:
    """Fit the models on ``rows`` (at least one interaction): ALS, popularity and
    bought-together always; BPR when it is the served algorithm or ``with_bpr`` (it takes
    several times ALS's time and is only the better model on some data)."""
    persons, _ = _codes(rows.person)
    products, _ = _codes(rows.product)
    person_index = {p: i for i, p in enumerate(persons)}
    product_index = {p: i for i, p in enumerate(products)}
    user_items = matrix(rows, weights_of(rows, settings), person_index, product_index)
    purchases = (rows.kind == Kind.PURCHASE).astype(np.float64)
    bought = matrix(rows, purchases, person_index, product_index)
    bought.eliminate_zeros()
    together, item_orders, orders = co_occurrence(rows, product_index)
    return Trained(
        persons=persons,
        products=products,
        user_items=user_items,
        bought=bought,
        als=fit_als(user_items, settings),
        bpr=fit_bpr(user_items, settings)
        if with_bpr or settings.algorithm is Algorithm.BPR
        else None,
        popularity=np.asarray(user_items.sum(axis=0), dtype=np.float64).ravel(),
        together=together,
        item_orders=item_orders,
        orders=orders,
    )
