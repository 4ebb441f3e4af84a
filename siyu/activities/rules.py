"""Pure rules: the lottery's weighted pick, the bargain's decreasing cuts, check-in streaks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta


def pick(weights: Sequence[int], roll: int) -> int:
    """The index whose weight band holds ``roll`` (0 ≤ roll < sum(weights)).

    A fair draw passes ``secrets.randbelow(sum(weights))`` and records the roll, so any
    draw can be replayed from the stored pool and roll.
    """
    total = sum(weights)
    if not 0 <= roll < total:
        raise ValueError(f"roll must be in [0, {total})")
    for index, weight in enumerate(weights):
        if roll < weight:
            return index
        roll -= weight
    raise AssertionError("unreachable: the roll is below the total")  # pragma: no cover


def bargain_cut(remaining_fen: int, helpers_left: int) -> int:
    """The next helper's cut: shares falling linearly (k, k-1, … 1 parts) so the last helper
    reaches the floor exactly — e.g. 1000 over 4 helpers cuts 400, 300, 200, 100."""
    if helpers_left <= 1:
        return max(remaining_fen, 0)
    return -(-remaining_fen * 2 // (helpers_left + 1))  # rounded up: never rising


def streak(days: Sequence[date], through: date) -> int:
    """Consecutive check-in days ending at ``through`` (0 when it was not a check-in day)."""
    seen = set(days)
    count = 0
    day = through
    while day in seen:
        count += 1
        day -= timedelta(days=1)
    return count
