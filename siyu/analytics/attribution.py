"""Attribution of orders to the channels that touched the buyer: six models, pure functions.

A *touch* is an event that carries a channel (utm_source / ``context.campaign.source``)
within the lookback window before an order; a person's touches, oldest first, form the
order's *path*. Every model gives each order a credit per channel that sums to 1; an order
with no touch in the window goes to :data:`DIRECT`.

- ``first_touch`` / ``last_touch``: all credit to the oldest / newest touch.
- ``linear``: equal credit to every touch.
- ``time_decay``: a touch ``t`` before the order weighs ``2 ** (-t / half_life)``.
- ``position_based`` (U-shaped, 40/20/40): 40 % to the first and the last touch, the
  remaining 20 % shared by the touches between; one touch takes all, two take half each.
- ``markov`` (data-driven): a first-order Markov chain over all paths — converting ones
  end in ``conversion``, paths of persons who touched but did not buy end in ``null``.
  The *removal effect* of a channel is the share of conversion probability lost when the
  chain routes every transition into that channel to ``null``:
  ``RE(c) = 1 - P(conversion without c) / P(conversion)``. The classic total credit of a
  channel is ``conversions * RE(c) / sum(RE)`` (:func:`markov_credit`). For per-order
  credit (needed for revenue, ROI and payback) each order's credit is split among the
  channels on its own path in proportion to their removal effects, so it sums to 1 too.

Money is split in whole fen with :func:`split_fen` (largest remainder), so attributed
revenue sums exactly to the revenue.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

import numpy as np

DIRECT = "(direct)"
"""The channel credited with an order that no touch preceded within the lookback."""

_START, _CONVERSION, _NULL = "(start)", "(conversion)", "(null)"


class AttributionModel(StrEnum):
    """How an order's credit is shared among the touches before it."""

    FIRST_TOUCH = "first_touch"
    LAST_TOUCH = "last_touch"
    LINEAR = "linear"
    TIME_DECAY = "time_decay"
    POSITION_BASED = "position_based"
    MARKOV = "markov"


@dataclass(frozen=True)
class Touch:
    """A channel that touched the buyer ``age_seconds`` before the order (≥ 0)."""

    channel: str
    age_seconds: float


Path = tuple[str, ...]
"""The channels of a person's touches, oldest first."""


def _add(credit: dict[str, float], channel: str, weight: float) -> None:
    credit[channel] = credit.get(channel, 0.0) + weight


def _weighted(channels: Sequence[str], weights: Sequence[float]) -> dict[str, float]:
    total = math.fsum(weights)
    credit: dict[str, float] = {}
    for channel, weight in zip(channels, weights, strict=True):
        _add(credit, channel, weight / total)
    return credit


def _position_weights(n: int) -> list[float]:
    if n == 1:
        return [1.0]
    if n == 2:
        return [0.5, 0.5]
    middle = 0.2 / (n - 2)
    return [0.4, *([middle] * (n - 2)), 0.4]


def _decay_weights(touches: Sequence[Touch], half_life_seconds: float) -> list[float]:
    # Relative to the newest touch, so a long lookback cannot underflow every weight to 0.
    newest = min(t.age_seconds for t in touches)
    return [2.0 ** (-(t.age_seconds - newest) / half_life_seconds) for t in touches]


