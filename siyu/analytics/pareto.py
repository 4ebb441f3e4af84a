"""Pareto: how concentrated revenue is, and the KOCs whose referrals bring orders.

* Revenue shares: the share of revenue from the top 1 %, 2 %, 20 % … of buyers (at least one
  buyer per bucket; ties at the boundary are broken by spend only, so the share is exact).
* KOC candidates (key opinion consumers): people whose referrals led to orders. A referral is
  a ``Referral Accepted`` event of the referred person carrying ``referrer_member_id``; the
  referrer is whoever holds that member number. Credited orders are the referred person's
  orders at or after their acceptance. Ranked by referred buyers, then their GMV.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray
from pydantic import BaseModel, Field

from siyu.analytics.engine import Dialect, Engine
from siyu.analytics.order_history import ORDER_EVENT
from siyu.analytics.query import lit, text_sql

DEFAULT_TOPS = (0.01, 0.02, 0.2)
REFERRAL_EVENT = "Referral Accepted"
REFERRER_PROPERTY = "referrer_member_id"
MEMBER_PREFIX = "member_id:"


class ParetoShare(BaseModel):
    """Revenue of the top share of buyers."""

    top: float = Field(description="Share of buyers, e.g. 0.2 for the top 20%.")
    buyers: int = Field(description="How many buyers that is (at least one).")
    revenue_fen: int
    revenue_share: float = Field(description="Their share of all revenue, 0–1.")


class Pareto(BaseModel):
    """Revenue concentration over a workspace's buyers."""

    buyers: int
    revenue_fen: int
    shares: list[ParetoShare]
    buyers_for_80_percent: int = Field(description="Fewest buyers who bring 80% of revenue.")


def revenue_shares(spend_fen: NDArray[np.int64] | Sequence[int], tops: Sequence[float]) -> Pareto:
    """Revenue shares of the top ``tops`` of buyers by spend."""
    ordered = np.sort(np.asarray(spend_fen, dtype=np.int64))[::-1]
    total = int(ordered.sum())
    cumulative = np.cumsum(ordered)
    shares = []
    for top in tops:
        count = min(max(math.ceil(top * len(ordered) - 1e-9), 1), len(ordered))
        revenue = int(cumulative[count - 1]) if count else 0
        shares.append(
            ParetoShare(
                top=top,
                buyers=count,
                revenue_fen=revenue,
                revenue_share=revenue / total if total else 0.0,
            )
        )
    # The smallest k with cumulative ≥ 0.8 · total, in integers (no float money).
    eighty = int(np.searchsorted(cumulative * 10, total * 8, side="left")) + 1 if total else 0
    return Pareto(
        buyers=len(ordered), revenue_fen=total, shares=shares, buyers_for_80_percent=eighty
    )


class KocCandidate(BaseModel):
    """A person whose referrals brought buyers."""

    person_id: str
    referred: int = Field(description="People who accepted their referral.")
    referred_buyers: int = Field(description="Of those, how many ordered after accepting.")
    orders: int = Field(description="Orders of the referred buyers after accepting.")
    gmv_fen: int = Field(description="Revenue of those orders, in fen.")


def _members_sql(dialect: Dialect) -> str:
    prefix = lit(MEMBER_PREFIX, dialect)
    start = len(MEMBER_PREFIX) + 1
    if dialect is Dialect.CLICKHOUSE:
        return (
            f"SELECT DISTINCT person_id, substring(id, {start}) AS member_id "
            f"FROM events ARRAY JOIN ids AS id WHERE startsWith(id, {prefix})"
        )
    return (
        f"SELECT DISTINCT person_id, substr(id, {start}) AS member_id "
        f"FROM (SELECT person_id, unnest(ids) AS id FROM events) AS u "
        f"WHERE starts_with(id, {prefix})"
    )


def koc_sql(*, end: datetime, dialect: Dialect, limit: int | None) -> str:
    """Referrers with their referred persons, buyers, orders and GMV, best first."""
    limit_sql = "" if limit is None else f"\nLIMIT {int(limit)}"
    before = f"timestamp < {lit(end, dialect)}"
    referrer = text_sql(REFERRER_PROPERTY, dialect)
    return f"""WITH members AS ({_members_sql(dialect)}),
referrals AS (
  SELECT person_id AS invitee, {referrer} AS member_id, min(timestamp) AS accepted_at
  FROM events WHERE event = {lit(REFERRAL_EVENT, dialect)} AND {before}
  GROUP BY person_id, member_id),
credited AS (
  SELECT m.person_id AS referrer, r.invitee AS invitee, min(r.accepted_at) AS first_accepted
  FROM referrals AS r INNER JOIN members AS m ON m.member_id = r.member_id
  WHERE m.person_id != r.invitee
  GROUP BY m.person_id, r.invitee),
order_rows AS (
  SELECT person_id AS buyer, timestamp AS ordered_at, coalesce(revenue_fen, 0) AS fen
  FROM events WHERE event = {lit(ORDER_EVENT, dialect)} AND {before}),
joined AS (
  SELECT c.referrer AS referrer, c.invitee AS invitee,
    CASE WHEN o.buyer = c.invitee AND o.ordered_at >= c.first_accepted THEN 1 ELSE 0 END
      AS credit,
    o.fen AS fen
  FROM credited AS c LEFT JOIN order_rows AS o ON o.buyer = c.invitee)
SELECT referrer AS person_id,
  count(DISTINCT invitee) AS referred,
  count(DISTINCT CASE WHEN credit = 1 THEN invitee END) AS referred_buyers,
  sum(credit) AS orders,
  sum(CASE WHEN credit = 1 THEN fen ELSE 0 END) AS gmv_fen
FROM joined
GROUP BY referrer
HAVING sum(credit) > 0
ORDER BY referred_buyers DESC, gmv_fen DESC, person_id{limit_sql}"""


def koc_candidates(
    engine: Engine,
    *,
    workspace_id: str,
    end: datetime,
    limit: int | None = 100,
    person_map: Sequence[tuple[str, str]] = (),
) -> list[KocCandidate]:
    """The top ``limit`` (None: every) KOC candidate before ``end``."""
    table: pa.Table = engine.run(
        workspace_id=workspace_id,
        sql=koc_sql(end=end, dialect=engine.dialect, limit=limit),
        person_map=person_map,
    )
    return [
        KocCandidate(
            person_id=row["person_id"],
            referred=int(row["referred"]),
            referred_buyers=int(row["referred_buyers"]),
            orders=int(row["orders"]),
            gmv_fen=int(row["gmv_fen"] or 0),
        )
        for row in table.to_pylist()
    ]
