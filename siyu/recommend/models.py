"""Recommendation shapes that cross the service boundary: settings, catalogue, results."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Algorithm(StrEnum):
    """The personal model served to known persons."""

    ALS = "als"
    BPR = "bpr"


class Reason(StrEnum):
    """Why a product was recommended."""

    ALS = "als"  # the person's factors (implicit ALS)
    BPR = "bpr"  # the person's factors (implicit BPR)
    BOUGHT_TOGETHER = "bought_together"  # often in the same orders as what the person took
    POPULAR = "popular"  # most bought / added / viewed in the training window


class RecommendSettings(BaseModel):
    """Per-workspace training and serving settings (defaults until saved)."""

    view_weight: float = Field(default=1.0, gt=0, description="Confidence of a Product Viewed.")
    add_weight: float = Field(default=3.0, gt=0, description="Confidence of a Product Added.")
    purchase_weight: float = Field(
        default=10.0, gt=0, description="Confidence of a product in an Order Completed."
    )
    algorithm: Algorithm = Field(default=Algorithm.ALS, description="Model served to persons.")
    factors: int = Field(default=32, ge=2, le=512)
    iterations: int = Field(default=15, ge=1, le=500, description="ALS sweeps.")
    regularization: float = Field(default=0.05, ge=0)
    bpr_iterations: int = Field(default=100, ge=1, le=2000)
    bpr_learning_rate: float = Field(default=0.01, gt=0)
    seed: int = Field(default=7, description="Random state of both models (reproducible).")
    threads: int = Field(
        default=1,
        ge=0,
        le=256,
        description="Threads of a model fit; 0: every core. One by default: the fit shares "
        "the machine with the API, and on a busy 2-core box one thread ran 3-6x faster.",
    )
    history_days: int = Field(
        default=365, ge=1, le=3650, description="Interactions older than this are not trained on."
    )
    retrain_hours: int = Field(
        default=24, ge=1, le=24 * 90, description="train_due answers true after this long."
    )
    exclude_bought: bool = Field(
        default=False,
        description="Never recommend a product the person bought; otherwise only "
        "non-consumable ones (catalogue flag) are left out.",
    )
    product_url_template: str = Field(
        default="/products/{product_id}",
        max_length=500,
        description="Link of a product without its own url; {product_id} is replaced.",
    )


class Product(BaseModel):
    """A catalogue entry: derived from events (name, price, category) plus operator flags."""

    product_id: str = Field(min_length=1, max_length=200)
    name: str | None = None
    price_fen: int | None = Field(default=None, ge=0)
    category: str | None = Field(default=None, max_length=200)
    in_stock: bool = Field(default=True, description="Out-of-stock products are filtered out.")
    consumable: bool = Field(
        default=True, description="Consumables may be recommended again after a purchase."
    )
    url: str | None = Field(default=None, max_length=1000)


class ProductUpdate(BaseModel):
    """Operator flags for one product; unset fields keep their value."""

    product_id: str = Field(min_length=1, max_length=200)
    in_stock: bool | None = None
    consumable: bool | None = None
    category: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    url: str | None = Field(default=None, max_length=1000)


class Filters(BaseModel):
    """What a recommendation list may contain."""

    category: str | None = Field(default=None, description="Only this category.")
    in_stock_only: bool = Field(default=True)
    exclude_bought: bool | None = Field(
        default=None, description="Leave out every bought product; null: the workspace setting."
    )


class Recommendation(BaseModel):
    """One recommended product."""

    product_id: str
    name: str | None
    category: str | None
    price_fen: int | None
    url: str
    score: float = Field(description="Model score (comparable within one reason only).")
    reason: Reason


class ModelInfo(BaseModel):
    """A trained model's facts, saved with its artefacts."""

    workspace_id: str
    trained_at: datetime
    data_until: datetime = Field(description="Interactions before this time were trained on.")
    algorithm: Algorithm
    persons: int
    products: int
    interactions: int = Field(description="Non-zero (person, product) cells.")
    orders: int = Field(description="Orders counted for bought-together.")
    seconds: float


class PersonRecommendations(BaseModel):
    """Products for one person, best first."""

    person_id: str = Field(description="The surviving person.")
    known: bool = Field(description="Whether the model was trained on this person.")
    trained_at: datetime | None
    items: list[Recommendation]


class MethodScore(BaseModel):
    """One method's offline figures at k."""

    method: str
    precision: float
    recall: float
    map: float = Field(description="Mean average precision at k.")
    ndcg: float
    coverage: float = Field(description="Share of catalogue products recommended to anyone.")
    persons: int = Field(description="Test persons scored.")


class Evaluation(BaseModel):
    """Offline evaluation on a time split: trained before ``split_at``, tested after."""

    workspace_id: str
    split_at: datetime
    until: datetime
    k: int
    train_interactions: int
    train_persons: int
    products: int
    test_persons: int = Field(description="Persons with a train interaction and a test purchase.")
    methods: list[MethodScore]