def order_credit(
    touches: Sequence[Touch],
    model: AttributionModel,
    *,
    half_life_seconds: float = 7 * 86_400,
    removal_effects: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Credit per channel for one order whose ``touches`` are oldest first; sums to 1.

    ``removal_effects`` (from :func:`markov_removal_effects`) is needed for ``markov``.
    """
    if not touches:
        return {DIRECT: 1.0}
    channels = [t.channel for t in touches]
    match model:
        case AttributionModel.FIRST_TOUCH:
            return {channels[0]: 1.0}
        case AttributionModel.LAST_TOUCH:
            return {channels[-1]: 1.0}
        case AttributionModel.LINEAR:
            return _weighted(channels, [1.0] * len(channels))
        case AttributionModel.TIME_DECAY:
            return _weighted(channels, _decay_weights(touches, half_life_seconds))
        case AttributionModel.POSITION_BASED:
            return _weighted(channels, _position_weights(len(channels)))
        case AttributionModel.MARKOV:
            return _markov_order_credit(channels, removal_effects or {})


def _markov_order_credit(channels: Sequence[str], effects: Mapping[str, float]) -> dict[str, float]:
    unique = list(dict.fromkeys(channels))
    weights = [max(effects.get(c, 0.0), 0.0) for c in unique]
    if math.fsum(weights) <= 0.0:  # no information about these channels: share equally
        weights = [1.0] * len(unique)
    return _weighted(unique, weights)


# -- the Markov chain ------------------------------------------------------------------


@dataclass(frozen=True)
class _Chain:
    states: list[str]  # transient: start, then channels
    transitions: np.ndarray  # transient → transient probabilities
    to_conversion: np.ndarray  # transient → conversion probabilities


def _chain(paths: Mapping[tuple[Path, bool], int]) -> _Chain:
    counts: Counter[tuple[str, str]] = Counter()
    for (path, converted), n in paths.items():
        steps = [_START, *path, _CONVERSION if converted else _NULL]
        for a, b in pairwise(steps):
            counts[(a, b)] += n
    channels = sorted({s for pair in counts for s in pair} - {_START, _CONVERSION, _NULL})
    states = [_START, *channels]
    index = {s: i for i, s in enumerate(states)}
    out = np.zeros(len(states))
    q = np.zeros((len(states), len(states)))
    r = np.zeros(len(states))
    for (a, b), n in counts.items():
        out[index[a]] += n
        if b in index:
            q[index[a], index[b]] += n
        elif b == _CONVERSION:
            r[index[a]] += n
    out[out == 0] = 1.0
    return _Chain(states, q / out[:, None], r / out)


def _conversion_probability(chain: _Chain, removed: str | None = None) -> float:
    q, r = chain.transitions.copy(), chain.to_conversion.copy()
    if removed is not None:
        # Every transition into the removed channel now ends in null: it converts nothing.
        i = chain.states.index(removed)
        q[i, :] = 0.0
        r[i] = 0.0
    # Absorption probabilities x solve x = Q x + r (every state reaches conversion or null).
    x = np.linalg.solve(np.eye(len(q)) - q, r)
    return float(x[0])


def _normalise(
    paths: Iterable[tuple[Path, bool]] | Mapping[tuple[Path, bool], int],
) -> Counter[tuple[Path, bool]]:
    counted: Counter[tuple[Path, bool]] = Counter()
    items = paths.items() if isinstance(paths, Mapping) else ((p, 1) for p in paths)
    for (path, converted), n in items:
        if path or converted:  # an empty path that did not convert says nothing
            counted[(path or (DIRECT,), converted)] += n
    return counted


def markov_removal_effects(
    paths: Iterable[tuple[Path, bool]] | Mapping[tuple[Path, bool], int],
) -> dict[str, float]:
    """Removal effect of each channel on the paths (path, converted), or path → count.

    An empty converting path counts as ``(DIRECT,)``; an empty non-converting one is ignored.
    """
    counted = _normalise(paths)
    if not any(converted for _, converted in counted):
        return {c: 0.0 for (path, _) in counted for c in path}
    chain = _chain(counted)
    total = _conversion_probability(chain)
    effects = {}
    for channel in chain.states[1:]:
        without = _conversion_probability(chain, removed=channel)
        effects[channel] = min(max(1.0 - without / total, 0.0), 1.0)
    return effects


def markov_credit(
    paths: Iterable[tuple[Path, bool]] | Mapping[tuple[Path, bool], int],
) -> dict[str, float]:
    """Classic Markov credit: ``conversions * RE(c) / sum(RE)``; sums to the conversions."""
    counted = _normalise(paths)
    conversions = sum(n for (_, converted), n in counted.items() if converted)
    effects = markov_removal_effects(counted)
    total = math.fsum(effects.values())
    if conversions == 0 or total <= 0.0:
        return dict.fromkeys(effects, 0.0)
    return {c: conversions * e / total for c, e in effects.items()}


# -- money -----------------------------------------------------------------------------


def split_fen(amount: int, credit: Mapping[str, float]) -> dict[str, int]:
    """Split ``amount`` fen by ``credit`` weights in whole fen that sum exactly to it.

    Largest remainder: each channel gets the floor of its share, and the fen left over go
    to the largest fractional parts (ties by channel name, so the split is deterministic).
    """
    total = math.fsum(credit.values())
    if not credit or total <= 0.0:
        return {}
    exact = {c: amount * w / total for c, w in credit.items()}
    floors = {c: math.floor(v) for c, v in exact.items()}
    left = amount - sum(floors.values())
    order = sorted(exact, key=lambda c: (floors[c] - exact[c], c))
    for channel in order[: max(left, 0)]:
        floors[channel] += 1
    return floors
