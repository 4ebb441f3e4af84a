"""RFM scoring: recency, frequency and monetary scores 1–5 and the eight classic segments.

Pure: buyers and settings in, scores out; ``now`` is an input.

**Scores.** Each dimension has four ascending cut points. Frequency and monetary score
``1 + (cut points strictly below the value)``; recency, where fewer days is better, scores
``5 − (cut points strictly below the days)``. The cut points are either the workspace's own
(``method="thresholds"``) or the 20/40/60/80 % quantiles of the buyers' values
(``method="quantile"``, observed values, so ties share a score). Either way a larger spend
never lowers the M score.

**High or low.** A dimension is *high* for a buyer when their score is strictly above the
mean (default) or the median score of all buyers in the run — the classic "above the
average" rule, applied to scores so the three dimensions are on one scale. Strictly above,
so that a dimension where most buyers tie (most customers buy once) is high only for those
who stand out, even with the median.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from itertools import pairwise
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, field_validator, model_validator

QUANTILES = (0.2, 0.4, 0.6, 0.8)


class RfmSegment(StrEnum):
    """The eight classic RFM segments operators use (R, F, M high or low)."""

    IMPORTANT_VALUE = "重要价值客户"  # R high, F high, M high
    IMPORTANT_DEVELOP = "重要发展客户"  # R high, F low,  M high
    IMPORTANT_KEEP = "重要保持客户"  # R low,  F high, M high
    IMPORTANT_RETAIN = "重要挽留客户"  # R low,  F low,  M high
    GENERAL_VALUE = "一般价值客户"  # R high, F high, M low
    GENERAL_DEVELOP = "一般发展客户"  # R high, F low,  M low
    GENERAL_KEEP = "一般保持客户"  # R low,  F high, M low
    GENERAL_RETAIN = "一般挽留客户"  # R low,  F low,  M low


_SEGMENTS: dict[tuple[bool, bool, bool], RfmSegment] = {
    (True, True, True): RfmSegment.IMPORTANT_VALUE,
    (True, False, True): RfmSegment.IMPORTANT_DEVELOP,
    (False, True, True): RfmSegment.IMPORTANT_KEEP,
    (False, False, True): RfmSegment.IMPORTANT_RETAIN,
    (True, True, False): RfmSegment.GENERAL_VALUE,
    (True, False, False): RfmSegment.GENERAL_DEVELOP,
    (False, True, False): RfmSegment.GENERAL_KEEP,
    (False, False, False): RfmSegment.GENERAL_RETAIN,
}


def _four_ascending(values: list[int] | None) -> list[int] | None:
    if values is None:
        return None
    if len(values) != 4 or any(b < a for a, b in pairwise(values)):
        raise ValueError("give four ascending cut points")
    if any(v < 0 for v in values):
        raise ValueError("cut points are not negative")
    return values


class RfmSettings(BaseModel):
    """How a workspace scores RFM (kept per workspace)."""

    method: Literal["quantile", "thresholds"] = Field(
        default="quantile",
        description="quantile: cut points at the buyers' 20/40/60/80% values; "
        "thresholds: the cut points below.",
    )
    recency_days: list[int] | None = Field(
        default=None,
        description="Four ascending day counts; at most the first scores R=5, beyond the "
        "last R=1. Needed with method=thresholds.",
    )
    frequency_orders: list[int] | None = Field(
        default=None,
        description="Four ascending order counts; F = 1 + cut points strictly below.",
    )
    monetary_fen: list[int] | None = Field(
        default=None, description="Four ascending spends in fen; M = 1 + cut points below."
    )
    split: Literal["mean", "median"] = Field(
        default="mean",
        description="A dimension is high when the score is strictly above this statistic "
        "of all buyers' scores.",
    )

    @field_validator("recency_days", "frequency_orders", "monetary_fen")
    @classmethod
    def _cut_points(cls, value: list[int] | None) -> list[int] | None:
        return _four_ascending(value)

    @model_validator(mode="after")
    def _thresholds_complete(self) -> RfmSettings:
        cuts = (self.recency_days, self.frequency_orders, self.monetary_fen)
        if self.method == "thresholds" and None in cuts:
            raise ValueError(
                "method=thresholds needs recency_days, frequency_orders and monetary_fen"
            )
        return self


class Buyer(BaseModel):
    """What RFM reads about one person who has ordered."""

    person_id: str
    last_order_at: datetime
    orders: int = Field(ge=1)
    spend_fen: int = Field(ge=0)


class RfmScore(BaseModel):
    """One buyer's RFM values, scores and segment."""

    person_id: str
    recency_days: int = Field(description="Whole days from the last order to now.")
    frequency: int = Field(description="Orders.")
    monetary_fen: int = Field(description="Total spend in fen.")
    r: int = Field(ge=1, le=5)
    f: int = Field(ge=1, le=5)
    m: int = Field(ge=1, le=5)
    segment: RfmSegment


