"""The KOC score: pure arithmetic over what an author's posts did in a period.

    score = quality × (10·log10(1 + reach) + 10·orders + 10·log10(1 + GMV in yuan))
    quality = (approved + 1) / (approved + rejected + 2)

Logarithms keep one viral post or one big order from drowning everything else; an order
counts as much as a tenfold reach. Quality is the approval rate smoothed (Laplace), so one
rejection does not zero a new author and a steady stream of rejected posts drags a score
down. Ties go to more orders, more GMV, more reach, then the person id.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from siyu.ugc.models import KocFacts, KocRank


def approval_rate(facts: KocFacts) -> float:
    """Approved over moderated posts (0 when none was moderated)."""
    moderated = facts.approved + facts.rejected
    return round(facts.approved / moderated, 4) if moderated else 0.0


def score(facts: KocFacts) -> float:
    """The documented score of one author (see the module docstring)."""
    quality = (facts.approved + 1) / (facts.approved + facts.rejected + 2)
    value = (
        10 * math.log10(1 + facts.reach)
        + 10 * facts.orders
        + 10 * math.log10(1 + facts.gmv_fen / 100)
    )
    return round(quality * value, 4)


def rank(facts: Iterable[KocFacts], *, top: int) -> list[KocRank]:
    """Authors best first; the first ``top`` with an approved post and a score above zero
    are KOCs."""
    scored = sorted(
        ((score(f), f) for f in facts),
        key=lambda sf: (-sf[0], -sf[1].orders, -sf[1].gmv_fen, -sf[1].reach, sf[1].person_id),
    )
    ranked: list[KocRank] = []
    kocs = 0
    for place, (value, f) in enumerate(scored, start=1):
        is_koc = kocs < top and f.approved > 0 and value > 0
        kocs += is_koc
        ranked.append(
            KocRank(
                **f.model_dump(), rank=place, score=value, approval_rate=approval_rate(f),
                koc=is_koc,
            )
        )  # fmt: skip
    return ranked