class RfmCuts(BaseModel):
    """The cut points and high/low bars a run used."""

    recency_days: list[float]
    frequency_orders: list[float]
    monetary_fen: list[float]
    r_bar: float = Field(description="R is high above this score.")
    f_bar: float = Field(description="F is high above this score.")
    m_bar: float = Field(description="M is high above this score.")


def quantile_cuts(values: Sequence[float] | np.ndarray) -> list[float]:
    """The 20/40/60/80 % cut points of ``values`` (observed values, ``lower`` method)."""
    if len(values) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(v) for v in np.quantile(np.asarray(values), QUANTILES, method="lower")]


def higher_better_scores(values: np.ndarray, cuts: Sequence[float]) -> np.ndarray:
    """1 + number of cut points strictly below each value."""
    return 1 + np.searchsorted(np.asarray(cuts, dtype=np.float64), values, side="left")


def lower_better_scores(values: np.ndarray, cuts: Sequence[float]) -> np.ndarray:
    """5 − number of cut points strictly below each value."""
    return 5 - np.searchsorted(np.asarray(cuts, dtype=np.float64), values, side="left")


def segment_of(r_high: bool, f_high: bool, m_high: bool) -> RfmSegment:
    """The classic segment of a high/low pattern."""
    return _SEGMENTS[(r_high, f_high, m_high)]


def _bar(scores: np.ndarray, split: str) -> float:
    if len(scores) == 0:
        return 0.0
    return float(np.mean(scores) if split == "mean" else np.median(scores))


def recency_days(now: datetime, last: datetime) -> int:
    """Whole days from ``last`` to ``now`` (0 for an order in the future of ``now``)."""
    return max((now - last).days, 0)


def score(
    buyers: Sequence[Buyer], *, settings: RfmSettings, now: datetime
) -> tuple[list[RfmScore], RfmCuts]:
    """Score every buyer and place them in one of the eight segments."""
    days = np.array([recency_days(now, b.last_order_at) for b in buyers], dtype=np.float64)
    freq = np.array([b.orders for b in buyers], dtype=np.float64)
    money = np.array([b.spend_fen for b in buyers], dtype=np.float64)
    if settings.method == "thresholds":
        cuts = [
            [float(v) for v in c or ()]
            for c in (settings.recency_days, settings.frequency_orders, settings.monetary_fen)
        ]
    else:
        cuts = [quantile_cuts(days), quantile_cuts(freq), quantile_cuts(money)]
    r = lower_better_scores(days, cuts[0])
    f = higher_better_scores(freq, cuts[1])
    m = higher_better_scores(money, cuts[2])
    bars = [_bar(s, settings.split) for s in (r, f, m)]
    found = RfmCuts(
        recency_days=cuts[0],
        frequency_orders=cuts[1],
        monetary_fen=cuts[2],
        r_bar=bars[0],
        f_bar=bars[1],
        m_bar=bars[2],
    )
    scores = [
        RfmScore(
            person_id=b.person_id,
            recency_days=int(days[i]),
            frequency=b.orders,
            monetary_fen=b.spend_fen,
            r=int(r[i]),
            f=int(f[i]),
            m=int(m[i]),
            segment=segment_of(r[i] > bars[0], f[i] > bars[1], m[i] > bars[2]),
        )
        for i, b in enumerate(buyers)
    ]
    return scores, found
